// Layer: eval (beside the reports, so the trainer's report above and the
// robustness-over-training trail here draw with one module). Training curves
// and per-epoch curves as a standalone SVG (no dependencies): one
// panel per quantity, x = optimizer step with the epoch boundaries marked,
// every axis titled with its unit. Benign test metrics appear at the end of
// each evaluated epoch. A series that never changes during the run (PGD
// iterations of an undefended run, say) gets no panel: its value is stated
// under the title instead, so no flat line is drawn on a made-up range.

/** One optimizer step of log.jsonl. */
export interface StepRecord {
  step: number;
  epoch?: number;
  [series: string]: number | undefined;
}

/** Benign test metrics (fractions) after an evaluated epoch. */
export interface EvaluatedEpoch {
  epoch: number;
  'R@1'?: number;
  mAP?: number;
}

/** Input of `trainingCurvesSvg`. */
export interface TrainingChart {
  title: string;
  /** Lines under the title (budget, --max-batches, …). */
  notes?: string[];
  steps: readonly StepRecord[];
  evaluated?: readonly EvaluatedEpoch[];
}

interface Series {
  key: string;
  label: string;
  /** Multiplier for display (fractions shown in %). */
  scale?: number;
}

interface PanelSpec {
  title: string;
  yTitle: string;
  series: Series[];
  /** Drawn only when it differs from this series somewhere (trained-on hardness = source hardness without a defense). */
  unlessEqualTo?: Record<string, string>;
}

/** The per-step panels, in order; series absent from the log are skipped. */
const STEP_PANELS: PanelSpec[] = [
  { title: 'Training loss', yTitle: 'loss (distance units)', series: [{ key: 'loss', label: 'loss' }] },
  {
    title: 'Triplet hardness H = d(a,p) − d(a,n)',
    yTitle: 'H (higher = harder)',
    series: [
      { key: 'sourceHardness', label: 'source (benign)' },
      { key: 'trainedHardness', label: 'trained on' },
      { key: 'destinationHardness', label: 'destination H_D' },
    ],
    unlessEqualTo: { trainedHardness: 'sourceHardness' },
  },
  { title: 'Triplets perturbed by the defense', yTitle: '% of the batch', series: [{ key: 'perturbedFraction', label: 'perturbed', scale: 100 }] },
  { title: 'PGD iterations per step', yTitle: 'iterations', series: [{ key: 'pgdIterations', label: 'PGD iterations' }] },
  { title: 'PGD work done (skip-satisfied)', yTitle: '% of the full-batch work', series: [{ key: 'pgdWorkFraction', label: 'work done', scale: 100 }] },
  { title: 'Collapseness C (CA-TRIDE)', yTitle: 'C (distance units)', series: [{ key: 'collapseness', label: 'C' }] },
];

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd'];
const PANEL_W = 440;
const PANEL_H = 220;
const PAD = { left: 62, right: 14, top: 40, bottom: 40 };

const valuesOf = (steps: readonly StepRecord[], key: string): number[] =>
  steps.map((r) => r[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));

/** A constant series (every logged value equal) is stated, not drawn. */
function constantValue(steps: readonly StepRecord[], key: string): number | null {
  const v = valuesOf(steps, key);
  return v.length > 0 && v.every((x) => x === v[0]) ? v[0]! : null;
}

function sameSeries(steps: readonly StepRecord[], a: string, b: string): boolean {
  return steps.every((r) => r[a] === undefined || r[a] === r[b]);
}

/**
 * About `count` round tick values; with `cover`, the first and last tick
 * enclose [lo, hi] (a y axis), otherwise they lie inside it (an x axis).
 */
export function niceTicks(lo: number, hi: number, count = 5, cover = false): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  // Integer multiples of the step, so 0 is exactly 0 and no round-off piles up.
  const first = cover ? Math.floor(lo / step + 1e-9) : Math.ceil(lo / step - 1e-9);
  const last = cover ? Math.ceil(hi / step - 1e-9) : Math.floor(hi / step + 1e-9);
  const ticks: number[] = [];
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

