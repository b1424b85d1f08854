// Layer: eval. A swipe result as Markdown and as a hand-written SVG bar chart
// (no dependencies). The chart plots the ERS scores (0–100, higher = more
// robust) so that attacks with different units share one axis, and it says so
// on the image, with each raw value and its unit under its bar.
import { ATTACK_NAMES, ERS_RULES, ersTerms, type AttackName } from './robustness.js';
import { attackColumn, formatAttackValue, robustPhrase } from './columns.js';
import { formatBenign } from './benign.js';
import { formatScore } from './format.js';
import { normOf, type PgdBudget } from '../attack/index.js';
import type { StoredSwipeResult as SwipeResult } from './swipe.js';
import { formatInterval, type Interval } from './bootstrap.js';

/** A budget fraction as k/255 when it is one (the papers' way), else to 3 significant digits. */
function over255(x: number): string {
  const k = Math.round(x * 255);
  return Math.abs(x * 255 - k) < 1e-6 ? `${k}/255` : x.toPrecision(3);
}

/** ε, α and η of a budget the way the papers write them (L2 radii as plain numbers). */
export function formatBudget(b: PgdBudget): string {
  if (normOf(b) === 'l2') return `ε = ${b.epsilon.toPrecision(3)}, α = ${b.alpha.toPrecision(3)}, η = ${b.steps}`;
  return `ε = ${over255(b.epsilon)}, α = ${over255(b.alpha)}, η = ${b.steps}`;
}

/** "L∞" or "L2": the ball of a budget, as the reports name it. */
export function normLabel(b: PgdBudget): string {
  return normOf(b) === 'l2' ? 'L2' : 'L∞';
}

/** "256 queries (2 batches), PGD L∞ ε = 77/255, α = 3/255, η = 32". */
export function swipeScope(r: SwipeResult): string {
  const budgets = r.budgets.map(formatBudget);
  const norm = r.budgets[0] === undefined ? 'L∞' : normLabel(r.budgets[0]);
  const budget = budgets.length === 1 ? `PGD ${norm} ${budgets[0]}` : `PGD ${norm} at ${budgets.length} budgets`;
  return `${r.queries.toLocaleString('en-US')} queries (${r.batches} batch${r.batches === 1 ? '' : 'es'}), ${budget}`;
}

/** The ERS score of each attack, or null when the swipe lacks one of the ten columns. */
function scores(r: SwipeResult): Record<AttackName, number> | null {
  if (!ATTACK_NAMES.every((n) => r.attacks[n] !== undefined)) return null;
  return ersTerms(Object.fromEntries(ATTACK_NAMES.map((n) => [n, r.attacks[n]!])) as Record<AttackName, number>);
}

/** One row of a swipe's results table, as text. */
export interface SwipeRow {
  column: string;
  value: string;
  unit: string;
  direction: string;
  /** "87.5 (100 − x)", or '–' when the column has no ERS score. */
  score: string;
  /** The value's 95 % interval "[lo, hi]" ('' when the result has none). */
  interval: string;
  what: string;
}

/** The results table of a swipe (swipe.md and the swipe page): one row per column with unit, direction and ERS score. */
export function swipeRows(r: SwipeResult): SwipeRow[] {
  const terms = scores(r);
  return Object.entries(r.attacks).map(([name, v]) => {
    const c = attackColumn(name);
    const score = terms !== null && name in terms ? `${terms[name as AttackName].toFixed(1)} (${ERS_RULES[name as AttackName]})` : '–';
    return {
      column: name,
      value: formatAttackValue(name, v),
      unit: c.unit,
      direction: robustPhrase(c),
      score,
      interval: formatInterval(r.intervals?.[name], c.digits),
      what: c.what,
    };
  });
}

/** The sentences under the table that say what ERS and ARS are. */
export const ERS_MEANING = 'mean of the ten ERS scores, 0–100, higher is more robust.';
export const ARS_MEANING =
  "CA-TRIDE's score: eight columns (no TMA, ES:D), CA−/QA− scaled by 100/99, ES:R/LTM/GTM divided by benign R@1; higher is more robust.";
export const LOW_RECALL_WARNING = 'Benign R@1 < 5 %: ARS is unreliable.';

/** A score with its interval: "21.3 [19.8, 22.9]", or 'n/a'. */
export function scoreWithInterval(v: number | null, i: Interval | undefined): string {
  return v === null ? 'n/a' : `${formatScore(v)} ${formatInterval(i, 1)}`.trim();
}

