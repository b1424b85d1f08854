// Layer: cli. `rankshield train`: train a DML model (explicit flags or RobRank shorthand).
import path from 'node:path';
import { setNumThreads } from '../tensor/index.js';
import { parseMetric } from '../metric/metric.js';
import { DEFENSE_KINDS, SAMPLERS, type DefenseConfig, type SamplerName } from '../defense/registry.js';
import { defaultConfig, defaultLossMargin, parseShorthand, validateConfig, type ExperimentConfig, type MinerName } from '../train/config.js';
import { DEFAULT_CHECKPOINT_SECONDS, train, TrainingInterrupted } from '../train/trainer.js';
import { benignJson, formatBenign, readBenignMetrics } from '../eval/benign.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { ScriptedModel } from '../models/scripted.js';
import { UsageError, type Command } from './command.js';
import { DISTRIBUTED_USAGE, launchRanks, processGroupFromEnv, withoutNproc } from './launch.js';
import { DEVICE_USAGE, deviceFlag, flagBool, flagNumber, flagString, parseArgs, showProgress } from './args.js';

const MINERS: readonly MinerName[] = ['random', 'semihard', 'softhard', 'distance', 'hardest', 'gradual-semihard'];

const FLAGS = {
  dataset: 'string', metric: 'string', miner: 'string', margin: 'number', epochs: 'int', batch: 'int', lr: 'number',
  'weight-decay': 'number', seed: 'int', threads: 'int', out: 'string', resume: 'boolean', overwrite: 'boolean', 'max-batches': 'int',
  'checkpoint-every': 'int', 'checkpoint-minutes': 'number', nproc: 'int', shards: 'int', device: 'string',
  'eval-every': 'int', json: 'boolean', quiet: 'boolean', model: 'string', pretrained: 'string', 'model-file': 'string',
  defense: 'string', source: 'string', destination: 'string', ics: 'number', 'pgd-steps': 'int', epsilon: 'number', alpha: 'number',
  lambda: 'number', 'skip-satisfied': 'boolean',
} as const;

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a deep metric learning model',
  usage: `usage: rankshield train [SHORTHAND] [options]

SHORTHAND is RobRank's dataset:model:loss, e.g. fashion:rc2f2:ptripletN
(losses ptriplet/pmtriplet/pstriplet/pdtriplet/phtriplet, pcontrast/pdcontrast; metric N, E or C).

options (defaults: docs/methods.md §3 for the dataset):
  --dataset NAME        mnist | fashion | cub | cars | sop | folder:PATH   (fashion)
  --model NAME          c2f2 | resnet18 | resnet50   (c2f2 for 28×28, resnet18 for 224×224)
  --pretrained FILE     ImageNet weights for ResNets (torchvision state dict as .safetensors)
  --model-file FILE     fine-tune a TorchScript model (torch.jit.save; N×C×H×W in [0,1] → N×D) instead;
                        the run also gets model.pt, the tuned module for torch.jit.load
  --metric N|E|C        distance: normalised Euclidean, Euclidean, cosine   (N)
  --miner NAME          ${MINERS.join(' | ')}   (random)
  --margin X            triplet margin (0.2 for N/C, 1.0 for E)
  --epochs N            code epochs over SPC-2 pairs             (8)
  --batch N             pairs per batch                          (128)
  --lr X, --weight-decay X                                       (1e-3, 1e-7)
  --seed N              the same seed reproduces the run         (0)
  --threads N           libtorch intra-op threads                (all cores)
  --out DIR             run directory                            (runs/<dataset>-<model>-<miner><metric>-s<seed>)
  --resume              continue from the newest complete checkpoint in --out (also inside an epoch)
  --overwrite           replace the run already in --out (without it, an existing run is refused)
  --checkpoint-every N  also checkpoint every N optimizer steps inside an epoch
  --checkpoint-minutes M  checkpoint inside an epoch at least every M minutes; 0 = off   (${DEFAULT_CHECKPOINT_SECONDS / 60})
  --eval-every N        evaluate every N epochs (always after the last)
  --max-batches N       stop each epoch after N batches (quick runs)
  --json                print the final metrics as one JSON line (and no progress bars)

adversarial training (docs/methods.md §4–8; shorthands rc2f2d = EST, rc2f2p = ACT, rres18ghmetsmi = HM[S,g_LGA]&ICS,
rres18p:pgtripletN = CA-TRIDE):
  --defense KIND        none | est | act | hm | catride          (none)
  --source S            HM source sampler: random | semihard | softhard | distance | hardest
  --destination D       HM destination: a sampler, lga | gB | g2 | gsqrt (gradual), or a constant hardness in [-2, 2]
  --ics L               HM intra-class structure loss weight λ (paper 0.5; SOP 0.05)
  --skip-satisfied      HM: skip PGD work for triplets already at their destination (exact, faster)
  --lambda L            CA-TRIDE attention factor (default 10)
  --pgd-steps N         PGD steps η (32; CA-TRIDE 16)
  --epsilon X, --alpha X   L∞ budget and step (77/255 and 3/255 for 28×28; 8/255 and 1/255 for 224×224)
  --quiet               no progress bars (they go to stderr: training, then each evaluation)
${DEVICE_USAGE}

${DISTRIBUTED_USAGE}
  --shards S            cut each global batch into S shards (default: the number of ranks); any number of
                        ranks dividing S gives the same weights, and a run resumes under any such number

Checkpoints (model and optimizer as safetensors, PyTorch state-dict names) are committed as one unit
under checkpoints/ with their sizes and SHA-256 in checkpoint.json: at the end of every epoch before
its evaluation, by --checkpoint-every/--checkpoint-minutes, and on Ctrl-C / SIGTERM (the current step
finishes, a checkpoint is written, exit 130 / 143; a second Ctrl-C exits at once). model.safetensors in
--out is the newest model. A run directory is locked while training. log.jsonl gets a line per step and
epoch; the end writes report.json, report.md and training.svg.`,
  async run(argv) {
    const p = parseArgs(argv, FLAGS);
    if (p.positionals.length > 1) throw new UsageError(`unexpected arguments: ${p.positionals.slice(1).join(' ')}`);
    const config = buildConfig(p.positionals[0], p);
    const device = deviceFlag(p);
    const nproc = flagNumber(p, 'nproc');
    if (nproc !== undefined && nproc < 1) throw new UsageError(`--nproc must be >= 1, got ${nproc}`);
    if (nproc !== undefined && nproc > 1) {
      if (config.shards !== undefined && config.shards % nproc !== 0) throw new UsageError(`--nproc ${nproc} must divide --shards ${config.shards}`);
      return launchRanks(nproc, 'train', withoutNproc(argv));
    }
    const group = processGroupFromEnv();
    const lead = group.rank === 0;
    const threads = flagNumber(p, 'threads');
    if (threads !== undefined) setNumThreads(threads);
    const out = flagString(p, 'out') ?? path.join('runs', `${config.dataset}-${config.model}-${config.loss}-${config.miner}${config.metric}-s${config.seed}`);
    const resume = flagBool(p, 'resume');
    const overwrite = flagBool(p, 'overwrite');
    if (resume && overwrite) throw new UsageError('--resume and --overwrite exclude each other');
    const everySteps = flagNumber(p, 'checkpoint-every');
    if (everySteps !== undefined && everySteps < 1) throw new UsageError(`--checkpoint-every must be >= 1, got ${everySteps}`);
    const minutes = flagNumber(p, 'checkpoint-minutes');
    if (minutes !== undefined && minutes < 0) throw new UsageError(`--checkpoint-minutes must be >= 0, got ${minutes}`);
    const stop = stopOnSignals();
    let result;
    try {
      result = await train({
        config, outDir: out, resume, overwrite, progress: showProgress(p) && lead, signal: stop.signal, group, device,
        checkpointEvery: { steps: everySteps ?? 0, seconds: minutes === undefined ? DEFAULT_CHECKPOINT_SECONDS : minutes * 60 },
        onNotice: (m) => process.stderr.write(`rankshield train: ${m}\n`),
      });
    } catch (e) {
      if (!(e instanceof TrainingInterrupted)) throw e;
      if (lead) process.stderr.write(`rankshield train: ${e.message}\n  resume with: rankshield train ${[...argv.filter((a) => a !== '--overwrite' && a !== '--resume'), '--resume', ...(flagString(p, 'out') === undefined ? ['--out', out] : [])].join(' ')}\n`);
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

function buildConfig(shorthand: string | undefined, p: ReturnType<typeof parseArgs>): ExperimentConfig {
  let c: ExperimentConfig;
  try {
    c = shorthand ? parseShorthand(shorthand) : defaultConfig(flagString(p, 'dataset') ?? 'fashion');
    if (shorthand && flagString(p, 'dataset')) throw new Error('give the dataset either in the shorthand or with --dataset');
    const metric = flagString(p, 'metric');
    if (metric !== undefined) {
      c.metric = parseMetric(metric);
      c.margin = defaultLossMargin(c.loss, c.metric);
    }
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const model = flagString(p, 'model');
  if (model !== undefined) {
    if (!['c2f2', 'resnet18', 'resnet50'].includes(model)) throw new UsageError(`unknown model '${model}' (known: c2f2, resnet18, resnet50)`);
    c.model = model as ExperimentConfig['model'];
  }
  const modelFile = flagString(p, 'model-file');
  if (modelFile !== undefined) {
    if (model !== undefined || flagString(p, 'pretrained') !== undefined) throw new UsageError('--model-file replaces --model and --pretrained');
    c.model = 'torchscript';
    c.modelFile = path.resolve(modelFile);
  }
  const pretrained = flagString(p, 'pretrained');
  if (pretrained !== undefined) c.pretrained = pretrained;
  const miner = flagString(p, 'miner');
  if (miner !== undefined) {
    if (!(MINERS as readonly string[]).includes(miner)) throw new UsageError(`unknown miner '${miner}' (known: ${MINERS.join(', ')})`);
    c.miner = miner as MinerName;
  }
  c.defense = defenseFromFlags(p, c.defense);
  c.margin = flagNumber(p, 'margin') ?? c.margin;
  c.epochs = flagNumber(p, 'epochs') ?? c.epochs;
  c.batchPairs = flagNumber(p, 'batch') ?? c.batchPairs;
  c.lr = flagNumber(p, 'lr') ?? c.lr;
  c.weightDecay = flagNumber(p, 'weight-decay') ?? c.weightDecay;
  c.seed = flagNumber(p, 'seed') ?? c.seed;
  c.evalEvery = flagNumber(p, 'eval-every') ?? c.evalEvery;
  c.maxBatches = flagNumber(p, 'max-batches') ?? c.maxBatches;
  const shards = flagNumber(p, 'shards');
  if (shards !== undefined) c.shards = shards;
  try {
    return validateConfig(c);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function defenseFromFlags(p: ReturnType<typeof parseArgs>, current: DefenseConfig): DefenseConfig {
  const kind = flagString(p, 'defense') ?? current.kind;
  if (!(DEFENSE_KINDS as readonly string[]).includes(kind)) throw new UsageError(`unknown defense '${kind}' (known: ${DEFENSE_KINDS.join(', ')})`);
  const pgd = {
    ...(flagNumber(p, 'pgd-steps') !== undefined ? { steps: flagNumber(p, 'pgd-steps') } : {}),
    ...(flagNumber(p, 'epsilon') !== undefined ? { epsilon: flagNumber(p, 'epsilon') } : {}),
    ...(flagNumber(p, 'alpha') !== undefined ? { alpha: flagNumber(p, 'alpha') } : {}),
  };
  const base = kind === current.kind ? current : ({ kind } as DefenseConfig);
  switch (base.kind) {
    case 'none':
      if (Object.keys(pgd).length > 0) throw new UsageError('PGD options need an adversarial --defense');
      return base;
    case 'est':
    case 'act':
      return { ...base, ...pgd };
    case 'catride':
      return { ...base, ...pgd, ...(flagNumber(p, 'lambda') !== undefined ? { lambda: flagNumber(p, 'lambda') } : {}) };
    case 'hm': {
      const source = (flagString(p, 'source') ?? (base.kind === 'hm' && 'source' in base ? base.source : undefined)) as SamplerName | undefined;
      const dstRaw = flagString(p, 'destination');
      const destination = dstRaw === undefined ? ('destination' in base ? base.destination : undefined) : Number.isFinite(Number(dstRaw)) ? Number(dstRaw) : dstRaw;
      if (source === undefined || destination === undefined) throw new UsageError('--defense hm needs --source and --destination');
      if (!SAMPLERS.includes(source)) throw new UsageError(`unknown HM source '${source}' (known: ${SAMPLERS.join(', ')})`);
      if (typeof destination === 'string' && !SAMPLERS.includes(destination as SamplerName) && !['lga', 'gB', 'g2', 'gsqrt'].includes(destination)) {
        throw new UsageError(`unknown HM destination '${destination}' (a sampler, lga, gB, g2, gsqrt or a number)`);
      }
      return {
        ...(base as DefenseConfig & { kind: 'hm' }),
        kind: 'hm',
        source,
        destination: destination as SamplerName,
        ics: flagNumber(p, 'ics') ?? ('ics' in base ? base.ics : 0),
        ...(flagBool(p, 'skip-satisfied') ? { skipSatisfied: true } : {}),
        ...pgd,
      };
    }
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
