// Layer: attack. Builds any ranking attack by name, with the
// reference behaviour unless an option says otherwise.
import type { RankingAttack } from './attack.js';
import { candidateAttack, type CandidateQuerySampling } from './candidate.js';
import { queryAttack } from './query.js';
import { targetedMismatchAttack } from './targeted-mismatch.js';
import { embeddingShiftAttack, type EsDistanceAt } from './embedding-shift.js';
import { learningToMisrankAttack } from './learning-to-misrank.js';
import { greedyTopMisrankAttack, type GtmTarget } from './greedy-top-misrank.js';
import { greedyTopTranslocationAttack } from './greedy-top-translocation.js';
import { semanticsPreservingQueryAttack } from './semantics-preserving-query.js';

/** Every option of every attack; each defaults to the reference behaviour. */
export interface AttackOptions {
  /** CA±: W, queries per candidate (default 1). */
  queriesPerCandidate?: number;
  /** CA+: where queries are drawn from (default 'global'). */
  caSampling?: CandidateQuerySampling;
  /** QA± and SPQA±: M, candidates per query (default 1). */
  candidatesPerQuery?: number;
  /** ES: which embedding ES:D measures (default 'last-iteration-start'). */
  esDistanceAt?: EsDistanceAt;
  /** LTM: exclude the clean self from the same-class minimum (default false). */
  ltmExcludeSelf?: boolean;
  /** GTM: the index bug of the reference (default) or the intended target. */
  gtmTarget?: GtmTarget;
  /** SPQA±: k of ξ = exp(k·J_sp) (default 4e4; a swipe picks the dataset's value, see spqaXiRate). */
  spqaXiRate?: number;
}

/** Which way a column moves when the model is more robust; 'neither' for a constraint, not an outcome. */
export type RobustDirection = 'higher' | 'lower' | 'neither';

/** The meaning of one report column of an attack (docs/attacks-and-metrics.md §4). */
export interface AttackColumn {
  /** Unit of the raw value, e.g. '%' or 'cosine'. */
  unit: string;
  /** What the number is, in a few words. */
  what: string;
  robust: RobustDirection;
  /** Decimals of the published tables. */
  digits: number;
}

/** One attack of the catalogue. */
export interface AttackEntry {
  /** The name in tables, profiles and seeds (a kind's position in ATTACKS seeds its selections: append new kinds). */
  readonly kind: string;
  /** Other spellings a user may type (upper-cased before matching). */
  readonly aliases?: readonly string[];
  readonly summary: string;
  /** What the PGD perturbs: the query, or candidates of other queries' rankings. */
  readonly perturbs: 'query' | 'candidate';
  /** Part of the ERS/ARS profiles (rob28, rob224). */
  readonly ers: boolean;
  /** Its report columns (the first is its main number). */
  readonly columns: Readonly<Record<string, AttackColumn>>;
  readonly create: (o: AttackOptions) => RankingAttack;
}

const PERCENTILE = { unit: '%', digits: 1 } as const;

