// Layer: cli. `rankshield train`: train a DML model (explicit flags, RobRank
// shorthand or a config file). The experiment flags come from the catalogues
// (datasets, models, metrics, losses, miners, defenses and their options).
import path from 'node:path';
import { DATASET_NAMES } from '../data/registry.js';
import { METRIC_NAMES, metricByName } from '../metric/metric.js';
import { LOSSES, LOSS_NAMES, lossFlags, lossFormOption, type LossEntry } from '../metric/losses.js';
import { MINER_NAMES } from '../metric/miners.js';
import { MODELS, NAMED_MODELS } from '../models/catalogue.js';
import { DEFENSES, DEFENSE_KINDS, SUFFIX_GRAMMAR, type DefenseConfig, type DefenseOption } from '../defense/registry.js';
import { defaultConfig, defaultLossMargin, TRAINING_DEFAULTS, type ExperimentConfig } from '../run/config.js';
import { applyChanges, DEFAULT_DATASET, defaultRunDir, experimentBase, startsFromRandomWeights, type ExperimentChanges } from '../run/experiment.js';
import { DEFAULT_CHECKPOINT_SECONDS, train, TrainingInterrupted } from '../train/trainer.js';
import { benignJson, evaluateBenign, formatBenign, readBenignMetrics } from '../eval/benign.js';
import { catrideLambdaFromEntanglement } from '../eval/entanglement.js';
import { loadCheckpoint } from '../run/model-factory.js';
import { openDataset } from '../data/registry.js';
import { ScriptedModel } from '../models/scripted.js';
import { UsageError, type Command } from './command.js';
import { launchRanks, launchRecord, processGroupFromEnv, withoutNproc } from './launch.js';
import {
  applyThreads,
  DEVICE_OPTION,
  deviceFlag,
  flagBool,
  flagNumber,
  flagString,
  mergeSections,
  NPROC_OPTION,
  OUTPUT_OPTIONS,
  parseOptions,
  ROOT_OPTION,
  showProgress,
  THREADS_OPTION,
  usageText,
  type OptionSection,
  type OptionSpec,
  type OptionTable,
  type ParsedArgs,
} from './args.js';

const DEFAULTS = defaultConfig(DEFAULT_DATASET);
/** The 224×224 column of the training defaults, for the help texts. */
const LARGE = TRAINING_DEFAULTS.large;
/** A default as the help text shows it: 1e-5 rather than 0.00001. */
const num = (x: number): string => (x !== 0 && Math.abs(x) < 1e-3 ? x.toExponential().replace('e-', 'e-') : String(x));
const ALL_LOSSES = LOSSES as readonly LossEntry[];
/** Each loss hyper-parameter flag once (losses.ts), with the losses that take it. */
const LOSS_FLAGS = lossFlags();
/** `--loss-form`, from the entries that have forms. */
const LOSS_FORM = lossFormOption();