/** The sentence that says what the intervals are and what the points are (empty for a result without intervals). */
export function intervalNote(r: SwipeResult): string {
  if (r.bootstrap === undefined) return '';
  const b = r.bootstrap;
  return `[lo, hi]: ${Math.round(100 * b.confidence)} % percentile intervals of a per-query bootstrap (B = ${b.resamples}, seed ${b.seed}; the ${r.queries} queries resampled, every column recomputed from the same draw, ERS and ARS through their formulas). Point estimates: ${r.estimator ?? 'mean of batch means'}, as RobRank.`;
}

/** A swipe result as Markdown: scope and budget, one row per column with unit, direction and ERS score, then ERS and ARS. */
export function swipeMarkdown(r: SwipeResult): string {
  const rows = swipeRows(r).map((x) => `| ${x.column} | ${x.value} | ${x.interval} | ${x.unit} | ${x.direction} | ${x.score} | ${x.what} |`);
  const lines = [
    `# Robustness swipe — profile ${r.profile}, metric ${r.metric}`,
    '',
    `${swipeScope(r)}; every attack of the profile ran on every query. ${r.seconds.toFixed(1)} s in all, ${r.gallerySeconds.toFixed(1)} s of it embedding the gallery.`,
    '',
    `Benign R@1 of the attacked queries: ${r.benignRecallAt1.toFixed(1)} % ${formatInterval(r.intervals?.benignRecallAt1, 1)}.` +
      (r.benign === undefined ? '' : ` Checkpoint's benign metrics on the whole test split (×100): ${formatBenign(r.benign, ', ')}.`),
    '',
    '| column | value | 95 % interval | unit | direction | ERS score (rule, x = value) | what it measures |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `**ERS** ${scoreWithInterval(r.ERS, r.intervals?.ERS)} — ${ERS_MEANING}`,
    `**ARS** ${scoreWithInterval(r.ARS, r.intervals?.ARS)} — ${ARS_MEANING}${r.lowBenignRecall ? ` ${LOW_RECALL_WARNING}` : ''}`,
    '',
    ...(r.bootstrap === undefined ? [] : [intervalNote(r), '']),
  ];
  return lines.join('\n');
}

/** The three report files of a swipe (what `swipe --out` writes, what the service serves); no chart without the ten ERS columns. */
export function swipeReports(r: SwipeResult): { json: string; markdown: string; svg: string | null } {
  return { json: `${JSON.stringify(r, null, 2)}\n`, markdown: swipeMarkdown(r), svg: r.ERS === null ? null : swipeSvg(r) };
}

/** Text made safe inside XML/HTML elements and double-quoted attributes. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Column labels as the papers print them (U+2212 minus). */
const display = (name: string): string => name.replace(/-$/, '−');

/**
 * Bar chart of the ten ERS scores with the raw value and unit of each under its
 * bar; title, query count, budget, axis title and the scoring rule are on the image.
 * Scores are not clipped (a bar may pass 100 or go below 0, docs/attacks-and-metrics.md §5).
 */
