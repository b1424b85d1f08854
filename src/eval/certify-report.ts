// Layer: eval. `certify`'s reports: the table (Markdown) and the chart of certified R@1 against the
// L2 radius (SVG, titled axes with units), with the empirical R@1 under attack beside it when measured.
import { escapeXml } from './report-svg.js';
import { niceTicks } from './plot.js';
import type { CertifyResult, EmpiricalResult } from './certify.js';

const f1 = (v: number): string => v.toFixed(1);

/** The certified table, one row per radius (and the empirical column when measured). */
export function certifyMarkdown(r: CertifyResult, empirical?: EmpiricalResult): string {
  const ks = r.ks.map((k) => `R@${k}`);
  const head = ['L2 radius', ...ks.map((k) => `certified ${k} (%)`), ...(empirical ? ['empirical R@1 (%)'] : []), 'ES:D ≤', 'QA+ ≥ (%)', 'QA− ≤ (%)'];
  const lines = [
    `Certified retrieval robustness of the smoothed model (σ = ${r.sigma}, n = ${r.samples}, α = ${r.alpha}, ${r.gallery} gallery), ${r.queries} queries against ${r.gallerySize} items.`,
    `L = √(2/π)/σ = ${r.lipschitz.toFixed(4)}; Monte Carlo error τ_q = ${r.queryError.toFixed(4)}${r.gallery === 'smoothed' ? `, τ_g = ${r.galleryError.toFixed(4)}` : ''} (each of ${r.boundedEstimates} estimates at α/${r.boundedEstimates}).`,
    `Smoothed R@1 at the clean queries (estimate, no certificate): ${f1(r.smoothedRecallAt1)} %.`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
  ];
  for (const row of r.rows) {
    const e = empirical?.rows.find((x) => x.radius === row.radius);
    lines.push(
      `| ${row.radius} | ${ks.map((k) => f1(row.recall[k]!)).join(' | ')} | ${empirical ? `${e ? f1(e.recallAt1) : '–'} | ` : ''}${row.embeddingShiftAtMost.toFixed(3)} | ${f1(row.qaPlusAtLeast)} | ${f1(row.qaMinusAtMost)} |`,
    );
  }
  lines.push(
    '',
    `Cost: ${r.cost.forwardPasses.toLocaleString('en-US')} forward passes, ${r.cost.seconds.toFixed(1)} s (${r.cost.cpuSeconds.toFixed(1)} CPU s).`,
  );
  if (empirical)
    lines.push(
      `Empirical: APGD-L2, ${empirical.steps} steps, ${empirical.restarts} restart(s), EOT ${empirical.eot} draws per step, judged by ĝ with ${empirical.samples} samples; ${empirical.cost.forwardPasses.toLocaleString('en-US')} forward + ${empirical.cost.backwardPasses.toLocaleString('en-US')} backward passes, ${empirical.cost.seconds.toFixed(1)} s (${empirical.cost.cpuSeconds.toFixed(1)} CPU s).`,
    );
  return `${lines.join('\n')}\n`;
}

/** Certified R@1 (%) against the L2 radius, with the empirical R@1 under attack when measured. */
export function certifySvg(
  r: CertifyResult,
  empirical?: EmpiricalResult,
  title = `Certified R@1 of the smoothed model (σ = ${r.sigma}, n = ${r.samples}, ${r.dataset})`,
): string {
  const width = 640;
  const height = 360;
  const [left, right, top, bottom] = [56, 160, 36, 48];
  const radii = r.rows.map((x) => x.radius);
  const xTicks = niceTicks(0, Math.max(...radii, 1e-9), 5, true);
  const xMax = xTicks[xTicks.length - 1]!;
  const x = (v: number): number => left + (v / xMax) * (width - left - right);
  const y = (v: number): number => top + ((100 - v) / 100) * (height - top - bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<text x="${left}" y="20" font-size="13">${escapeXml(title)}</text>`,
  ];
  for (const t of xTicks) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${top}" y2="${height - bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${height - bottom + 14}" text-anchor="middle">${t}</text>`);
  }
  for (let t = 0; t <= 100; t += 20) {
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  parts.push(
    `<text x="${((left + width - right) / 2).toFixed(1)}" y="${height - 10}" text-anchor="middle">L2 radius of the perturbation (pixel units, images in [0, 1])</text>`,
  );
  parts.push(`<text transform="translate(16 ${((top + height - bottom) / 2).toFixed(1)}) rotate(-90)" text-anchor="middle">R@1 (% of queries)</text>`);
  const series: { name: string; colour: string; points: [number, number][]; dash?: string }[] = [
    { name: 'certified R@1', colour: '#4a7ab5', points: r.rows.map((row) => [row.radius, row.recall['R@1'] ?? 0]) },
  ];
  if (empirical)
    series.push({ name: 'empirical R@1 (attack)', colour: '#d9822b', points: empirical.rows.map((row) => [row.radius, row.recallAt1]), dash: '5 3' });
  series.forEach((s, i) => {
    const path = s.points.map(([a, b], k) => `${k === 0 ? 'M' : 'L'}${x(a).toFixed(1)} ${y(b).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const [a, b] of s.points)
      parts.push(
        `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${s.colour}"><title>${escapeXml(`${s.name} at radius ${a}: ${b.toFixed(1)} %`)}</title></circle>`,
      );
    parts.push(
      `<line x1="${width - right + 12}" x2="${width - right + 32}" y1="${top + 8 + i * 18}" y2="${top + 8 + i * 18}" stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    );
    parts.push(`<text x="${width - right + 38}" y="${top + 12 + i * 18}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
