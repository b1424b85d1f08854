// @ts-check
// The explorer page of `rankshield serve`: a browser ES module with no build
// step. It talks only to the service's /api (docs/service.md): the gallery,
// nearest-neighbour search, one attack at a time, swipes as jobs with a live
// progress stream, and the runs next to the served checkpoint. Types are JSDoc,
// checked by tsc (src/web/tsconfig.json).

/** @typedef {{ rank: number, id: number, label: number, distance: number }} Hit */
/** @typedef {{ epsilon: number, alpha: number, steps: number }} Budget */
/**
 * What perturbs what: `chooses` says which gallery ids `candidates` names (CA±: the queries whose
 * rankings the perturbed candidate climbs; QA±, SPQA±: the query's candidates; others: none).
 * @typedef {{ kind: string, target: string, chooses?: 'queries' | 'candidates' | null, summary: string,
 *   measure: string, unit?: string, robust?: string, defaults: Budget }} AttackInfo
 */
/** @typedef {{ name: string, summary: string }} ProfileInfo */
/**
 * @typedef {{ checkpoint: string, dataset: string, metric: string, imageShape: number[], gallerySize: number,
 *   classes: number[], benign: Record<string, number> | null, attacks: AttackInfo[], profiles: ProfileInfo[],
 *   defaultProfile?: string }} ModelInfo
 */
/** @typedef {{ total: number, offset: number, items: { id: number, label: number }[] }} GalleryPage */
/** @typedef {{ query: { id?: number, label?: number }, results: Hit[], seconds: number }} SearchResult */
/** @typedef {{ id: number, label: number, rankBefore: number, rankAfter: number }} CandidateRank */
/**
 * @typedef {{ resultId: string, attack: string, budget: Budget,
 *   measure: { name: string, before: number, after: number, unit: string },
 *   images: { query: string, perturbation: string, adversarial: string }, perturbationScale: number, linf: number,
 *   topkBefore: Hit[], topkAfter: Hit[], candidates: CandidateRank[], seconds: number }} AttackResult
 */
/** @typedef {{ done: number, total: number, attack?: string, etaSeconds?: number }} Progress */
/**
 * @typedef {{ profile: string, queries: number, batches: number, attacks: Record<string, number>,
 *   ERS: number | null, ARS: number | null, benignRecallAt1: number, seconds: number }} SwipeResult
 */
/**
 * @typedef {{ epoch: number, 'R@1': number | null, mAP: number | null, ERS: number | null, ARS: number | null,
 *   attacks: Record<string, number>, queries: number, seconds: number }} TrailRow
 */
/** @typedef {{ profile: string, columns: string[], rows: TrailRow[], scope: string, plot: string }} RunTrail */
/**
 * @typedef {{ name: string, dataset: string, model: string, defense: string, epochs: number,
 *   benign: Record<string, number> | null, hasTraining: boolean, hasSwipe: boolean, trail?: RunTrail[] }} RunInfo
 */
/** @typedef {{ id: number } | { image: string }} QueryRef */

const TOKEN_KEY = 'rankshield.token';
const PAGE_SIZE = 60;
const TOP_K = 10;
/** Attacks that take gallery ids (CA±, QA±, SPQA±), for a server that does not say (`chooses`). */
const TAKES_IDS = /^(CA|QA|SPQA)[+-]$/;

/** Which gallery ids an attack's `candidates` names, or null when it takes none. @param {AttackInfo} a */
function choosesOf(a) {
  if (a.chooses !== undefined) return a.chooses;
  return TAKES_IDS.test(a.kind) ? (a.kind.startsWith('CA') ? 'queries' : 'candidates') : null;
}

// ------------------------------------------------------------------ DOM helpers

/**
 * The element with this data-testid, checked to be of `type`.
 * @template {Element} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} type
 * @param {ParentNode} [root]
 * @returns {T}
 */
function byId(id, type, root = document) {
  const found = root.querySelector(`[data-testid="${id}"]`);
  if (!(found instanceof type)) throw new Error(`explorer: no ${type.name} with data-testid="${id}"`);
  return found;
}

/** @param {string} id */
const box = (id) => byId(id, HTMLElement);

/**
 * A new element with a class and text (text is never parsed as HTML).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElementTagNameMap[K]}
 */
function make(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A measured number to four significant digits (48.2, 0.9802, 1234). @param {number} x */
const num = (x) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4))));

