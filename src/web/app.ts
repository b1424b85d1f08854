// The explorer page of `rankshield serve`, a browser ES module compiled from
// src/web/*.ts (its own tsconfig, DOM types). It talks only to the service's
// /api (docs/service.md), whose answer types it imports from src/serve: the
// gallery, nearest-neighbour search, one attack at a time, swipes as jobs with
// a live progress stream, and the runs next to the served checkpoint. This
// module draws the header and tabs and wires the sections together.
import type { ModelInfo } from '@serve/answers.js';
import { getJson } from './api-client.js';
import { donePicking, onAttackChange, renderCandidateChips, runAttack, setPicking } from './attack.js';
import { box, byId, make, messageOf, percent, showGlobalError } from './dom.js';
import { loadGallery, renderFilters, upload } from './gallery.js';
import { loadRuns } from './runs.js';
import { PAGE_SIZE, state } from './state.js';
import { cancelSwipe, startSwipe } from './swipe.js';

function renderHeader(m: ModelInfo): void {
  box('model-name').textContent = m.checkpoint;
  const [c, h, w] = m.imageShape;
  box('model-dataset').textContent = `${m.dataset} · metric ${m.metric} · ${c}×${h}×${w}`;
  const r1 = m.benign?.['R@1'];
  box('benign-r1').textContent = r1 === undefined ? 'benign R@1 –' : `benign R@1 ${percent(r1)}`;
  // Small images are shown enlarged with hard pixel edges.
  document.body.classList.toggle('pixelated', h <= 64);
}

function showTab(name: string): void {
  for (const tab of document.querySelectorAll('.tab')) {
    if (tab instanceof HTMLElement) tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  }
  for (const view of document.querySelectorAll('.view')) {
    if (view instanceof HTMLElement) view.hidden = view.dataset.view !== name;
  }
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  if (name === 'runs' && !state.runsLoaded) loadRuns();
}

async function main(): Promise<void> {
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
  byId('pick-done', HTMLButtonElement).addEventListener('click', donePicking);
  byId('attack-form', HTMLFormElement).addEventListener('submit', runAttack);
  byId('swipe-form', HTMLFormElement).addEventListener('submit', startSwipe);
  byId('swipe-cancel', HTMLButtonElement).addEventListener('click', cancelSwipe);

  try {
    const m = await getJson<ModelInfo>('/api/model');
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
    if (m.profiles.some((p) => p.name === m.defaultProfile)) profiles.value = m.defaultProfile;
    renderFilters();
    await loadGallery();
  } catch (e) {
    showGlobalError(`Could not reach the service: ${messageOf(e)}`);
  }
  const initial = location.hash.slice(1);
  showTab(['explore', 'swipe', 'runs'].includes(initial) ? initial : 'explore');
}

main();
