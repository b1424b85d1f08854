// Layer: eval. The swipe as one page people can open offline (`swipe --out DIR`
// writes DIR/index.html): what was attacked with which budget, ERS and ARS, the
// chart of swipe.svg inline, the results table, and for a few queries of the
// first batch per attack the picture of what it did — query, amplified
// perturbation, adversarial query, top-k before and after with rank changes
// (kept while the swipe attacked that batch: nothing runs twice).
// The pictures are PNG files under DIR/examples/ (relative links), so the page
// stays small for 224×224 datasets; CSS is inline, nothing is fetched.
import path from 'node:path';
import { writeFile } from 'node:fs/promises';
import { dispose, noGrad, tidy, type Tensor } from '../tensor/index.js';
import { imageAt, type DmlDataset } from '../data/index.js';
import type { AttackExamples, AttackKind, PgdBudget, ProfileRun } from '../attack/index.js';
import { writeFileAtomic, writeFileAtomicSync, makeDirs } from '../io/atomic.js';
import { robustEvalHtml } from './robust-report.js';
import type { RobustEvalResult } from './robust-eval.js';
import { chwPng, saveAttackImages, type AttackImageRecord, type ImageShape, type Neighbour } from './attack-images.js';
import {
  ARS_MEANING,
  ERS_MEANING,
  LOW_RECALL_WARNING,
  escapeXml as esc,
  formatBudget,
  intervalNote,
  normLabel,
  swipeRows,
  swipeScope,
  swipeSvg,
} from './report-svg.js';
import { formatInterval, type Interval } from './bootstrap.js';
import { attackColumn, formatAttackValue } from './columns.js';
import { formatBenign } from './benign.js';
import { formatScore } from './format.js';
import type { SwipeExample, SwipeExamplesOption, SwipeResult } from './swipe.js';

/** What was attacked, in words (the CLI fills it from the checkpoint). */
export interface SwipePageSource {
  /** e.g. "c2f2, triplet (softhard), defense none". */
  model: string;
  dataset: string;
  /** The run or file the model came from (a name, not a full path), when there is one. */
  checkpoint?: string;
}

/** The pictures of one attack on the first query batch. */
export interface SwipePageExamples {
  attack: AttackKind;
  budget: PgdBudget;
  /** That batch's numbers (the swipe's row for batch 0). */
  values: Record<string, number>;
  /** Folder of its PNGs, relative to the page. */
  dir: string;
  images: AttackImageRecord[];
}

export interface SwipePage {
  result: SwipeResult;
  source: SwipePageSource;
  imageShape: ImageShape;
  examples: SwipePageExamples[];
  /** Folder of the gallery thumbnails (`<index>.png`), relative to the page. */
  galleryDir: string;
}

/** Where the page's pictures go under DIR. */
export const EXAMPLES_DIR = 'examples';
const GALLERY_DIR = `${EXAMPLES_DIR}/gallery`;

/** A relative link to a file under `dir` (each segment percent-encoded: attack names hold + and −). */
const href = (dir: string, file: string): string => [...dir.split('/'), file].map(encodeURIComponent).join('/');

