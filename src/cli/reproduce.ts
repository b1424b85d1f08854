// Layer: cli. `rankshield reproduce TABLE [ROWS]`: a published table's rows as
// runs (planned, trained, swiped; runs already done with the same config are
// reused), then published vs measured as Markdown, JSON and a page.
import { provenance } from '../run/provenance.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ensureWritableDir, writeFileAtomicSync } from '../io/atomic.js';
import { comparisonHtml, comparisonMarkdown, compareRow, type Comparison, type ComparedRow, type MeasuredResult } from '../reproduce/compare.js';
import { diskBytes, gpuCost, H100_ASSUMPTION, parameterCount, probePassCost, rowWork, secondsOf, type PassCost, type RowWork } from '../reproduce/plan.js';
import {
  evaluateRun,
  readBenign,
  readMeasured,
  rowRunPaths,
  runState,
  swipeRun,
  swipeSettings,
  type RowRunPaths,
  type RunState,
  type SwipeSettings,
} from '../reproduce/runs.js';
import { MissingInput, parseScale, rowConfig, SCALE_BUDGETS, SCALES, type Scale } from '../reproduce/scale.js';
import { selectRows, TABLES, tableByName, type PublishedRow, type PublishedTable } from '../reproduce/tables/index.js';
import { canonicalJson, datasetOf, type ExperimentConfig } from '../run/config.js';
import { train, TrainingInterrupted } from '../train/trainer.js';
import { getNumThreads, type Device } from '../tensor/index.js';
import { UsageError, type Command } from './command.js';
import { launchRanks } from './launch.js';
import { swipeCommand } from './swipe.js';
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
} from './args.js';

const DEFAULT_RUNS = path.join('runs', 'reproduce');

const SECTIONS: readonly OptionSection[] = [
  {
    options: {
      list: { kind: 'boolean', help: 'print the tables, their sources and row ids' },
      scale: { kind: 'string', value: 'S', choices: SCALES, help: SCALES.map((s) => `${s}: ${SCALE_BUDGETS[s].summary}`).join('\n'), default: 'reduced' },
      plan: {
        kind: 'boolean',
        help: "print each row's model passes, its measured cost per pass here, the expected time\nhere and on the stated GPU, and its disk; run nothing",
      },
      report: { kind: 'boolean', help: 'write the comparison from the runs already done (the others are marked "not run");\ntrain and swipe nothing' },
      'gpu-minutes': {
        kind: 'number',
        value: 'M',
        above: 0,
        help: 'keep only the rows (in the order given) whose expected times on the stated GPU add up\nto at most M minutes',
      },
      'robust-eval': {
        kind: 'boolean',
        help: 'measure each row with the robust evaluation (worst case of PGD, APGD, a query-only\nsearch and transfer; `rankshield swipe --robust-eval`) instead of the plain profile',
      },
      runs: {
        kind: 'string',
        value: 'DIR',
        help: 'where run directories go, one per experiment config (reused by any row or table\nwith the same config)',
        default: DEFAULT_RUNS,
      },
      out: { kind: 'string', value: 'DIR', help: 'where comparison.{json,md,html} go', default: `${DEFAULT_RUNS}/<table>-<scale>` },
      pretrained: { kind: 'string', value: 'FILE', help: 'ImageNet ResNet-18 weights (torchvision .pth or .safetensors) for the 224×224 tables' },
      ...ROOT_OPTION,
    },
  },
  { title: 'running', options: { ...OUTPUT_OPTIONS, ...THREADS_OPTION, ...DEVICE_OPTION, ...NPROC_OPTION } },
];
const OPTIONS = mergeSections(SECTIONS);