const EXPERIMENT: OptionTable = {
  config: {
    kind: 'string',
    value: 'FILE',
    help: 'start from an experiment config (JSON: an ExperimentConfig, or the checkpoint.json\nof an earlier run, which reruns it); flags below override its fields',
  },
  dataset: { kind: 'string', value: 'NAME', help: DATASET_NAMES, default: DEFAULTS.dataset },
  ...ROOT_OPTION,
  model: {
    kind: 'string',
    value: 'NAME',
    choices: NAMED_MODELS.map((m) => m.name),
    help: `${NAMED_MODELS.map((m) => `${m.name}: ${m.summary}`).join('\n')}\n(default: the first one for the dataset's image size)`,
  },
  pretrained: {
    kind: 'string',
    value: 'FILE|none',
    help: "ImageNet weights for ResNets (torchvision state dict, .pth or .safetensors); read once:\nthe run's checkpoints hold every weight afterwards. The papers' ResNets start from them: without\nthis flag a ResNet starts from random weights with a warning; none says so on purpose",
  },
  'model-file': {
    kind: 'string',
    value: 'FILE',
    help: 'fine-tune a TorchScript model (torch.jit.save; N×C×H×W in [0,1] → N×D) instead; the run\nkeeps a copy, and also gets model.pt, the tuned module for torch.jit.load',
  },
  metric: {
    kind: 'string',
    value: METRIC_NAMES.join('|'),
    choices: METRIC_NAMES,
    help: 'distance: normalised Euclidean, Euclidean, cosine',
    default: DEFAULTS.metric,
  },
  loss: {
    kind: 'string',
    choices: LOSS_NAMES,
    help: ALL_LOSSES.map((l) => `${l.name}: ${l.summary} (${l.metrics.join('/')})`).join('\n'),
    default: DEFAULTS.loss,
  },
  [LOSS_FORM.flag]: { kind: 'string', value: 'FORM', choices: LOSS_FORM.choices, help: LOSS_FORM.help },
  miner: { kind: 'string', value: 'NAME', help: `${MINER_NAMES.join(' | ')} (or a RobRank letter / code id)`, default: DEFAULTS.miner },
  margin: {
    kind: 'number',
    value: 'X',
    min: 0,
    help: `loss margin (${ALL_LOSSES.filter((l) => l.margin !== undefined)
      .map((l) => `${l.name} ${[...new Set(METRIC_NAMES.filter((m) => l.metrics.includes(m)).map((m) => defaultLossMargin(l.name, m)))].join('/')}`)
      .join(', ')};\nCA-TRIDE runs ${DEFENSES.catride.defaultMargin})`,
  },
  ...Object.fromEntries(
    LOSS_FLAGS.map((f): [string, OptionSpec] => [
      f.flag,
      {
        kind: 'number',
        value: 'X',
        help: f.help,
        ...(f.min !== undefined ? { min: f.min } : {}),
        ...(f.above !== undefined ? { above: f.above } : {}),
        ...(f.max !== undefined ? { max: f.max } : {}),
      },
    ]),
  ),
  epochs: { kind: 'int', value: 'N', min: 1, help: `code epochs over SPC-2 pairs (${LARGE.epochs} for 224×224)`, default: String(DEFAULTS.epochs) },
  batch: { kind: 'int', value: 'N', min: 1, help: `pairs per batch (${LARGE.batchPairs} for 224×224)`, default: String(DEFAULTS.batchPairs) },
  lr: { kind: 'number', value: 'X', above: 0, help: `Adam learning rate (${num(LARGE.lr)} for 224×224)`, default: String(DEFAULTS.lr) },
  'weight-decay': {
    kind: 'number',
    value: 'X',
    min: 0,
    help: `Adam weight decay (${num(LARGE.weightDecay)} for 224×224)`,
    default: String(DEFAULTS.weightDecay),
  },
  seed: { kind: 'int', value: 'N', min: 0, help: 'the same seed reproduces the run', default: String(DEFAULTS.seed) },
  'eval-every': {
    kind: 'int',
    value: 'N',
    min: 1,
    help: `evaluate every N epochs (always after the last)   (${TRAINING_DEFAULTS.small.evalEvery}; ${LARGE.evalEvery} for 224×224)`,
  },
  'max-batches': { kind: 'int', value: 'N', min: 0, help: 'stop each epoch after N batches (quick runs); 0 = whole epoch' },
};

/** Every defense option once (the PGD budget is shared by several defenses), as CLI options. */
const DEFENSE_OPTIONS: readonly DefenseOption[] = [...new Map(DEFENSE_KINDS.flatMap((k) => DEFENSES[k].options).map((o) => [o.flag, o])).values()];

const ADVERSARIAL: OptionTable = {
  defense: {
    kind: 'string',
    value: 'KIND',
    choices: DEFENSE_KINDS,
    help: DEFENSE_KINDS.map((k) => `${k}: ${DEFENSES[k].summary}`).join('\n'),
    default: 'none',
  },
  ...Object.fromEntries(DEFENSE_OPTIONS.map((o): [string, OptionSpec] => [o.flag, o])),
  'lambda-from': {
    kind: 'string',
    value: 'RUN',
    help: "CA-TRIDE: λ from the entanglement of an undefended run's test embeddings\n(linear through the published SOP and CUB/Cars points)",
  },
};

