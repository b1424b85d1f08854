// Layer: train. Training curves as a standalone SVG (no dependencies): one
// small panel per series (loss, perturbed fraction, hardness, PGD iterations,
// collapseness), x = optimizer step. Series absent from the log are skipped.

export interface StepRecord {
  step: number;
  [series: string]: number;
}

const PANELS: [string, string][] = [
  ['loss', 'training loss'],
  ['perturbedFraction', 'fraction of triplets perturbed'],
  ['sourceHardness', 'source hardness H'],
  ['trainedHardness', 'trained-on hardness H'],
  ['destinationHardness', 'destination hardness H_D'],
  ['pgdIterations', 'PGD iterations'],
  ['pgdWorkFraction', 'share of PGD triplet work done'],
  ['collapseness', 'collapseness C'],
];

const W = 360;
const H = 150;
const PAD = { left: 48, right: 10, top: 22, bottom: 24 };

export function trainingCurvesSvg(records: readonly StepRecord[], title: string): string {
  const panels = PANELS.filter(([key]) => records.some((r) => Number.isFinite(r[key])));
  const cols = 2;
  const rowsN = Math.ceil(panels.length / cols);
  const width = cols * W;
  const height = rowsN * H + 30;
  const parts = panels.map(([key, label], i) => panel(records, key, label, (i % cols) * W, 30 + Math.floor(i / cols) * H));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="13">${escapeXml(title)}</text>`,
    ...parts,
    '</svg>',
  ].join('\n');
}

function panel(records: readonly StepRecord[], key: string, label: string, x0: number, y0: number): string {
  const pts = records.filter((r) => Number.isFinite(r[key])).map((r) => [r.step, r[key]!] as const);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [xmin, xmax] = [Math.min(...xs), Math.max(...xs)];
  let [ymin, ymax] = [Math.min(...ys), Math.max(...ys)];
  if (ymin === ymax) [ymin, ymax] = [ymin - 1e-3, ymax + 1e-3];
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const sx = (x: number): number => x0 + PAD.left + (xmax === xmin ? 0 : ((x - xmin) / (xmax - xmin)) * pw);
  const sy = (y: number): number => y0 + PAD.top + ph - ((y - ymin) / (ymax - ymin)) * ph;
  const path = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
  const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  return [
    `<g>`,
    `<text x="${x0 + PAD.left}" y="${y0 + 14}" font-size="11">${escapeXml(label)}</text>`,
    `<rect x="${x0 + PAD.left}" y="${y0 + PAD.top}" width="${pw}" height="${ph}" fill="none" stroke="#bbb"/>`,
    `<text x="${x0 + PAD.left - 4}" y="${y0 + PAD.top + 8}" text-anchor="end">${fmt(ymax)}</text>`,
    `<text x="${x0 + PAD.left - 4}" y="${y0 + PAD.top + ph}" text-anchor="end">${fmt(ymin)}</text>`,
    `<text x="${x0 + PAD.left}" y="${y0 + H - 8}">step ${xmin}</text>`,
    `<text x="${x0 + W - PAD.right}" y="${y0 + H - 8}" text-anchor="end">${xmax}</text>`,
    `<path d="${path}" fill="none" stroke="#1f77b4" stroke-width="1"/>`,
    `</g>`,
  ].join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