export const reproduceCommand: Command = {
  name: 'reproduce',
  summary: "rerun a published table (RobRank Fashion, CVPR'22, CA-TRIDE) and compare with its numbers",
  usage: usageText(
    ['rankshield reproduce TABLE [ROW …] [options]', 'rankshield reproduce TABLE --plan [options]', 'rankshield reproduce --list'],
    `Tables:
${TABLES.map((t) => `  ${t.name.padEnd(8)} ${t.summary}\n           rows: ${t.rows.map((r) => r.id).join(' ')}`).join('\n')}
Each row is the run the paper reports (dataset, model, ImageNet weights, defense and η, epochs, batch),
cut to the budget of --scale; equal configs share one run directory under --runs (named by the
config's key), so a run is trained and swiped once, resumes where it stopped, and serves every table
that needs it. Training is the same as \`rankshield train\`, the measurement the same as
\`rankshield swipe\` with the table's profile. The comparison gives per row and column the published
number, the measured one, the difference and the measured number's interval where the swipe result
carries one. docs/reproduce.md describes the tables, the scales and the cost model of --plan.`,
    SECTIONS,
  ),
  options: OPTIONS,
  async run(argv) {
    const p = parseOptions(argv, OPTIONS);
    if (flagBool(p, 'list')) {
      for (const t of TABLES)
        console.log(
          `${t.name}: ${t.summary}\n  ${t.source.authors}, "${t.source.title}", ${t.source.venue}, ${t.source.table}\n  rows: ${t.rows.map((r) => r.id).join(' ')}`,
        );
      return 0;
    }
    const [name, ...rowIds] = p.positionals;
    if (name === undefined) throw new UsageError(`name a table (${TABLES.map((t) => t.name).join(', ')})`);
    let table: PublishedTable;
    let rows: PublishedRow[];
    let scale: Scale;
    try {
      table = tableByName(name);
      rows = selectRows(table, rowIds);
      scale = parseScale(flagString(p, 'scale') ?? 'reduced');
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    applyThreads(p);
    const json = flagBool(p, 'json');
    const plan = flagBool(p, 'plan');
    const robust = flagBool(p, 'robust-eval');
    const nproc = flagNumber(p, 'nproc') ?? 1;
    if (robust && nproc > 1) throw new UsageError('--robust-eval runs in one process (leave out --nproc)');
    const runsRoot = flagString(p, 'runs') ?? DEFAULT_RUNS;
    const inputs = {
      ...(flagString(p, 'root') !== undefined ? { root: flagString(p, 'root')! } : {}),
      ...(flagString(p, 'pretrained') !== undefined ? { pretrained: flagString(p, 'pretrained')! } : {}),
    };
    // Every row resolves before anything runs: a bad row stops the command at once, not after hours.
    const planned = rows.map((row) => planRow(row, scale, robust, runsRoot, inputs, plan));
    const device = deviceFlag(p);
    let rowsPlanned = planned;
    const gpuMinutes = flagNumber(p, 'gpu-minutes');
    if (gpuMinutes !== undefined) {
      let sum = 0;
      rowsPlanned = planned.filter((r) => (sum += r.gpuSeconds / 60) <= gpuMinutes);
    }
    if (plan) {
      const probes = probeCosts(rowsPlanned, device);
      const report = planReport(table, scale, rowsPlanned, probes, gpuMinutes);
      if (json) console.log(JSON.stringify(report.json));
      else console.log(report.text);
      return 0;
    }
    for (const r of rowsPlanned) if (r.config === null) throw new UsageError(r.problem!);
    const out = flagString(p, 'out') ?? path.join(runsRoot, `${table.name}-${scale}`);
    ensureWritableDir(out);
    ensureWritableDir(runsRoot);
    const progress = showProgress(p);
    const say = (m: string): void => void (json ? undefined : process.stderr.write(`rankshield reproduce: ${m}\n`));
    const started = Date.now();
    const reportOnly = flagBool(p, 'report');
    // The ETA: each row's work still to do (by its state) at the probed cost per pass on this machine.
    const costs = reportOnly ? new Map<string, PassCost>() : probeCosts(rowsPlanned, device);
    const remaining = rowsPlanned.map((r) => remainingSeconds(r, costs.get(modelKey(r.counted))));
    for (const [i, r] of reportOnly ? [] : rowsPlanned.entries()) {
      const left = remaining.slice(i).reduce((s, x) => s + x, 0);
      say(
        `row ${i + 1}/${rowsPlanned.length} ${r.row.id} (${r.paths.key}): ${describeState(r.state)}; ${Math.round((Date.now() - started) / 1000)} s so far, ~${fmtDuration(left)} left by the plan's estimate`,
      );
      await runRow(r, { device, nproc, progress, robust, say, ...(inputs.root !== undefined ? { root: inputs.root } : {}) });
    }
    const comparison = buildComparison(table, scale, rowsPlanned, argv, device);
    writeFileAtomicSync(path.join(out, 'comparison.json'), `${JSON.stringify(comparison, null, 2)}\n`);
    const md = comparisonMarkdown(comparison);
    writeFileAtomicSync(path.join(out, 'comparison.md'), md);
    writeFileAtomicSync(path.join(out, 'comparison.html'), comparisonHtml(comparison));
    if (!json) {
      console.log(md);
      say(`wrote ${path.join(out, 'comparison.md')}, comparison.json and comparison.html`);
    } else {
      // The headline columns per row (the files hold every column).
      const headline = (x: ComparedRow): Record<string, { published: number | null; measured: number | null }> =>
        Object.fromEntries(
          x.cells
            .filter((c) => ['R@1', 'ERS', 'ARS'].includes(c.key) && c.role === 'compared')
            .map((c) => [c.key, { published: c.published, measured: c.measured }]),
        );
      console.log(
        JSON.stringify({ table: table.name, scale, out, rows: comparison.rows.map((x) => ({ id: x.id, status: x.status, key: x.key, ...headline(x) })) }),
      );
    }
    return 0;
  },
};

/** A row with its resolved experiment, its run's place and state, and its counts. */
interface PlannedRow {
  row: PublishedRow;
  /** null when the row cannot run here (missing ImageNet weights); `problem` says why. */
  config: ExperimentConfig | null;
  problem?: string;
  /** The config the counts come from (the row's, or with a placeholder for missing weights). */
  counted: ExperimentConfig;
  swipe: SwipeSettings;
  paths: RowRunPaths;
  state: RunState;
  work: RowWork;
  gpuSeconds: number;
  /** Filled by the probe with --plan, else an estimate from the last probe of this model (0 when none). */
  hereSeconds: number;
}

function planRow(
  row: PublishedRow,
  scale: Scale,
  robust: boolean,
  runsRoot: string,
  inputs: { root?: string; pretrained?: string },
  planOnly: boolean,
): PlannedRow {
  let config: ExperimentConfig | null;
  let problem: string | undefined;
  try {
    config = rowConfig(row, scale, inputs);
  } catch (e) {
    if (!(e instanceof MissingInput) || !planOnly) throw new UsageError((e as Error).message);
    // --plan without weights: the counts do not depend on them (the run's key does: shown as "needs --pretrained").
    problem = e.message;
    config = null;
  }
  const counted = config ?? rowConfig(row, scale, { ...inputs, pretrained: '(ImageNet ResNet-18 weights)' });
  const swipe = swipeSettings(row.run.profile, scale, robust);
  const paths = rowRunPaths(runsRoot, counted, swipe);
  const state = config === null ? ({ state: 'new' } as const) : runState(paths, config);
  const work = rowWork(counted, scale, row.run.profile);
  const gpuSeconds = secondsOf(work, gpuCost(H100_ASSUMPTION, counted.model)).total;
  return { row, config, ...(problem !== undefined ? { problem } : {}), counted, swipe, paths, state, work, gpuSeconds, hereSeconds: 0 };
}

/** Probes are shared by rows with the same model on the same input (the defense does not change the cost per image). */
const modelKey = (c: ExperimentConfig): string => {
  const { channels, imageSide } = datasetOf(c);
  return `${c.model} on ${channels}×${imageSide}×${imageSide}`;
};

/** One probe per model kind (the cost per image does not depend on the defense). */
function probeCosts(rows: PlannedRow[], device: Device): Map<string, PassCost & { parameters: number }> {
  const out = new Map<string, PassCost & { parameters: number }>();
  for (const r of rows) {
    const c = r.counted;
    const k = modelKey(c);
    if (!out.has(k)) out.set(k, { ...probePassCost(c, getNumThreads(), device), parameters: parameterCount(c) });
    r.hereSeconds = secondsOf(r.work, out.get(k)!).total;
  }
  return out;
}

/** Seconds of a row's work still to do, by how far its run got: a partial run's remaining epochs, a trained one's swipe and benign evaluation. */
function remainingSeconds(r: PlannedRow, cost: PassCost | undefined): number {
  if (cost === undefined) return 0;
  const t = secondsOf(r.work, cost);
  switch (r.state.state) {
    case 'new':
      return t.total;
    case 'partial':
      return t.train * (1 - r.state.epochsDone / r.state.epochs) + t.eval + t.benign + t.swipe;
    case 'trained':
      return (r.state.swiped ? 0 : t.swipe) + (r.state.evaluated ? 0 : t.benign);
    case 'measured':
      return 0;
  }
}

function describeState(s: RunState): string {
  switch (s.state) {
    case 'new':
      return 'new run';
    case 'partial':
      return `resuming (${s.epochsDone}/${s.epochs} epochs trained)`;
    case 'trained':
      return `trained before, ${[s.swiped ? null : 'swiping', s.evaluated ? null : 'evaluating'].filter((x) => x !== null).join(' and ')}`;
    case 'measured':
      return 'done before (reused)';
  }
}

function fmtDuration(s: number): string {
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(0)} min`;
  if (s < 172_800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} days`;
}
function fmtBytes(b: number): string {
  return b < 1e6 ? `${(b / 1e3).toFixed(0)} kB` : b < 1e9 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e9).toFixed(2)} GB`;
}
const fmtCount = (n: number): string =>
  n >= 1e9 ? `${(n / 1e9).toFixed(2)}G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);

