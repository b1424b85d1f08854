// Layer: serve. The JSON answers of the service's /api as types (docs/service.md
// describes each). The routes are typed with them, so what the server sends is
// checked against them, and the explorer page (src/web/) imports them, so the
// page and the server cannot drift apart.
import type { AttackKind, PgdBudget } from '../attack/index.js';
import type { MetricName } from '../metric/metric.js';
import type { SwipeResult } from '../eval/swipe.js';
import type { RobustDirection } from '../attack/registry.js';
import type { AttackDescription, Chooses } from './attacks.js';
import type { MeasureValue } from './protocol.js';
import type { RunSummary } from './runs.js';

export type { AttackDescription, Chooses, RunSummary, SwipeResult };
export type { RunTrail } from './runs.js';
export type { TrailRow } from '../eval/trail.js';

/** One neighbour in a ranking: 1-based rank, gallery id, label, distance. */
export interface Hit {
  rank: number;
  id: number;
  label: number;
  distance: number;
}

/** A swipe profile as GET /api/model lists it. */
export interface ProfileInfo {
  name: string;
  summary: string;
  batchSize: number;
  /** Attack runs per query batch. */
  attacks: number;
}

/** GET /api/model. */
export interface ModelInfo {
  checkpoint: string;
  /** The served experiment config, with file paths cut to their names. */
  config: Record<string, unknown>;
  dataset: string;
  metric: MetricName;
  /** Channels, height, width. */
  imageShape: [number, number, number];
  gallerySize: number;
  /** The label values of the gallery, ascending. */
  classes: number[];
  /** The name of each of `classes`, in the same order (the label itself where the dataset names none). */
  classNames: string[];
  /** The checkpoint's stored benign metrics as report columns (fractions); null when it has none. */
  benign: Record<string, number> | null;
  attacks: AttackDescription[];
  profiles: ProfileInfo[];
  /** The ERS profile for the image size (rob28, rob224). */
  defaultProfile: string;
}

/** GET /api/gallery: one page of gallery ids and labels. */
export interface GalleryPage {
  total: number;
  offset: number;
  items: { id: number; label: number }[];
}

/** POST /api/search. */
export interface SearchAnswer {
  /** A gallery query's id and label; empty for an upload. */
  query: { id?: number; label?: number };
  results: Hit[];
  seconds: number;
}

/** One number an attack reports, with its column's unit, direction and meaning. */
export interface MeasureAnswer extends MeasureValue {
  unit: string;
  robust: RobustDirection;
  what: string;
}

/** One chosen gallery item of an attack and its rank (1-based) before and after. */
export interface CandidateRank {
  id: number;
  label: number;
  rankBefore: number;
  rankAfter: number;
}

/** POST /api/attack. */
export interface AttackAnswer {
  resultId: string;
  attack: AttackKind;
  budget: PgdBudget;
  /** The attack's main number (the first of `measures`). */
  measure: MeasureAnswer;
  measures: MeasureAnswer[];
  query: { id?: number; label: number; labelFrom?: string };
  /** URLs of the three pictures under /api/images/results/. */
  images: { query: string; perturbation: string; adversarial: string };
  perturbationScale: number;
  linf: number;
  topkBefore: Hit[];
  topkAfter: Hit[];
  candidates: CandidateRank[];
  chooses: Chooses;
  seconds: number;
}

/** POST /api/swipe (202). */
export interface SwipeStarted {
  jobId: string;
}

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** How far a job is: attack runs done of the total, the one running, and the time left. */
export interface JobProgress {
  done: number;
  total: number;
  attack?: string;
  etaSeconds?: number;
}

/** GET /api/jobs/ID (and DELETE's answer). */
export interface JobView {
  id: string;
  kind: string;
  state: JobState;
  progress: JobProgress;
  error?: string;
  /** A finished swipe's result, as `swipe --json` prints it. */
  result?: SwipeResult;
  /** A running job asked to stop before its next attack run. */
  cancelRequested?: boolean;
}

/** The data of each event on GET /api/jobs/ID/events (server-sent events, JSON data). */
export interface JobEvents {
  progress: JobProgress & { state: JobState };
  done: { result: SwipeResult | undefined };
  failed: { error: string | undefined };
  cancelled: { error: string | undefined };
}

/** GET /api/runs. */
export interface RunsAnswer {
  runs: RunSummary[];
}

/** The body of every error answer. */
export interface ErrorAnswer {
  error: string;
  statusCode: number;
}