/** A budget fraction in /255 units, as the form shows it. @param {number} x */
const to255 = (x) => Math.round(x * 255 * 100) / 100;

/** Seconds as "1 min 05 s". @param {number} s */
function duration(s) {
  if (!Number.isFinite(s) || s < 0) return '';
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
}

/** A stored benign metric as a percentage (checkpoints store fractions). @param {number} v */
const percent = (v) => `${(100 * v).toFixed(1)} %`;

// ------------------------------------------------------------------ API client

class ApiError extends Error {
  /** @param {string} message @param {number} status */
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/** @type {Promise<void> | null} */
let tokenPrompt = null;

/** Asks for the token once (concurrent 401s share the dialog) and keeps it for the tab's session. */
function askToken() {
  tokenPrompt ??= new Promise((resolve) => {
    const dialog = byId('token-dialog', HTMLDialogElement);
    const input = byId('token-input', HTMLInputElement);
    dialog.addEventListener('close', () => {
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      tokenPrompt = null;
      resolve();
    }, { once: true });
    dialog.showModal();
    input.focus();
  });
  return tokenPrompt;
}

/** @returns {Record<string, string>} */
function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/**
 * fetch with the bearer token; a 401 asks for the token and retries; other
 * failures throw an ApiError carrying the server's message.
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<Response>}
 */
async function request(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  if (res.status === 401) {
    await askToken();
    return request(path, init);
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = /** @type {{ error?: string }} */ (await res.json());
      if (body.error) message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, res.status);
  }
  return res;
}

/**
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
async function getJson(path) {
  return /** @type {Promise<T>} */ ((await request(path)).json());
}

/**
 * @template T
 * @param {string} path
 * @param {unknown} body
 * @returns {Promise<T>}
 */
async function postJson(path, body) {
  const res = await request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return /** @type {Promise<T>} */ (res.json());
}

/**
 * Shows an /api image. Without a token the browser loads (and caches) it
 * directly; with one, an <img> cannot send the header, so it is fetched.
 * @param {HTMLImageElement} img
 * @param {string} url
 */
function showImage(img, url) {
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    img.src = url;
    return;
  }
  request(url)
    .then((r) => r.blob())
    .then((blob) => {
      const local = URL.createObjectURL(blob);
      img.addEventListener('load', () => URL.revokeObjectURL(local), { once: true });
      img.src = local;
    })
    .catch((e) => {
      img.alt = `${img.alt} (not loaded: ${e instanceof Error ? e.message : String(e)})`;
    });
}

/** @param {number} id */
const galleryUrl = (id) => `/api/images/gallery/${id}.png`;

/** @param {unknown} e */
const messageOf = (e) => (e instanceof Error ? e.message : String(e));

/** @param {string} message */
function showGlobalError(message) {
  const b = box('global-error');
  b.textContent = message;
  b.hidden = false;
}

// ------------------------------------------------------------------ state

const state = {
  model: /** @type {ModelInfo | null} */ (null),
  gallery: { offset: 0, total: 0, label: /** @type {number | null} */ (null) },
  query: /** @type {QueryRef | null} */ (null),
  queryLabel: /** @type {number | undefined} */ (undefined),
  /** Candidates picked from the gallery (ids, in order). */
  candidates: /** @type {number[]} */ ([]),
  picking: false,
  swipeJob: /** @type {string | null} */ (null),
  runsLoaded: false,
};

// ------------------------------------------------------------------ top-k lists

/**
 * One neighbour: thumbnail, rank, label, distance; `same` marks the query's
 * label, `change` a rank change (↑ up, ↓ down, new).
 * @param {Hit} hit
 * @param {{ same?: boolean, self?: boolean, change?: { kind: 'up' | 'down' | 'new' | 'out', text: string } }} [o]
 */
function hitItem(hit, o = {}) {
  const li = make('li', `hit${o.same ? ' same' : ''}${o.self ? ' self' : ''}`);
  li.dataset.testid = 'topk-item';
  li.dataset.id = String(hit.id);
  li.dataset.rank = String(hit.rank);
  const img = make('img');
  img.alt = `gallery #${hit.id}, label ${hit.label}`;
  img.title = `gallery #${hit.id} · label ${hit.label} · distance ${hit.distance.toFixed(4)}`;
  showImage(img, galleryUrl(hit.id));
  li.append(img, make('span', 'rank', String(hit.rank)));
  if (o.change) li.append(make('span', `change ${o.change.kind}`, o.change.text));
  // The gallery image searched for is its own nearest neighbour (distance 0): say so.
  li.append(make('span', 'label-badge', String(hit.label)), make('span', 'meta', o.self ? 'the query' : hit.distance.toFixed(3)));
  return li;
}

