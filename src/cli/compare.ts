// Layer: cli. `rankshield compare A B …`: paired differences of two or more models on the
// same queries (docs/attacks-and-metrics.md §9). Each input is a checkpoint (swiped here,
// every one with the same profile, queries and seed) or a stored swipe JSON.
import { provenance } from '../run/provenance.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ensureWritableDir, writeFileAtomicSync } from '../io/atomic.js';
import { ersProfile, PROFILES } from '../attack/profiles.js';
import { bootstrapInfo } from '../eval/bootstrap.js';
import { checkPairable, compareMarkdown, compareSvg, compareSwipes, type CompareInput } from '../eval/compare.js';
import type { StoredSwipeResult } from '../eval/swipe.js';
import { UsageError, type Command } from './command.js';
import { attackOptionFlags, attackOptionTable } from './attack-options.js';
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
  OUTPUT_OPTIONS,
  parseOptions,
  ROOT_OPTION,
  showProgress,
  THREADS_OPTION,
  usageText,
  type OptionSection,
} from './args.js';

const SECTIONS: readonly OptionSection[] = [
  {
    title: 'the swipes of checkpoints given (stored swipe JSONs keep their own)',
    options: {
      profile: {
        kind: 'string',
        value: 'NAME',
        choices: Object.keys(PROFILES),
        help: 'the swipe profile (default: rob28 for 28×28 datasets, rob224 for 224×224)',
      },
      'max-batches': MAX_BATCHES_OPTION,
      seed: { kind: 'int', value: 'S', min: 0, help: "seed of the attacks' random choices, the same for every model", default: '0' },
      // The attacks' options that hold for a whole swipe (src/attack/*.ts).
      ...attackOptionTable('swipe'),
      ...ROOT_OPTION,
    },
  },
  {
    title: 'the comparison',
    options: {
      ...BOOTSTRAP_OPTIONS,
      names: {
        kind: 'string',
        value: 'LIST',
        help: "the models' names on the reports, comma-separated in the order given (default: each\nrun directory's or file's name)",
      },
      out: {
        kind: 'string',
        value: 'DIR',
        help: 'also write compare.json, compare.md, compare.svg (the chart) and, for each\ncheckpoint swiped, swipe-<N>.json there (reusable as inputs)',
      },
      ...OUTPUT_OPTIONS,
      ...THREADS_OPTION,
      ...DEVICE_OPTION,
    },
  },
];

