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
  /** The name in tables and profiles. */
  readonly kind: string;
  /**
   * Mixed into the seed of the attack's random choices (candidates, queries, targets): fixed for good, so
   * re-sorting ATTACKS changes no number. A new attack takes the next unused id; an id is never reused.
   */
  readonly seedId: number;
  /** Other spellings a user may type (upper-cased before matching). */
  readonly aliases?: readonly string[];
  readonly summary: string;
  /** What the PGD perturbs: the query, or candidates of other queries' rankings. */
  readonly perturbs: 'query' | 'candidate';
  /**
   * Which gallery items a caller may choose for it (the service's `candidates`):
   * CA± the W queries whose rankings the perturbed candidate climbs or sinks in,
   * QA± and SPQA± the query's M candidates; the others choose nothing.
   */
  readonly chooses: 'queries' | 'candidates' | null;
  /** Part of the ERS/ARS profiles (rob28, rob224). */
  readonly ers: boolean;
  /** Its report columns (the first is its main number). */
  readonly columns: Readonly<Record<string, AttackColumn>>;
  readonly create: (o: AttackOptions) => RankingAttack;
}

const PERCENTILE = { unit: '%', digits: 1 } as const;

/** Every ranking attack. The one list: kinds, ERS runs, report columns, CLI help and the service's menu derive from it. */
export const ATTACKS = [
  {
    kind: 'CA+',
    seedId: 0,
    summary: 'perturbs the image as a candidate so that it rises in the rankings of W gallery queries (drawn uniformly)',
    chooses: 'queries',
    perturbs: 'candidate',
    ers: true,
    columns: { 'CA+': { ...PERCENTILE, what: 'rank percentile of the candidate pulled up (benign ≈ 50)', robust: 'higher' } },
    create: (o) => candidateAttack('+', { queriesPerCandidate: o.queriesPerCandidate, sampling: o.caSampling }),
  },
  {
    kind: 'CA-',
    seedId: 1,
    summary: 'perturbs the image as a candidate so that it sinks in the rankings of W queries drawn from its top-1% neighbours',
    chooses: 'queries',
    perturbs: 'candidate',
    ers: true,
    columns: { 'CA-': { ...PERCENTILE, what: 'rank percentile of the candidate pushed down', robust: 'lower' } },
    create: (o) => candidateAttack('-', { queriesPerCandidate: o.queriesPerCandidate }),
  },
  {
    kind: 'QA+',
    seedId: 2,
    summary: 'perturbs the query so that M gallery candidates (drawn uniformly) rise in its ranking',
    chooses: 'candidates',
    perturbs: 'query',
    ers: true,
    columns: { 'QA+': { ...PERCENTILE, what: 'rank percentile of the chosen candidate, query perturbed to pull it up (benign ≈ 50)', robust: 'higher' } },
    create: (o) => queryAttack('+', { candidatesPerQuery: o.candidatesPerQuery }),
  },
  {
    kind: 'QA-',
    seedId: 3,
    summary: 'perturbs the query so that M candidates drawn from its top-1% neighbours sink in its ranking',
    chooses: 'candidates',
    perturbs: 'query',
    ers: true,
    columns: { 'QA-': { ...PERCENTILE, what: 'rank percentile of a top-1% candidate, query perturbed to push it down', robust: 'lower' } },
    create: (o) => queryAttack('-', { candidatesPerQuery: o.candidatesPerQuery }),
  },
  {
    kind: 'TMA',
    seedId: 4,
    summary: "pulls the query's embedding towards a random gallery item's (cosine similarity)",
    chooses: null,
    perturbs: 'query',
    ers: true,
    columns: { TMA: { unit: 'cosine', what: 'cosine similarity of the perturbed query to a random target', robust: 'lower', digits: 3 } },
    create: () => targetedMismatchAttack(),
  },
  {
    kind: 'ES',
    seedId: 5,
    aliases: ['ES:D', 'ES:R'],
    summary: "moves the query's embedding as far as possible from its clean position",
    chooses: null,
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
    seedId: 6,
    summary: 'puts every gallery item of another class in front of every item of the query’s class',
    chooses: null,
    perturbs: 'query',
    ers: true,
    columns: { LTM: { unit: '% R@1', what: 'Recall@1 after learning-to-misrank', robust: 'higher', digits: 1 } },
    create: (o) => learningToMisrankAttack({ excludeSelf: o.ltmExcludeSelf }),
  },
  {
    kind: 'GTM',
    seedId: 7,
    summary: 'pulls the query onto its best-ranked gallery item of another class than its clean top-1',
    chooses: null,
    perturbs: 'query',
    ers: true,
    columns: { GTM: { unit: '% R@1', what: 'Recall@1 after greedy top-1 misranking', robust: 'higher', digits: 1 } },
    create: (o) => greedyTopMisrankAttack({ target: o.gtmTarget }),
  },
  {
    kind: 'GTT',
    seedId: 8,
    summary: "pushes the query's clean top-1 out of its 4 nearest items",
    chooses: null,
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
    seedId: 9,
    summary: 'QA+ while the query’s clean top-5 neighbours must stay on top',
    chooses: 'candidates',
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
    seedId: 10,
    summary: 'QA− while five of the query’s top-1% neighbours must stay on top',
    chooses: 'candidates',
    perturbs: 'query',
    ers: false,
    columns: {
      'SPQA-': { ...PERCENTILE, what: 'QA− while the top-5 neighbours must stay on top', robust: 'lower' },
      'SPQA-:GTprank': { ...PERCENTILE, what: "rank percentile of the five neighbours SPQA− keeps (the attack's constraint)", robust: 'neither' },
    },
    create: (o) => semanticsPreservingQueryAttack('-', { candidatesPerQuery: o.candidatesPerQuery, xiRate: o.spqaXiRate }),
  },
] as const satisfies readonly AttackEntry[];

/** An attack's name: one of the catalogue's kinds (a union made from ATTACKS, so a typo does not compile). */
export type AttackKind = (typeof ATTACKS)[number]['kind'];

/** Every attack kind, in catalogue order (the order of help and menus; seeds come from each entry's seedId). */
export const ATTACK_KINDS: readonly AttackKind[] = ATTACKS.map((a) => a.kind);

/** The fixed seed id of an attack kind (its entry's `seedId`, whatever its position in ATTACKS). */
export function seedIdOf(kind: AttackKind): number {
  const entry = ATTACKS.find((a) => a.kind === kind);
  if (entry === undefined) throw new Error(`unknown attack '${kind}' (expected one of ${ATTACKS.map((a) => a.kind).join(', ')})`);
  return entry.seedId;
}

/** Whether a string is an attack kind as the catalogue spells it (no aliases; see parseAttackKind). */
export function isAttackKind(s: string): s is AttackKind {
  return (ATTACK_KINDS as readonly string[]).includes(s);
}

/** The runs of an ERS profile (ES gives two columns, so ten numbers). */
export const ERS_ATTACK_KINDS: readonly AttackKind[] = ATTACKS.filter((a) => a.ers).map((a) => a.kind);

/** The catalogue entry of an attack from a user's spelling (case-insensitive, `−` for `-`, aliases); throws listing the kinds. */
export function attackEntry(s: string): AttackEntry & { readonly kind: AttackKind } {
  const k = s.toUpperCase().replace('−', '-');
  const found = (ATTACKS as readonly (AttackEntry & { readonly kind: AttackKind })[]).find((a) => a.kind === k || a.aliases?.includes(k) === true);
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