/** Every ranking attack. The one list: kinds, ERS runs, report columns, CLI help and the service's menu derive from it. */
export const ATTACKS: readonly AttackEntry[] = [
  {
    kind: 'CA+',
    summary: 'candidate attack: perturb a candidate so it rises in the rankings of chosen queries',
    perturbs: 'candidate',
    ers: true,
    columns: { 'CA+': { ...PERCENTILE, what: 'rank percentile of the candidate pulled up (benign ≈ 50)', robust: 'higher' } },
    create: (o) => candidateAttack('+', { queriesPerCandidate: o.queriesPerCandidate, sampling: o.caSampling }),
  },
  {
    kind: 'CA-',
    summary: 'candidate attack: perturb a top candidate so it sinks in the rankings of chosen queries',
    perturbs: 'candidate',
    ers: true,
    columns: { 'CA-': { ...PERCENTILE, what: 'rank percentile of the candidate pushed down', robust: 'lower' } },
    create: (o) => candidateAttack('-', { queriesPerCandidate: o.queriesPerCandidate }),
  },
  {
    kind: 'QA+',
    summary: 'query attack: perturb the query so a chosen candidate rises in its ranking',
    perturbs: 'query',
    ers: true,
    columns: { 'QA+': { ...PERCENTILE, what: 'rank percentile of the chosen candidate, query perturbed to pull it up (benign ≈ 50)', robust: 'higher' } },
    create: (o) => queryAttack('+', { candidatesPerQuery: o.candidatesPerQuery }),
  },
  {
    kind: 'QA-',
    summary: 'query attack: perturb the query so one of its top candidates sinks',
    perturbs: 'query',
    ers: true,
    columns: { 'QA-': { ...PERCENTILE, what: 'rank percentile of a top-1% candidate, query perturbed to push it down', robust: 'lower' } },
    create: (o) => queryAttack('-', { candidatesPerQuery: o.candidatesPerQuery }),
  },
  {
    kind: 'TMA',
    summary: "targeted mismatch: perturb the query so its embedding matches a random other image's",
    perturbs: 'query',
    ers: true,
    columns: { TMA: { unit: 'cosine', what: 'cosine similarity of the perturbed query to a random target', robust: 'lower', digits: 3 } },
    create: () => targetedMismatchAttack(),
  },
  {
    kind: 'ES',
    aliases: ['ES:D', 'ES:R'],
    summary: 'embedding shift: move the query embedding as far as possible from where it was',
    perturbs: 'query',
    ers: true,
    columns: {
      'ES:D': { unit: 'distance', what: 'distance the query embedding moved (metric units; ≤ 2 for N and C)', robust: 'lower', digits: 3 },
      'ES:R': { unit: '% R@1', what: 'Recall@1 of the shifted queries', robust: 'higher', digits: 1 },
    },
    create: (o) => embeddingShiftAttack({ distanceAt: o.esDistanceAt }),
  },
  {
    kind: 'LTM',
    summary: 'learning to misrank: perturb the query so every same-class item falls behind the others',
    perturbs: 'query',
    ers: true,
    columns: { LTM: { unit: '% R@1', what: 'Recall@1 after learning-to-misrank', robust: 'higher', digits: 1 } },
    create: (o) => learningToMisrankAttack({ excludeSelf: o.ltmExcludeSelf }),
  },
  {
    kind: 'GTM',
    summary: 'greedy top-1 misranking: push the current top-1 neighbour away',
    perturbs: 'query',
    ers: true,
    columns: { GTM: { unit: '% R@1', what: 'Recall@1 after greedy top-1 misranking', robust: 'higher', digits: 1 } },
    create: (o) => greedyTopMisrankAttack({ target: o.gtmTarget }),
  },
  {
    kind: 'GTT',
    summary: 'greedy top-1 translocation: knock the clean top-1 out of the top ranks',
    perturbs: 'query',
    ers: true,
    columns: {
      GTT: { unit: '% retain@4', what: 'queries whose clean top-1 stays among the top 4', robust: 'higher', digits: 1 },
      'GTT:ID-Retain@1': { unit: '% retain@1', what: 'queries whose clean top-1 stays first', robust: 'higher', digits: 1 },
    },
    create: () => greedyTopTranslocationAttack(),
  },
  {
    kind: 'SPQA+',
    summary: 'semantics-preserving QA+: raise a candidate while the top-5 neighbours stay on top',
    perturbs: 'query',
    ers: false,
    columns: {
      'SPQA+': { ...PERCENTILE, what: 'QA+ while the top-5 neighbours must stay on top', robust: 'higher' },
      'SPQA+:GTprank': { ...PERCENTILE, what: "rank percentile of the five neighbours SPQA+ keeps (the attack's constraint)", robust: 'neither' },
    },
    create: (o) => semanticsPreservingQueryAttack('+', { candidatesPerQuery: o.candidatesPerQuery, xiRate: o.spqaXiRate }),
  },
  {
    kind: 'SPQA-',
    summary: 'semantics-preserving QA−: sink a candidate while the top-5 neighbours stay on top',
    perturbs: 'query',
    ers: false,
    columns: {
      'SPQA-': { ...PERCENTILE, what: 'QA− while the top-5 neighbours must stay on top', robust: 'lower' },
      'SPQA-:GTprank': { ...PERCENTILE, what: "rank percentile of the five neighbours SPQA− keeps (the attack's constraint)", robust: 'neither' },
    },
    create: (o) => semanticsPreservingQueryAttack('-', { candidatesPerQuery: o.candidatesPerQuery, xiRate: o.spqaXiRate }),
  },
];

/** An attack's name (one of the catalogue's kinds). */
export type AttackKind = string;

/** Every attack kind, in catalogue order (a kind's index seeds its selections). */
export const ATTACK_KINDS: readonly AttackKind[] = ATTACKS.map((a) => a.kind);

/** The runs of an ERS profile (ES gives two columns, so ten numbers). */
export const ERS_ATTACK_KINDS: readonly AttackKind[] = ATTACKS.filter((a) => a.ers).map((a) => a.kind);

/** The catalogue entry of an attack from a user's spelling (case-insensitive, `−` for `-`, aliases); throws listing the kinds. */
export function attackEntry(s: string): AttackEntry {
  const k = s.toUpperCase().replace('−', '-');
  const found = ATTACKS.find((a) => a.kind === k || a.aliases?.includes(k) === true);
  if (found === undefined) throw new Error(`unknown attack '${s}' (expected one of ${ATTACK_KINDS.join(', ')})`);
  return found;
}

/** An attack kind from a user's spelling; throws on unknown names. */
export function parseAttackKind(s: string): AttackKind {
  return attackEntry(s).kind;
}

/** Any ranking attack by kind, with the reference behaviour unless an option says otherwise. */
export function createAttack(kind: AttackKind, o: AttackOptions = {}): RankingAttack {
  return attackEntry(kind).create(o);
}
