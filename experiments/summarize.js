#!/usr/bin/env node
// Collects RUN_DIR/<name>.{train,time,swipe}.json (written by
// experiments/fashion-defenses.sh) into RUN_DIR/summary.{md,json,svg} — with the worst-case
// columns when experiments/robust-eval.sh has written RUN_DIR/robust/<name>.{robust,time}.json; with
// several RUN_DIRs and --svg FILE, also one R@1-vs-ERS plot of all runs, a
// series per run (e.g. per training η), each defense joined across them. ERS/ARS carry the
// seed-0 swipe's per-query 95 % intervals; a run with SEEDS="0 1 2" adds mean ± sd over the
// training seeds (<name>-s<seed>.*.json beside <name>.*.json).
//
//   node experiments/summarize.js RUN_DIR... [--svg FILE]
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tradeoffSvg } from '../dist/src/eval/report-svg.js';

const args = process.argv.slice(2);
const svgAt = args.indexOf('--svg');
const combinedSvg = svgAt >= 0 ? args.splice(svgAt, 2)[1] : undefined;
if (args.length === 0 || (svgAt >= 0 && !combinedSvg)) {
  console.error('usage: node experiments/summarize.js RUN_DIR... [--svg FILE]');
  process.exit(2);
}
for (const dir of args) {
  if (!existsSync(path.join(dir, 'settings.json'))) {
    console.error(`summarize: ${dir} is not a run of experiments/fashion-defenses.sh (no settings.json)`);
    process.exit(2);
  }
}
const series = args.map(summarize);
if (combinedSvg) {
  writeFileSync(
    combinedSvg,
    tradeoffSvg(
      series.filter((s) => s.points.length > 0),
      'Fashion-MNIST c2f2: benign R@1 vs ERS per defense',
    ),
  );
  console.log(`wrote ${combinedSvg}`);
}

/**
 * Model passes per training batch from a run's log.jsonl, as "forward + backward (PGD iterations)"
 * averaged over its steps (free AT's replays included); null without a log.
 */
function passesPerBatch(log) {
  if (!existsSync(log)) return null;
  const steps = readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"event":"step"'))
    .map((l) => JSON.parse(l));
  if (steps.length === 0) return null;
  const mean = (k) => steps.reduce((s, x) => s + (x[k] ?? 0), 0) / steps.length;
  return `${mean('forwardPasses').toFixed(1)} + ${mean('backwardPasses').toFixed(1)} (${mean('pgdIterations').toFixed(1)})`;
}