const tickText = (v: number): string => (Math.abs(v) >= 1000 ? v.toFixed(0) : String(Number(v.toPrecision(4))));

/** training.svg: benign metrics per evaluated epoch, loss, hardness and the defense's accounting per step. */
export function trainingCurvesSvg(chart: TrainingChart): string {
  const { steps } = chart;
  const constants: string[] = [];
  const panels: { spec: PanelSpec; series: Series[] }[] = [];
  for (const spec of STEP_PANELS) {
    const series = spec.series.filter((s) => {
      if (valuesOf(steps, s.key).length === 0) return false;
      const twin = spec.unlessEqualTo?.[s.key];
      return twin === undefined || !sameSeries(steps, s.key, twin);
    });
    if (series.length === 1) {
      const c = constantValue(steps, series[0]!.key);
      if (c !== null) {
        constants.push(`${spec.title}: ${tickText(c * (series[0]!.scale ?? 1))}${spec.yTitle.startsWith('%') ? ' %' : ''}`);
        continue;
      }
    }
    if (series.length > 0) panels.push({ spec, series });
  }
  const evaluated = (chart.evaluated ?? []).filter((e) => e['R@1'] !== undefined || e.mAP !== undefined);
  const notes = [...(chart.notes ?? []), ...(constants.length > 0 ? [`Constant over the run, so not plotted: ${constants.join('; ')}.`] : [])];

  const xs = steps.map((r) => r.step);
  const x0 = xs.length > 0 ? Math.min(...xs) : 0;
  const x1 = xs.length > 0 ? Math.max(...xs) : 1;
  // Epoch boundaries: the first step of every epoch after the first; evaluations sit at an epoch's last step.
  const firstStep = new Map<number, number>();
  const lastStep = new Map<number, number>();
  for (const r of steps) {
    if (r.epoch === undefined) continue;
    firstStep.set(r.epoch, Math.min(firstStep.get(r.epoch) ?? Infinity, r.step));
    lastStep.set(r.epoch, Math.max(lastStep.get(r.epoch) ?? -Infinity, r.step));
  }
  const boundaries = [...firstStep.entries()].filter(([, s]) => s > x0).sort((a, b) => a[1] - b[1]);
  const axis: Axis = { x0, x1, boundaries };

  const drawn: string[] = [];
  const all = [
    ...(evaluated.length > 0 ? [() => metricsPanel(evaluated, lastStep, axis)] : []),
    ...panels.map((p) => () => stepPanel(steps, p.spec, p.series, axis)),
  ];
  const header = 34 + 16 * notes.length;
  const cols = 2;
  all.forEach((draw, i) => drawn.push(`<g transform="translate(${(i % cols) * PANEL_W} ${header + Math.floor(i / cols) * PANEL_H})">`, draw(), '</g>'));
  const width = cols * PANEL_W;
  const height = header + Math.ceil(all.length / cols) * PANEL_H + 8;
  return `${[
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(chart.title)}</text>`,
    ...notes.map((n, i) => `<text x="${width / 2}" y="${38 + 16 * i}" text-anchor="middle" font-size="11" fill="#444">${escapeXml(n)}</text>`),
    ...drawn,
    '</svg>',
  ].join('\n')}\n`;
}

interface Axis {
  x0: number;
  x1: number;
  /** [epoch, first step] of every epoch after the first. */
  boundaries: [number, number][];
  /** The x axis title (default: optimizer steps with the epoch starts dashed). */
  title?: string;
  /** The x ticks (default: niceTicks of the range). */
  ticks?: number[];
}

/** A panel frame: title, axes with ticks and titles, epoch boundaries; returns the scales. */
function frame(title: string, yTitle: string, ylo: number, yhi: number, axis: Axis): { parts: string[]; sx: (x: number) => number; sy: (y: number) => number } {
  const pw = PANEL_W - PAD.left - PAD.right;
  const ph = PANEL_H - PAD.top - PAD.bottom;
  const yt = niceTicks(ylo, yhi, 4, true);
  const lo = yt[0]!;
  const hi = yt[yt.length - 1]!;
  const span = hi > lo ? hi - lo : 1;
  const xspan = axis.x1 > axis.x0 ? axis.x1 - axis.x0 : 1;
  const sx = (x: number): number => PAD.left + ((x - axis.x0) / xspan) * pw;
  const sy = (y: number): number => PAD.top + ph - ((y - lo) / span) * ph;
  const parts = [
    `<text x="${PAD.left}" y="16" font-size="12" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="${PAD.left}" y="${PAD.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`,
  ];
  for (const t of yt) {
    parts.push(`<line x1="${PAD.left}" x2="${PAD.left + pw}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.left - 4}" y="${(sy(t) + 3).toFixed(1)}" text-anchor="end">${tickText(t)}</text>`);
  }
  for (const t of axis.ticks ?? niceTicks(axis.x0, axis.x1, 5)) {
    parts.push(`<text x="${sx(t).toFixed(1)}" y="${PAD.top + ph + 13}" text-anchor="middle">${tickText(t)}</text>`);
  }
  for (const [epoch, step] of axis.boundaries) {
    const x = sx(step - 0.5).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${PAD.top}" y2="${PAD.top + ph}" stroke="#888" stroke-dasharray="3 3"/>`);
    parts.push(`<text x="${(sx(step - 0.5) + 3).toFixed(1)}" y="${PAD.top + 10}" fill="#666" font-size="9">epoch ${epoch + 1}</text>`);
  }
  parts.push(
    `<text x="${PAD.left + pw / 2}" y="${PANEL_H - 8}" text-anchor="middle">${escapeXml(axis.title ?? 'optimizer step (dashed: epoch starts)')}</text>`,
  );
  const cy = PAD.top + ph / 2;
  parts.push(`<text x="14" y="${cy}" text-anchor="middle" transform="rotate(-90 14 ${cy})">${escapeXml(yTitle)}</text>`);
  return { parts, sx, sy };
}

