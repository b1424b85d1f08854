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