/** Writes one run's summary files and returns its trade-off series. */
function summarize(dir) {
  // A run still in progress has empty result files: its cells stay '–'.
  const read = (f) => {
    const text = existsSync(f) ? readFileSync(f, 'utf8').trim() : '';
    return text === '' ? null : JSON.parse(text);
  };
  const settings = read(path.join(dir, 'settings.json')) ?? {};
  const entanglement = read(path.join(dir, 'none.entanglement.json'));
  const NAMES = {
    none: 'N/A',
    est: 'EST',
    act: 'ACT[R]',
    'hm-ics': 'HM[S,g_LGA]&ICS',
    catride: 'CA-TRIDE',
    amd: 'AMD',
    ses: 'SES',
    'free-amd': 'FreeAT[AMD]',
    'hm-free': 'HM[S,g_LGA]&ICS + free',
  };
  const ATTACKS = ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES:D', 'ES:R', 'LTM', 'GTM', 'GTT'];

  const pct = (v) => (v === undefined || v === null ? '–' : (100 * v).toFixed(1));
  const num = (v, digits) => (v === undefined || v === null ? '–' : v.toFixed(digits));
  // Extra CA-TRIDE runs of a λ sweep: catride-l<λ>.
  const sweep = readdirSync(dir)
    .map((f) => /^catride-l([\d.]+)\.train\.json$/.exec(f))
    .filter((m) => m !== null)
    .map((m) => [`catride-l${m[1]}`, `CA-TRIDE λ=${m[1]}`]);
  const seeds = Array.isArray(settings.seeds) ? settings.seeds : [0];
  const seededName = (name, seed) => (seed === 0 ? name : `${name}-s${seed}`);
  // Mean ± sample sd over the training seeds that have a value, with their count.
  const spread = (values) => {
    const v = values.filter((x) => typeof x === 'number');
    if (v.length === 0) return '–';
    const mean = v.reduce((a, x) => a + x, 0) / v.length;
    const sd = v.length > 1 ? Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (v.length - 1)) : NaN;
    return `${mean.toFixed(1)} ± ${Number.isNaN(sd) ? '–' : sd.toFixed(1)} (${v.length})`;
  };
  const rows = [];
  for (const [name, label] of [...Object.entries(NAMES), ...sweep]) {
    const train = read(path.join(dir, `${name}.train.json`));
    const swipe = read(path.join(dir, `${name}.swipe.json`));
    const time = read(path.join(dir, `${name}.time.json`));
    // NONE_FROM: the checkpoint was trained by another run; its training time is that run's.
    const reusedFrom = read(path.join(dir, `${name}.reused.json`))?.from;
    const robust = read(path.join(dir, 'robust', `${name}.robust.json`))?.robustEval ?? null;
    const robustTime = read(path.join(dir, 'robust', `${name}.time.json`));
    const bySeed = seeds.map((seed) => ({
      seed,
      train: read(path.join(dir, `${seededName(name, seed)}.train.json`)),
      swipe: read(path.join(dir, `${seededName(name, seed)}.swipe.json`)),
    }));
    rows.push({ name, label, train, swipe, time, reusedFrom, robust, robustTime, passes: passesPerBatch(path.join(dir, name, 'log.jsonl')), bySeed });
  }

  // The robust evaluation may run on fewer queries than the swipe: its PGD numbers are printed
  // beside its worst case, so that both sides of each arrow are the same images.
  const robustQueries = rows.find((r) => r.robust)?.robust.queries;
  const robustHead =
    robustQueries === undefined
      ? []
      : [`ERS PGD → worst (${robustQueries} q)`, `ARS PGD → worst (${robustQueries} q)`, 'masking verdict', 'robust eval min (× plain)'];
  const arrow = (r, key) => (r.robust ? `${num(r.robust.components.pgd?.[key], 1)} → **${num(r.robust.worstCase[key], 1)}**` : '–');
  const seedHead = seeds.length > 1 ? [`R@1 over ${seeds.length} seeds`, `ERS over ${seeds.length} seeds`, `ARS over ${seeds.length} seeds`] : [];
  const head = [
    'defense',
    'R@1',
    'mAP',
    'NMI',
    ...ATTACKS,
    'ERS [95 % CI]',
    'ARS [95 % CI]',
    ...seedHead,
    'train min',
    'passes / batch',
    'swipe min',
    ...robustHead,
  ];
  const withInterval = (sw, key) =>
    typeof sw?.[key] === 'number'
      ? `${sw[key].toFixed(1)}${sw.intervals?.[key] ? ` [${sw.intervals[key].lo.toFixed(1)}, ${sw.intervals[key].hi.toFixed(1)}]` : ''}`
      : '–';
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const r of rows) {
    const a = r.swipe?.attacks ?? {};
    const cells = [
      r.label,
      pct(r.train?.['R@1']),
      pct(r.train?.mAP),
      pct(r.train?.NMI),
      ...ATTACKS.map((k) => num(a[k], k === 'TMA' || k === 'ES:D' ? 3 : 1)),
      withInterval(r.swipe, 'ERS'),
      withInterval(r.swipe, 'ARS'),
      ...(seeds.length > 1
        ? [
            spread(r.bySeed.map((x) => (typeof x.train?.['R@1'] === 'number' ? 100 * x.train['R@1'] : undefined))),
            spread(r.bySeed.map((x) => x.swipe?.ERS)),
            spread(r.bySeed.map((x) => x.swipe?.ARS)),
          ]
        : []),
      r.reusedFrom ? 'reused' : r.time ? (r.time.train_seconds / 60).toFixed(1) : '–',
      r.passes ?? '–',
      r.time ? (r.time.swipe_seconds / 60).toFixed(1) : '–',
      ...(robustQueries === undefined
        ? []
        : [
            arrow(r, 'ERS'),
            arrow(r, 'ARS'),
            r.robust
              ? (r.robust.verdict.flagged ? `flagged: ${r.robust.verdict.reasons.join('; ')}` : 'not flagged') +
                (r.robust.verdict.pgdUnreliable ? '; PGD unreliable' : '')
              : '–',
            r.robustTime ? `${(r.robustTime.robust_seconds / 60).toFixed(1)} (${(r.robustTime.robust_seconds / r.robustTime.plain_seconds).toFixed(1)}×)` : '–',
          ]),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  const queries = rows.find((r) => r.swipe)?.swipe?.queries;
  const notes = [
    `Settings: η = ${settings.eta ?? '?'} training PGD steps (CA-TRIDE min(η, 16)); ` +
      (settings.maxBatches ? `8 epochs of ${settings.maxBatches} batches of 128 SPC-2 pairs` : '8 full epochs') +
      `; rob28 swipe over ${queries ?? '?'} queries (ε 77/255, α 3/255, η 32); ${settings.jobs ?? 1} job(s) × ${settings.threads ?? '?'} thread(s). ` +
      "[95 % CI]: the seed-0 swipe's per-query bootstrap interval (ERS/ARS through their formulas). " +
      (seeds.length > 1
        ? `"over ${seeds.length} seeds": mean ± sample sd over training seeds ${seeds.join(', ')} (count of finished seeds in brackets). `
        : '') +
      'Free AT rows: 2 epochs × 4 replays of each batch (as many optimizer steps). "passes / batch": model forward + backward passes per training batch (its PGD iterations), from log.jsonl.',
  ];
  if (robustQueries !== undefined) {
    const s0 = rows.find((r) => r.robust).robust.settings;
    const named = rows.find((r) => r.robust).robust.worstCase.name;
    notes.push(
      `Worst case (experiments/robust-eval.sh, OUT=${path.join(dir, 'robust')})${named === undefined ? '' : `, ${named}`}: per query the worst of the profile's PGD, APGD from ${s0.restarts} random start(s), ${s0.queryMethod} (${s0.querySettings.queries} queries per image, no gradient) and PGD transferred from ${s0.surrogate}, on the first ${robustQueries} queries; "× plain" is the robust evaluation's wall time over a plain swipe of the same queries, same threads.`,
    );
  }
  for (const r of rows.filter((row) => row.reusedFrom))
    notes.push(`${r.label}: checkpoint reused from ${r.reusedFrom} (NONE_FROM; same seed, η does not apply); its swipe was rerun here.`);
  if (entanglement)
    notes.push(
      `CA-TRIDE (row without λ) uses λ = ${num(entanglement.catrideLambda, 2)} from the N/A model's entanglement ${num(entanglement.entanglement?.ratio, 3)} (docs/methods.md §8.3).`,
    );
  const md = `${[...lines, '', ...notes].join('\n')}\n`;
  writeFileSync(path.join(dir, 'summary.md'), md);
  writeFileSync(path.join(dir, 'summary.json'), `${JSON.stringify({ settings, entanglement, rows }, null, 2)}\n`);
  const points = rows
    .filter((r) => r.train && typeof r.swipe?.ERS === 'number')
    .map((r) => ({ label: r.label, recallAt1: 100 * r.train['R@1'], ers: r.swipe.ERS }));
  const name = `η = ${settings.eta ?? '?'}${settings.maxBatches ? `, ${settings.maxBatches} batches/epoch` : ''}`;
  if (points.length > 0) writeFileSync(path.join(dir, 'summary.svg'), tradeoffSvg([{ name, points }], `Fashion-MNIST c2f2, ${name}: benign R@1 vs ERS`));
  console.log(md);
  return { name, points };
}
