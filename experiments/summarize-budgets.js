#!/usr/bin/env node
// Collects experiments/robust-budgets.sh's results into OUT/budgets.md and OUT/budgets.json: per
// run, PGD's ERS, the cheap and standard worst cases (ERS, ARS), how much cheap overstates ERS,
// both verdict findings, and each budget's wall and CPU seconds and passes of the attacked model per
// image; each ERS with the 95 % per-query bootstrap interval its swipe reported, and the provenance
// (command, commit, CPU, threads, libtorch) of every swipe.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
// The paired bootstrap of `rankshield compare`: cheap and standard ran on the same queries with the
// same seeds, so the overstatement gets a paired interval. Both are worst cases of one model; their
// profiles differ only by the budget's name, which the pairing check would otherwise refuse.
import { compareSwipes } from '../dist/src/eval/compare.js';
import { bootstrapInfo } from '../dist/src/eval/bootstrap.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: summarize-budgets.js OUT');
const fmt = (x, d = 1) => (x === null || x === undefined ? 'n/a' : x.toFixed(d));
const withInterval = (x, i) => (i === undefined || i === null ? fmt(x) : `${fmt(x)} [${fmt(i.lo)}, ${fmt(i.hi)}]`);
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
  '| run | queries | ERS PGD [95 %] | ERS worst, cheap [95 %] | ERS worst, standard [95 %] | cheap − standard [95 %, paired] | ARS cheap → standard | masking (cheap / standard) | PGD unreliable (cheap / standard) | CPU s cheap | CPU s standard (× cheap) | passes / image, cheap → standard (fwd + bwd) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
];
const headlines = new Set();
const provenances = [];
for (const name of names) {
  const by = {};
  for (const b of ['cheap', 'standard']) {
    try {
      by[b] = { r: read(`${name}.${b}.json`).robustEval, t: read(`${name}.${b}.time.json`) };
      // The stored swipe.json carries the command's provenance (command, commit, CPU, threads, libtorch).
      const stored = path.join(dir, `${name}-${b}`, 'swipe.json');
      const cited = existsSync(stored) ? JSON.parse(readFileSync(stored, 'utf8')).provenance : undefined;
      if (cited) provenances.push({ run: name, budget: b, ...cited });
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
    pgdERSInterval: (c ?? s)?.components.pgd.intervals?.ERS ?? null,
    cheap: c
      ? {
          ERS: c.worstCase.ERS,
          ERSInterval: c.worstCase.intervals?.ERS ?? null,
          ARS: c.worstCase.ARS,
          flagged: c.verdict.flagged,
          pgdUnreliable: c.verdict.pgdUnreliable,
          seconds: by.cheap.t.seconds,
          cpuSeconds: by.cheap.t.cpuSeconds ?? null,
          passes: c.worstCase.passes,
        }
      : null,
    standard: s
      ? {
          ERS: s.worstCase.ERS,
          ERSInterval: s.worstCase.intervals?.ERS ?? null,
          ARS: s.worstCase.ARS,
          flagged: s.verdict.flagged,
          pgdUnreliable: s.verdict.pgdUnreliable,
          seconds: by.standard.t.seconds,
          cpuSeconds: by.standard.t.cpuSeconds ?? null,
          passes: s.worstCase.passes,
        }
      : null,
  };
  row.overstatement = row.cheap && row.standard ? row.cheap.ERS - row.standard.ERS : null;
  row.cpuRatio = row.cheap?.cpuSeconds && row.standard?.cpuSeconds ? row.standard.cpuSeconds / row.cheap.cpuSeconds : null;
  row.overstatementInterval = null;
  if (row.cheap && row.standard) {
    const standard = read(`${name}.standard.json`);
    const cheap = read(`${name}.cheap.json`);
    const paired = compareSwipes(
      [
        { label: 'standard', result: standard },
        { label: 'cheap', result: { ...cheap, madeOn: { ...cheap.madeOn, profile: standard.madeOn.profile } } },
      ],
      bootstrapInfo(),
    );
    const ers = paired.comparisons[0].rows.find((r) => r.column === 'ERS');
    row.overstatementInterval = ers.interval;
    row.overstatementBootstrap = paired.bootstrap;
  }
  rows.push(row);
  lines.push(
    `| ${name} | ${row.queries ?? 'n/a'} | ${withInterval(row.pgdERS, row.pgdERSInterval)} | ${withInterval(row.cheap?.ERS, row.cheap?.ERSInterval)} | ${withInterval(row.standard?.ERS, row.standard?.ERSInterval)} | ${withInterval(row.overstatement, row.overstatementInterval)} | ${fmt(row.cheap?.ARS)} → ${fmt(row.standard?.ARS)} | ${row.cheap?.flagged ?? 'n/a'} / ${row.standard?.flagged ?? 'n/a'} | ${row.cheap?.pgdUnreliable ?? 'n/a'} / ${row.standard?.pgdUnreliable ?? 'n/a'} | ${fmt(row.cheap?.cpuSeconds, 0)} | ${fmt(row.standard?.cpuSeconds, 0)}${row.cpuRatio === null ? '' : ` (${row.cpuRatio.toFixed(1)}×)`} | ${passes(c)} → ${passes(s)} |`,
  );
}
const md = [...lines, '', ...[...headlines].map((h) => `- ${h}`), ''].join('\n');
writeFileSync(path.join(dir, 'budgets.md'), md);
// Swipes made before their swipe.json carried a provenance: OUT/provenance.json states it once for all.
if (provenances.length === 0 && existsSync(path.join(dir, 'provenance.json'))) provenances.push(read('provenance.json'));
writeFileSync(path.join(dir, 'budgets.json'), `${JSON.stringify({ rows, headlines: [...headlines], provenance: provenances }, null, 2)}\n`);
console.log(md);
