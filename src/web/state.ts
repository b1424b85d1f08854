// What the explorer page holds between events: the served model, the gallery
// page and filter, the current query, the candidates picked for an attack and
// the running swipe job.
import type { ModelInfo } from '@serve/answers.js';

/** A query: a gallery image by id, or an uploaded image as a data: URL. */
export type QueryRef = { id: number } | { image: string };

export const PAGE_SIZE = 60;
export const TOP_K = 10;

export const state = {
  model: null as ModelInfo | null,
  gallery: { offset: 0, total: 0, label: null as number | null },
  query: null as QueryRef | null,
  queryLabel: undefined as number | undefined,
  /** Candidates picked from the gallery (ids, in order). */
  candidates: [] as number[],
  picking: false,
  swipeJob: null as string | null,
  runsLoaded: false,
};

/** The served dataset's name of a label ("Trouser" for Fashion-MNIST's 1); the label itself before the model is known. */
export function classNameOf(label: number): string {
  const m = state.model;
  const at = m === null ? -1 : m.classes.indexOf(label);
  return m === null || at < 0 ? String(label) : (m.classNames[at] ?? String(label));
}

/** A label as captions show it: the class name, and the label value where the two differ ("Trouser (1)"). */
export function classCaption(label: number): string {
  const name = classNameOf(label);
  return name === String(label) ? name : `${name} (${label})`;
}
