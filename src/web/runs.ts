// The Runs tab: the runs next to the served checkpoint (GET /api/runs), each
// with its training and swipe plots and its robustness over training.
import type { RunsAnswer, RunTrail } from '@serve/answers.js';
import { getJson, showImage } from './api-client.js';
import { box, make, messageOf, percent } from './dom.js';
import { state } from './state.js';

export async function loadRuns(): Promise<void> {
  state.runsLoaded = true;
  const list = box('runs-list');
  list.replaceChildren(make('p', 'muted', 'loading runs…'));
  try {
    const { runs } = await getJson<RunsAnswer>('/api/runs');
    if (runs.length === 0) {
      list.replaceChildren(make('p', 'empty', 'No runs next to the served checkpoint (start the server with --runs DIR to list others).'));
      return;
    }
    list.replaceChildren(
      ...runs.map((run) => {
        const card = make('article', 'panel run');
        card.dataset.testid = 'run-card';
        const head = make('div', 'panel-head');
        const r1 = run.benign?.['R@1'];
        head.append(make('h2', '', run.name), make('span', 'chip', `R@1 ${r1 === undefined ? '–' : percent(r1)}`));
        const meta = make('p', 'muted', `${run.dataset} · ${run.model} · defense ${run.defense} · ${run.epochs} epoch(s)`);
        const plots = make('div', 'plots');
        const shown: [boolean, string, string][] = [
          [run.hasTraining, 'training.svg', 'training'],
          [run.hasSwipe, 'swipe.svg', 'swipe'],
        ];
        for (const [has, file, what] of shown) {
          if (!has) continue;
          const img = make('img', 'plot');
          img.alt = `${run.name}: ${what}`;
          img.loading = 'lazy';
          showImage(img, `/api/runs/${encodeURIComponent(run.name)}/${file}`);
          plots.append(img);
        }
        if (!plots.children.length) plots.append(make('p', 'muted', 'no plots yet'));
        card.append(head, meta, plots, ...run.trail.map((t) => trailSection(run.name, t)));
        return card;
      }),
    );
  } catch (e) {
    list.replaceChildren(make('p', 'error-text', `Runs: ${messageOf(e)}`));
  }
}

/** A run's robustness over training (`swipe RUN --epochs`): the table (one row per kept epoch) and its chart. */
function trailSection(runName: string, t: RunTrail): HTMLElement {
  const section = make('section', 'trail');
  section.dataset.testid = 'run-trail';
  section.append(make('h3', '', `Robustness over training — ${t.profile}`), make('p', 'muted', t.scope));
  const table = make('table', 'table compact');
  const head = make('tr');
  for (const h of ['epoch', 'R@1 %', 'mAP %', 'ERS', 'ARS', ...t.columns]) head.append(make('th', '', h));
  const thead = make('thead');
  thead.append(head);
  const tbody = make('tbody');
  const fixed = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : v.toFixed(1));
  for (const r of t.rows) {
    const tr = make('tr');
    for (const v of [String(r.epoch), fixed(r['R@1']), fixed(r.mAP), fixed(r.ERS), fixed(r.ARS), ...t.columns.map((c) => fixed(r.attacks[c]))])
      tr.append(make('td', 'num', v));
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
