// Layer: defense. Defense settings as plain data (for configs, checkpoints and
// the CLI) and the one function that turns them into a Defense.
import { z } from 'zod';
import { minerByName, type Miner } from '../metric/miners.js';
import type { Defense } from './defense.js';
import { defaultBudget } from './common.js';
import type { PgdBudget } from '../attack/budget.js';
import { noDefense, type PairLoss } from './none.js';
import { embeddingShiftedTriplet } from './est.js';
import { antiCollapseTriplet } from './act.js';
import { hardnessManipulation, type Destination, type GradualDestination } from './hm.js';
import { collapseAwareTripletDecoupling, type CollapseWeighting } from './catride.js';

/** Sampler names as HM's letters (R, M, S, D, H) read them. */
export type SamplerName = 'random' | 'semihard' | 'softhard' | 'distance' | 'hardest';
/** Every sampler an HM source or destination may name. */
export const SAMPLERS: readonly SamplerName[] = ['random', 'semihard', 'softhard', 'distance', 'hardest'];

interface PgdOverrides {
  /** PGD steps η (default 32; CA-TRIDE 16). */
  steps?: number;
  /** L∞ budget and step in pixel units (default: docs/methods.md §3 for the image size). */
  epsilon?: number;
  alpha?: number;
}

/** A defense as plain data (JSON in checkpoints); `buildDefense` turns it into a `Defense`. */
export type DefenseConfig =
  | { kind: 'none' }
  | ({ kind: 'est' } & PgdOverrides)
  | ({ kind: 'act' } & PgdOverrides)
  | ({
      kind: 'hm';
      source: SamplerName;
      /** A sampler, a gradual adversary ('lga', 'gB', 'g2', 'gsqrt') or a constant hardness. */
      destination: SamplerName | GradualDestination | number;
      /** With a gradual destination: the sampler whose triplets are drawn as in the reference (default semihard). */
      gradualBase?: SamplerName;
      ics?: number;
      skipSatisfied?: boolean;
    } & PgdOverrides)
  | ({ kind: 'catride'; lambda?: number; weighting?: CollapseWeighting } & PgdOverrides);

/** The `kind`s of DefenseConfig. */
export const DEFENSE_KINDS = ['none', 'est', 'act', 'hm', 'catride'] as const;

const GRADUAL: readonly string[] = ['lga', 'gB', 'g2', 'gsqrt'];

/**
 * The shape of a DefenseConfig read from untrusted JSON (a checkpoint.json, a
 * config file): every field typed and ranged, unknown fields refused, so a
 * hand-edited sidecar cannot train or evaluate something other than it says.
 */
const samplerSchema = z.enum(SAMPLERS as [SamplerName, ...SamplerName[]]);
const pgdSchema = {
  steps: z.number().int().min(1).max(10_000).optional(),
  epsilon: z.number().gt(0).max(1).optional(),
  alpha: z.number().gt(0).max(1).optional(),
};
/** Schema that validates a DefenseConfig read from JSON. */
export const defenseConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }).strict(),
  z.object({ kind: z.literal('est'), ...pgdSchema }).strict(),
  z.object({ kind: z.literal('act'), ...pgdSchema }).strict(),
  z
    .object({
      kind: z.literal('hm'),
      source: samplerSchema,
      destination: z.union([samplerSchema, z.enum(['lga', 'gB', 'g2', 'gsqrt']), z.number().min(-2).max(2)]),
      gradualBase: samplerSchema.optional(),
      ics: z.number().min(0).finite().optional(),
      skipSatisfied: z.boolean().optional(),
      ...pgdSchema,
    })
    .strict(),
  z
    .object({ kind: z.literal('catride'), lambda: z.number().min(0).finite().optional(), weighting: z.enum(['softmax', 'softmin']).optional(), ...pgdSchema })
    .strict(),
]);