/** The page (a complete HTML document; every text escaped). */
export function swipeHtml(p: SwipePage): string {
  const r = p.result;
  const [c, h, w] = p.imageShape;
  const title = `Robustness swipe — profile ${r.profile}, ${p.source.dataset}`;
  const facts: [string, string][] = [
    ['Model', p.source.model],
    ['Dataset', `${p.source.dataset} (test split as gallery, ${c}×${h}×${w} images)`],
    ['Metric', r.metric],
    ...(p.source.checkpoint === undefined ? [] : [['Checkpoint', p.source.checkpoint] as [string, string]]),
    ['Budget', r.budgets.map((b) => `PGD ${normLabel(b)} ${formatBudget(b)}`).join('; ')],
    ['Queries', swipeScope(r)],
    ['Time', `${r.seconds.toFixed(1)} s (${r.gallerySeconds.toFixed(1)} s embedding the gallery)`],
  ];
  const score = (name: string, v: number | null, note: string, testid: string, interval: Interval | undefined): string =>
    `<div class="score" data-testid="${testid}"><div class="score-name">${esc(name)}</div><div class="score-value">${v === null ? 'n/a' : esc(formatScore(v))}</div>${v === null || interval === undefined ? '' : `<div class="score-note" data-testid="${testid}-interval">95 % interval ${esc(formatInterval(interval, 1))}</div>`}<div class="score-note">${esc(note)}</div></div>`;
  const rows = swipeRows(r).map(
    (x) =>
      `<tr><th scope="row">${esc(x.column)}</th><td class="num">${esc(x.value)}</td><td class="num">${esc(x.interval)}</td><td>${esc(x.unit)}</td><td>${esc(x.direction)}</td><td>${esc(x.score)}</td><td>${esc(x.what)}</td></tr>`,
  );
  const body = [
    `<header><h1>${esc(title)}</h1><p class="sub">Every attack of the profile ran on every query; numbers are per-batch means averaged over batches.</p></header>`,
    `<section class="card"><dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>`,
    `<section class="scores">`,
    score('ERS', r.ERS, ERS_MEANING, 'ers', r.intervals?.ERS),
    score('ARS', r.ARS, ARS_MEANING + (r.lowBenignRecall ? ` ${LOW_RECALL_WARNING}` : ''), 'ars', r.intervals?.ARS),
    score('Benign R@1', r.benignRecallAt1, 'Recall@1 (%) of the attacked queries, clean.', 'benign', r.intervals?.benignRecallAt1),
    `</section>`,
    r.bootstrap === undefined ? '' : `<p class="note">${esc(intervalNote(r))}</p>`,
    r.benign === undefined ? '' : `<p class="note">Checkpoint's benign metrics on the whole test split (×100): ${esc(formatBenign(r.benign, ', '))}.</p>`,
    r.ERS === null ? '' : `<section class="card chart"><h2>ERS score per attack</h2>${swipeSvg(r)}</section>`,
    `<section class="card"><h2>Results</h2><table data-testid="results"><thead><tr><th>column</th><th>value</th><th>95 % interval</th><th>unit</th><th>direction</th><th>ERS score (rule, x = value)</th><th>what it measures</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`,
    p.examples.length === 0 ? '' : examplesHtml(p),
  ];
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${pageCss(h <= 64)}</style>`,
    '</head><body><main>',
    ...body.filter((s) => s !== ''),
    '</main></body></html>',
    '',
  ].join('\n');
}

/** The picture grids, one section per attack. */
function examplesHtml(p: SwipePage): string {
  const first = p.examples[0]!;
  const intro =
    `<p class="sub">The first ${first.images.length} queries of query batch 1 as the swipe attacked them. ` +
    'Perturbation: δ amplified by the factor shown around mid-grey. Top-k: the gallery neighbours before and after the attack, each with its rank, class and distance; ' +
    "a green frame marks the query's own class, ↑/↓ how many places a neighbour moved, “new” one that was not in the top-k before, “out” one that left it.</p>";
  const nav = `<nav class="jump">${p.examples.map((e) => `<a href="#attack-${encodeURIComponent(e.attack)}">${esc(e.attack)}</a>`).join('')}</nav>`;
  return `<section class="card"><h2>What the attacks did</h2>${intro}${nav}${p.examples.map((e) => attackSection(p, e)).join('\n')}</section>`;
}

function attackSection(p: SwipePage, e: SwipePageExamples): string {
  const numbers = Object.entries(e.values)
    .map(([k, v]) => `${esc(k)} ${esc(formatAttackValue(k, v))} ${esc(attackColumn(k).unit)}`)
    .join(' · ');
  const what = Object.keys(e.values)
    .map((k) => attackColumn(k).what)
    .join('; ');
  const rows = e.images.map((img) => exampleRow(p, e, img)).join('\n');
  return (
    `<section class="attack" id="attack-${esc(encodeURIComponent(e.attack))}" data-testid="attack" data-attack="${esc(e.attack)}">` +
    `<h3>${esc(e.attack)} <span class="budget">${esc(formatBudget(e.budget))}</span></h3>` +
    `<p class="measure">This batch: ${numbers} — ${esc(what)}</p>${rows}</section>`
  );
}

function exampleRow(p: SwipePage, e: SwipePageExamples, img: AttackImageRecord): string {
  const pic = (file: string, caption: string, cls = ''): string =>
    `<figure class="big${cls}"><img src="${href(e.dir, file)}" alt="${esc(caption)}"><figcaption>${esc(caption)}</figcaption></figure>`;
  const triple =
    pic(img.files.query, `query #${img.index} · ${classCaption(img.label, img.className)}`) +
    pic(img.files.perturbation, `perturbation ×${img.scale.toFixed(1)} (max |δ| ${(img.maxPerturbation * 255).toFixed(1)}/255)`, ' pert') +
    pic(img.files.adversarial, 'adversarial query');
  return (
    `<div class="example" data-testid="example"><div class="triple">${triple}</div><div class="lists">` +
    topList('before', img.before, img.after, img.label, p.galleryDir) +
    topList('after', img.after, img.before, img.label, p.galleryDir) +
    '</div></div>'
  );
}

/** A label as captions show it: the class name, and the label where the two differ ("Trouser (1)"). */
function classCaption(label: number, name: string): string {
  return name === String(label) ? name : `${name} (${label})`;
}