function planReport(
  table: PublishedTable,
  scale: Scale,
  rows: PlannedRow[],
  probes: Map<string, PassCost & { parameters: number }>,
  gpuMinutes: number | undefined,
): { text: string; json: unknown } {
  const lines: string[] = [];
  lines.push(
    `reproduce ${table.name} at scale ${scale} (${SCALE_BUDGETS[scale].summary}): ${rows.length} row(s)${gpuMinutes !== undefined ? ` fitting ${gpuMinutes} min on the stated GPU` : ''}`,
  );
  lines.push(`source: ${table.source.authors}, "${table.source.title}", ${table.source.venue}, ${table.source.table}`);
  for (const [k, c] of probes) {
    lines.push(
      `cost here, ${k} (${fmtCount(c.parameters)} parameters): forward ${(c.forward * 1e3).toFixed(3)} ms/image, backward ${(c.backward * 1e3).toFixed(3)} ms/image — probe: ${c.probe}`,
    );
  }
  lines.push(`GPU: ${H100_ASSUMPTION.device} — ${H100_ASSUMPTION.basis}`);
  lines.push('passes: per training batch forward+backward passes of the model (PGD steps included, at most: early stops lower them);');
  lines.push('image passes = passes × images; swipe = gallery + queries × attack runs × (PGD steps + 1) forward, × steps backward');
  lines.push('');
  const head = ['row', 'run key', 'state', 'epochs×batches', 'passes/batch f+b', 'train image passes f/b', 'swipe queries×runs×steps', 'here', 'GPU', 'disk'];
  const body = rows.map((r) => {
    const w = r.work;
    const probe = probes.get(modelKey(r.counted));
    const disk = diskBytes(probe?.parameters ?? 0, w.batches);
    return [
      r.row.id,
      r.config === null ? `${r.paths.key}*` : r.paths.key,
      r.state.state === 'partial' ? `partial ${r.state.epochsDone}/${r.state.epochs}` : r.state.state,
      `${r.counted.epochs}×${w.batchesPerEpoch}`,
      `${w.perBatch.forward}+${w.perBatch.backward}`,
      `${fmtCount(w.trainForward)}/${fmtCount(w.trainBackward)}`,
      `${w.queries}×${w.attackRuns}×${w.attackSteps}`,
      fmtDuration(r.hereSeconds),
      fmtDuration(r.gpuSeconds),
      fmtBytes(disk),
    ];
  });
  const totalHere = rows.reduce((s, r) => s + r.hereSeconds, 0);
  const totalGpu = rows.reduce((s, r) => s + r.gpuSeconds, 0);
  body.push(['total', '', '', '', '', '', '', fmtDuration(totalHere), fmtDuration(totalGpu), '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  lines.push(head.map((h, i) => h.padEnd(widths[i]!)).join('  '));
  for (const b of body) lines.push(b.map((v, i) => v.padEnd(widths[i]!)).join('  '));
  const missing = rows.filter((r) => r.problem !== undefined);
  if (missing.length > 0) lines.push('', `* ${missing[0]!.problem} (the key shown is for a placeholder path)`);
  const json = {
    table: table.name,
    scale,
    gpu: H100_ASSUMPTION,
    probes: Object.fromEntries([...probes].map(([k, c]) => [k, c])),
    rows: rows.map((r) => ({
      id: r.row.id,
      key: r.paths.key,
      state: r.state,
      work: r.work,
      hereSeconds: r.hereSeconds,
      gpuSeconds: r.gpuSeconds,
      ...(r.problem !== undefined ? { problem: r.problem } : {}),
    })),
    totals: { hereSeconds: totalHere, gpuSeconds: totalGpu },
  };
  return { text: lines.join('\n'), json };
}

/** Trains (or resumes) and swipes one row; a row already done is left as it is. */
interface RowOptions {
  device: Device;
  nproc: number;
  progress: boolean;
  robust: boolean;
  say: (m: string) => void;
  root?: string;
}

async function runRow(r: PlannedRow, o: RowOptions): Promise<void> {
  const config = r.config!;
  if (r.state.state === 'new' || r.state.state === 'partial') {
    writeFileAtomicSync(r.paths.configFile, `${canonicalJson(config)}\n`);
    const resume = r.state.state === 'partial';
    const overwrite = !resume && existsSync(r.paths.dir);
    if (o.nproc > 1) {
      const args = [
        '--config',
        r.paths.configFile,
        '--out',
        r.paths.dir,
        resume ? '--resume' : overwrite ? '--overwrite' : '',
        '--device',
        o.device,
        ...(o.progress ? [] : ['--quiet']),
      ].filter((a) => a !== '');
      const code = await launchRanks(o.nproc, 'train', args);
      if (code !== 0) throw new Error(`training ${r.row.id} with ${o.nproc} processes exited with ${code}; rerun to resume`);
    } else {
      // Ctrl-C / SIGTERM: the current step finishes and a checkpoint is written, so a rerun resumes there.
      const stop = new AbortController();
      const onSignal = (sig: NodeJS.Signals): void => {
        o.say(`${sig}: finishing the current step, then writing a checkpoint`);
        stop.abort(sig);
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await train({ config, outDir: r.paths.dir, resume, overwrite, progress: o.progress, device: o.device, signal: stop.signal, onNotice: o.say });
      } catch (e) {
        if (e instanceof TrainingInterrupted) throw new Error(`${e.message}; rerun the same command to resume`);
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }
  }
  await swipeRow(r, o);
  if (readBenign(r.paths) === null) {
    o.say(`evaluating ${r.row.id} on the whole test split with 95 % intervals`);
    await evaluateRun(r.paths, { device: o.device, progress: o.progress, ...(o.root !== undefined ? { root: o.root } : {}) });
  }
}

/** The row's swipe at its settings, unless it is stored. */
async function swipeRow(r: PlannedRow, o: RowOptions): Promise<void> {
  if (readMeasured(r.paths) !== null) return;
  o.say(
    `swiping ${r.row.id} (${r.swipe.profile.name}, ${r.swipe.maxIter === null ? 'every' : `${r.swipe.maxIter}`} query batch(es) of ${r.swipe.profile.batchSize}${r.swipe.robust ? ', robust evaluation' : ''})`,
  );
  if (r.swipe.robust || o.nproc > 1) {
    // The robust evaluation and multi-process swipes are the swipe command's own paths.
    const args = [
      r.paths.dir,
      '--profile',
      r.swipe.profile.name,
      '--seed',
      String(r.swipe.seed),
      '--out',
      r.paths.swipeDir,
      '--json',
      '--examples',
      '0',
      '--device',
      o.device,
      ...(r.swipe.maxIter !== null ? ['--max-batches', String(r.swipe.maxIter)] : []),
      ...(r.swipe.robust ? ['--robust-eval'] : ['--nproc', String(o.nproc)]),
    ];
    if (r.swipe.robust) args.splice(args.indexOf('--examples'), 2);
    const code = await swipeCommand.run(args);
    if (code !== 0) throw new Error(`swiping ${r.row.id} exited with ${code}`);
    return;
  }
  await swipeRun(r.paths, r.swipe, { device: o.device, progress: o.progress, ...(o.root !== undefined ? { root: o.root } : {}) });
}

function buildComparison(table: PublishedTable, scale: Scale, rows: PlannedRow[], argv: readonly string[], device: Device): Comparison {
  const compared: ComparedRow[] = rows.map((r) => {
    const m: MeasuredResult | null = readMeasured(r.paths);
    return {
      id: r.row.id,
      label: r.row.label,
      ...(r.row.reading !== undefined ? { reading: r.row.reading } : {}),
      key: r.paths.key,
      run: r.paths.dir,
      status: m === null ? 'not run' : 'measured',
      queries: m?.queries ?? null,
      benignQueries: m?.benignQueries ?? null,
      cells: compareRow(table, r.row, m),
    };
  });
  return {
    table: table.name,
    summary: table.summary,
    source: table.source,
    scale,
    scaleSummary: SCALE_BUDGETS[scale].summary,
    notes: table.notes,
    seedPolicy: table.seedPolicy,
    columns: table.columns,
    rows: compared,
    provenance: { ...provenance(['reproduce', ...argv]), device, scale, seeds: 'training seed 0, attack seed 0' },
  };
}
