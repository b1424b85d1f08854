// Layer: cli. `rankshield swipe CKPT --profile rob28`: every attack of a
// profile over the checkpoint's test split, ERS and ARS (docs/attacks-and-metrics.md §3, §5, §6).
import { provenance, type Provenance } from '../run/provenance.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ensureWritableDir, writeFileAtomicSync } from '../io/atomic.js';
import { ersProfile, getProfile, PROFILES, type Profile } from '../attack/profiles.js';
import type { Norm } from '../attack/budget.js';
import type { AttackOptions } from '../attack/registry.js';
import { METHODS, type MethodName, type MethodSettings } from '../attack/methods.js';
import { SEARCH_OPTIONS, searchFlags } from './search-options.js';
import { attackOptionFlags, attackOptionTable } from './attack-options.js';
import { BUDGET_OPTIONS, checkBudgetFlags, profileFor } from './budget-options.js';
import {
  asSwipeResult,
  ROBUST_EVAL_DEFAULTS,
  ROBUST_EVAL_PRESET_NAMES,
  ROBUST_EVAL_PRESETS,
  runRobustEval,
  type RobustEvalPreset,
} from '../eval/robust-eval.js';
import { robustEvalMarkdown } from '../eval/robust-report.js';
import { openSurrogate, SURROGATE_BATCHES } from './surrogate.js';
import { runSwipe, withStoredBenign, type SwipeResult } from '../eval/swipe.js';
import { swipeMarkdown, swipeReports } from '../eval/report-svg.js';
import { SwipeExampleKeeper, writeRobustPage, writeSwipePage, type SwipePageSource } from '../eval/report-html.js';
import type { DmlDataset } from '../data/index.js';
import type { Metric } from '../metric/metric.js';
import type { EmbeddingModel } from '../models/model.js';
import type { Device } from '../tensor/index.js';
import type { ParsedArgs } from '../util/options.js';
import { keptEpochs } from '../run/kept-epochs.js';
import { readCheckpointInfo, SIDECAR, type CheckpointInfo } from '../run/checkpoint.js';
import { datasetOf } from '../run/config.js';
import { parseEpochList, swipeKeptEpochs, trailMarkdown } from '../eval/trail.js';
import { DATA_ROOT_SECTION, MODEL_SOURCE_SECTION, openModelSource } from './model-source.js';
import { UsageError, type Command } from './command.js';
import { launchRanks, processGroupFromEnv, withoutNproc } from './launch.js';
import {
  applyThreads,
  bootstrapFlags,
  BOOTSTRAP_OPTIONS,
  DEVICE_OPTION,
  MAX_BATCHES_OPTION,
  deviceFlag,
  flagBool,
  flagNumber,
  flagString,
  mergeSections,
  NPROC_OPTION,
  OUTPUT_OPTIONS,
  parseOptions,
  showProgress,
  THREADS_OPTION,
  usageText,
  type OptionSection,
} from './args.js';