export function swipeSvg(r: SwipeResult): string {
  const terms = scores(r);
  if (terms === null) throw new Error('swipeSvg: the chart needs all ten ERS columns');
  const ers = scoreWithInterval(r.ERS, r.intervals?.ERS);
  const ars = scoreWithInterval(r.ARS, r.intervals?.ARS);
  // Each bar's interval: the column's, through the score's linear rule (a falling rule swaps the ends).
  const whisker = (name: AttackName): [number, number] | null => {
    const i = r.intervals?.[name];
    if (i === undefined) return null;
    const at = (x: number): number =>
      ersTerms(Object.fromEntries(ATTACK_NAMES.map((n) => [n, n === name ? x : r.attacks[n]!])) as Record<AttackName, number>)[name];
    const [a, b] = [at(i.lo), at(i.hi)];
    return [Math.min(a, b), Math.max(a, b)];
  };
  const width = 760;
  const height = 456;
  const [left, right, top, bottom] = [64, 16, 64, 116];
  const plotH = height - top - bottom;
  const maxV = Math.max(100, ...ATTACK_NAMES.map((n) => whisker(n)?.[1] ?? terms[n]));
  const minV = Math.min(0, ...ATTACK_NAMES.map((n) => whisker(n)?.[0] ?? terms[n]));
  const y = (v: number): number => top + ((maxV - v) / (maxV - minV)) * plotH;
  const slot = (width - left - right) / ATTACK_NAMES.length;
  const cx = (i: number): number => left + (i + 0.5) * slot;
  const text = (x: number, yy: number, s: string, attrs = ''): string => `<text x="${x.toFixed(1)}" y="${yy.toFixed(1)}"${attrs}>${escapeXml(s)}</text>`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(`ERS score per attack, profile ${r.profile}`)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(left, 22, `Robustness swipe ${r.profile} (metric ${r.metric}): ERS ${ers}, ARS ${ars}`, ' font-size="14" font-weight="bold"'),
    text(left, 40, swipeScope(r)),
    text(
      left,
      56,
      `Bars: ERS score of each attack, 0–100, higher is more robust (100 = unharmed)${r.intervals === undefined ? '' : '; whiskers: 95 % per-query bootstrap interval'}. Under each bar: the raw result.`,
      ' fill="#444"',
    ),
  ];
  for (let tick = Math.ceil(minV / 25) * 25; tick <= maxV; tick += 25) {
    parts.push(
      `<line x1="${left}" x2="${width - right}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="${tick === 100 ? '#999' : '#ddd'}"${tick === 100 ? ' stroke-dasharray="4 3"' : ''}/>`,
    );
    parts.push(text(left - 6, y(tick) + 4, String(tick), ' text-anchor="end"'));
  }
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="#333"/>`);
  parts.push(text(16, top + plotH / 2, 'ERS score (0–100)', ` text-anchor="middle" transform="rotate(-90 16 ${(top + plotH / 2).toFixed(1)})"`));
  const row = (k: number): number => height - bottom + 16 + 15 * k;
  parts.push(text(left - 6, row(1), 'raw', ' text-anchor="end" fill="#444"'));
  parts.push(text(left - 6, row(2), 'unit', ' text-anchor="end" fill="#444"'));
  ATTACK_NAMES.forEach((name, i) => {
    const v = terms[name];
    const y0 = y(Math.max(0, v));
    const h = Math.abs(y(v) - y(0));
    const raw = formatAttackValue(name, r.attacks[name]!);
    const unit = attackColumn(name).unit;
    parts.push(
      `<rect x="${(cx(i) - slot * 0.35).toFixed(1)}" y="${y0.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="#4a7ab5"><title>${escapeXml(`${display(name)}: raw ${raw} ${unit}, score ${v.toFixed(1)} = ${ERS_RULES[name]}`)}</title></rect>`,
    );
    const wk = whisker(name);
    if (wk !== null)
      parts.push(
        `<line x1="${cx(i).toFixed(1)}" x2="${cx(i).toFixed(1)}" y1="${y(wk[0]).toFixed(1)}" y2="${y(wk[1]).toFixed(1)}" stroke="#222" stroke-width="1.5"><title>${escapeXml(`95 % interval of the score: ${wk[0].toFixed(1)} to ${wk[1].toFixed(1)}`)}</title></line>`,
      );
    parts.push(text(cx(i) + (wk === null ? 0 : 10), y0 - 3, v.toFixed(1), ' text-anchor="middle" font-size="10"'));
    parts.push(text(cx(i), row(0), display(name), ' text-anchor="middle" font-weight="bold"'));
    parts.push(text(cx(i), row(1), raw, ' text-anchor="middle"'));
    parts.push(text(cx(i), row(2), unit, ' text-anchor="middle" fill="#444" font-size="10"'));
  });
  const rules = ATTACK_NAMES.map((n) => `${display(n)} → ${ERS_RULES[n]}`);
  parts.push(text(left, height - 44, `Score from raw x: ${rules.slice(0, 5).join('; ')};`, ' fill="#444" font-size="10"'));
  parts.push(text(left, height - 28, `${rules.slice(5).join('; ')}.`, ' fill="#444" font-size="10"'));
  parts.push(
    text(
      left,
      height - 12,
      'ERS = mean of the ten scores. ARS drops TMA and ES:D and divides ES:R, LTM, GTM by benign R@1 (docs/attacks-and-metrics.md §5–6).',
      ' fill="#444" font-size="10"',
    ),
  );
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/** One model in a robustness/accuracy trade-off plot. */
export interface TradeoffPoint {
  /** Model name shown beside its marker, e.g. `EST`. */
  label: string;
  /** Benign Recall@1 in percent. */
  recallAt1: number;
  /** ERS of the model's swipe, 0–100. */
  ers: number;
}

