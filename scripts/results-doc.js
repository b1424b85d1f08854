#!/usr/bin/env node
// Writes docs/results.md, and the table between the RESULTS markers of README.md, from the committed
// result files alone (results/…, experiments/results/…): each table is the Markdown the command that
// measured it wrote, headed by that result's provenance (command, commit, CPU, threads, libtorch,
// queries, seeds). Nothing here measures or types a number; test/docs.test.ts checks that every
// number in these tables is in a committed result file.
//   node scripts/results-doc.js           rewrite both
//   node scripts/results-doc.js --check   exit 1 if either differs from what would be written
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.join(path.dirname(new URL(import.meta.url).pathname), '..');
const read = (f) => readFileSync(path.join(root, f), 'utf8');
const json = (f) => JSON.parse(read(f));
// Negative numbers with the minus sign (−), as the commands' own reports print them.
const fmt = (x, digits = 1) => (x === null || x === undefined ? '—' : `${x < 0 ? '−' : ''}${Math.abs(x).toFixed(digits)}`);
const signed = (x, digits = 1) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`);
const interval = (i, digits = 1) => (i === null || i === undefined ? '' : ` [${fmt(i.lo, digits)}, ${fmt(i.hi, digits)}]`);
const signedInterval = (i, digits = 1) => (i === null || i === undefined ? '' : ` [${signed(i.lo, digits)}, ${signed(i.hi, digits)}]`);

/** A result's provenance as one line. */
function provenanceLine(p) {
  const parts = [`\`${p.command}\``, `commit ${p.commit}`, p.cpu, `${p.threads ?? p.threads_per_process} thread(s)`, `libtorch ${p.libtorch}`];
  for (const k of ['queries', 'seeds', 'scale']) if (p[k] !== undefined) parts.push(`${k} ${p[k]}`);
  // A timing taken while other work held the cores says so (its file records how busy they were).
  const busy = (l) => l !== undefined && Number(String(l).split(' ')[0]) > (p.cores ?? 1);
  if (busy(p.load_average_before) || busy(p.load_average_after)) parts.push('cores shared with other work while timed: not an idle-machine speed');
  return `*Provenance:* ${parts.join(', ')}.`;
}