const RUN: OptionTable = {
  out: { kind: 'string', value: 'DIR', help: 'run directory   (runs/<dataset>-<model>-<loss>-<miner><metric>-s<seed>)' },
  resume: { kind: 'boolean', help: 'continue from the newest complete checkpoint in --out (also inside an epoch)' },
  'auto-resume': {
    kind: 'boolean',
    help: '--resume when --out holds a checkpoint (of the same experiment; another one is\nrefused), else start the run: what an elastic restart (torchrun --max-restarts)\nor a requeued job runs',
  },
  overwrite: { kind: 'boolean', help: 'replace the run already in --out (without it, an existing run is refused)' },
  'checkpoint-every': { kind: 'int', value: 'N', min: 1, help: 'also checkpoint every N optimizer steps inside an epoch' },
  'checkpoint-minutes': {
    kind: 'number',
    value: 'M',
    min: 0,
    help: 'checkpoint inside an epoch at least every M minutes; 0 = off',
    default: String(DEFAULT_CHECKPOINT_SECONDS / 60),
  },
  'keep-every': {
    kind: 'int',
    value: 'N',
    min: 1,
    help: 'keep the checkpoint of epochs N, 2N, … and of the last as epochs/<epoch> (verified\ncommits, listed in checkpoint.json; each is evaluated); then `rankshield swipe RUN\n--epochs all` measures robustness over training. A resumed run keeps its own N',
  },
  trail: { kind: 'boolean', help: "RobRank's name for --keep-every 1: keep every epoch" },
  ...OUTPUT_OPTIONS,
  ...THREADS_OPTION,
  ...DEVICE_OPTION,
};

const DISTRIBUTED: OptionTable = {
  ...NPROC_OPTION,
  shards: {
    kind: 'int',
    value: 'S',
    min: 1,
    help: 'cut each global batch into S shards (default: the number of ranks); any number of\nranks dividing S gives the same weights, and a run resumes under any such number',
  },
};

const SECTIONS: readonly OptionSection[] = [
  { title: "experiment (defaults: the dataset's image-size column, docs/methods.md §3)", options: EXPERIMENT },
  { title: 'adversarial training (docs/methods.md §4–8)', options: ADVERSARIAL },
  { title: 'run', options: RUN },
  { title: 'distributed (data parallel, c10d Gloo)', options: DISTRIBUTED },
];
const OPTIONS = mergeSections(SECTIONS);

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a deep metric learning model',
  usage: usageText(
    ['rankshield train [SHORTHAND] [options]', 'rankshield train --config FILE [options]'],
    `SHORTHAND is RobRank's dataset:model:loss, e.g. fashion:rc2f2:ptripletN: backbones ${MODELS.flatMap((m) => (m.robrankCode ? [m.robrankCode] : [])).join(', ')} with a
defense suffix (${SUFFIX_GRAMMAR}; rres18p:pgtripletN is CA-TRIDE), losses
p<miner code><word> with the metric letter (ptripletN, pmtripletE, pdcontrastN, pdmarginN; words
${ALL_LOSSES.map((l) => l.robrankWords.join('/')).join(', ')}; pms, pglift, pnpair and pDtriplet take no miner code; a loss
with forms trains RobRank's, --loss-form robrank).
The experiment is resolved before any data is loaded (budget, λ, paths) and saved whole in checkpoint.json.`,
    SECTIONS,
    `Checkpoints (model and optimizer as safetensors, PyTorch state-dict names) are committed as one unit
under checkpoints/ with their sizes and SHA-256 in checkpoint.json: at the end of every epoch before
its evaluation, by --checkpoint-every/--checkpoint-minutes, and on Ctrl-C / SIGTERM (the current step
finishes, a checkpoint is written, exit 130 / 143; a second Ctrl-C exits at once). model.safetensors in
--out is the newest model. With --keep-every N, epochs/<epoch> keeps epochs N, 2N, … and the last
(pruning never removes them). A run directory is locked while training. log.jsonl gets a line per step and
epoch; the end writes report.json, report.md and training.svg.`,
  ),
  options: OPTIONS,
  async run(argv) {
    const p = parseOptions(argv, OPTIONS);
    if (p.positionals.length > 1) throw new UsageError(`unexpected arguments: ${p.positionals.slice(1).join(' ')}`);
    const config = await buildConfig(p.positionals[0], p);
    warnRandomInit(config, p);
    const device = deviceFlag(p);
    const nproc = flagNumber(p, 'nproc');
    if (nproc !== undefined && nproc > 1) {
      if (config.shards !== undefined && config.shards % nproc !== 0) throw new UsageError(`--nproc ${nproc} must divide --shards ${config.shards}`);
      return launchRanks(nproc, 'train', withoutNproc(argv));
    }
    const resume = flagBool(p, 'auto-resume') ? 'auto' : flagBool(p, 'resume');
    const overwrite = flagBool(p, 'overwrite');
    if (flagBool(p, 'auto-resume') && flagBool(p, 'resume'))
      throw new UsageError('--auto-resume already resumes when there is a checkpoint: give one of --resume and --auto-resume');
    if (resume !== false && overwrite) throw new UsageError(`--${resume === 'auto' ? 'auto-resume' : 'resume'} and --overwrite exclude each other`);
    const group = processGroupFromEnv(flagNumber(p, 'dist-timeout'));
    const lead = group.rank === 0;
    applyThreads(p);
    const out = flagString(p, 'out') ?? defaultRunDir(config);
    const launch = launchRecord();
    const keepEvery = keepEveryFlag(p);
    const everySteps = flagNumber(p, 'checkpoint-every');
    const minutes = flagNumber(p, 'checkpoint-minutes');
    const stop = stopOnSignals();
    let result: Awaited<ReturnType<typeof train>>;
    try {
      result = await train({
        config,
        outDir: out,
        resume,
        overwrite,
        progress: showProgress(p) && lead,
        signal: stop.signal,
        group,
        device,
        ...(keepEvery !== undefined ? { keepEvery } : {}),
        ...(launch !== null ? { launch } : {}),
        checkpointEvery: { steps: everySteps ?? 0, seconds: minutes === undefined ? DEFAULT_CHECKPOINT_SECONDS : minutes * 60 },
        onNotice: (m) => process.stderr.write(`rankshield train: ${m}\n`),
      });
    } catch (e) {
      if (!(e instanceof TrainingInterrupted)) throw e;
      if (lead)
        process.stderr.write(
          `rankshield train: ${e.message}\n  resume with: rankshield train ${[...argv.filter((a) => a !== '--overwrite' && a !== '--resume' && a !== '--auto-resume'), '--resume', ...(flagString(p, 'out') === undefined ? ['--out', out] : [])].join(' ')}\n`,
        );
      return e.reason === 'SIGTERM' ? 143 : 130;
    } finally {
      stop.dispose();
      group.destroy();
    }
    if (!lead) return 0;
    if (config.model === 'torchscript') writeTunedTorchScript(out);
    const f = result.final;
    if (flagBool(p, 'json')) {
      console.log(JSON.stringify({ ...benignJson(readBenignMetrics(f)), seconds: result.seconds, out }));
    } else {
      console.log(`done in ${result.seconds.toFixed(0)} s: ${formatBenign(readBenignMetrics(f))}  → ${out}`);
    }
    return 0;
  },
};