/** One run (e.g. one training η) of several models; its points share a colour. */
export interface TradeoffSeries {
  name: string;
  points: TradeoffPoint[];
}

const SERIES_COLOURS = ['#4a7ab5', '#d9822b', '#3a9a5b', '#b0413e', '#7a5ab5'];

/**
 * Scatter of benign R@1 (x) against ERS (y), the plane in which defenses are
 * compared: up is more robust, right is more accurate. Points with the same
 * label in consecutive series are joined, so a defense's path as its budget
 * grows is visible.
 */
export function tradeoffSvg(series: TradeoffSeries[], title: string): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) throw new Error('tradeoffSvg: no points to plot');
  for (const p of all) {
    if (!Number.isFinite(p.recallAt1) || !Number.isFinite(p.ers)) throw new Error(`tradeoffSvg: ${p.label} has a non-finite R@1 or ERS`);
  }
  const width = 720;
  const height = 400;
  const [left, right, top, bottom] = [52, 200, 36, 44];
  // Axes padded to round 5-point ticks around the data.
  const lo = (v: number): number => Math.floor(v / 5) * 5;
  const hi = (v: number): number => Math.ceil(v / 5) * 5;
  const xMin = lo(Math.min(...all.map((p) => p.recallAt1)) - 1);
  const xMax = hi(Math.max(...all.map((p) => p.recallAt1)) + 1);
  const yMin = Math.min(0, lo(Math.min(...all.map((p) => p.ers))));
  const yMax = hi(Math.max(...all.map((p) => p.ers)) + 1);
  const x = (v: number): number => left + ((v - xMin) / (xMax - xMin)) * (width - left - right);
  const y = (v: number): number => top + ((yMax - v) / (yMax - yMin)) * (height - top - bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<text x="${left}" y="20" font-size="13">${escapeXml(title)}</text>`,
  ];
  for (let t = xMin; t <= xMax; t += 5) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top}" y2="${height - bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${height - bottom + 14}" text-anchor="middle">${t}</text>`);
  }
  for (let t = yMin; t <= yMax; t += 5) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  parts.push(`<text x="${((left + width - right) / 2).toFixed(1)}" y="${height - 8}" text-anchor="middle">benign R@1 (%)</text>`);
  parts.push(`<text transform="translate(14 ${((top + height - bottom) / 2).toFixed(1)}) rotate(-90)" text-anchor="middle">ERS</text>`);
  // A model shared by several series (e.g. N/A across training η) is one point: label it once.
  const labelled = new Set<string>();
  series.forEach((s, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length]!;
    const previous = series[i - 1];
    for (const p of s.points) {
      const before = previous?.points.find((q) => q.label === p.label);
      if (before && (before.recallAt1 !== p.recallAt1 || before.ers !== p.ers)) {
        parts.push(
          `<line x1="${x(before.recallAt1).toFixed(1)}" y1="${y(before.ers).toFixed(1)}" x2="${x(p.recallAt1).toFixed(1)}" y2="${y(p.ers).toFixed(1)}" stroke="#999" stroke-dasharray="3 3"/>`,
        );
      }
      parts.push(
        `<circle cx="${x(p.recallAt1).toFixed(1)}" cy="${y(p.ers).toFixed(1)}" r="4" fill="${colour}"><title>${escapeXml(`${s.name} · ${p.label}: R@1 ${p.recallAt1.toFixed(1)}, ERS ${p.ers.toFixed(1)}`)}</title></circle>`,
      );
      const at = `${p.label}@${x(p.recallAt1).toFixed(1)},${y(p.ers).toFixed(1)}`;
      if (labelled.has(at)) continue;
      labelled.add(at);
      parts.push(`<text x="${(x(p.recallAt1) + 6).toFixed(1)}" y="${(y(p.ers) - 5).toFixed(1)}" font-size="10">${escapeXml(p.label)}</text>`);
    }
    parts.push(`<circle cx="${width - right + 16}" cy="${top + 8 + i * 18}" r="4" fill="${colour}"/>`);
    parts.push(`<text x="${width - right + 26}" y="${top + 12 + i * 18}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
