// Layer: attack. RobRank's swipe profiles (docs/attacks-and-metrics.md §3) as data:
// which attacks run with which PGD budget. rob28 / rob224 are the ERS profiles;
// the others drive the ECCV'20 / PAMI curves (CA± and SPQA± at several W, M, ε).
import { BUDGETS, checkBudget, pixels, type Norm, type PgdBudget } from './budget.js';
import { BATCH_SIZES } from '../data/spc2.js';
import { imageScale, type ImageScale } from '../data/image-size.js';
import { ERS_ATTACK_KINDS, perRunOptions, type AttackKind, type AttackOptions } from './registry.js';

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
  /** Queries per batch: the test batch of the input regime (128 for 28×28 inputs, 112 for 224×224). */
  batchSize: number;
  runs: ProfileRun[];
}

const EPS_77 = BUDGETS.small.attack.epsilon; // 0.30196
const EPS_8 = BUDGETS.large.attack.epsilon; // 0.03137
const EPS_2 = pixels(2); // 0.00784
const ALPHA_3 = BUDGETS.small.attack.alpha; // 0.011764
const ALPHA_1 = pixels(1); // 0.003922

/** The nine ERS runs (ten numbers: ES gives ES:D and ES:R), one budget for all. */
function ersRuns(budget: PgdBudget): ProfileRun[] {
  return ERS_ATTACK_KINDS.map((attack) => ({ attack, budget }));
}

/** CA± and SPQA± with W, M ∈ sizes over every (ε, α) pair of a curve profile. */
function curveRuns(budgets: readonly PgdBudget[], sizes: readonly number[], withSpqa: boolean): ProfileRun[] {
  const runs: ProfileRun[] = [];
  for (const budget of budgets) {
    for (const size of sizes) {
      for (const attack of ['CA+', 'CA-'] as const) runs.push({ attack, budget, options: perRunOptions(attack, size) });
      if (withSpqa) for (const attack of ['SPQA+', 'SPQA-'] as const) runs.push({ attack, budget, options: perRunOptions(attack, size) });
    }
  }
  return runs;
}

const SIZES = [1, 2, 5, 10];

/** Queries per batch of the 28×28 and the 224×224 profiles. */
const BATCH_28 = BATCH_SIZES.small.test;
const BATCH_224 = BATCH_SIZES.large.test;

/** A curve profile: every budget × every size, CA± and SPQA± alike. */
function curveProfile(name: string, usedFor: string, batchSize: number, budgets: readonly PgdBudget[], sizes: readonly number[] = SIZES): Profile {
  return { name, usedFor, batchSize, runs: curveRuns(budgets, sizes, true) };
}