/**
 * Renders a top-k list; with `other` (the list on the other side of the attack)
 * each entry is marked with how it moved.
 * @param {HTMLElement} list
 * @param {Hit[]} hits
 * @param {number | undefined} queryLabel
 * @param {{ other: Hit[], side: 'before' | 'after' }} [compare]
 */
function renderHits(list, hits, queryLabel, compare) {
  list.replaceChildren(
    ...hits.map((h) => {
      /** @type {{ kind: 'up' | 'down' | 'new' | 'out', text: string } | undefined} */
      let change;
      if (compare) {
        const there = compare.other.find((o) => o.id === h.id);
        if (compare.side === 'after') {
          if (!there) change = { kind: 'new', text: 'new' };
          else if (there.rank > h.rank) change = { kind: 'up', text: `↑${there.rank - h.rank}` };
          else if (there.rank < h.rank) change = { kind: 'down', text: `↓${h.rank - there.rank}` };
        } else if (!there) change = { kind: 'out', text: 'out' };
      }
      const self = state.query !== null && 'id' in state.query && state.query.id === h.id;
      return hitItem(h, { same: queryLabel !== undefined && h.label === queryLabel, self, change });
    }),
  );
}

// ------------------------------------------------------------------ header and tabs

/** @param {ModelInfo} m */
function renderHeader(m) {
  box('model-name').textContent = m.checkpoint;
  const [c, h, w] = m.imageShape;
  box('model-dataset').textContent = `${m.dataset} · metric ${m.metric} · ${c}×${h}×${w}`;
  const r1 = m.benign?.['R@1'];
  box('benign-r1').textContent = r1 === undefined ? 'benign R@1 –' : `benign R@1 ${percent(r1)}`;
  // Small images are shown enlarged with hard pixel edges.
  document.body.classList.toggle('pixelated', h <= 64);
}

/** @param {string} name */
function showTab(name) {
  for (const tab of document.querySelectorAll('.tab')) {
    if (tab instanceof HTMLElement) tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  }
  for (const view of document.querySelectorAll('.view')) {
    if (view instanceof HTMLElement) view.hidden = view.dataset.view !== name;
  }
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  if (name === 'runs' && !state.runsLoaded) loadRuns();
}

// ------------------------------------------------------------------ gallery

function renderFilters() {
  const m = state.model;
  if (!m) return;
  const bar = box('label-filter');
  /** @param {number | null} label */
  const chip = (label) => {
    const b = make('button', 'filter', label === null ? 'all' : String(label));
    b.type = 'button';
    b.dataset.label = label === null ? 'all' : String(label);
    b.setAttribute('aria-pressed', String(state.gallery.label === label));
    b.addEventListener('click', () => {
      state.gallery.label = label;
      state.gallery.offset = 0;
      renderFilters();
      loadGallery();
    });
    return b;
  };
  bar.replaceChildren(chip(null), ...m.classes.map(chip));
}

async function loadGallery() {
  const g = state.gallery;
  const params = new URLSearchParams({ offset: String(g.offset), limit: String(PAGE_SIZE) });
  if (g.label !== null) params.set('label', String(g.label));
  const grid = box('gallery');
  grid.setAttribute('aria-busy', 'true');
  try {
    const page = /** @type {GalleryPage} */ (await getJson(`/api/gallery?${params}`));
    g.total = page.total;
    grid.replaceChildren(
      ...page.items.map((item) => {
        const b = make('button', 'cell');
        b.type = 'button';
        b.dataset.testid = 'gallery-item';
        b.dataset.id = String(item.id);
        b.title = `#${item.id} · label ${item.label}`;
        b.classList.toggle('picked', state.candidates.includes(item.id));
        const img = make('img');
        img.alt = `gallery #${item.id}, label ${item.label}`;
        img.loading = 'lazy';
        showImage(img, galleryUrl(item.id));
        b.append(img, make('span', 'cell-label', String(item.label)));
        b.addEventListener('click', () => (state.picking ? toggleCandidate(item.id) : selectQuery({ id: item.id }, item.label, galleryUrl(item.id))));
        return b;
      }),
    );
    const pages = Math.max(1, Math.ceil(page.total / PAGE_SIZE));
    const current = Math.floor(g.offset / PAGE_SIZE) + 1;
    box('gallery-page').textContent = `page ${current} of ${pages}`;
    box('gallery-count').textContent = `${page.total.toLocaleString('en-US')} images`;
    byId('gallery-prev', HTMLButtonElement).disabled = g.offset === 0;
    byId('gallery-next', HTMLButtonElement).disabled = g.offset + PAGE_SIZE >= page.total;
  } catch (e) {
    grid.replaceChildren(make('p', 'error-text', `Gallery: ${messageOf(e)}`));
  } finally {
    grid.removeAttribute('aria-busy');
  }
}

