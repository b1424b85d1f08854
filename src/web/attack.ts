// The attack form and its result: one attack of the catalogue on the current
// query with a PGD budget, on candidates picked in the gallery or chosen by
// the server; the result's three images, its measure, the top-k lists before
// and after, and where each chosen candidate (or query) ranks.
import type { AttackAnswer, AttackDescription } from '@serve/answers.js';
import { galleryUrl, postJson, showImage } from './api-client.js';
import { box, byId, make, messageOf, num, to255 } from './dom.js';
import { renderHits } from './hits.js';
import { classCaption, state, TOP_K } from './state.js';

function currentAttack(): AttackDescription | undefined {
  const kind = byId('attack-select', HTMLSelectElement).value;
  return state.model?.attacks.find((a) => a.kind === kind);
}

export function onAttackChange(): void {
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
  box('candidates-field').hidden = a.chooses === null;
  box('candidates-title').textContent = a.chooses === 'queries' ? 'Queries (W) whose rankings the candidate climbs' : 'Candidates (M)';
  if (a.chooses === null) setPicking(false);
}

export function setPicking(on: boolean): void {
  state.picking = on;
  byId(on ? 'candidates-pick' : 'candidates-auto', HTMLInputElement).checked = true;
  box('pick-hint').hidden = !on;
  box('gallery').classList.toggle('picking', on);
  renderCandidateChips();
}

/** Picking mode ends; the candidates picked so far stay. */
export function donePicking(): void {
  state.picking = false;
  box('pick-hint').hidden = true;
  box('gallery').classList.remove('picking');
}

export function toggleCandidate(id: number): void {
  const i = state.candidates.indexOf(id);
  if (i >= 0) state.candidates.splice(i, 1);
  else state.candidates.push(id);
  document.querySelector(`.cell[data-id="${id}"]`)?.classList.toggle('picked', i < 0);
  renderCandidateChips();
}

export function renderCandidateChips(): void {
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

export function updateRunButton(): void {
  const button = byId('run-attack', HTMLButtonElement);
  button.disabled = state.query === null || button.classList.contains('busy');
}

function attackError(message: string | null): void {
  const e = box('attack-error');
  e.hidden = message === null;
  e.textContent = message ?? '';
}

export async function runAttack(ev: SubmitEvent): Promise<void> {
  ev.preventDefault();
  const a = currentAttack();
  if (!a || !state.query) return;
  const eps = Number(byId('epsilon', HTMLInputElement).value);
  const alpha = Number(byId('alpha', HTMLInputElement).value);
  const steps = Number(byId('steps', HTMLInputElement).value);
  if (!(eps > 0 && eps <= 255)) return attackError('ε must be in (0, 255] (units of 1/255)');
  if (!(alpha > 0)) return attackError('α must be > 0');
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= 200)) return attackError('steps must be an integer from 1 to 200');
  const picked = a.chooses !== null && state.picking;
  if (picked && state.candidates.length === 0) return attackError('pick at least one image in the gallery, or choose automatic');
  attackError(null);
  const button = byId('run-attack', HTMLButtonElement);
  button.classList.add('busy');
  button.disabled = true;
  box('attack-spinner').hidden = false;
  const label = button.querySelector('.label');
  if (label) label.textContent = 'Running…';
  try {
    const body = {
      query: state.query,
      attack: a.kind,
      epsilon: eps / 255,
      alpha: alpha / 255,
      steps,
      k: TOP_K,
      ...(picked ? { candidates: [...state.candidates] } : {}),
    };
    renderAttack(await postJson<AttackAnswer>('/api/attack', body));
  } catch (e) {
    attackError(messageOf(e));
  } finally {
    button.classList.remove('busy');
    box('attack-spinner').hidden = true;
    if (label) label.textContent = 'Run attack';
    updateRunButton();
  }
}

function renderAttack(r: AttackAnswer): void {
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
  box('candidates-heading').textContent =
    r.chooses === 'queries' ? 'Queries: where the perturbed candidate ranks in each' : 'Candidates: their rank in the query’s ranking';
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
      tr.append(
        thumb,
        make('td', '', `#${c.id}`),
        make('td', '', classCaption(c.label)),
        make('td', 'num', String(c.rankBefore)),
        make('td', 'arrow', '→'),
        make('td', 'num', String(c.rankAfter)),
        change,
      );
      return tr;
    }),
  );
  box('result').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}
