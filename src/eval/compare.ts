// Layer: eval. Paired comparison of swipes (`rankshield compare`, docs/attacks-and-metrics.md §9):
// results made on the same queries with the same attack seeds pair query by query, so the
// difference of two models is bootstrapped from the per-query values of both resampled JOINTLY
// (one draw of queries per replicate for both models; ERS and ARS of each model through their
// formulas, then their difference). Results made on different data, queries, profiles, seeds
// or attack settings do not pair and are refused, naming what differs.
import { attackColumn, type AttackColumn } from './columns.js';
import { bootstrapIntervals, excludesZero, formatInterval, POINT_ESTIMATOR, type BootstrapInfo, type Interval } from './bootstrap.js';
import { ERS_RULES, ATTACK_NAMES, type AttackName } from './robustness.js';
import { BENIGN_R1_KEY, scoresOf, type SwipeProvenance } from './score-intervals.js';
import type { StoredSwipeResult } from './swipe.js';
import { escapeXml as esc } from './report-svg.js';
import { formatScore } from './format.js';

/** One model of a comparison: its name on the reports and its swipe. */
export interface CompareInput {
  label: string;
  result: StoredSwipeResult;
}

/** One row: a column's paired difference (other − baseline) in the column's unit. */
export interface ColumnDifference {
  column: string;
  unit: string;
  robust: AttackColumn['robust'];
  baseline: number;
  other: number;
  /** other − baseline, of the point estimates (means of batch means). */
  difference: number;
  /** The paired bootstrap's interval of the difference. */
  interval: Interval;
  excludesZero: boolean;
  /** When the interval excludes 0: which model is the more robust on this column (null for a constraint column or benign R@1's "better"). */
  moreRobust: 'baseline' | 'other' | null;
}

export interface Comparison {
  baseline: string;
  other: string;
  rows: ColumnDifference[];
}

/** `compare --json`: every model against the first. */
export interface CompareResult {
  format: 'rankshield-compare/1';
  models: string[];
  madeOn: SwipeProvenance;
  bootstrap: BootstrapInfo;
  /** The points' estimator; the intervals resample queries. */
  estimator: typeof POINT_ESTIMATOR;
  comparisons: Comparison[];
}

/** The fields of `madeOn` two results must share, with what they mean in a refusal. */
const MUST_MATCH: readonly [keyof SwipeProvenance, string][] = [
  ['dataset', 'dataset'],
  ['split', 'split'],
  ['splitSha256', 'split content (SHA-256)'],
  ['queries', 'number of queries'],
  ['queryIndicesSha256', 'queries (SHA-256 of their indices)'],
  ['profile', 'profile'],
  ['seed', 'attack seed'],
  ['method', 'search method'],
  ['transfer', 'transfer (crafted on a surrogate)'],
  ['attackOptions', 'attack options'],
  ['benignRecallAt1Given', 'benign R@1 given for ARS'],
];

/** Throws an Error naming the first input that cannot be paired with the first one, and why. */
export function checkPairable(inputs: readonly CompareInput[]): void {
  if (inputs.length < 2) throw new Error(`compare needs at least two results, got ${inputs.length}`);
  for (const x of inputs) {
    if (x.result.madeOn === undefined || x.result.perQuery === undefined) {
      throw new Error(`${x.label}: the result records no per-query values or provenance (written before they existed); swipe the model again`);
    }
  }
  const [base, ...rest] = inputs;
  const a = base!.result.madeOn!;
  for (const x of rest) {
    const b = x.result.madeOn!;
    for (const [key, what] of MUST_MATCH) {
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
        throw new Error(
          `${x.label} was made on another ${what} than ${base!.label}: ${JSON.stringify(b[key])} vs ${JSON.stringify(a[key])}; a paired comparison needs the same queries, profile and seeds`,
        );
      }
    }
    // A profile's budget can be overridden (swipe --epsilon/--alpha/--steps): the budgets must agree too.
    const [ba, bb] = [JSON.stringify(base!.result.budgets), JSON.stringify(x.result.budgets)];
    if (ba !== bb)
      throw new Error(
        `${x.label} was made with other attack budgets than ${base!.label}: ${bb} vs ${ba}; a paired comparison needs the same queries, profile and seeds`,
      );
    const ca = Object.keys(base!.result.perQuery!).sort().join(',');
    const cb = Object.keys(x.result.perQuery!).sort().join(',');
    if (ca !== cb) throw new Error(`${x.label} reports other columns than ${base!.label}: ${cb} vs ${ca}`);
  }
}