/** @param {File} file */
function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsDataURL(file);
  });
}

/** @param {File | undefined} file */
async function upload(file) {
  if (!file) return;
  if (!/^image\/(png|jpeg)$/.test(file.type)) {
    showQueryError(`${file.name}: only PNG and JPEG images can be queries`);
    return;
  }
  const data = /** @type {string} */ (await readAsDataUrl(file));
  selectQuery({ image: data }, undefined, data, file.name);
}

// ------------------------------------------------------------------ query and search

/** @param {string} message */
function showQueryError(message) {
  const empty = box('query-empty');
  empty.hidden = false;
  empty.textContent = message;
  empty.classList.add('error-text');
}

/**
 * Makes `query` the current query and lists its neighbours.
 * @param {QueryRef} query
 * @param {number | undefined} label
 * @param {string} preview an /api image URL or a data: URL of the upload
 * @param {string} [name]
 */
async function selectQuery(query, label, preview, name) {
  state.query = query;
  state.queryLabel = label;
  const img = byId('query-image', HTMLImageElement);
  if (preview.startsWith('data:')) img.src = preview;
  else showImage(img, preview);
  box('query-caption').textContent = 'id' in query ? `gallery #${query.id} · label ${label}` : `upload ${name ?? ''}`;
  box('query-empty').hidden = true;
  box('query').hidden = false;
  box('k').textContent = String(TOP_K);
  const list = box('topk');
  list.replaceChildren(make('li', 'loading', 'searching…'));
  for (const cell of document.querySelectorAll('.cell.current')) cell.classList.remove('current');
  if ('id' in query) document.querySelector(`.cell[data-id="${query.id}"]`)?.classList.add('current');
  updateRunButton();
  try {
    const r = /** @type {SearchResult} */ (await postJson('/api/search', { query, k: TOP_K }));
    if (state.query !== query) return; // a newer query was picked meanwhile
    if (r.query.label !== undefined) {
      state.queryLabel = r.query.label;
      box('query-caption').textContent = 'id' in query ? `gallery #${query.id} · label ${r.query.label}` : `upload ${name ?? ''}`;
    }
    renderHits(list, r.results, state.queryLabel);
    box('search-time').textContent = r.seconds < 0.0005 ? 'searched in < 1 ms' : `searched in ${(r.seconds * 1000).toFixed(0)} ms`;
  } catch (e) {
    list.replaceChildren(make('li', 'error-text', `Search failed: ${messageOf(e)}`));
  }
}

// ------------------------------------------------------------------ attack form

/** @returns {AttackInfo | undefined} */
function currentAttack() {
  const kind = byId('attack-select', HTMLSelectElement).value;
  return state.model?.attacks.find((a) => a.kind === kind);
}

function onAttackChange() {
  const a = currentAttack();
  if (!a) return;
  const robust = a.robust === 'higher' || a.robust === 'lower' ? `, ${a.robust} is more robust` : '';
  box('attack-summary').replaceChildren(
    make('span', '', `${a.summary.charAt(0).toUpperCase()}${a.summary.slice(1)}.`),
    make('span', 'muted', ` Reports ${a.measure}${a.unit ? ` (${a.unit}${robust})` : ''}.`),
  );
  byId('epsilon', HTMLInputElement).value = String(to255(a.defaults.epsilon));
  byId('alpha', HTMLInputElement).value = String(to255(a.defaults.alpha));
  byId('steps', HTMLInputElement).value = String(a.defaults.steps);
  const chooses = choosesOf(a);
  box('candidates-field').hidden = chooses === null;
  box('candidates-title').textContent = chooses === 'queries' ? 'Queries (W) whose rankings the candidate climbs' : 'Candidates (M)';
  if (chooses === null) setPicking(false);
}

