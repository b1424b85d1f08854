// Layer: eval. A swipe result as Markdown and as hand-written SVG bar charts
// (no dependencies): one bar per attack, on the ERS-normalised 0–100 scale
// (higher = more robust), so attacks with different units share one axis.
import { ATTACK_NAMES, ersTerms, type AttackName } from './robustness.js';
import { formatScore } from './format.js';
import type { SwipeResult } from './swipe.js';

/** How each column is printed in the tables: percentages and TMA/ES:D with their precision. */
function formatColumn(name: string, v: number): string {
  return name === 'TMA' || name === 'ES:D' ? v.toFixed(3) : v.toFixed(1);
}

export function swipeMarkdown(r: SwipeResult): string {
  const names = Object.keys(r.attacks);
  const lines = [
    `# Robustness swipe — profile ${r.profile}, metric ${r.metric}`,
    '',
    `${r.queries} queries in ${r.batches} batches, ${r.seconds.toFixed(1)} s. Benign R@1 ${r.benignRecallAt1.toFixed(1)}%.`,
    '',
    `| ${names.join(' | ')} |`,
    `| ${names.map(() => '---').join(' | ')} |`,
    `| ${names.map((n) => formatColumn(n, r.attacks[n]!)).join(' | ')} |`,
    '',
    `**ERS** ${r.ERS === null ? 'n/a' : formatScore(r.ERS)} · **ARS** ${r.ARS === null ? 'n/a' : formatScore(r.ARS)}${r.lowBenignRecall ? ' (benign R@1 < 5%: ARS unreliable)' : ''}`,
    '',
  ];
  return lines.join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Bar chart of the ten ERS-normalised scores (bars may exceed 100 or go below 0: no clipping, §5). */
export function swipeSvg(r: SwipeResult): string {
  const present = ATTACK_NAMES.filter((n) => r.attacks[n] !== undefined);
  if (present.length !== ATTACK_NAMES.length) throw new Error('swipeSvg: the chart needs all ten ERS columns');
  const terms = ersTerms(Object.fromEntries(ATTACK_NAMES.map((n) => [n, r.attacks[n]!])) as Record<AttackName, number>);
  const width = 640;
  const height = 320;
  const left = 48;
  const bottom = 40;
  const top = 36;
  const plotH = height - top - bottom;
  const maxV = Math.max(100, ...ATTACK_NAMES.map((n) => terms[n]));
  const minV = Math.min(0, ...ATTACK_NAMES.map((n) => terms[n]));
  const y = (v: number): number => top + ((maxV - v) / (maxV - minV)) * plotH;
  const slot = (width - left - 16) / ATTACK_NAMES.length;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(`ERS-normalised scores, profile ${r.profile}`)}</title>`,
    `<text x="${left}" y="20" font-size="13">${escapeXml(`${r.profile} · ERS ${r.ERS === null ? 'n/a' : formatScore(r.ERS)} · ARS ${r.ARS === null ? 'n/a' : formatScore(r.ARS)}`)}</text>`,
  ];
  for (const tick of [0, 25, 50, 75, 100]) {
    parts.push(`<line x1="${left}" x2="${width - 16}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${tick}</text>`);
  }
  ATTACK_NAMES.forEach((name, i) => {
    const v = terms[name];
    const x = left + i * slot + slot * 0.15;
    const y0 = y(Math.max(0, v));
    const h = Math.abs(y(v) - y(0));
    parts.push(`<rect x="${x.toFixed(1)}" y="${y0.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="#4a7ab5"><title>${escapeXml(`${name}: raw ${formatColumn(name, r.attacks[name]!)}, normalised ${v.toFixed(1)}`)}</title></rect>`);
    parts.push(`<text x="${(x + slot * 0.35).toFixed(1)}" y="${height - bottom + 16}" text-anchor="middle">${escapeXml(name)}</text>`);
    parts.push(`<text x="${(x + slot * 0.35).toFixed(1)}" y="${(y0 - 3).toFixed(1)}" text-anchor="middle" font-size="10">${v.toFixed(1)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
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
        parts.push(`<line x1="${x(before.recallAt1).toFixed(1)}" y1="${y(before.ers).toFixed(1)}" x2="${x(p.recallAt1).toFixed(1)}" y2="${y(p.ers).toFixed(1)}" stroke="#999" stroke-dasharray="3 3"/>`);
      }
      parts.push(`<circle cx="${x(p.recallAt1).toFixed(1)}" cy="${y(p.ers).toFixed(1)}" r="4" fill="${colour}"><title>${escapeXml(`${s.name} · ${p.label}: R@1 ${p.recallAt1.toFixed(1)}, ERS ${p.ers.toFixed(1)}`)}</title></circle>`);
      const at = `${p.label}@${x(p.recallAt1).toFixed(1)},${y(p.ers).toFixed(1)}`;
      if (labelled.has(at)) continue;
      labelled.add(at);
      parts.push(`<text x="${(x(p.recallAt1) + 6).toFixed(1)}" y="${(y(p.ers) - 5).toFixed(1)}" font-size="10">${escapeXml(p.label)}</text>`);
    }
    parts.push(`<circle cx="${width - right + 16}" cy="${top + 8 + i * 18}" r="4" fill="${colour}"/>`);
    parts.push(`<text x="${width - right + 26}" y="${top + 12 + i * 18}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
