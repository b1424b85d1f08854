// The gallery and the query: pages of gallery images filtered by label, a
// click that makes an image the query (or, while picking, a candidate), an
// upload by file or drop, and the query's nearest neighbours.
import type { GalleryPage, SearchAnswer } from '@serve/answers.js';
import { galleryUrl, getJson, postJson, showImage } from './api-client.js';
import { toggleCandidate, updateRunButton } from './attack.js';
import { box, byId, make, messageOf } from './dom.js';
import { renderHits } from './hits.js';
import { classCaption, classNameOf, PAGE_SIZE, state, TOP_K, type QueryRef } from './state.js';

export function renderFilters(): void {
  const m = state.model;
  if (!m) return;
  const bar = box('label-filter');
  const chip = (label: number | null): HTMLButtonElement => {
    const b = make('button', 'filter', label === null ? 'all' : classNameOf(label));
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

export async function loadGallery(): Promise<void> {
  const g = state.gallery;
  const params = new URLSearchParams({ offset: String(g.offset), limit: String(PAGE_SIZE) });
  if (g.label !== null) params.set('label', String(g.label));
  const grid = box('gallery');
  grid.setAttribute('aria-busy', 'true');
  try {
    const page = await getJson<GalleryPage>(`/api/gallery?${params}`);
    g.total = page.total;
    grid.replaceChildren(
      ...page.items.map((item) => {
        const b = make('button', 'cell');
        b.type = 'button';
        b.dataset.testid = 'gallery-item';
        b.dataset.id = String(item.id);
        b.title = `#${item.id} · ${classCaption(item.label)}`;
        b.classList.toggle('picked', state.candidates.includes(item.id));
        const img = make('img');
        img.alt = `gallery #${item.id}, ${classCaption(item.label)}`;
        img.loading = 'lazy';
        showImage(img, galleryUrl(item.id));
        b.append(img, make('span', 'cell-label', classNameOf(item.label)));
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

function readAsDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsDataURL(file);
  });
}

export async function upload(file: File | undefined): Promise<void> {
  if (!file) return;
  if (!/^image\/(png|jpeg)$/.test(file.type)) {
    showQueryError(`${file.name}: only PNG and JPEG images can be queries`);
    return;
  }
  const data = await readAsDataUrl(file);
  selectQuery({ image: data }, undefined, data, file.name);
}

function showQueryError(message: string): void {
  const empty = box('query-empty');
  empty.hidden = false;
  empty.textContent = message;
  empty.classList.add('error-text');
}

/**
 * Makes `query` the current query and lists its neighbours. `preview` is an
 * /api image URL or the data: URL of an upload.
 */
async function selectQuery(query: QueryRef, label: number | undefined, preview: string, name?: string): Promise<void> {
  state.query = query;
  state.queryLabel = label;
  const img = byId('query-image', HTMLImageElement);
  if (preview.startsWith('data:')) img.src = preview;
  else showImage(img, preview);
  box('query-caption').textContent =
    'id' in query ? `gallery #${query.id} · ${label === undefined ? 'label unknown' : classCaption(label)}` : `upload ${name ?? ''}`;
  box('query-empty').hidden = true;
  box('query').hidden = false;
  box('k').textContent = String(TOP_K);
  const list = box('topk');
  list.replaceChildren(make('li', 'loading', 'searching…'));
  for (const cell of document.querySelectorAll('.cell.current')) cell.classList.remove('current');
  if ('id' in query) document.querySelector(`.cell[data-id="${query.id}"]`)?.classList.add('current');
  updateRunButton();
  try {
    const r = await postJson<SearchAnswer>('/api/search', { query, k: TOP_K });
    if (state.query !== query) return; // a newer query was picked meanwhile
    if (r.query.label !== undefined) {
      state.queryLabel = r.query.label;
      box('query-caption').textContent = 'id' in query ? `gallery #${query.id} · ${classCaption(r.query.label)}` : `upload ${name ?? ''}`;
    }
    renderHits(list, r.results, state.queryLabel);
    box('search-time').textContent = r.seconds < 0.0005 ? 'searched in < 1 ms' : `searched in ${(r.seconds * 1000).toFixed(0)} ms`;
  } catch (e) {
    list.replaceChildren(make('li', 'error-text', `Search failed: ${messageOf(e)}`));
  }
}