/** @param {boolean} on */
function setPicking(on) {
  state.picking = on;
  byId(on ? 'candidates-pick' : 'candidates-auto', HTMLInputElement).checked = true;
  box('pick-hint').hidden = !on;
  box('gallery').classList.toggle('picking', on);
  renderCandidateChips();
}

/** @param {number} id */
function toggleCandidate(id) {
  const i = state.candidates.indexOf(id);
  if (i >= 0) state.candidates.splice(i, 1);
  else state.candidates.push(id);
  document.querySelector(`.cell[data-id="${id}"]`)?.classList.toggle('picked', i < 0);
  renderCandidateChips();
}

function renderCandidateChips() {
  const chips = box('candidate-chips');
  if (!state.picking) {
    chips.replaceChildren(make('span', 'muted', 'chosen by the server as the swipe does (seeded)'));
    return;
  }
  if (state.candidates.length === 0) {
    chips.replaceChildren(make('span', 'muted', 'none yet: click gallery images'));
    return;
  }
  chips.replaceChildren(
    ...state.candidates.map((id) => {
      const b = make('button', 'chip-x', `#${id} ×`);
      b.type = 'button';
      b.title = 'remove';
      b.addEventListener('click', () => toggleCandidate(id));
      return b;
    }),
  );
}

function updateRunButton() {
  const button = byId('run-attack', HTMLButtonElement);
  button.disabled = state.query === null || button.classList.contains('busy');
}

/** @param {string | null} message */
function attackError(message) {
  const e = box('attack-error');
  e.hidden = message === null;
  e.textContent = message ?? '';
}

/** @param {SubmitEvent} ev */
async function runAttack(ev) {
  ev.preventDefault();
  const a = currentAttack();
  if (!a || !state.query) return;
  const eps = Number(byId('epsilon', HTMLInputElement).value);
  const alpha = Number(byId('alpha', HTMLInputElement).value);
  const steps = Number(byId('steps', HTMLInputElement).value);
  if (!(eps > 0 && eps <= 255)) return attackError('ε must be in (0, 255] (units of 1/255)');
  if (!(alpha > 0)) return attackError('α must be > 0');
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= 200)) return attackError('steps must be an integer from 1 to 200');
  const picked = choosesOf(a) !== null && state.picking;
  if (picked && state.candidates.length === 0) return attackError('pick at least one image in the gallery, or choose automatic');
  attackError(null);
  const button = byId('run-attack', HTMLButtonElement);
  button.classList.add('busy');
  button.disabled = true;
  box('attack-spinner').hidden = false;
  const label = button.querySelector('.label');
  if (label) label.textContent = 'Running…';
  try {
    /** @type {Record<string, unknown>} */
    const body = { query: state.query, attack: a.kind, epsilon: eps / 255, alpha: alpha / 255, steps, k: TOP_K };
    if (picked) body.candidates = [...state.candidates];
    const r = /** @type {AttackResult} */ (await postJson('/api/attack', body));
    renderAttack(r);
  } catch (e) {
    attackError(messageOf(e));
  } finally {
    button.classList.remove('busy');
    box('attack-spinner').hidden = true;
    if (label) label.textContent = 'Run attack';
    updateRunButton();
  }
}