const SECTIONS: readonly OptionSection[] = [
  {
    options: {
      profile: {
        kind: 'string',
        value: 'NAME',
        choices: Object.keys(PROFILES),
        help: `${Object.values(PROFILES)
          .map((p) => `${p.name}: ${p.usedFor}`)
          .join('\n')}\n(default: rob28 for 28×28 datasets, rob224 for 224×224)`,
      },
      'max-batches': MAX_BATCHES_OPTION,
      'max-queries': {
        kind: 'int',
        value: 'N',
        min: 1,
        help: "attack only the first N queries: below the profile's batch size one batch of N,\nelse the first ⌊N / batch size⌋ batches (instead of --max-batches)",
      },
      ...BUDGET_OPTIONS,
      seed: { kind: 'int', value: 'S', min: 0, help: "seed of the attacks' random choices (candidates, queries)", default: '0' },
      'benign-r1': { kind: 'number', value: 'PCT', min: 0, max: 100, help: 'benign R@1 (%) for ARS (default: measured on the attacked batches)' },
      // The attacks' options that hold for a whole swipe (src/attack/*.ts); the profile sets W and M per run.
      ...attackOptionTable('swipe'),
      out: {
        kind: 'string',
        value: 'DIR',
        help: 'also write swipe.json, swipe.md, swipe.svg and index.html there: a page (open it\noffline) with the numbers, the chart and, under examples/, pictures of what each\nattack did to the first N queries of batch 1',
      },
      examples: { kind: 'int', value: 'N', min: 0, help: 'queries pictured per attack on the page (0 = numbers only)', default: '3' },
      ...BOOTSTRAP_OPTIONS,
    },
  },
  {
    title: 'robustness over training (a run trained with --keep-every or --trail)',
    options: {
      epochs: {
        kind: 'string',
        value: 'all|LIST',
        help: "swipe the run's kept epochs (all, or 1-based epochs such as 2,4,8), each stored as\nRUN/swipe-epochs/<profile>/epoch-N.json: a rerun swipes only the epochs not done with\nthese settings; then the table (trail.json, trail.md), the chart (trail.svg) and a page\n(index.html) there, and the table in RUN/report.md",
      },
    },
  },
  {
    title: 'search method, transfer and the robust evaluation (docs/attacks-and-metrics.md §8)',
    options: {
      ...SEARCH_OPTIONS,
      'transfer-from': {
        kind: 'string',
        value: 'RUN',
        help: "craft the adversarial images on this checkpoint (a surrogate with the same input\nshape) and measure them on CKPT; with --robust-eval: the transfer component's surrogate",
      },
      'robust-eval': {
        kind: 'string',
        choices: ROBUST_EVAL_PRESET_NAMES,
        bare: ROBUST_EVAL_DEFAULTS.preset,
        help:
          "per image the worst case of PGD, APGD + restarts, a query-only search and a transfer\nattack; its ERS/ARS are the headline (PGD's beside them); a gradient-masking verdict and\nan unreliable-PGD finding (rules and noise: docs/attacks-and-metrics.md §8). The budget:\n" +
          ROBUST_EVAL_PRESET_NAMES.map((n) => `${n}: ${ROBUST_EVAL_PRESETS[n].summary}`).join('\n') +
          `\n(bare --robust-eval: ${ROBUST_EVAL_DEFAULTS.preset}, the screening run a CPU affords; its result is named with its\nbudget; --restarts, --apgd-steps, --queries override the budget's fields)`,
      },
      'apgd-steps': { kind: 'int', value: 'N', min: 1, help: "robust eval: APGD's iterations (cheap: the profile's η; standard: 100)" },
      'query-method': {
        kind: 'string',
        choices: METHODS.filter((m) => !m.gradients).map((m) => m.name),
        help: 'robust eval: the query-only component',
        default: ROBUST_EVAL_DEFAULTS.queryMethod,
      },
      'surrogate-batches': {
        kind: 'int',
        value: 'N',
        min: 1,
        help: 'robust eval without --transfer-from: SPC-2 batches of a fresh undefended surrogate\n(seed 1; kept in DIR/surrogate with --out, reused when there)',
        default: String(SURROGATE_BATCHES),
      },
      'sweep-queries': {
        kind: 'int',
        value: 'N',
        min: 2,
        help: `robust eval: queries of the ε sweep, the first of the first batch (PGD at ε × ${[...ROBUST_EVAL_DEFAULTS.epsilonFractions, 1].join(', ')})`,
        default: String(ROBUST_EVAL_DEFAULTS.sweepQueries),
      },
      ...OUTPUT_OPTIONS,
      ...THREADS_OPTION,
      ...DEVICE_OPTION,
      ...NPROC_OPTION,
    },
  },
  DATA_ROOT_SECTION,
  MODEL_SOURCE_SECTION,
];