/** Which side a difference favours on a column whose direction is known. */
function favoured(column: string, d: number, interval: Interval): ColumnDifference['moreRobust'] {
  if (!excludesZero(interval)) return null;
  const robust = robustOf(column);
  if (robust === 'higher') return d > 0 ? 'other' : 'baseline';
  if (robust === 'lower') return d < 0 ? 'other' : 'baseline';
  return null;
}

function robustOf(column: string): AttackColumn['robust'] {
  if (column === 'ERS' || column === 'ARS') return 'higher';
  if (column === BENIGN_R1_KEY) return 'neither';
  return attackColumn(column).robust;
}

function unitOf(column: string): string {
  if (column === 'ERS' || column === 'ARS') return 'score (0–100)';
  if (column === BENIGN_R1_KEY) return '%';
  return attackColumn(column).unit;
}

function pointOf(r: StoredSwipeResult, column: string): number | null {
  if (column === 'ERS') return r.ERS;
  if (column === 'ARS') return r.ARS;
  if (column === BENIGN_R1_KEY) return r.benignRecallAt1;
  return r.attacks[column] ?? null;
}

/** Each model against the first (see the module comment); `info` sets the bootstrap. */
export function compareSwipes(inputs: readonly CompareInput[], info: BootstrapInfo): CompareResult {
  checkPairable(inputs);
  const base = inputs[0]!;
  const given = base.result.madeOn!.benignRecallAt1Given;
  const columns = [...Object.keys(base.result.perQuery!), 'ERS', 'ARS'];
  const comparisons = inputs.slice(1).map((x): Comparison => {
    // Both models' columns under one draw per replicate: a: baseline, b: other.
    const perQuery: Record<string, number[]> = {};
    for (const [c, v] of Object.entries(base.result.perQuery!)) perQuery[`a:${c}`] = v;
    for (const [c, v] of Object.entries(x.result.perQuery!)) perQuery[`b:${c}`] = v;
    const side = (means: Readonly<Record<string, number>>, prefix: string): Record<string, number> =>
      Object.fromEntries(
        Object.entries(means)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
    const intervals = bootstrapIntervals(
      perQuery,
      (means) => {
        const a = side(means, 'a:');
        const b = side(means, 'b:');
        const sa = scoresOf(a, given);
        const sb = scoresOf(b, given);
        const out: Record<string, number | null> = {};
        for (const c of Object.keys(a)) out[`d:${c}`] = b[c]! - a[c]!;
        out['d:ERS'] = sa.ERS === null || sb.ERS === null ? null : sb.ERS - sa.ERS;
        out['d:ARS'] = sa.ARS === null || sb.ARS === null ? null : sb.ARS - sa.ARS;
        return out;
      },
      info,
    );
    const rows = columns.flatMap((column): ColumnDifference[] => {
      const p = pointOf(base.result, column);
      const q = pointOf(x.result, column);
      const interval = intervals[`d:${column}`];
      if (p === null || q === null || interval === undefined) return [];
      const difference = q - p;
      return [
        {
          column,
          unit: unitOf(column),
          robust: robustOf(column),
          baseline: p,
          other: q,
          difference,
          interval,
          excludesZero: excludesZero(interval),
          moreRobust: favoured(column, difference, interval),
        },
      ];
    });
    return { baseline: base.label, other: x.label, rows };
  });
  return {
    format: 'rankshield-compare/1',
    models: inputs.map((x) => x.label),
    madeOn: base.result.madeOn!,
    bootstrap: info,
    estimator: POINT_ESTIMATOR,
    comparisons,
  };
}

function digitsOf(column: string): number {
  return column === 'ERS' || column === 'ARS' || column === BENIGN_R1_KEY ? 1 : attackColumn(column).digits;
}

const signed = (v: number, digits: number): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

/** What the last column of a row says. */
function verdict(r: ColumnDifference, c: Comparison): string {
  if (!r.excludesZero) return 'no significant difference';
  if (r.moreRobust === null) return `differs (${r.difference > 0 ? c.other : c.baseline} higher)`;
  return `${r.moreRobust === 'other' ? c.other : c.baseline} more robust`;
}

/** The comparison as Markdown: one table per pair. */
export function compareMarkdown(r: CompareResult): string {
  const m = r.madeOn;
  const lines = [
    `# Paired comparison — ${r.models.join(' vs ')}`,
    '',
    `Made on ${m.dataset} ${m.split} (${m.queries} queries), profile ${m.profile}, attack seed ${m.seed}, method ${m.method}${m.transfer ? ' (transfer)' : ''}. ` +
      `Difference = other − baseline of the point estimates (${r.estimator}); [lo, hi]: ${Math.round(100 * r.bootstrap.confidence)} % percentile interval of a paired per-query bootstrap ` +
      `(B = ${r.bootstrap.resamples}, seed ${r.bootstrap.seed}; both models' values of the same drawn queries, ERS and ARS through their formulas). A difference is significant when its interval excludes 0.`,
    '',
  ];
  for (const c of r.comparisons) {
    const significant = c.rows.filter((x) => x.excludesZero).length;
    lines.push(
      `## ${c.other} − ${c.baseline}`,
      '',
      `${significant} of ${c.rows.length} rows differ significantly.`,
      '',
      `| column | unit | ${c.baseline} | ${c.other} | difference | 95 % interval | excludes 0 | verdict |`,
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...c.rows.map((x) => {
        const d = digitsOf(x.column);
        const name = x.column === BENIGN_R1_KEY ? 'benign R@1' : x.column === 'ERS' || x.column === 'ARS' ? `**${x.column}**` : x.column;
        const fmt = (v: number): string => (x.column === 'ERS' || x.column === 'ARS' ? formatScore(v) : v.toFixed(d));
        return `| ${name} | ${x.unit} | ${fmt(x.baseline)} | ${fmt(x.other)} | ${signed(x.difference, d)} | ${formatInterval(x.interval, d)} | ${x.excludesZero ? 'yes' : 'no'} | ${verdict(x, c)} |`;
      }),
      '',
    );
  }
  return lines.join('\n');
}

/** The slope of a column's ERS score in its raw value (the rules of ERS_RULES are linear). */
const ERS_SLOPE: Readonly<Record<AttackName, number>> = { 'CA+': 2, 'CA-': -1, 'QA+': 2, 'QA-': -1, TMA: -100, 'ES:D': -50, 'ES:R': 1, LTM: 1, GTM: 1, GTT: 1 };

/** A row on the chart's common axis: the difference in ERS score points (positive = other more robust). */
function scorePoints(x: ColumnDifference): { label: string; d: number; lo: number; hi: number } | null {
  if (x.column === 'ERS' || x.column === 'ARS') return { label: x.column, d: x.difference, lo: x.interval.lo, hi: x.interval.hi };
  if (!(ATTACK_NAMES as readonly string[]).includes(x.column)) return null;
  const s = ERS_SLOPE[x.column as AttackName];
  const [a, b] = [s * x.interval.lo, s * x.interval.hi];
  return { label: `${x.column} (${ERS_RULES[x.column as AttackName]})`, d: s * x.difference, lo: Math.min(a, b), hi: Math.max(a, b) };
}

const COLOURS = ['#4a7ab5', '#d9822b', '#3a9a5b', '#b0413e', '#7a5ab5'];

/**
 * A dot-and-whisker chart: per ERS column (and ERS, ARS) the paired difference of each model
 * against the first, in ERS score points so every column shares one axis (each column's
 * linear rule applied: positive = the other model more robust), with its 95 % interval.
 */
export function compareSvg(r: CompareResult): string {
  const series = r.comparisons.map((c) => ({
    name: `${c.other} − ${c.baseline}`,
    points: c.rows.map(scorePoints).filter((p): p is NonNullable<typeof p> => p !== null),
  }));
  const labels = [...new Set(series.flatMap((s) => s.points.map((p) => p.label)))];
  if (labels.length === 0) throw new Error('compareSvg: the results have no ERS column to chart');
  const width = 760;
  const rowH = 14 + 12 * series.length;
  const [left, right, top, bottom] = [190, 24, 78, 64];
  const height = top + bottom + rowH * labels.length;
  const all = series.flatMap((s) => s.points.flatMap((p) => [p.lo, p.hi, p.d]));
  const span = Math.max(1, ...all.map(Math.abs)) * 1.1;
  const x = (v: number): number => left + ((v + span) / (2 * span)) * (width - left - right);
  const text = (xx: number, yy: number, s: string, attrs = ''): string => `<text x="${xx.toFixed(1)}" y="${yy.toFixed(1)}"${attrs}>${esc(s)}</text>`;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(`Paired differences, ${r.models.join(' vs ')}`)}</title>`,
    '<rect width="100%" height="100%" fill="white"/>',
    text(
      16,
      22,
      `Paired differences against ${r.models[0]} — ${r.madeOn.dataset}, profile ${r.madeOn.profile}, ${r.madeOn.queries} queries`,
      ' font-size="14" font-weight="bold"',
    ),
    text(
      16,
      40,
      `Dots: difference of the point estimates; whiskers: ${Math.round(100 * r.bootstrap.confidence)} % paired per-query bootstrap interval (B = ${r.bootstrap.resamples}, seed ${r.bootstrap.seed}).`,
      ' fill="#444"',
    ),
    text(16, 56, 'Each column in ERS score points through its rule (shown beside it), so right of 0 = the other model more robust.', ' fill="#444"'),
  ];
  const tickStep = [0.5, 1, 2, 5, 10, 20, 25, 50].find((s) => span / s <= 5) ?? 100;
  for (let t = -Math.floor(span / tickStep) * tickStep; t <= span; t += tickStep) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top - 6}" y2="${height - bottom}" stroke="${t === 0 ? '#333' : '#ddd'}"/>`);
    parts.push(text(x(t), height - bottom + 14, String(Number(t.toFixed(2))), ' text-anchor="middle"'));
  }
  parts.push(
    text(
      (left + width - right) / 2,
      height - bottom + 32,
      'difference, other − baseline (ERS score points, 0–100 scale; positive = other more robust)',
      ' text-anchor="middle"',
    ),
  );
  parts.push(
    text(16, top + (height - top - bottom) / 2, 'column', ` text-anchor="middle" transform="rotate(-90 16 ${(top + (height - top - bottom) / 2).toFixed(1)})"`),
  );
  labels.forEach((label, i) => {
    const y0 = top + i * rowH;
    parts.push(text(left - 8, y0 + rowH / 2 + 4, label, ' text-anchor="end"'));
    series.forEach((s, k) => {
      const p = s.points.find((q) => q.label === label);
      if (p === undefined) return;
      const y = y0 + 10 + 12 * k;
      const colour = COLOURS[k % COLOURS.length]!;
      parts.push(`<line x1="${x(p.lo).toFixed(1)}" x2="${x(p.hi).toFixed(1)}" y1="${y}" y2="${y}" stroke="${colour}" stroke-width="2"/>`);
      parts.push(
        `<circle cx="${x(p.d).toFixed(1)}" cy="${y}" r="3.5" fill="${colour}"><title>${esc(`${s.name}, ${label}: ${signed(p.d, 2)} [${p.lo.toFixed(2)}, ${p.hi.toFixed(2)}] score points`)}</title></circle>`,
      );
    });
  });
  series.forEach((s, k) => parts.push(text(left + 200 * k, height - 12, `● ${s.name}`, ` fill="${COLOURS[k % COLOURS.length]}"`)));
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