/** @param {AttackResult} r */
function renderAttack(r) {
  box('result').hidden = false;
  box('result-attack').textContent = `${r.attack} · ε ${to255(r.budget.epsilon)}/255 · α ${to255(r.budget.alpha)}/255 · ${r.budget.steps} steps`;
  box('result-time').textContent = `${r.seconds.toFixed(2)} s`;
  showImage(byId('result-query', HTMLImageElement), r.images.query);
  showImage(byId('result-perturbation', HTMLImageElement), r.images.perturbation);
  showImage(byId('result-adversarial', HTMLImageElement), r.images.adversarial);
  box('perturbation-scale').textContent = `×${r.perturbationScale.toFixed(1)}`;
  const m = r.measure;
  const measure = box('measure');
  measure.replaceChildren(
    make('div', 'measure-name', m.name),
    make('div', 'measure-values', `${num(m.before)} → ${num(m.after)}`),
    make('div', 'muted', `${m.unit === '' ? '' : `unit: ${m.unit} · `}‖δ‖∞ = ${to255(r.linf)}/255`),
  );
  renderHits(box('topk-before'), r.topkBefore, state.queryLabel, { other: r.topkAfter, side: 'before' });
  renderHits(box('topk-after'), r.topkAfter, state.queryLabel, { other: r.topkBefore, side: 'after' });
  const block = box('candidates-block');
  block.hidden = r.candidates.length === 0;
  const info = state.model?.attacks.find((x) => x.kind === r.attack);
  box('candidates-heading').textContent = info && choosesOf(info) === 'queries'
    ? 'Queries: where the perturbed candidate ranks in each'
    : 'Candidates: their rank in the query’s ranking';
  box('candidates').replaceChildren(
    ...r.candidates.map((c) => {
      const tr = make('tr');
      tr.dataset.testid = 'candidate-row';
      tr.dataset.rankBefore = String(c.rankBefore);
      tr.dataset.rankAfter = String(c.rankAfter);
      const img = make('img', 'mini');
      img.alt = `candidate #${c.id}`;
      showImage(img, galleryUrl(c.id));
      const thumb = make('td');
      thumb.append(img);
      const moved = c.rankBefore - c.rankAfter;
      const change = make('td', moved > 0 ? 'up' : moved < 0 ? 'down' : '', moved > 0 ? `↑ ${moved}` : moved < 0 ? `↓ ${-moved}` : '=');
      tr.append(thumb, make('td', '', `#${c.id}`), make('td', '', String(c.label)), make('td', 'num', String(c.rankBefore)), make('td', 'arrow', '→'), make('td', 'num', String(c.rankAfter)), change);
      return tr;
    }),
  );
  box('result').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

// ------------------------------------------------------------------ swipe

/** @param {string | null} message */
function swipeError(message) {
  const e = box('swipe-error');
  e.hidden = message === null;
  e.textContent = message ?? '';
}

/** @param {boolean} running */
function swipeRunning(running) {
  byId('swipe-start', HTMLButtonElement).disabled = running;
  box('swipe-cancel').hidden = !running;
}

/** @param {Progress} p */
function renderProgress(p) {
  const fraction = p.total > 0 ? p.done / p.total : 0;
  box('swipe-progress').style.width = `${(100 * fraction).toFixed(1)}%`;
  box('swipe-status').textContent = `${p.done} / ${p.total} attack runs${p.attack ? ` · now ${p.attack}` : ''}`;
  box('swipe-eta').textContent = p.etaSeconds === undefined ? '' : `about ${duration(p.etaSeconds)} left`;
}

/** @param {unknown} e */
async function startSwipe(e) {
  if (e instanceof Event) e.preventDefault();
  const profile = byId('swipe-profile', HTMLSelectElement).value;
  const maxQueries = Number(byId('swipe-max', HTMLInputElement).value);
  if (!(Number.isInteger(maxQueries) && maxQueries >= 1)) return swipeError('max queries must be a whole number ≥ 1');
  swipeError(null);
  box('swipe-result').hidden = true;
  swipeRunning(true);
  box('swipe-progress-block').hidden = false;
  renderProgress({ done: 0, total: 0 });
  box('swipe-status').textContent = 'queued…';
  try {
    const { jobId } = /** @type {{ jobId: string }} */ (await postJson('/api/swipe', { profile, maxQueries }));
    state.swipeJob = jobId;
    await followJob(jobId);
  } catch (err) {
    swipeError(messageOf(err));
  } finally {
    state.swipeJob = null;
    swipeRunning(false);
  }
}

/**
 * Follows a job's event stream (fetch, so the token header goes along) until
 * it ends; if the stream breaks first, polls the job instead.
 * @param {string} jobId
 */
async function followJob(jobId) {
  const res = await request(`/api/jobs/${encodeURIComponent(jobId)}/events`, { headers: { Accept: 'text/event-stream' } });
  const reader = res.body?.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  while (reader) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n/g, '\n');
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (data === '') continue;
      const payload = JSON.parse(data);
      if (event === 'progress') renderProgress(payload);
      else if (event === 'done') return swipeDone(jobId, payload.result);
      else if (event === 'failed' || event === 'cancelled') {
        await reader.cancel();
        throw new Error(event === 'cancelled' ? 'swipe cancelled' : `swipe failed: ${payload.error ?? 'unknown error'}`);
      }
    }
  }
  // The stream ended without a verdict: ask for the job's state until it has one.
  for (;;) {
    const job = /** @type {{ state: string, progress: Progress, error?: string, result?: SwipeResult }} */ (await getJson(`/api/jobs/${encodeURIComponent(jobId)}`));
    renderProgress(job.progress);
    if (job.state === 'done' && job.result) return swipeDone(jobId, job.result);
    if (job.state === 'failed' || job.state === 'cancelled') throw new Error(job.error ?? `swipe ${job.state}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** @param {string} jobId @param {SwipeResult} r */
function swipeDone(jobId, r) {
  box('swipe-progress').style.width = '100%';
  box('swipe-status').textContent = 'done';
  box('swipe-eta').textContent = '';
  box('swipe-result').hidden = false;
  box('swipe-ers').textContent = r.ERS === null ? 'n/a' : r.ERS.toFixed(1);
  box('swipe-ars').textContent = r.ARS === null ? 'n/a' : r.ARS.toFixed(1);
  box('swipe-queries').textContent = r.queries.toLocaleString('en-US');
  box('swipe-seconds').textContent = `${r.batches} batch(es), ${duration(r.seconds)} · benign R@1 ${r.benignRecallAt1.toFixed(1)} %`;
  const body = byId('swipe-table', HTMLTableElement).tBodies[0];
  body?.replaceChildren(
    ...Object.entries(r.attacks).map(([name, v]) => {
      const tr = make('tr');
      tr.append(make('th', '', name), make('td', 'num', num(v)));
      return tr;
    }),
  );
  const base = `/api/jobs/${encodeURIComponent(jobId)}`;
  const chart = byId('swipe-chart', HTMLImageElement);
  chart.hidden = r.ERS === null;
  if (r.ERS !== null) showImage(chart, `${base}/report.svg`);
  const downloads = box('swipe-downloads');
  downloads.replaceChildren(
    ...['report.json', 'report.md', ...(r.ERS === null ? [] : ['report.svg'])].map((file) => {
      const a = make('a', 'download', file);
      a.href = `${base}/${file}`;
      a.download = `swipe-${r.profile}-${file}`;
      return a;
    }),
  );
}

async function cancelSwipe() {
  if (!state.swipeJob) return;
  try {
    await request(`/api/jobs/${encodeURIComponent(state.swipeJob)}`, { method: 'DELETE' });
  } catch (e) {
    swipeError(`cancel: ${messageOf(e)}`);
  }
}

// ------------------------------------------------------------------ runs

async function loadRuns() {
  state.runsLoaded = true;
  const list = box('runs-list');
  list.replaceChildren(make('p', 'muted', 'loading runs…'));
  try {
    const { runs } = /** @type {{ runs: RunInfo[] }} */ (await getJson('/api/runs'));
    if (runs.length === 0) {
      list.replaceChildren(make('p', 'empty', 'No runs next to the served checkpoint (start the server with --runs DIR to list others).'));
      return;
    }
    list.replaceChildren(
      ...runs.map((run) => {
        const card = make('article', 'panel run');
        card.dataset.testid = 'run-card';
        const head = make('div', 'panel-head');
        head.append(make('h2', '', run.name), make('span', 'chip', `R@1 ${run.benign?.['R@1'] === undefined ? '–' : percent(run.benign['R@1'])}`));
        const meta = make('p', 'muted', `${run.dataset} · ${run.model} · defense ${run.defense} · ${run.epochs} epoch(s)`);
        const plots = make('div', 'plots');
        for (const [has, file, what] of /** @type {[boolean, string, string][]} */ ([[run.hasTraining, 'training.svg', 'training'], [run.hasSwipe, 'swipe.svg', 'swipe']])) {
          if (!has) continue;
          const img = make('img', 'plot');
          img.alt = `${run.name}: ${what}`;
          img.loading = 'lazy';
          showImage(img, `/api/runs/${encodeURIComponent(run.name)}/${file}`);
          plots.append(img);
        }
        if (!plots.children.length) plots.append(make('p', 'muted', 'no plots yet'));
        card.append(head, meta, plots, ...(run.trail ?? []).map((t) => trailSection(run.name, t)));
        return card;
      }),
    );
  } catch (e) {
    list.replaceChildren(make('p', 'error-text', `Runs: ${messageOf(e)}`));
  }
}

/**
 * A run's robustness over training (`swipe RUN --epochs`): the table (one row per kept epoch) and its chart.
 * @param {string} runName @param {RunTrail} t
 */
function trailSection(runName, t) {
  const section = make('section', 'trail');
  section.dataset.testid = 'run-trail';
  section.append(make('h3', '', `Robustness over training — ${t.profile}`), make('p', 'muted', t.scope));
  const table = make('table', 'table compact');
  const head = make('tr');
  for (const h of ['epoch', 'R@1 %', 'mAP %', 'ERS', 'ARS', ...t.columns]) head.append(make('th', '', h));
  const thead = make('thead');
  thead.append(head);
  const tbody = make('tbody');
  const num = (/** @type {number | null | undefined} */ v) => (v === null || v === undefined ? '–' : v.toFixed(1));
  for (const r of t.rows) {
    const tr = make('tr');
    for (const v of [String(r.epoch), num(r['R@1']), num(r.mAP), num(r.ERS), num(r.ARS), ...t.columns.map((c) => num(r.attacks[c]))]) tr.append(make('td', 'num', v));
    tbody.append(tr);
  }
  table.append(thead, tbody);
  const img = make('img', 'plot');
  img.alt = `${runName}: robustness over training (${t.profile})`;
  img.loading = 'lazy';
  showImage(img, `/api/runs/${encodeURIComponent(runName)}/${encodeURIComponent(t.plot)}`);
  section.append(table, img);
  return section;
}

// ------------------------------------------------------------------ start

async function main() {
  for (const tab of document.querySelectorAll('.tab')) {
    if (tab instanceof HTMLElement) tab.addEventListener('click', () => showTab(tab.dataset.tab ?? 'explore'));
  }
  byId('gallery-prev', HTMLButtonElement).addEventListener('click', () => {
    state.gallery.offset = Math.max(0, state.gallery.offset - PAGE_SIZE);
    loadGallery();
  });
  byId('gallery-next', HTMLButtonElement).addEventListener('click', () => {
    state.gallery.offset += PAGE_SIZE;
    loadGallery();
  });
  const input = byId('upload-input', HTMLInputElement);
  input.addEventListener('change', () => upload(input.files?.[0]));
  const drop = box('dropzone');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    upload(e.dataTransfer?.files[0]);
  });
  byId('attack-select', HTMLSelectElement).addEventListener('change', onAttackChange);
  byId('candidates-auto', HTMLInputElement).addEventListener('change', () => setPicking(false));
  byId('candidates-pick', HTMLInputElement).addEventListener('change', () => setPicking(true));
  byId('pick-done', HTMLButtonElement).addEventListener('click', () => {
    state.picking = false;
    box('pick-hint').hidden = true;
    box('gallery').classList.remove('picking');
  });
  byId('attack-form', HTMLFormElement).addEventListener('submit', runAttack);
  byId('swipe-form', HTMLFormElement).addEventListener('submit', startSwipe);
  byId('swipe-cancel', HTMLButtonElement).addEventListener('click', cancelSwipe);

  try {
    const m = /** @type {ModelInfo} */ (await getJson('/api/model'));
    state.model = m;
    renderHeader(m);
    const select = byId('attack-select', HTMLSelectElement);
    select.replaceChildren(
      ...m.attacks.map((a) => {
        const o = make('option', '', `${a.kind} — perturbs the ${a.target === 'candidate' ? 'candidate' : 'query'}`);
        o.value = a.kind;
        return o;
      }),
    );
    select.value = m.attacks.some((a) => a.kind === 'QA+') ? 'QA+' : (m.attacks[0]?.kind ?? '');
    onAttackChange();
    renderCandidateChips();
    const profiles = byId('swipe-profile', HTMLSelectElement);
    profiles.replaceChildren(
      ...m.profiles.map((p) => {
        const o = make('option', '', `${p.name} — ${p.summary}`);
        o.value = p.name;
        return o;
      }),
    );
    // The profile made for this image size is the default (rob28 for small images, rob224 above).
    const preferred = m.defaultProfile ?? ((m.imageShape[1] ?? 0) <= 32 ? 'rob28' : 'rob224');
    if (m.profiles.some((p) => p.name === preferred)) profiles.value = preferred;
    renderFilters();
    await loadGallery();
  } catch (e) {
    showGlobalError(`Could not reach the service: ${messageOf(e)}`);
  }
  const initial = location.hash.slice(1);
  showTab(['explore', 'swipe', 'runs'].includes(initial) ? initial : 'explore');
}

main();
