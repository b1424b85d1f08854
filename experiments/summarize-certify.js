#!/usr/bin/env node
// Collects results/certify/<model>/certify.json (written by experiments/certify.sh) into the table of
// docs/certification.md §6: certified R@1 of the smoothed model beside the empirical R@1 under the L2
// attack at the same radii, each with a 95 % Wilson interval over the queries (a binomial proportion),
// and the cost of the 512-query run. Writes results/certify/summary.md and prints it.
//
//   node experiments/summarize-certify.js [DIR]     (default results/certify)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? 'results/certify';
const MODELS = [
  ['na', 'N/A (regular training)'],
  ['gauss', 'Gaussian noise training, σ = 0.25'],
  ['act', 'ACT (adversarial, L∞ ε ≈ 16/255, η = 1)'],
];

/** 95 % Wilson score interval of a proportion (%), k of n. */
function wilson(pct, n) {
  const z = 1.959964;
  const p = pct / 100;
  const centre = (p + (z * z) / (2 * n)) / (1 + (z * z) / n);
  const half = (z / (1 + (z * z) / n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return [Math.max(0, 100 * (centre - half)), Math.min(100, 100 * (centre + half))];
}
const f1 = (v) => v.toFixed(1);
// Every interval the table shows is also written to summary.json, so each printed number is in a result file.
const intervals = [];
const withInterval = (pct, n) => {
  const [lo, hi] = wilson(pct, n);
  intervals.push({ value: pct, queries: n, lo, hi });
  return `${f1(pct)} [${f1(lo)}, ${f1(hi)}]`;
};

const lines = [];
const problems = [];
for (const [name, label] of MODELS) {
  const file = path.join(dir, name, 'certify.json');
  if (!existsSync(file)) {
    problems.push(`missing ${file}`);
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  if (lines.length === 0) {
    lines.push(
      `Certified vs empirical R@1 (%) of the smoothed model, Fashion-MNIST c2f2, σ = ${r.sigma}, n = ${r.samples}, α = ${r.alpha}, ${r.gallery} gallery of ${r.gallerySize}, first ${r.queries} test queries; [95 % Wilson interval over queries].`,
    );
    lines.push('');
    lines.push(
      '| model | smoothed R@1 (clean, estimate) | L2 radius | certified R@1 | empirical R@1 (APGD-L2 + EOT) | certified ≤ empirical | certified queries broken |',
    );
    lines.push('|---|---|---|---|---|---|---|');
  }
  for (const row of r.rows) {
    const e = r.empirical?.rows.find((x) => x.radius === row.radius);
    const cert = row.recall['R@1'];
    const ok = e === undefined ? '–' : cert <= e.recallAt1 ? 'yes' : 'NO';
    if (ok === 'NO') problems.push(`${name}: certified ${cert} > empirical ${e.recallAt1} at radius ${row.radius}`);
    lines.push(
      `| ${label} | ${withInterval(r.smoothedRecallAt1, r.queries)} | ${row.radius} | ${withInterval(cert, r.queries)} | ${e === undefined ? '–' : withInterval(e.recallAt1, r.queries)} | ${ok} | ${e === undefined ? '–' : e.certifiedBroken} |`,
    );
  }
}
const timing = path.join(dir, 'timing-512', 'certify.json');
if (existsSync(timing)) {
  const t = JSON.parse(readFileSync(timing, 'utf8'));
  lines.push(
    '',
    `Cost of \`certify\` at ${t.queries} queries, n = ${t.samples} (Gaussian-trained model, ${t.provenance?.threads ?? 1} libtorch thread): ${t.cost.forwardPasses.toLocaleString('en-US')} forward passes, ${t.cost.cpuSeconds.toFixed(0)} s of CPU time (${((1000 * t.cost.cpuSeconds) / t.cost.forwardPasses).toFixed(2)} ms per pass); its wall time, ${t.cost.seconds.toFixed(0)} s, depends on what else runs on the cores.`,
  );
}
const text = `${lines.join('\n')}\n`;
writeFileSync(path.join(dir, 'summary.md'), text);
writeFileSync(path.join(dir, 'summary.json'), `${JSON.stringify({ interval: '95 % Wilson score interval over queries', intervals }, null, 2)}\n`);
process.stdout.write(text);
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
