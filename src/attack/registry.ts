// Layer: attack. Builds any ranking attack by name, with the
// reference behaviour unless an option says otherwise.
import type { AttackKind, RankingAttack } from './attack.js';
import { ATTACK_KINDS } from './attack.js';
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

/** An attack kind from a user's spelling (case-insensitive, `−` for `-`, `ES:D`/`ES:R` for ES); throws on unknown names. */
export function parseAttackKind(s: string): AttackKind {
  const k = s.toUpperCase().replace('−', '-');
  const normalised = k === 'ES:D' || k === 'ES:R' ? 'ES' : k;
  const found = ATTACK_KINDS.find((a) => a === normalised);
  if (found === undefined) throw new Error(`unknown attack '${s}' (expected one of ${ATTACK_KINDS.join(', ')})`);
  return found;
}

/** Any ranking attack by kind, with the reference behaviour unless an option says otherwise. */
export function createAttack(kind: AttackKind, o: AttackOptions = {}): RankingAttack {
  switch (kind) {
    case 'CA+':
      return candidateAttack('+', { queriesPerCandidate: o.queriesPerCandidate, sampling: o.caSampling });
    case 'CA-':
      return candidateAttack('-', { queriesPerCandidate: o.queriesPerCandidate });
    case 'QA+':
      return queryAttack('+', { candidatesPerQuery: o.candidatesPerQuery });
    case 'QA-':
      return queryAttack('-', { candidatesPerQuery: o.candidatesPerQuery });
    case 'TMA':
      return targetedMismatchAttack();
    case 'ES':
      return embeddingShiftAttack({ distanceAt: o.esDistanceAt });
    case 'LTM':
      return learningToMisrankAttack({ excludeSelf: o.ltmExcludeSelf });
    case 'GTM':
      return greedyTopMisrankAttack({ target: o.gtmTarget });
    case 'GTT':
      return greedyTopTranslocationAttack();
    case 'SPQA+':
    case 'SPQA-':
      return semanticsPreservingQueryAttack(kind === 'SPQA+' ? '+' : '-', { candidatesPerQuery: o.candidatesPerQuery, xiRate: o.spqaXiRate });
  }
}
