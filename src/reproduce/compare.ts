// Layer: reproduce. Published vs measured: per row and column the printed
// number, the measured one, their difference and the measured number's interval
// (from the swipe JSON's `intervals`, where it has them), as JSON, Markdown and
// an offline HTML page.
import type { Interval } from '../eval/bootstrap.js';
import type { PublishedRow, PublishedTable, TableColumn } from './tables/types.js';

/** What a swipe JSON holds that the comparison reads (the rest is ignored). */
export interface MeasuredResult {
  benign?: Readonly<Record<string, number>>;
  attacks?: Readonly<Record<string, number>>;
  ERS?: number | null;
  ARS?: number | null;
  queries?: number;
  /** Queries of the benign columns' intervals, when they come from a benign evaluation of their own. */
  benignQueries?: number;
  intervals?: Readonly<Record<string, Interval>>;
  bootstrap?: { resamples: number; seed: number; confidence: number; unit: string };
}

/** Benign metrics are stored as fractions; the tables print them ×100. r@M is a rank. */
const PERCENT_BENIGN = new Set(['R@1', 'R@2', 'mAP', 'mAP@10', 'mAP@R', 'NMI']);

/** A measured column's value and interval, in the table's unit; null when the result lacks it. */
export function measuredValue(m: MeasuredResult, key: string): { value: number; interval: Interval | null } | null {
  const interval = (scale: number): Interval | null => {
    const i = m.intervals?.[key];
    return i === undefined ? null : { lo: i.lo * scale, hi: i.hi * scale };
  };
  if (key === 'ERS' || key === 'ARS') {
    const v = m[key];
    return v === null || v === undefined ? null : { value: v, interval: interval(1) };
  }
  if (m.attacks?.[key] !== undefined) return { value: m.attacks[key]!, interval: interval(1) };
  const b = m.benign?.[key];
  if (b === undefined) return null;
  const scale = PERCENT_BENIGN.has(key) ? 100 : 1;
  return { value: b * scale, interval: interval(scale) };
}

export interface ComparedCell {
  key: string;
  role: TableColumn['role'];
  published: number | null;
  measured: number | null;
  /** measured − published. */
  difference: number | null;
  /** The measured number's interval, when the result carries one. */
  interval: Interval | null;
  /** The difference's interval (the published number is a constant). */
  differenceInterval: Interval | null;
}

export interface ComparedRow {
  id: string;
  label: string;
  reading?: string;
  /** The run's key (same config → same run) and directory. */
  key: string;
  run: string;
  status: 'measured' | 'not run';
  /** Swiped queries (the attack columns' and scores' intervals). */
  queries: number | null;
  /** Test queries of the benign evaluation (the benign columns' intervals); null without one. */
  benignQueries: number | null;
  cells: ComparedCell[];
}

export interface Provenance {
  command: string;
  commit: string;
  cpu: string;
  threads: number;
  libtorch: string;
  device: string;
  scale: string;
  seeds: string;
  date: string;
}

export interface Comparison {
  table: string;
  summary: string;
  source: PublishedTable['source'];
  scale: string;
  scaleSummary: string;
  notes: readonly string[];
  seedPolicy: string;
  columns: readonly TableColumn[];
  rows: ComparedRow[];
  provenance: Provenance;
}

/** One row's cells: every column of the table, compared where it is comparable and measured. */
export function compareRow(table: PublishedTable, row: PublishedRow, measured: MeasuredResult | null): ComparedCell[] {
  return table.columns.map((col) => {
    const published = row.published[col.key] ?? null;
    const m = col.role === 'compared' && measured !== null ? measuredValue(measured, col.key) : null;
    const difference = m !== null && published !== null ? m.value - published : null;
    const interval = m?.interval ?? null;
    return {
      key: col.key,
      role: col.role,
      published,
      measured: m?.value ?? null,
      difference,
      interval,
      differenceInterval: interval !== null && published !== null ? { lo: interval.lo - published, hi: interval.hi - published } : null,
    };
  });
}