/** The papers' short name of a defense: N/A, EST, ACT, HM[S,g_LGA]&ICS, CA-TRIDE. */
export function describeDefense(d: DefenseConfig): string {
  switch (d.kind) {
    case 'none':
      return 'N/A';
    case 'est':
      return 'EST';
    case 'act':
      return 'ACT';
    case 'hm': {
      const dst = typeof d.destination === 'number' ? String(d.destination) : GRADUAL.includes(d.destination) ? `g_${d.destination === 'lga' ? 'LGA' : d.destination}` : letter(d.destination as SamplerName);
      return `HM[${letter(d.source)},${dst}]${d.ics ? '&ICS' : ''}`;
    }
    case 'catride':
      return 'CA-TRIDE';
  }
}

function letter(s: SamplerName): string {
  return { random: 'R', semihard: 'M', softhard: 'S', distance: 'D', hardest: 'H' }[s];
}

/** Builds the training-step strategy; `loss` is the undefended loss kind. */
export function buildDefense(d: DefenseConfig, imageSide: number, loss: PairLoss = 'triplet'): Defense {
  const budget = (o: PgdOverrides, steps = 32): PgdBudget => {
    const b = defaultBudget(imageSide, o.steps ?? steps);
    return { epsilon: o.epsilon ?? b.epsilon, alpha: o.alpha ?? b.alpha, steps: b.steps };
  };
  if (d.kind !== 'none' && loss !== 'triplet') throw new Error(`defense ${d.kind} trains a triplet loss; --loss contrastive works without a defense only`);
  switch (d.kind) {
    case 'none':
      return noDefense(loss);
    case 'est':
      return embeddingShiftedTriplet(budget(d));
    case 'act':
      return antiCollapseTriplet(budget(d));
    case 'hm': {
      const source = sampler(d.source);
      let destination: Destination;
      if (typeof d.destination === 'number') {
        destination = { kind: 'constant', value: d.destination };
      } else if (GRADUAL.includes(d.destination)) {
        destination = { kind: 'gradual', fn: d.destination as GradualDestination, miner: sampler(d.gradualBase ?? 'semihard'), name: d.destination };
      } else {
        destination = { kind: 'miner', miner: sampler(d.destination as SamplerName), name: d.destination };
      }
      return hardnessManipulation({ ...budget(d), source, sourceName: d.source, destination, ics: d.ics, skipSatisfied: d.skipSatisfied });
    }
    case 'catride':
      // The released CA-TRIDE code runs exactly 16 PGD iterations whatever η says.
      return collapseAwareTripletDecoupling({ ...budget(d, 16), lambda: d.lambda, weighting: d.weighting });
  }
}

function sampler(name: SamplerName): Miner {
  if (!SAMPLERS.includes(name)) throw new Error(`unknown sampler '${String(name)}' (known: ${SAMPLERS.join(', ')})`);
  return minerByName(name);
}

const LETTERS: Record<string, SamplerName> = { r: 'random', m: 'semihard', s: 'softhard', d: 'distance', h: 'hardest' };

/**
 * RobRank / robdml model-name suffixes after the backbone (docs/methods.md §9):
 * '' none, 'd' EST, 'df' EST η=1, 'p' ACT, 'pf' ACT η=1, '[g]hmet<src><dst>[i]' HM.
 * Returns null for a suffix that is not a defense name.
 */
export function defenseFromModelSuffix(suffix: string): DefenseConfig | null {
  if (suffix === '') return { kind: 'none' };
  if (suffix === 'd') return { kind: 'est' };
  if (suffix === 'df') return { kind: 'est', steps: 1 };
  if (suffix === 'p') return { kind: 'act' };
  if (suffix === 'pf') return { kind: 'act', steps: 1 };
  const m = /^(g?)hmet([rmsdh])([rmsdh])(i?)$/.exec(suffix);
  if (m) {
    const [, gradual, src, dst, ics] = m as unknown as [string, string, string, string, string];
    return {
      kind: 'hm',
      source: LETTERS[src]!,
      destination: gradual ? 'lga' : LETTERS[dst]!,
      ...(gradual ? { gradualBase: LETTERS[dst]! } : {}),
      ics: ics ? 0.5 : 0,
    };
  }
  if (/^(rh|hm(kl|l2))/.test(suffix) || /^g?hm(kl|l2)/.test(suffix)) {
    throw new Error(`model suffix '${suffix}': the fixed-anchor (rh) and KL/L2 HM variants are not supported (the authors report they do not work)`);
  }
  return null;
}
