#!/usr/bin/env node
// Collects experiments/robust-eval.sh's results into OUT/summary.md: per run, PGD and worst-case
// ERS/ARS, the verdict and the unreliable-PGD finding, wall times; the worst case's name (its budgets) under the table.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: summarize-robust.js OUT');
const fmt = (x, d = 1) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
const rows = [];
const names = new Set();
for (const f of readdirSync(dir)
  .filter((x) => x.endsWith('.time.json'))
  .sort()) {
  const name = f.replace(/\.time\.json$/, '');
  const time = JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  const r = JSON.parse(readFileSync(path.join(dir, `${name}.robust.json`), 'utf8')).robustEval;
  const w = r.worstCase;
  if (w.name !== undefined) names.add(`Worst case: ${w.name}.`);
  const ers = Object.fromEntries(Object.entries(r.components).map(([c, t]) => [c, fmt(t.ERS)]));
  rows.push(
    `| ${name} | ${r.queries} | ${ers.pgd} | ${ers.apgd} | ${ers.query} | ${ers.transfer ?? 'n/a'} | **${fmt(w.ERS)}** | ${fmt(r.components.pgd.ARS)} | **${fmt(w.ARS)}** | ${r.verdict.flagged ? `flagged: ${r.verdict.reasons.join('; ')}` : 'not flagged'} | ${r.verdict.pgdUnreliable ? 'PGD unreliable' : 'PGD not found unreliable'} (PGD does ${r.verdict.pgdReliability.damageShare === null ? 'n/a' : (100 * r.verdict.pgdReliability.damageShare).toFixed(0)} % of APGD's damage) | ${time.plain_seconds} | ${time.robust_seconds} (${(time.robust_seconds / time.plain_seconds).toFixed(1)}×) |`,
  );
}
const md = [
  '| run | queries | ERS PGD | ERS APGD | ERS query-only | ERS transfer | ERS worst case | ARS PGD | ARS worst case | masking verdict | PGD reliability | plain swipe s | robust eval s |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  ...[...names],
  '',
].join('\n');
writeFileSync(path.join(dir, 'summary.md'), md);
console.log(md);
