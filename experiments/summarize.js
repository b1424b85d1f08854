#!/usr/bin/env node
// Collects runs/defenses-*/<name>.{train,time,swipe}.json into one Markdown table.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node experiments/summarize.js RUN_DIR');
  process.exit(2);
}
const read = (f) => (existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null);
const rows = ['none', 'est', 'act', 'hm-ics', 'catride'].map((name) => {
  const t = read(path.join(dir, `${name}.train.json`));
  const s = read(path.join(dir, `${name}.swipe.json`));
  const time = read(path.join(dir, `${name}.time.json`));
  const pct = (v) => (v === undefined || v === null ? '–' : (100 * v).toFixed(1));
  return `| ${name} | ${pct(t?.['R@1'])} | ${pct(t?.mAP)} | ${pct(t?.NMI)} | ${s?.ERS ?? '–'} | ${s?.ARS ?? '–'} | ${time ? Math.round(time.train_seconds / 60) : '–'} |`;
});
const table = ['| defense | R@1 | mAP | NMI | ERS | ARS | train min |', '| --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
writeFileSync(path.join(dir, 'summary.md'), table + '\n');
console.log(table);