/** Digits as the papers print them: 3 decimals below 2 in magnitude for TMA / ES:D-like columns, else 1. */
function digits(key: string): number {
  return key === 'TMA' || key === 'ES:D' ? 3 : 1;
}
const fmt = (v: number | null, key: string): string => (v === null ? 'not recorded' : v.toFixed(digits(key)));
const fmtMeasured = (v: number | null, key: string, role: string): string => (role !== 'compared' ? 'not compared' : v === null ? '—' : v.toFixed(digits(key)));
const fmtSigned = (v: number | null, key: string): string => (v === null ? '—' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits(key))}`);
const fmtInterval = (i: Interval | null, key: string): string => (i === null ? '—' : `[${i.lo.toFixed(digits(key))}, ${i.hi.toFixed(digits(key))}]`);
const fmtSignedInterval = (i: Interval | null, key: string): string => (i === null ? '—' : `[${fmtSigned(i.lo, key)}, ${fmtSigned(i.hi, key)}]`);

/** The comparison as Markdown: a summary over rows, then one table per row with every column. */
export function comparisonMarkdown(c: Comparison): string {
  const out: string[] = [];
  out.push(`# ${c.summary}`, '');
  out.push(`Published: ${c.source.authors}, "${c.source.title}", ${c.source.venue}, ${c.source.table} (${c.source.link}).`, '');
  out.push(
    `Scale **${c.scale}**: ${c.scaleSummary}. ${c.scale === 'full' ? '' : 'Only the full scale runs the published budget; other scales are not expected to match the published numbers.'}`,
    '',
  );
  const headline = ['R@1', 'ERS', 'ARS'].filter((k) => c.columns.some((col) => col.key === k && col.role === 'compared'));
  out.push(`| row | status | ${headline.map((k) => `${k} published | ${k} measured | Δ [interval]`).join(' | ')} |`);
  out.push(`| --- | --- | ${headline.map(() => '--- | --- | ---').join(' | ')} |`);
  for (const r of c.rows) {
    const cells = headline.map((k) => {
      const x = r.cells.find((y) => y.key === k)!;
      return `${fmt(x.published, k)} | ${fmtMeasured(x.measured, k, x.role)} | ${fmtSigned(x.difference, k)} ${fmtSignedInterval(x.differenceInterval, k)}`;
    });
    out.push(`| ${r.label} (\`${r.id}\`) | ${r.status}${r.queries !== null ? `, ${r.queries} queries` : ''} | ${cells.join(' | ')} |`);
  }
  out.push('');
  for (const r of c.rows) {
    out.push(`## ${r.label} (\`${r.id}\`)`, '');
    out.push(`Run \`${r.run}\` (config key ${r.key}): ${r.status}.`);
    if (r.reading !== undefined) out.push(`Reading: ${r.reading}`);
    out.push('');
    out.push('| column | published | measured | Δ measured − published | measured interval | Δ interval |');
    out.push('| --- | --- | --- | --- | --- | --- |');
    for (const x of r.cells) {
      out.push(
        `| ${x.key} | ${fmt(x.published, x.key)} | ${fmtMeasured(x.measured, x.key, x.role)} | ${fmtSigned(x.difference, x.key)} | ${fmtInterval(x.interval, x.key)} | ${fmtSignedInterval(x.differenceInterval, x.key)} |`,
      );
    }
    out.push('');
  }
  const noted = c.columns.filter((col) => col.note !== undefined);
  if (noted.length > 0) {
    out.push('Columns:', '');
    for (const col of noted) out.push(`- ${col.key}${col.derived === true ? ' (derived)' : ''}: ${col.note}`);
    out.push('');
  }
  out.push(
    'Notes:',
    '',
    ...c.notes.map((n) => `- ${n}`),
    `- Seeds: ${c.seedPolicy}`,
    `- Intervals: 95 % per-query bootstrap intervals${intervalScope(c)}.`,
    '- "—" = not measured (row not run, or the result carries no interval for the column); "not recorded" = the source prints no number.',
    '',
  );
  const p = c.provenance;
  out.push(
    `Provenance: \`${p.command}\` at commit ${p.commit}, ${p.date}; ${p.cpu}, ${p.threads} thread(s), device ${p.device}, libtorch ${p.libtorch}; seeds ${p.seeds}.`,
    '',
  );
  return out.join('\n');
}