export const swipeCommand: Command = {
  name: 'swipe',
  summary: 'run every ranking attack of a profile (rob28, rob224) and print ERS / ARS',
  usage: usageText(
    ['rankshield swipe CKPT [options]', 'rankshield swipe --model-file FILE --dataset NAME [options]'],
    `Attacks every test image (queries in loader order, batches of 128 for 28×28, 112 for 224×224)
with the nine attacks of the profile (CA+, CA−, QA+, QA−, TMA, ES, LTM, GTM, GTT), the whole
test split as the clean gallery. Numbers are per-batch means averaged over batches, as RobRank;
each carries a 95 % interval from a per-query bootstrap (ERS and ARS through their formulas).
With --nproc the ranks share the query batches (the result equals one process's).
Units, directions and the ERS/ARS formulas: docs/attacks-and-metrics.md.`,
    SECTIONS,
    `The last line of output is the JSON result; its "benign" holds the checkpoint's benign metrics and
"robrank" the same numbers under RobRank's names (there "mAP@R" is R = 10, our "mAP@10").`,
  ),
  options: mergeSections(SECTIONS),
  async run(argv) {
    const p = parseOptions(argv, this.options!);
    if (flagString(p, 'epochs') !== undefined) return swipeEpochs(p);
    const queryLimit = limitQueries(p, searchFlags(p).norm, flagNumber(p, 'max-batches'), flagNumber(p, 'max-queries'));
    const attackOptions = attackOptionFlags(p, 'swipe').swipeWide;
    const json = flagBool(p, 'json');
    const benignR1 = flagNumber(p, 'benign-r1');
    applyThreads(p);
    // Every check before the work: a swipe can take an hour, its results must have somewhere to go.
    const out = flagString(p, 'out');
    const examples = flagNumber(p, 'examples');
    if (examples !== undefined && out === undefined) throw new UsageError('--examples goes with --out (the page it pictures is written there)');
    const nproc = flagNumber(p, 'nproc');
    const group = nproc !== undefined && nproc > 1 ? null : processGroupFromEnv(flagNumber(p, 'dist-timeout'));
    if (out !== undefined && (group === null || group.rank === 0)) ensureWritableDir(out);
    const device = deviceFlag(p);
    if (group === null) return launchRanks(nproc!, 'swipe', withoutNproc(argv));
    const { norm, method, settings } = searchFlags(p);
    const preset = flagString(p, 'robust-eval') as RobustEvalPreset | undefined;
    const robust = preset !== undefined;
    if (robust && norm !== 'linf') throw new UsageError('--robust-eval evaluates the L∞ threat model; leave out --norm l2');
    checkBudgetFlags(p, norm);
    if (!robust && flagNumber(p, 'apgd-steps') !== undefined)
      throw new UsageError("--apgd-steps goes with --robust-eval (a plain swipe runs --method apgd at the profile's η)");
    if (robust && (nproc ?? 1) > 1) throw new UsageError('--robust-eval runs in one process (leave out --nproc)');
    if (robust && method !== undefined) throw new UsageError('--robust-eval runs every method itself; leave out --method');
    if (robust && flagString(p, 'profile') !== undefined && !['rob28', 'rob224'].includes(flagString(p, 'profile')!))
      throw new UsageError('--robust-eval needs an ERS profile (rob28 or rob224)');
    const { model, data, metric, info } = await openModelSource(p);
    model.to(device);
    if (robust) {
      try {
        return await robustEval(p, model, data.test, metric, info, out, json, {
          preset: preset!,
          profile: queryLimit.profile(data.test.height),
          maxIter: queryLimit.maxIter(data.test.height),
          benignR1,
          attackOptions,
          settings,
          device,
          argv,
        });
      } finally {
        model.dispose();
        group.destroy();
      }
    }
    const transferFrom = flagString(p, 'transfer-from');
    const surrogate = transferFrom === undefined ? undefined : (await openSurrogate({ from: transferFrom, dataset: data.test.name })).model;
    surrogate?.to(device);
    // Only the rank that writes the reports keeps pictures (batch 0 is its batch).
    const keeper = out !== undefined && group.rank === 0 && examples !== 0 ? new SwipeExampleKeeper(examples) : undefined;
    try {
      const swiped = await runSwipe(model, data.test, metric, {
        profile: queryLimit.profile(data.test.height),
        maxIter: queryLimit.maxIter(data.test.height),
        seed: flagNumber(p, 'seed'),
        benignRecallAt1: benignR1,
        attackOptions,
        method,
        methodSettings: settings,
        surrogate,
        bootstrap: bootstrapFlags(p),
        progress: showProgress(p) && group.rank === 0,
        group,
        examples: keeper?.option,
      });
      if (group.rank !== 0) return 0; // every rank holds the result; rank 0 reports it
      const result = withStoredBenign(swiped, info === null ? null : info.metrics);
      // The result is printed before the reports are written: a failing disk cannot take it away.
      if (!json) console.log(swipeMarkdown(result));
      console.log(JSON.stringify(result));
      if (out === undefined) return 0;
      const cited: SwipeResult & { provenance: Provenance } = { ...result, provenance: provenance(['swipe', ...argv]) };
      writeReports(out, cited);
      // The page comes last: a failure there costs the page only.
      try {
        const page = await writeSwipePage(out, result, {
          ds: data.test,
          keeper,
          source: pageSource(p.positionals[0], flagString(p, 'model-file'), info, data.test.name),
        });
        if (!json) process.stderr.write(`rankshield swipe: wrote ${page}\n`);
      } catch (e) {
        process.stderr.write(`rankshield swipe: the results are in ${out}, but index.html could not be written: ${(e as Error).message}\n`);
        return 1;
      }
      return 0;
    } finally {
      keeper?.dispose();
      model.dispose();
      surrogate?.dispose();
      group.destroy();
    }
  },
};