/** One top-k row; `other` is the list on the other side of the attack, for the rank changes. */
function topList(which: 'before' | 'after', list: Neighbour[], other: Neighbour[], queryLabel: number, galleryDir: string): string {
  const items = list.map((n, i) => {
    const j = other.findIndex((o) => o.index === n.index);
    let mark = '';
    if (which === 'after') {
      if (j < 0) mark = '<span class="mv new">new</span>';
      else if (j > i) mark = `<span class="mv up">↑${j - i}</span>`;
      else if (j < i) mark = `<span class="mv down">↓${i - j}</span>`;
    } else if (j < 0) mark = '<span class="mv out">out</span>';
    const match = n.label === queryLabel ? ' match' : '';
    return (
      `<li class="thumb${match}"><img src="${href(galleryDir, `${n.index}.png`)}" alt="gallery #${n.index}, ${esc(classCaption(n.label, n.className))}" title="gallery #${n.index}, ${esc(classCaption(n.label, n.className))}, distance ${n.distance.toFixed(4)}">` +
      `<span class="rank">${i + 1}</span>${mark}<span class="lab">${esc(n.className)}</span><span class="dist">${n.distance.toFixed(3)}</span></li>`
    );
  });
  return `<div class="toplist"><div class="toplabel">${which}</div><ol>${items.join('')}</ol></div>`;
}

/** The stylesheet of the offline pages (`pixelated`: small images drawn without smoothing). */
export function pageCss(pixelated: boolean): string {
  return `
:root{--fg:#1d2330;--muted:#5d6778;--line:#e3e7ee;--bg:#f5f7fa;--card:#fff;--accent:#3a6bd1;--up:#1f8a4c;--down:#c2412d;--new:#7a4fc9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1180px;margin:0 auto;padding:24px 20px 60px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}h3{font-size:16px;margin:20px 0 4px}
.sub,.note,.measure{color:var(--muted);margin:4px 0 12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin:16px 0;overflow-x:auto}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0}
.facts dt{color:var(--muted)}.facts dd{margin:0}
.scores{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:16px;margin:16px 0}
.score{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 18px}
.score-name{font-weight:600;color:var(--muted)}.score-value{font-size:34px;font-weight:700;color:var(--accent)}
.score-note{font-size:12px;color:var(--muted)}
.chart svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
thead th{color:var(--muted);font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums;font-weight:600}
.jump{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}
.jump a{padding:2px 10px;border:1px solid var(--line);border-radius:99px;text-decoration:none;color:var(--accent)}
.attack{border-top:1px solid var(--line);margin-top:16px}
.budget{font-weight:400;color:var(--muted);font-size:13px;margin-left:8px}
.example{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;padding:10px 0;border-bottom:1px dashed var(--line)}
.triple{display:flex;gap:10px}
figure{margin:0;text-align:center}
figure.big img{width:96px;height:96px;border:1px solid var(--line);border-radius:4px;background:#000}
figcaption{font-size:11px;color:var(--muted);max-width:110px}
img{${pixelated ? 'image-rendering:pixelated;' : ''}object-fit:contain}
.lists{display:flex;flex-direction:column;gap:6px;flex:1;min-width:300px}
.toplist{display:flex;align-items:flex-start;gap:8px}
.toplabel{width:44px;font-size:12px;color:var(--muted);padding-top:18px}
.toplist ol{display:flex;flex-wrap:wrap;gap:6px;list-style:none;margin:0;padding:0}
.thumb{position:relative;width:56px;text-align:center;font-size:10px;color:var(--muted)}
.thumb img{width:56px;height:56px;border:3px solid transparent;border-radius:4px;display:block;background:#000}
.thumb.match img{border-color:var(--up)}
.thumb .rank{position:absolute;top:3px;left:3px;background:rgba(0,0,0,.6);color:#fff;border-radius:3px;padding:0 3px;font-size:9px}
.thumb .lab{display:block;color:var(--fg);overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.thumb .dist{display:block;font-variant-numeric:tabular-nums}
.mv{position:absolute;top:3px;right:3px;border-radius:3px;padding:0 3px;font-size:9px;color:#fff;font-weight:700}
.mv.up{background:var(--up)}.mv.down{background:var(--down)}.mv.new{background:var(--new)}.mv.out{background:var(--muted)}
`;
}

/** What a `SwipeExampleKeeper` holds of one attack: the first queries of batch 0, copied out of the swipe. */
interface KeptExample {
  run: ProfileRun;
  values: Record<string, number>;
  clean: Tensor;
  examples: AttackExamples;
  indices: Int32Array;
}

