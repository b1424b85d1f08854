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