export const compareCommand: Command = {
  name: 'compare',
  summary: 'paired differences of two or more models on the same queries, with 95 % intervals',
  usage: usageText(
    ['rankshield compare A B [C …] [options]'],
    `Each of A, B, … is a checkpoint (a run directory, its checkpoint.json or model.safetensors),
swiped here with the same profile, queries and attack seed, or a stored swipe JSON (swipe --out's
swipe.json, compare --out's swipe-<N>.json, a swipe --json line saved to a file) made on the same
queries and seeds. Every model is compared with the first: per column the difference of the point
estimates (other − first) and its 95 % interval from a PAIRED per-query bootstrap (the same drawn
queries for both models; ERS and ARS through their formulas), and whether the interval excludes 0.
Results made on another dataset, split, query set, profile, attack seed, method or attack option
are refused, naming what differs. Prints a Markdown table (or one JSON object with --json).

examples:
  rankshield compare runs/na-s0 runs/na-s1 --max-batches 2
  rankshield compare runs/na-s0 runs/est-s0 --max-batches 2 --out cmp/
  rankshield compare cmp/swipe-1.json cmp/swipe-2.json --names N/A,EST --resamples 5000 --json`,
    SECTIONS,
    'Intervals and the pairing: docs/attacks-and-metrics.md §9.',
  ),
  options: mergeSections(SECTIONS),
  async run(argv) {
    const p = parseOptions(argv, this.options!);
    if (p.positionals.length < 2) throw new UsageError(`compare needs at least two models (checkpoints or swipe JSONs), got ${p.positionals.length}`);
    const json = flagBool(p, 'json');
    const out = flagString(p, 'out');
    let info: ReturnType<typeof bootstrapInfo>;
    try {
      info = bootstrapInfo(bootstrapFlags(p));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    for (const x of p.positionals) if (!existsSync(x)) throw new UsageError(`${x}: no such checkpoint or swipe JSON`);
    if (out !== undefined) ensureWritableDir(out);
    const names = flagString(p, 'names')
      ?.split(',')
      .map((x) => x.trim());
    if (names !== undefined && (names.length !== p.positionals.length || names.some((x) => x === '') || new Set(names).size !== names.length)) {
      throw new UsageError(`--names needs ${p.positionals.length} distinct non-empty names (one per model), got '${flagString(p, 'names')}'`);
    }
    const labels = names ?? uniqueLabels(p.positionals);
    // Stored JSONs first: a refusal among them costs no swipe.
    const stored = new Map<number, StoredSwipeResult>();
    p.positionals.forEach((x, i) => {
      if (isSwipeJson(x)) stored.set(i, readSwipeJson(x));
    });
    const storedInputs = [...stored].map(([i, result]) => ({ label: labels[i]!, result }));
    if (storedInputs.length >= 2) refuseUnpaired(() => checkPairable(storedInputs));
    const checkpoints = p.positionals.map((x, i) => [x, i] as const).filter(([, i]) => !stored.has(i));
    if (checkpoints.length === 0) refuseSwipeFlags(p);
    const results = new Map(stored);
    if (checkpoints.length > 0) {
      applyThreads(p);
      const swiped = await swipeCheckpoints(checkpoints, storedInputs[0]?.result, p, !json && showProgress(p));
      for (const [i, r] of swiped) results.set(i, r);
    }
    const inputs: CompareInput[] = p.positionals.map((_, i) => ({ label: labels[i]!, result: results.get(i)! }));
    const result = refuseUnpaired(() => compareSwipes(inputs, info));
    const markdown = compareMarkdown(result);
    if (!json) console.log(markdown);
    else console.log(JSON.stringify(result));
    if (out !== undefined) {
      for (const [x, i] of checkpoints) {
        writeFileAtomicSync(path.join(out, `swipe-${i + 1}.json`), `${JSON.stringify(results.get(i), null, 2)}\n`);
        if (!json) process.stderr.write(`rankshield compare: the swipe of ${x} is in ${path.join(out, `swipe-${i + 1}.json`)}\n`);
      }
      writeFileAtomicSync(path.join(out, 'compare.json'), `${JSON.stringify({ ...result, provenance: provenance(['compare', ...argv]) }, null, 2)}\n`);
      writeFileAtomicSync(path.join(out, 'compare.md'), markdown);
      writeFileAtomicSync(path.join(out, 'compare.svg'), compareSvg(result));
      if (!json) process.stderr.write(`rankshield compare: wrote compare.json, compare.md, compare.svg in ${out}\n`);
    }
    return 0;
  },
};

/** A pairing refusal is the user's to fix (exit 2), as a usage error. */
function refuseUnpaired<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** Each input's name on the reports: the run directory's (or file's) name, made unique with its position. */
function uniqueLabels(inputs: readonly string[]): string[] {
  const names = inputs.map((x) => {
    const abs = path.resolve(x);
    const base = path.basename(abs);
    return ['checkpoint.json', 'model.safetensors'].includes(base) ? path.basename(path.dirname(abs)) : base.replace(/\.json$/, '');
  });
  return names.map((n, i) => (names.indexOf(n) === names.lastIndexOf(n) ? n : `${n} (#${i + 1})`));
}

/** A JSON file that is not a checkpoint's sidecar. */
function isSwipeJson(x: string): boolean {
  return statSync(x).isFile() && x.endsWith('.json') && path.basename(x) !== 'checkpoint.json';
}

function readSwipeJson(file: string): StoredSwipeResult {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new UsageError(`${file}: not a JSON file (${(e as Error).message})`);
  }
  const r = v as Partial<StoredSwipeResult> | null;
  if (r === null || typeof r !== 'object' || typeof r.attacks !== 'object' || typeof r.profile !== 'string')
    throw new UsageError(`${file}: not a swipe result (no profile and attacks)`);
  return r as StoredSwipeResult;
}

/** With stored swipe JSONs only, a swipe flag would change nothing: say so rather than ignore it. */
function refuseSwipeFlags(p: ReturnType<typeof parseOptions>): void {
  const given = Object.keys(SECTIONS[0]!.options).filter((name) => p.flags.has(name));
  if (given.length === 0) return;
  const flags = given.map((name) => `--${name}`).join(', ');
  throw new UsageError(
    `${flags} only set${given.length === 1 ? 's' : ''} how checkpoints are swiped here; every model given is a stored swipe JSON, which keeps the settings it was made with`,
  );
}

/** Swipes each checkpoint alike (the stored results' settings when there are some); refuses another dataset before any swipe. */
async function swipeCheckpoints(
  checkpoints: readonly (readonly [string, number])[],
  like: StoredSwipeResult | undefined,
  p: ReturnType<typeof parseOptions>,
  progress: boolean,
): Promise<Map<number, StoredSwipeResult>> {
  // Loaded lazily: reading stored JSONs needs no libtorch.
  const { readCheckpointInfo } = await import('../run/checkpoint.js');
  const { loadCheckpoint } = await import('../run/model-factory.js');
  const { datasetOf } = await import('../run/config.js');
  const { openDataset } = await import('../data/index.js');
  const { metricByName } = await import('../metric/metric.js');
  const { runSwipe } = await import('../eval/swipe.js');
  const dirOf = (x: string): string => (statSync(x).isDirectory() ? x : path.dirname(x));
  const configs = checkpoints.map(([x]) => {
    try {
      return readCheckpointInfo(dirOf(x)).config;
    } catch (e) {
      throw new UsageError(`${x}: not a checkpoint or swipe JSON (${(e as Error).message})`);
    }
  });
  const datasets = configs.map((c) => datasetOf(c).name);
  const first = like?.madeOn?.dataset ?? datasets[0]!;
  datasets.forEach((d, k) => {
    if (d !== first) throw new UsageError(`${checkpoints[k]![0]} was trained on ${d}, not ${first}: a paired comparison needs the same test queries`);
  });
  const profile = flagString(p, 'profile') ?? like?.madeOn?.profile;
  const seed = flagNumber(p, 'seed') ?? like?.madeOn?.seed;
  const attackOptions = attackOptionFlags(p, 'swipe').swipeWide;
  const device = deviceFlag(p);
  const root = flagString(p, 'root') ?? configs[0]!.root;
  const data = await openDataset(configs[0]!.dataset, root === undefined ? {} : { root });
  const out = new Map<number, StoredSwipeResult>();
  for (const [x, i] of checkpoints) {
    const { model, info } = loadCheckpoint(x);
    try {
      model.to(device);
      if (progress) process.stderr.write(`rankshield compare: swiping ${x}\n`);
      out.set(
        i,
        await runSwipe(model, data.test, metricByName(info.config.metric), {
          profile: profile ?? ersProfile(data.test.height).name,
          maxIter: flagNumber(p, 'max-batches'),
          seed,
          attackOptions,
          progress,
        }),
      );
    } finally {
      model.dispose();
    }
  }
  return out;
}