/** `swipe RUN --epochs LIST`: each kept epoch not yet swiped with these settings, then the table and chart of all of them. */
async function swipeEpochs(p: ParsedArgs): Promise<number> {
  for (const f of ['model-file', 'robust-eval', 'max-queries', 'out', 'examples', 'nproc']) {
    if (p.flags.has(f) && !(f === 'nproc' && flagNumber(p, 'nproc') === 1))
      throw new UsageError(`--epochs does not go with --${f} (the results are stored beside the run, one process swipes every epoch)`);
  }
  if (p.positionals.length !== 1) throw new UsageError('--epochs needs exactly one run directory (trained with --keep-every)');
  const run = p.positionals[0]!;
  if (!existsSync(path.join(run, SIDECAR))) throw new UsageError(`--epochs: ${run} is not a run directory (it holds no ${SIDECAR})`);
  const json = flagBool(p, 'json');
  const attackOptions = attackOptionFlags(p, 'swipe').swipeWide;
  applyThreads(p);
  const device = deviceFlag(p);
  const { norm, method, settings } = searchFlags(p);
  if (norm !== 'linf') throw new UsageError('--epochs swipes the stored L∞ profiles; leave out --norm l2');
  const runInfo = readCheckpointInfo(run);
  let epochs: number[];
  try {
    epochs = parseEpochList(
      flagString(p, 'epochs')!,
      keptEpochs(run, { hash: false }).map((k) => k.epoch),
      runInfo.epoch + 1,
    );
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const transferFrom = flagString(p, 'transfer-from');
  const surrogate = transferFrom === undefined ? undefined : (await openSurrogate({ from: transferFrom, dataset: datasetOf(runInfo.config).name })).model;
  surrogate?.to(device);
  const say = (m: string): void => void process.stderr.write(`rankshield swipe: ${m}\n`);
  try {
    const r = await swipeKeptEpochs(run, epochs, {
      profile: flagString(p, 'profile'),
      maxIter: flagNumber(p, 'max-batches'),
      seed: flagNumber(p, 'seed'),
      benignRecallAt1: flagNumber(p, 'benign-r1'),
      attackOptions,
      method,
      methodSettings: settings,
      surrogate,
      transferFrom,
      root: flagString(p, 'root'),
      device,
      progress: showProgress(p),
      onNotice: json ? undefined : say,
    });
    if (!json) {
      console.log(trailMarkdown(r.table));
      say(`wrote ${r.files.markdown}, ${r.files.svg}`);
    }
    console.log(JSON.stringify({ ...r.table, swiped: r.swiped, reused: r.reused, files: r.files }));
    return 0;
  } finally {
    surrogate?.dispose();
  }
}

/** `swipe --robust-eval`: the surrogate (given or trained fresh), the evaluation, its reports. */
async function robustEval(
  p: ParsedArgs,
  model: EmbeddingModel,
  test: DmlDataset,
  metric: Metric,
  info: CheckpointInfo | null,
  out: string | undefined,
  json: boolean,
  o: {
    preset: RobustEvalPreset;
    profile: Profile;
    maxIter?: number;
    benignR1?: number;
    attackOptions: AttackOptions;
    settings: Partial<MethodSettings>;
    device: Device;
    /** The command line, for the result's provenance. */
    argv: readonly string[];
  },
): Promise<number> {
  const s = await openSurrogate({
    from: flagString(p, 'transfer-from'),
    dataset: test.name,
    batches: flagNumber(p, 'surrogate-batches'),
    dir: out === undefined ? undefined : path.join(out, 'surrogate'),
    quiet: !showProgress(p),
  });
  try {
    s.model.to(o.device);
    const result = await runRobustEval(model, test, metric, {
      profile: o.profile,
      maxIter: o.maxIter,
      seed: flagNumber(p, 'seed'),
      benignRecallAt1: o.benignR1,
      attackOptions: o.attackOptions,
      preset: o.preset,
      restarts: o.settings.restarts,
      apgdSteps: flagNumber(p, 'apgd-steps'),
      eot: o.settings.eot,
      queryMethod: flagString(p, 'query-method') as MethodName | undefined,
      querySettings: { queries: o.settings.queries, samples: o.settings.samples, sigmaFraction: o.settings.sigmaFraction },
      surrogate: s.model,
      surrogateSource: s.source,
      sweepQueries: flagNumber(p, 'sweep-queries'),
      bootstrap: bootstrapFlags(p),
      progress: showProgress(p),
    });
    const full = withStoredBenign(asSwipeResult(result), info === null ? null : info.metrics);
    if (!json) console.log(robustEvalMarkdown(result));
    console.log(JSON.stringify(full));
    if (out !== undefined) {
      const cited = { ...full, provenance: provenance(['swipe', ...o.argv]) };
      writeFileAtomicSync(path.join(out, 'swipe.json'), `${JSON.stringify(cited, null, 2)}\n`);
      writeFileAtomicSync(path.join(out, 'swipe.md'), robustEvalMarkdown(result));
      const page = writeRobustPage(out, result, pageSource(p.positionals[0], flagString(p, 'model-file'), info, test.name));
      if (!json) process.stderr.write(`rankshield swipe: wrote ${page}\n`);
    }
    return 0;
  } finally {
    s.model.dispose();
    s.cleanup?.();
  }
}

/** --profile (or the ERS profile of the images' size) in the ball of --norm, with the budget flags applied to every run. */
function chosenProfile(p: ParsedArgs, norm: Norm, imageSide: number): Profile {
  const name = flagString(p, 'profile');
  return profileFor(name === undefined ? ersProfile(imageSide) : getProfile(name), norm, p, imageSide);
}

/** --max-batches or --max-queries: the profile (a smaller batch below its batch size) and the batches to attack. */
function limitQueries(
  p: ParsedArgs,
  norm: Norm,
  maxBatches: number | undefined,
  maxQueries: number | undefined,
): { profile: (height: number) => Profile; maxIter: (height: number) => number | undefined } {
  const base = (h: number): Profile => chosenProfile(p, norm, h);
  if (maxQueries === undefined) return { profile: base, maxIter: () => maxBatches };
  if (maxBatches !== undefined) throw new UsageError('give --max-batches or --max-queries, not both');
  return {
    profile: (h) => (maxQueries < base(h).batchSize ? { ...base(h), batchSize: maxQueries } : base(h)),
    maxIter: (h) => Math.max(1, Math.floor(maxQueries / base(h).batchSize)),
  };
}

function writeReports(dir: string, r: SwipeResult): void {
  const { json, markdown, svg } = swipeReports(r);
  writeFileAtomicSync(path.join(dir, 'swipe.json'), json);
  writeFileAtomicSync(path.join(dir, 'swipe.md'), markdown);
  if (svg !== null) writeFileAtomicSync(path.join(dir, 'swipe.svg'), svg);
}

/** The page's words for where the model came from: the checkpoint's config, or the TorchScript file. */
function pageSource(ckpt: string | undefined, modelFile: string | undefined, info: CheckpointInfo | null, dataset: string): SwipePageSource {
  if (info === null) return { model: `TorchScript ${path.basename(modelFile ?? '?')}`, dataset };
  const c = info.config;
  // A run directory, a file inside one or one of its checkpoints/<seq> commits: the run's name, not the path.
  let dir = ckpt === undefined ? undefined : path.resolve(ckpt);
  if (dir !== undefined && path.extname(dir) !== '') dir = path.dirname(dir);
  if (dir !== undefined && path.basename(path.dirname(dir)) === 'checkpoints') dir = path.dirname(path.dirname(dir));
  const run = dir === undefined ? undefined : path.basename(dir);
  return {
    model: `${c.model}, ${c.loss} loss (${c.miner} miner), defense ${c.defense.kind}, trained ${info.epoch + 1} epoch(s)`,
    dataset,
    ...(run === undefined ? {} : { checkpoint: run }),
  };
}