/**
 * A ResNet that takes ImageNet weights but got none: every published photo-dataset number starts
 * from them, so a run without them is far below the papers' and the user should know before the hours.
 */
function warnRandomInit(config: ExperimentConfig, p: ParsedArgs): void {
  if (flagBool(p, 'resume') || !startsFromRandomWeights(config, flagString(p, 'pretrained'))) return;
  if ((Number(process.env.RANK ?? 0) || 0) !== 0) return;
  process.stderr.write(
    `rankshield train: warning: ${config.model} starts from random weights; the papers' ResNets start from ImageNet weights ` +
      `(--pretrained FILE, see docs/datasets.md); give --pretrained none to train from scratch on purpose\n`,
  );
}

/** --keep-every N, or --trail (every epoch); both only when they agree. */
function keepEveryFlag(p: ParsedArgs): number | undefined {
  const every = flagNumber(p, 'keep-every');
  if (!flagBool(p, 'trail')) return every;
  if (every !== undefined && every !== 1) throw new UsageError(`--trail keeps every epoch (--keep-every 1); it contradicts --keep-every ${every}`);
  return 1;
}

/**
 * SIGINT/SIGTERM abort the training cleanly (finish the step, checkpoint, exit
 * 130/143); a second signal exits at once, keeping the last checkpoint.
 */
function stopOnSignals(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      process.stderr.write(`\nrankshield train: ${sig} again — exiting now; the last committed checkpoint is kept\n`);
      process.exit(sig === 'SIGTERM' ? 143 : 130);
    }
    process.stderr.write(`\nrankshield train: ${sig} — finishing the current step, then writing a checkpoint (again to exit at once)\n`);
    controller.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** The resolved experiment a `train` command line would run, without training (what its flags make of the config). */
export async function trainConfigOf(argv: readonly string[]): Promise<ExperimentConfig> {
  const p = parseOptions(argv, OPTIONS);
  return buildConfig(p.positionals[0], p);
}