/** One row of coloured keys between the panel title and the plot, so it never covers data. */
function legend(labels: string[]): string[] {
  if (labels.length < 2) return [];
  let x = PAD.left;
  return labels.flatMap((l, i) => {
    const at = x;
    x += 30 + 6 * l.length;
    return [
      `<line x1="${at}" x2="${at + 14}" y1="${PAD.top - 10}" y2="${PAD.top - 10}" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="2"/>`,
      `<text x="${at + 18}" y="${PAD.top - 7}">${escapeXml(l)}</text>`,
    ];
  });
}

function stepPanel(steps: readonly StepRecord[], spec: PanelSpec, series: Series[], axis: Axis): string {
  const scaled = series.map((s) => steps.filter((r) => Number.isFinite(r[s.key])).map((r) => [r.step, r[s.key]! * (s.scale ?? 1)] as const));
  const ys = scaled.flat().map((p) => p[1]);
  const { parts, sx, sy } = frame(spec.title, spec.yTitle, Math.min(...ys), Math.max(...ys), axis);
  scaled.forEach((pts, i) => {
    const d = pts.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${COLOURS[i % COLOURS.length]}" stroke-width="1"/>`);
  });
  parts.push(...legend(series.map((s) => s.label)));
  return parts.join('\n');
}

/** R@1 and mAP (%) at the last step of each evaluated epoch. */
function metricsPanel(evaluated: readonly EvaluatedEpoch[], lastStep: ReadonlyMap<number, number>, axis: Axis): string {
  const keys = ['R@1', 'mAP'] as const;
  const at = (e: EvaluatedEpoch): number => lastStep.get(e.epoch) ?? axis.x1;
  const ys = evaluated.flatMap((e) => keys.map((k) => e[k]).filter((v): v is number => v !== undefined)).map((v) => 100 * v);
  const { parts, sx, sy } = frame('Benign test metrics after each evaluated epoch', '% on the test split', Math.min(...ys), Math.max(...ys), axis);
  keys.forEach((k, i) => {
    const pts = evaluated.filter((e) => e[k] !== undefined).map((e) => [sx(at(e)), sy(100 * e[k]!)] as const);
    const colour = COLOURS[i]!;
    if (pts.length > 1)
      parts.push(
        `<path d="${pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join('')}" fill="none" stroke="${colour}" stroke-width="1.5"/>`,
      );
    for (const [x, y] of pts) parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${colour}"/>`);
    const last = pts[pts.length - 1];
    if (last)
      parts.push(
        `<text x="${(last[0] - 5).toFixed(1)}" y="${(last[1] - 6).toFixed(1)}" text-anchor="end" fill="${colour}">${(100 * evaluated.filter((e) => e[k] !== undefined).at(-1)![k]!).toFixed(1)}</text>`,
      );
  });
  parts.push(...legend(['R@1', 'mAP']));
  return parts.join('\n');
}

