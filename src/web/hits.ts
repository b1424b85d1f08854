// Top-k lists: the neighbours of a query, and before/after an attack with each
// entry marked by how it moved.
import type { Hit } from '@serve/answers.js';
import { galleryUrl, showImage } from './api-client.js';
import { make } from './dom.js';
import { classCaption, classNameOf, state } from './state.js';

/** How an entry moved between the rankings before and after an attack. */
interface RankChange {
  kind: 'up' | 'down' | 'new' | 'out';
  text: string;
}

/**
 * One neighbour: thumbnail, rank, label, distance; `same` marks the query's
 * label, `change` a rank change (↑ up, ↓ down, new).
 */
function hitItem(hit: Hit, o: { same?: boolean; self?: boolean; change?: RankChange | undefined } = {}): HTMLLIElement {
  const li = make('li', `hit${o.same ? ' same' : ''}${o.self ? ' self' : ''}`);
  li.dataset.testid = 'topk-item';
  li.dataset.id = String(hit.id);
  li.dataset.rank = String(hit.rank);
  const img = make('img');
  img.alt = `gallery #${hit.id}, ${classCaption(hit.label)}`;
  img.title = `gallery #${hit.id} · ${classCaption(hit.label)} · distance ${hit.distance.toFixed(4)}`;
  showImage(img, galleryUrl(hit.id));
  li.append(img, make('span', 'rank', String(hit.rank)));
  if (o.change) li.append(make('span', `change ${o.change.kind}`, o.change.text));
  // The gallery image searched for is its own nearest neighbour (distance 0): say so.
  li.append(make('span', 'label-badge', classNameOf(hit.label)), make('span', 'meta', o.self ? 'the query' : hit.distance.toFixed(3)));
  return li;
}

/**
 * Renders a top-k list; with `compare` (the list on the other side of the
 * attack) each entry is marked with how it moved.
 */
export function renderHits(list: HTMLElement, hits: Hit[], queryLabel: number | undefined, compare?: { other: Hit[]; side: 'before' | 'after' }): void {
  list.replaceChildren(
    ...hits.map((h) => {
      let change: RankChange | undefined;
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
