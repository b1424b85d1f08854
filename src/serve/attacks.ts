// Layer: serve. The eleven attacks as the service presents them: what each
// perturbs, which gallery items a request may choose for it, and the number
// it reports (the attack's own measure, docs/attacks-and-metrics.md §4).
import { ATTACKS, attackEntry, createAttack, ersProfile, type AttackEntry, type AttackKind, type PgdBudget } from '../attack/index.js';
import { attackColumn } from '../eval/columns.js';

/** Which gallery ids `candidates` names for a kind (see AttackEntry.chooses). */
export type Chooses = AttackEntry['chooses'];

export function choosesFor(kind: AttackKind): Chooses {
  return attackEntry(kind).chooses;
}

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
  return ATTACKS.map(({ kind, perturbs, chooses, summary }) => {
    const measure = createAttack(kind).reports[0]!;
    const column = attackColumn(measure);
    return { kind, target: perturbs, chooses, summary, measure, unit: column.unit, robust: column.robust, defaults };
  });
}