/**
 * Keeps, during a swipe (pass `option` as SwipeOptions.examples), what the
 * first run of each attack kind did to the first `count` queries of batch 0 —
 * a curve profile repeats kinds over budgets; one picture each is enough.
 * Dispose it after `writeSwipePage`.
 */
export class SwipeExampleKeeper {
  readonly kept: KeptExample[] = [];
  readonly option: SwipeExamplesOption;

  constructor(
    readonly count = 3,
    topK = 8,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new Error(`swipe page: the number of pictured queries must be an integer >= 1, got ${count}`);
    this.option = { topK, keep: (e) => this.keep(e) };
  }

  private keep(e: SwipeExample): void {
    if (this.kept.some((k) => k.run.attack === e.run.attack)) return;
    const n = Math.min(this.count, e.indices.length);
    const first = (t: Tensor): Tensor => noGrad(() => tidy(() => t.narrow(0, 0, n).clone()));
    this.kept.push({
      run: e.run,
      values: e.values,
      clean: first(e.clean),
      indices: e.indices.slice(0, n),
      examples: {
        adversarial: first(e.examples.adversarial),
        topBefore: e.examples.topBefore.slice(0, n),
        topAfter: e.examples.topAfter.slice(0, n),
        distancesBefore: e.examples.distancesBefore.slice(0, n),
        distancesAfter: e.examples.distancesAfter.slice(0, n),
      },
    });
  }

  dispose(): void {
    dispose(this.kept.flatMap((k) => [k.clean, k.examples.adversarial]));
    this.kept.length = 0;
  }
}

/** Options of `writeSwipePage`. */
export interface SwipePageOptions {
  /** The split the swipe attacked (its labels and images for the neighbour thumbnails). */
  ds: DmlDataset;
  source: SwipePageSource;
  /** What the swipe kept of batch 0; absent: a page without pictures. */
  keeper?: SwipeExampleKeeper;
}

/** Writes `dir/index.html` and its pictures under `dir/examples/`; returns the page's path. */
export async function writeSwipePage(dir: string, result: SwipeResult, o: SwipePageOptions): Promise<string> {
  const examples: SwipePageExamples[] = [];
  for (const k of o.keeper?.kept ?? []) {
    const rel = `${EXAMPLES_DIR}/${k.run.attack}`;
    const { images } = await saveAttackImages(path.join(dir, rel), {
      attack: k.run.attack,
      budget: k.run.budget,
      clean: k.clean,
      examples: k.examples,
      indices: k.indices,
      labels: o.ds.labels,
      ...(o.ds.classNames === undefined ? {} : { classNames: o.ds.classNames }),
    });
    examples.push({ attack: k.run.attack, budget: k.run.budget, values: k.values, dir: rel, images });
  }
  const shape: ImageShape = [o.ds.channels, o.ds.height, o.ds.width];
  if (examples.length > 0) {
    // Each neighbour once, whatever the number of lists it appears in.
    const ids = new Set(examples.flatMap((e) => e.images.flatMap((i) => [...i.before, ...i.after].map((n) => n.index))));
    makeDirs(path.join(dir, GALLERY_DIR));
    for (const id of ids) await writeFile(path.join(dir, GALLERY_DIR, `${id}.png`), await chwPng(await imageAt(o.ds, id), 0, shape).toBuffer());
  }
  const file = path.join(dir, 'index.html');
  await writeFileAtomic(file, swipeHtml({ result, source: o.source, imageShape: shape, examples, galleryDir: GALLERY_DIR }));
  return file;
}

/** The robust evaluation's page, `dir/index.html` (tables and verdict; no pictures); returns its path. */
export function writeRobustPage(dir: string, result: RobustEvalResult, source: SwipePageSource): string {
  const title = `Robust evaluation — profile ${result.profile}, ${source.dataset}`;
  const facts: [string, string][] = [
    ['Model', source.model],
    ['Dataset', `${source.dataset} (test split as gallery)`],
    ['Metric', result.metric],
    ...(source.checkpoint === undefined ? [] : [['Checkpoint', source.checkpoint] as [string, string]]),
    ['Time', `${result.seconds.toFixed(1)} s`],
  ];
  const html = [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(title)}</title>`,
    `<style>${pageCss(true)}.verdict{font-weight:700}.verdict.flagged{color:var(--down)}</style>`,
    '</head><body><main>',
    `<header><h1>${esc(title)}</h1><p class="sub">Per attacked image, the worst case over PGD, APGD with restarts, a query-only search and a transfer attack.</p></header>`,
    `<section class="card"><dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl></section>`,
    robustEvalHtml(result),
    '</main></body></html>',
    '',
  ].join('\n');
  const file = path.join(dir, 'index.html');
  writeFileAtomicSync(file, html);
  return file;
}