/** One line of a per-epoch panel: (epoch, value) points in epoch order. */
export interface EpochSeries {
  label: string;
  points: readonly (readonly [number, number])[];
}

/** A panel of `epochCurvesSvg`. */
export interface EpochPanel {
  title: string;
  /** With its unit. */
  yTitle: string;
  series: readonly EpochSeries[];
}

/**
 * Quantities measured at some epochs (robustness over training): one panel per
 * quantity group, x = epoch (1-based, integer ticks), a marker at every point,
 * the last value written beside it, and a legend when a panel has two lines or more.
 */
export function epochCurvesSvg(chart: { title: string; notes?: readonly string[]; panels: readonly EpochPanel[] }): string {
  const panels = chart.panels.filter((p) => p.series.some((s) => s.points.length > 0));
  const xs = panels.flatMap((p) => p.series.flatMap((s) => s.points.map((q) => q[0])));
  const axis: Axis = {
    x0: xs.length > 0 ? Math.min(...xs) : 1,
    x1: xs.length > 0 ? Math.max(...xs) : 1,
    boundaries: [],
    title: 'epoch (the kept checkpoint after it)',
  };
  if (axis.x1 === axis.x0) axis.x1 = axis.x0 + 1;
  // Ticks at the measured epochs while they are few, else round integers.
  const measured = [...new Set(xs)].sort((a, b) => a - b);
  axis.ticks = measured.length <= 10 ? measured : niceTicks(axis.x0, axis.x1, 5).filter((t) => Number.isInteger(t));
  const notes = chart.notes ?? [];
  const header = 34 + 16 * notes.length;
  const cols = Math.min(2, Math.max(1, panels.length));
  const drawn = panels.flatMap((panel, i) => [
    `<g transform="translate(${(i % cols) * PANEL_W} ${header + Math.floor(i / cols) * PANEL_H})">`,
    epochPanel(panel, axis),
    '</g>',
  ]);
  const width = cols * PANEL_W;
  const height = header + Math.ceil(panels.length / cols) * PANEL_H + 8;
  return `${[
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(chart.title)}</text>`,
    ...notes.map((n, i) => `<text x="${width / 2}" y="${38 + 16 * i}" text-anchor="middle" font-size="11" fill="#444">${escapeXml(n)}</text>`),
    ...drawn,
    '</svg>',
  ].join('\n')}\n`;
}

function epochPanel(panel: EpochPanel, axis: Axis): string {
  const ys = panel.series.flatMap((s) => s.points.map((q) => q[1]));
  const { parts, sx, sy } = frame(panel.title, panel.yTitle, Math.min(...ys), Math.max(...ys), axis);
  panel.series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const pts = s.points.map(([x, y]) => [sx(x), sy(y)] as const);
    if (pts.length > 1)
      parts.push(
        `<path d="${pts.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`).join('')}" fill="none" stroke="${colour}" stroke-width="1.5"/>`,
      );
    for (const [x, y] of pts) parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${colour}"/>`);
    const last = pts[pts.length - 1];
    if (last)
      parts.push(
        `<text x="${(last[0] - 5).toFixed(1)}" y="${(last[1] - 6).toFixed(1)}" text-anchor="end" fill="${colour}">${s.points.at(-1)![1].toFixed(1)}</text>`,
      );
  });
  parts.push(...legend(panel.series.map((s) => s.label)));
  return parts.join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
