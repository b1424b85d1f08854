// Layer: serve. The eleven attacks as the service presents them: what each
// perturbs, which gallery items a request may choose for it, and the number
// it reports (the attack's own measure, docs/attacks-and-metrics.md §4).
import { ATTACK_KINDS, createAttack, ersProfile, type AttackKind, type PgdBudget } from '../attack/index.js';
import { attackColumn } from '../eval/columns.js';

/**
 * Which gallery ids `candidates` names for a kind: CA± perturbs a candidate and
 * the ids are the W queries whose rankings it climbs or sinks in; QA± and SPQA±
 * perturb the query and the ids are its M candidates; the others choose nothing.
 */
export type Chooses = 'queries' | 'candidates' | null;

export function choosesFor(kind: AttackKind): Chooses {
  if (kind === 'CA+' || kind === 'CA-') return 'queries';
  if (kind === 'QA+' || kind === 'QA-' || kind === 'SPQA+' || kind === 'SPQA-') return 'candidates';
  return null;
}

const SUMMARIES: Record<AttackKind, string> = {
  'CA+': 'perturbs the image as a candidate so that it rises in the rankings of W gallery queries (drawn uniformly)',
  'CA-': 'perturbs the image as a candidate so that it sinks in the rankings of W queries drawn from its top-1% neighbours',
  'QA+': 'perturbs the query so that M gallery candidates (drawn uniformly) rise in its ranking',
  'QA-': 'perturbs the query so that M candidates drawn from its top-1% neighbours sink in its ranking',
  TMA: "pulls the query's embedding towards a random gallery item's (cosine similarity)",
  ES: "moves the query's embedding as far as possible from its clean position",
  LTM: 'puts every gallery item of another class in front of every item of the query’s class',
  GTM: 'pulls the query onto its best-ranked gallery item of another class than its clean top-1',
  GTT: "pushes the query's clean top-1 out of its 4 nearest items",
  'SPQA+': 'QA+ while the query’s clean top-5 neighbours must stay on top',
  'SPQA-': 'QA− while five of the query’s top-1% neighbours must stay on top',
};

/** One attack as GET /api/model lists it. */
export interface AttackDescription {
  kind: AttackKind;
  /** What the attack perturbs. */
  target: 'candidate' | 'query';
  chooses: Chooses;
  summary: string;
  /** The column the attack reports first, its unit and which way is more robust. */
  measure: string;
  unit: string;
  robust: string;
  defaults: PgdBudget;
}

/** The PGD budget a request gets when it names none: the ERS profile's for the image size (rob28, rob224). */
export function defaultBudget(imageHeight: number): PgdBudget {
  return { ...ersProfile(imageHeight).runs[0]!.budget };
}

/** Every attack kind, described. */
export function describeAttacks(imageHeight: number): AttackDescription[] {
  const defaults = defaultBudget(imageHeight);
  return ATTACK_KINDS.map((kind) => {
    const measure = createAttack(kind).reports[0]!;
    const column = attackColumn(measure);
    return { kind, target: choosesFor(kind) === 'queries' ? 'candidate' : 'query', chooses: choosesFor(kind), summary: SUMMARIES[kind], measure, unit: column.unit, robust: column.robust, defaults };
  });
}