/** RobRank's swipe profiles by name: rob28 / rob224 (ERS, ARS) and the curve profiles (docs/attacks-and-metrics.md §3). */
export const PROFILES = {
  rob28: { name: 'rob28', usedFor: 'ERS on MNIST / Fashion-MNIST', batchSize: BATCH_28, runs: ersRuns(BUDGETS.small.attack) },
  rob224: { name: 'rob224', usedFor: "ERS on CUB / Cars / SOP; CA-TRIDE's ARS", batchSize: BATCH_224, runs: ersRuns(BUDGETS.large.attack) },
  pami28: curveProfile('pami28', 'curves (SPQA±, CA± with M, W ∈ {1, 2, 5, 10})', BATCH_28, [
    { epsilon: EPS_8, alpha: ALPHA_1, steps: 32 },
    { epsilon: EPS_77, alpha: ALPHA_3, steps: 32 },
  ]),
  pami224: curveProfile('pami224', 'curves (SPQA±, CA± with M, W ∈ {1, 2, 5, 10})', BATCH_224, [
    { epsilon: EPS_2, alpha: ALPHA_1, steps: 32 },
    { epsilon: EPS_8, alpha: ALPHA_3, steps: 32 },
  ]),
  eccv28: curveProfile('eccv28', "ECCV'20 tables", BATCH_28, [
    { epsilon: 0.01, alpha: ALPHA_1, steps: 10 },
    { epsilon: 0.03, alpha: ALPHA_1, steps: 15 },
    { epsilon: 0.1, alpha: 0.01, steps: 20 },
    { epsilon: 0.3, alpha: 0.01, steps: 30 },
  ]),
  eccv224: {
    name: 'eccv224',
    usedFor: "ECCV'20 tables",
    batchSize: BATCH_224,
    // CA and SPQA use different budgets at ε = 0.01 (η 24 vs 10).
    runs: [
      ...curveRuns(
        [
          { epsilon: 0.01, alpha: ALPHA_1, steps: 24 },
          { epsilon: 0.03, alpha: ALPHA_1, steps: 15 },
          { epsilon: 0.06, alpha: 0.006, steps: 20 },
        ],
        SIZES,
        false,
      ),
      ...curveRuns(
        [
          { epsilon: 0.01, alpha: ALPHA_1, steps: 10 },
          { epsilon: 0.03, alpha: ALPHA_1, steps: 15 },
          { epsilon: 0.06, alpha: 0.006, steps: 20 },
        ],
        SIZES,
        true,
      ).filter((r) => r.attack.startsWith('SPQA')),
    ],
  },
  qccurve28: curveProfile(
    'qccurve28',
    'ε-curves (CA±, SPQA±, W = M = 1)',
    BATCH_28,
    Array.from({ length: 12 }, (_, i) => ({ epsilon: (7 * i) / 255, alpha: ALPHA_3, steps: 32 })),
    [1],
  ),
} satisfies Readonly<Record<string, Profile>>;

/** A profile's name: one of PROFILES' keys. */
export type ProfileName = keyof typeof PROFILES;

/** Every profile name, in the order of help. */
export const PROFILE_NAMES = Object.keys(PROFILES) as readonly ProfileName[];

/** Whether a string names a profile. */
export function isProfileName(s: string): s is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(s);
}

// Every budget of every profile passes the one PGD validator when the module loads.
for (const p of Object.values<Profile>(PROFILES)) for (const r of p.runs) checkBudget(r.budget, `profile ${p.name}, ${r.attack}`);

/** The ERS profile of each input regime. */
const ERS_PROFILES: Readonly<Record<ImageScale, ProfileName>> = { small: 'rob28', large: 'rob224' };

/** The ERS profile for images with this side: rob28 for 28×28 inputs, rob224 otherwise (data/image-size.ts). */
export function ersProfile(imageSide: number): Profile {
  return getProfile(ERS_PROFILES[imageScale(imageSide)]);
}

/** A profile by name; throws with the known names otherwise. */
export function getProfile(name: string): Profile {
  if (!isProfileName(name)) throw new Error(`unknown profile '${name}' (known: ${PROFILE_NAMES.join(', ')})`);
  return PROFILES[name];
}

/**
 * A profile searched in the ball of `norm`: itself for L∞; for L2 an ERS profile's attacks with
 * the L2 attack budget of its input regime (BUDGETS' attackL2), or `budget` when given. The curve
 * profiles are L∞ ε-sweeps and have no L2 form.
 */
export function profileWithNorm(profile: Profile, norm: Norm, imageSide: number, budget?: PgdBudget): Profile {
  if (norm === 'linf') return profile;
  if (!(Object.values(ERS_PROFILES) as readonly string[]).includes(profile.name))
    throw new Error(`profile ${profile.name} is an L∞ ε-sweep; --norm l2 runs with an ERS profile (${Object.values(ERS_PROFILES).join(', ')})`);
  const b = checkBudget(budget ?? BUDGETS[imageScale(imageSide)].attackL2, `profile ${profile.name}, L2`);
  return { ...profile, name: `${profile.name}-l2`, runs: profile.runs.map((r) => ({ ...r, budget: b })) };
}