/** The body of a generated Markdown report: its first heading dropped, the rest one level down. */
function body(file) {
  return read(file)
    .replace(/^# .*\n+/, '')
    .replace(/^(#+) /gm, '$1# ')
    .trim();
}

const sections = [];

// 1. The reduced reproduction of RobRank's Fashion-MNIST table (`rankshield reproduce`).
const repro = 'results/reproduce/fashion-reduced/comparison.json';
const reproduction = json(repro);
const measured = reproduction.rows.filter((r) => r.status === 'measured');
const cell = (r, k) => r.cells.find((c) => c.key === k);
const readmeRows = measured.map((r) => {
  const r1 = cell(r, 'R@1');
  const ers = cell(r, 'ERS');
  return `| ${r.label} | ${fmt(r1.published)} | ${fmt(r1.measured)}${interval(r1.interval)} | ${fmt(ers.published)} | ${fmt(ers.measured)}${interval(ers.interval)} | ${signed(ers.difference)}${signedInterval(ers.differenceInterval)} |`;
});
// How far the defended rows fall from the published ones, and the budgets behind it (from the plans).
const defended = measured.filter((r) => !r.label.includes('(N/A)'));
const below = defended.filter((r) => cell(r, 'ERS').differenceInterval?.hi < 0);
const planBatches = (file) => {
  const m = read(file).match(/^est-n +\S+ +\S+ +(\d+)×(\d+)/m);
  return m === null ? '—' : `${m[1]} epochs × ${m[2]} batches`;
};
const budgetNote =
  defended.length === 0
    ? ''
    : ` ${below.length === defended.length ? `All ${below.length}` : `${below.length} of the ${defended.length}`} defended rows (EST, ACT) measure an ERS below the published one, beyond the interval: they are trained for ${planBatches('results/reproduce/plan-fashion-reduced.txt')} at η = 4, the published rows for ${planBatches('results/reproduce/plan-fashion-full.txt')} at η = 32; \`rankshield reproduce fashion --scale full\` runs that budget ([its plan](results/reproduce/plan-fashion-full.txt)).`;
const readmeTable = [
  `RobRank's Fashion-MNIST rows (c2f2, triplet loss, rob28 attacks) at rankshield's reduced budget (η ≤ 4, 8 epochs of 80 batches; ${measured[0]?.queries ?? '—'} attacked queries${measured[0]?.benignQueries ? `, R@1 over the ${measured[0].benignQueries.toLocaleString('en-US')} test queries` : ''}): *reproduction*, not the published budget, so the published numbers are a reference, not a target.${budgetNote}${measured.length < reproduction.rows.length ? ' Rows not yet measured are listed in [docs/results.md](docs/results.md).' : ''}`,
  '',
  '| row | R@1 published | R@1 measured [95 %] | ERS published | ERS measured [95 %] | ERS difference [95 %] |',
  '| --- | --- | --- | --- | --- | --- |',
  ...readmeRows,
  '',
  provenanceLine({ ...reproduction.provenance, queries: measured[0]?.queries }),
].join('\n');
sections.push(
  `## Reproduction: RobRank's Fashion-MNIST table at the reduced budget\n\n${provenanceLine({ ...reproduction.provenance, queries: measured[0]?.queries })}\n\n${body('results/reproduce/fashion-reduced/comparison.md')}`,
);

// 2. Paired comparisons (`rankshield compare`).
const compareProvenance = json('results/compare-fashion/provenance.json');
sections.push(
  `## Paired comparisons (\`rankshield compare\`)\n\n${provenanceLine(compareProvenance)}\n\n` +
    ['na-s0-vs-na-s1', 'na-vs-est'].map((d) => body(`results/compare-fashion/${d}/compare.md`)).join('\n\n'),
);

// 3. Certified against empirical robustness (`rankshield certify`).
const certifyProvenance = json('results/certify/provenance.json');
sections.push(
  `## Certified and empirical L2 robustness (\`rankshield certify\`)\n\n${provenanceLine(certifyProvenance)}\n\n${read('results/certify/summary.md').trim()}`,
);

// 4. Two ranks against one (`experiments/distributed-speedup.sh`).
const speed = json('experiments/results/distributed-speedup.json');
sections.push(
  [
    '## Data-parallel training: two ranks against one process',
    '',
    provenanceLine({ ...speed.provenance, threads: speed.provenance.threads_per_process }),
    '',
    '| 1 thread per process | 1 process (ms/batch) | 2 ranks (ms/batch) | speed-up |',
    '| --- | --- | --- | --- |',
    `| rankshield | ${fmt(speed.rankshield.one_process_ms_per_batch)} | ${fmt(speed.rankshield.two_ranks_ms_per_batch)} | ×${fmt(speed.rankshield.speedup, 2)} |`,
    `| PyTorch (DistributedDataParallel for 2 ranks) | ${fmt(speed.pytorch.one_process_ms_per_batch)} | ${fmt(speed.pytorch.ddp_two_ranks_ms_per_batch)} | ×${fmt(speed.pytorch.speedup, 2)} |`,
  ].join('\n'),
);

// 5. The robust evaluation's two budgets on the same queries (`experiments/robust-budgets.sh`).
const budgets = json('results/robust-budgets/budgets.json');
const budgetProvenance = budgets.provenance[0];
sections.push(
  [
    '## Robust evaluation: `cheap` against `standard` on the same queries',
    '',
    provenanceLine({ ...budgetProvenance, command: 'QUERIES=16 experiments/robust-budgets.sh N/A HM[S,g_LGA]&ICS', queries: budgets.rows[0]?.queries }),
    '',
    'Each run is swiped twice on its first 16 test queries with the same seeded selections: `--robust-eval cheap` and `--robust-eval standard`. ERS is the worst case over the components with its 95 % per-query bootstrap interval; "cheap − standard" is how much the cheap budget overstates it. CPU seconds are user + system time of the one-thread process.',
    '',
    read('results/robust-budgets/budgets.md').trim(),
  ].join('\n'),
);

const resultsMd = [
  '# Results',
  '',
  '<!-- Generated by `node scripts/results-doc.js` from the committed result files; edit those, not this page. -->',
  '',
  'Every table below is the output of the command in its provenance line, read from a committed result',
  'file. Intervals are 95 % per-query bootstrap intervals (queries are the unit; [attacks-and-metrics §9](attacks-and-metrics.md)),',
  'or Wilson intervals over queries where a table says so. *Reproduction* marks a published method run by',
  "rankshield; numbers at a reduced budget are not the papers' and are not expected to match them.",
  '',
  sections.join('\n\n'),
  '',
].join('\n');

const README_START = '<!-- RESULTS:START (node scripts/results-doc.js) -->';
const README_END = '<!-- RESULTS:END -->';
const readme = read('README.md');
const a = readme.indexOf(README_START);
const b = readme.indexOf(README_END);
if (a < 0 || b < a) {
  console.error(`scripts/results-doc.js: README.md lacks the markers ${README_START} … ${README_END}`);
  process.exit(2);
}
const newReadme = `${readme.slice(0, a + README_START.length)}\n${readmeTable}\n${readme.slice(b)}`;

const check = process.argv.includes('--check');
let stale = false;
for (const [file, text] of [
  ['docs/results.md', resultsMd],
  ['README.md', newReadme],
]) {
  const full = path.join(root, file);
  if (existsSync(full) && readFileSync(full, 'utf8') === text) continue;
  if (check) {
    console.error(`scripts/results-doc.js: ${file} is not what the result files give (run node scripts/results-doc.js)`);
    stale = true;
  } else writeFileSync(full, text);
}
process.exit(stale ? 1 : 0);