/** The experiment of a command line: a base (config file, shorthand or the dataset's defaults), then each flag given (run/experiment.ts). */
async function buildConfig(shorthand: string | undefined, p: ParsedArgs): Promise<ExperimentConfig> {
  const base = usage(() => experimentBase({ file: flagString(p, 'config'), shorthand, dataset: flagString(p, 'dataset') }));
  let defense = defenseFromFlags(p, base.defense);
  const lambdaFrom = flagString(p, 'lambda-from');
  if (lambdaFrom !== undefined) {
    if (defense.kind !== 'catride' || flagNumber(p, 'lambda') !== undefined)
      throw new UsageError('--lambda-from goes with --defense catride and without --lambda');
    defense = { ...defense, lambda: await lambdaFromRun(lambdaFrom, p) };
  }
  const lossFlags: Record<string, number> = {};
  for (const f of LOSS_FLAGS) {
    const v = flagNumber(p, f.flag);
    if (v !== undefined) lossFlags[f.flag] = v;
  }
  const changes: ExperimentChanges = {
    metric: flagString(p, 'metric'),
    loss: flagString(p, 'loss'),
    lossForm: flagString(p, LOSS_FORM.flag),
    miner: flagString(p, 'miner'),
    lossFlags,
    margin: flagNumber(p, 'margin'),
    root: flagString(p, 'root'),
    model: flagString(p, 'model'),
    modelFile: flagString(p, 'model-file'),
    pretrained: flagString(p, 'pretrained'),
    defense,
    epochs: flagNumber(p, 'epochs'),
    batchPairs: flagNumber(p, 'batch'),
    lr: flagNumber(p, 'lr'),
    weightDecay: flagNumber(p, 'weight-decay'),
    seed: flagNumber(p, 'seed'),
    evalEvery: flagNumber(p, 'eval-every'),
    maxBatches: flagNumber(p, 'max-batches'),
    shards: flagNumber(p, 'shards'),
  };
  return usage(() => applyChanges(base, changes));
}

/** The result of `f`, its errors as usage errors (the experiment's rules name the flag or field at fault). */
function usage<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError((e as Error).message);
  }
}

/** The defense of the flags: --defense picks the kind (default: the base's), each option flag sets its field. */
function defenseFromFlags(p: ParsedArgs, current: DefenseConfig): DefenseConfig {
  const kind = (flagString(p, 'defense') ?? current.kind) as DefenseConfig['kind'];
  const entry = DEFENSES[kind];
  const base: Record<string, unknown> = kind === current.kind ? { ...current } : { kind };
  for (const o of DEFENSE_OPTIONS) {
    if (!p.flags.has(o.flag)) continue;
    if (!entry.options.some((e) => e.flag === o.flag)) {
      const owners = DEFENSE_KINDS.filter((k) => DEFENSES[k].options.some((e) => e.flag === o.flag));
      throw new UsageError(`--${o.flag} belongs to --defense ${owners.join(' or ')}, not ${kind}`);
    }
    const raw = p.flags.get(o.flag)!;
    base[o.field] = o.parse ? o.parse(raw) : raw;
  }
  const r = DEFENSES[kind].schema.safeParse(base);
  if (!r.success)
    throw new UsageError(
      r.error.issues.map((i) => `${i.path.length ? `--defense ${kind}: ${i.path.join('.')}` : `--defense ${kind}`}: ${i.message}`).join('; '),
    );
  return r.data as DefenseConfig;
}

/** CA-TRIDE's λ from an undefended run's entanglement (mean same-class over mean other-class test distance). */
async function lambdaFromRun(run: string, p: ParsedArgs): Promise<number> {
  const { model, info } = loadCheckpoint(run);
  try {
    if (info.config.defense.kind !== 'none')
      throw new UsageError(`--lambda-from ${run}: that run is defended (${info.config.defense.kind}); λ is read from an undefended model`);
    const data = await openDataset(info.config.dataset, info.config.root === undefined ? {} : { root: info.config.root });
    const { entanglement } = await evaluateBenign(model, data.test, metricByName(info.config.metric), { entanglement: true, progress: showProgress(p) });
    const lambda = catrideLambdaFromEntanglement(entanglement!.ratio);
    process.stderr.write(`rankshield train: entanglement of ${run} is ${entanglement!.ratio.toFixed(3)} → CA-TRIDE λ ${lambda.toFixed(2)}\n`);
    return lambda;
  } finally {
    model.dispose();
  }
}

/** `out/model.pt`: the fine-tuned TorchScript module (the newest checkpoint's weights), for torch.jit.load. */
function writeTunedTorchScript(out: string): void {
  const { model } = loadCheckpoint(out);
  try {
    if (model instanceof ScriptedModel) model.saveTorchScript(path.join(out, 'model.pt'));
  } finally {
    model.dispose();
  }
}
