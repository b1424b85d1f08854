// Layer: attack. RobRank's swipe profiles (docs/attacks-and-metrics.md §3) as data:
// which attacks run with which PGD budget. rob28 / rob224 are the ERS profiles;
// the others drive the ECCV'20 / PAMI curves (CA± and SPQA± at several W, M, ε).
import { ERS_ATTACK_KINDS, type AttackKind, type PgdBudget } from './attack.js';
import type { AttackOptions } from './registry.js';

/** One attack of a profile with its budget and options. */
export interface ProfileRun {
  attack: AttackKind;
  budget: PgdBudget;
  /** W for CA, M for QA/SPQA; absent = 1. */
  options?: AttackOptions;
}

/** A swipe profile: the attacks `runSwipe` runs on every query batch. */
export interface Profile {
  name: string;
  usedFor: string;
  /** Queries per batch (128 for 28×28 inputs, 112 for 224×224). */
  batchSize: number;
  runs: ProfileRun[];
}

const EPS_77 = 77 / 255; // 0.30196
const EPS_8 = 8 / 255; // 0.03137
const EPS_2 = 2 / 255; // 0.00784
const ALPHA_3 = 3 / 255; // 0.011764
const ALPHA_1 = 1 / 255; // 0.003922

/** The nine ERS runs (ten numbers: ES gives ES:D and ES:R), one budget for all. */
function ersRuns(budget: PgdBudget): ProfileRun[] {
  return ERS_ATTACK_KINDS.map((attack) => ({ attack, budget }));
}

/** CA± and SPQA± with W, M ∈ sizes over every (ε, α) pair of a curve profile. */
function curveRuns(budgets: readonly PgdBudget[], sizes: readonly number[], withSpqa: boolean): ProfileRun[] {
  const runs: ProfileRun[] = [];
  for (const budget of budgets) {
    for (const size of sizes) {
      for (const attack of ['CA+', 'CA-'] as const) runs.push({ attack, budget, options: { queriesPerCandidate: size } });
      if (withSpqa) for (const attack of ['SPQA+', 'SPQA-'] as const) runs.push({ attack, budget, options: { candidatesPerQuery: size } });
    }
  }
  return runs;
}

const SIZES = [1, 2, 5, 10];

/** A curve profile: every budget × every size, CA± and SPQA± alike. */
function curveProfile(name: string, usedFor: string, batchSize: number, budgets: readonly PgdBudget[], sizes: readonly number[] = SIZES): Profile {
  return { name, usedFor, batchSize, runs: curveRuns(budgets, sizes, true) };
}

/** RobRank's swipe profiles by name: rob28 / rob224 (ERS, ARS) and the curve profiles (docs/attacks-and-metrics.md §3). */
export const PROFILES: Readonly<Record<string, Profile>> = {
  rob28: { name: 'rob28', usedFor: 'ERS on MNIST / Fashion-MNIST', batchSize: 128, runs: ersRuns({ epsilon: EPS_77, alpha: ALPHA_3, steps: 32 }) },
  rob224: { name: 'rob224', usedFor: "ERS on CUB / Cars / SOP; CA-TRIDE's ARS", batchSize: 112, runs: ersRuns({ epsilon: EPS_8, alpha: ALPHA_3, steps: 32 }) },
  pami28: curveProfile('pami28', 'curves (SPQA±, CA± with M, W ∈ {1, 2, 5, 10})', 128, [
    { epsilon: EPS_8, alpha: ALPHA_1, steps: 32 },
    { epsilon: EPS_77, alpha: ALPHA_3, steps: 32 },
  ]),
  pami224: curveProfile('pami224', 'curves (SPQA±, CA± with M, W ∈ {1, 2, 5, 10})', 112, [
    { epsilon: EPS_2, alpha: ALPHA_1, steps: 32 },
    { epsilon: EPS_8, alpha: ALPHA_3, steps: 32 },
  ]),
  eccv28: curveProfile('eccv28', "ECCV'20 tables", 128, [
    { epsilon: 0.01, alpha: ALPHA_1, steps: 10 },
    { epsilon: 0.03, alpha: ALPHA_1, steps: 15 },
    { epsilon: 0.1, alpha: 0.01, steps: 20 },
    { epsilon: 0.3, alpha: 0.01, steps: 30 },
  ]),
  eccv224: {
    name: 'eccv224',
    usedFor: "ECCV'20 tables",
    batchSize: 112,
    // CA and SPQA use different budgets at ε = 0.01 (η 24 vs 10).
    runs: [
      ...curveRuns([{ epsilon: 0.01, alpha: ALPHA_1, steps: 24 }, { epsilon: 0.03, alpha: ALPHA_1, steps: 15 }, { epsilon: 0.06, alpha: 0.006, steps: 20 }], SIZES, false),
      ...curveRuns([{ epsilon: 0.01, alpha: ALPHA_1, steps: 10 }, { epsilon: 0.03, alpha: ALPHA_1, steps: 15 }, { epsilon: 0.06, alpha: 0.006, steps: 20 }], SIZES, true).filter((r) => r.attack.startsWith('SPQA')),
    ],
  },
  qccurve28: curveProfile(
    'qccurve28',
    'ε-curves (CA±, SPQA±, W = M = 1)',
    128,
    Array.from({ length: 12 }, (_, i) => ({ epsilon: (7 * i) / 255, alpha: ALPHA_3, steps: 32 })),
    [1],
  ),
};

/** The ERS profile for an image size: rob28 up to 32×32 inputs (MNIST, Fashion), rob224 above (its budget is ε = 8/255). */
export function profileForImageSize(height: number): Profile {
  return PROFILES[height <= 32 ? 'rob28' : 'rob224']!;
}

/** A profile by name; throws with the known names otherwise. */
export function getProfile(name: string): Profile {
  const p = PROFILES[name];
  if (p === undefined) throw new Error(`unknown profile '${name}' (known: ${Object.keys(PROFILES).join(', ')})`);
  return p;
}