/** Which queries the intervals are over: the benign evaluation's for the benign columns, the swipe's for the rest. */
function intervalScope(c: Comparison): string {
  const benign = [...new Set(c.rows.map((r) => r.benignQueries).filter((q) => q !== null))];
  const swiped = [...new Set(c.rows.map((r) => r.queries).filter((q) => q !== null))];
  const list = (qs: number[]): string => qs.map((q) => q.toLocaleString('en-US')).join(' or ');
  if (swiped.length === 0) return '';
  const attacks = `the attack columns and scores over the ${list(swiped)} swiped queries`;
  return benign.length === 0 ? `: ${attacks}` : `: the benign columns over the ${list(benign)} test queries of each row's benign evaluation, ${attacks}`;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The comparison as one offline HTML page (no scripts, no external files). */
export function comparisonHtml(c: Comparison): string {
  const rowTables = c.rows
    .map((r) => {
      const body = r.cells
        .map((x) => {
          const cls = x.difference === null ? '' : Math.abs(x.difference) <= (digits(x.key) === 3 ? 0.05 : 2) ? ' class="near"' : ' class="far"';
          return `<tr><th>${esc(x.key)}</th><td>${esc(fmt(x.published, x.key))}</td><td>${esc(fmtMeasured(x.measured, x.key, x.role))}</td><td${cls}>${esc(fmtSigned(x.difference, x.key))}</td><td>${esc(fmtInterval(x.interval, x.key))}</td><td>${esc(fmtSignedInterval(x.differenceInterval, x.key))}</td></tr>`;
        })
        .join('\n');
      return `<section><h2>${esc(r.label)} <code>${esc(r.id)}</code></h2>
<p>Run <code>${esc(r.run)}</code> (config key ${esc(r.key)}): ${esc(r.status)}${r.queries !== null ? `, ${r.queries} queries` : ''}.</p>
${r.reading !== undefined ? `<p class="reading">Reading: ${esc(r.reading)}</p>` : ''}
<table><thead><tr><th>column</th><th>published</th><th>measured</th><th>Δ measured − published</th><th>measured interval</th><th>Δ interval</th></tr></thead>
<tbody>
${body}
</tbody></table></section>`;
    })
    .join('\n');
  const p = c.provenance;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(c.summary)}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.2em .6em;text-align:right}th{text-align:left}
td.near{background:#e6f4e6}td.far{background:#fbe9e7}.reading{font-style:italic}code{font-size:90%}
</style></head><body>
<h1>${esc(c.summary)}</h1>
<p>Published: ${esc(c.source.authors)}, “${esc(c.source.title)}”, ${esc(c.source.venue)}, ${esc(c.source.table)} (<a href="${esc(c.source.link)}">${esc(c.source.link)}</a>).</p>
<p>Scale <strong>${esc(c.scale)}</strong>: ${esc(c.scaleSummary)}.</p>
<p>Green: within 2 points (0.05 for TMA and ES:D) of the published number; red: further. “—”: not measured or no interval; “not recorded”: the source prints no number.</p>
${rowTables}
<h2>Notes</h2><ul>${[...c.columns.filter((x) => x.note !== undefined).map((x) => `${x.key}: ${x.note!}`), ...c.notes, `Seeds: ${c.seedPolicy}`, `Intervals: 95 % per-query bootstrap intervals${intervalScope(c)}.`].map((n) => `<li>${esc(n)}</li>`).join('')}</ul>
<p>Provenance: <code>${esc(p.command)}</code> at commit ${esc(p.commit)}, ${esc(p.date)}; ${esc(p.cpu)}, ${p.threads} thread(s), device ${esc(p.device)}, libtorch ${esc(p.libtorch)}; seeds ${esc(p.seeds)}.</p>
</body></html>
`;
}
