#!/usr/bin/env node
// Collects experiments/robust-budgets.sh's results into OUT/budgets.md and OUT/budgets.json: per
// run, PGD's ERS, the cheap and standard worst cases (ERS, ARS), how much cheap overstates ERS,
// both verdict findings, and each budget's wall time and passes of the attacked model per image.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: summarize-budgets.js OUT');
const fmt = (x, d = 1) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
const read = (f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
const names = [
  ...new Set(
    readdirSync(dir)
      .filter((f) => /\.(cheap|standard)\.time\.json$/.test(f))
      .map((f) => f.replace(/\.(cheap|standard)\.time\.json$/, '')),
  ),
].sort();
const rows = [];
const lines = [
  '| run | queries | ERS PGD | ERS worst, cheap | ERS worst, standard | cheap − standard | ARS cheap → standard | masking (cheap / standard) | PGD unreliable (cheap / standard) | cheap s | standard s (× cheap) | passes / image, cheap → standard (fwd + bwd) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
const headlines = new Set();
for (const name of names) {
  const by = {};
  for (const b of ['cheap', 'standard']) {
    try {
      by[b] = { r: read(`${name}.${b}.json`).robustEval, t: read(`${name}.${b}.time.json`) };
    } catch {
      by[b] = null;
    }
  }
  const c = by.cheap?.r;
  const s = by.standard?.r;
  for (const x of [c, s]) if (x) headlines.add(x.worstCase.name);
  const passes = (r) => (r ? `${Math.round(r.worstCase.passes.forward)} + ${Math.round(r.worstCase.passes.backward)}` : 'n/a');
  const row = {
    name,
    queries: (c ?? s)?.queries ?? null,
    pgdERS: (c ?? s)?.components.pgd.ERS ?? null,
    cheap: c
      ? {
          ERS: c.worstCase.ERS,
          ARS: c.worstCase.ARS,
          flagged: c.verdict.flagged,
          pgdUnreliable: c.verdict.pgdUnreliable,
          seconds: by.cheap.t.seconds,
          passes: c.worstCase.passes,
        }
      : null,
    standard: s
      ? {
          ERS: s.worstCase.ERS,
          ARS: s.worstCase.ARS,
          flagged: s.verdict.flagged,
          pgdUnreliable: s.verdict.pgdUnreliable,
          seconds: by.standard.t.seconds,
          passes: s.worstCase.passes,
        }
      : null,
  };
  row.overstatement = row.cheap && row.standard ? row.cheap.ERS - row.standard.ERS : null;
  rows.push(row);
  lines.push(
    `| ${name} | ${row.queries ?? 'n/a'} | ${fmt(row.pgdERS)} | ${fmt(row.cheap?.ERS)} | ${fmt(row.standard?.ERS)} | ${fmt(row.overstatement)} | ${fmt(row.cheap?.ARS)} → ${fmt(row.standard?.ARS)} | ${row.cheap?.flagged ?? 'n/a'} / ${row.standard?.flagged ?? 'n/a'} | ${row.cheap?.pgdUnreliable ?? 'n/a'} / ${row.standard?.pgdUnreliable ?? 'n/a'} | ${row.cheap?.seconds ?? 'n/a'} | ${row.standard?.seconds ?? 'n/a'}${row.cheap && row.standard ? ` (${(row.standard.seconds / row.cheap.seconds).toFixed(1)}×)` : ''} | ${passes(c)} → ${passes(s)} |`,
  );
}
const md = [...lines, '', ...[...headlines].map((h) => `- ${h}`), ''].join('\n');
writeFileSync(path.join(dir, 'budgets.md'), md);
writeFileSync(path.join(dir, 'budgets.json'), `${JSON.stringify({ rows, headlines: [...headlines] }, null, 2)}\n`);
console.log(md);
