// Layer: attack. How an attack searches its ε-ball: the one catalogue of search methods.
// Every ranking attack runs with every method, because a method only sees the attack's
// objective (docs/attacks-and-metrics.md §8):
//   pgd     the reference: η signed-gradient steps α (pgd.ts);
//   apgd    step-size-free PGD with momentum, the best point kept (apgd.ts);
//   square  query-only random search, forward passes only (query-only.ts);
//   nes     query-only: signed steps on an NES gradient estimate (query-only.ts).
// An entry owns every fact about its method: whether it reads gradients, the balls (norms)
// it searches, what it costs per image, the settings it honours, and how it runs.
import type { Tensor } from '../tensor/index.js';
import { pgd } from './pgd.js';
import { apgd } from './apgd.js';
import { nesSearch, squareSearch } from './query-only.js';
import { normOf, type Norm, type PgdBudget } from './budget.js';
import type { Objective } from './objectives.js';

/** The settings of the methods, each honoured by the methods that name it. */
export interface MethodSettings {
  /** pgd, apgd: extra runs from uniform points of the ε-ball, each image's best run kept. */
  restarts: number;
  /** square: forward passes per image. */
  queries: number;
  /** nes: probes per step (even; half of them antithetic). */
  samples: number;
  /** nes: the probes' standard deviation σ as a fraction of ε. */
  sigmaFraction: number;
  /**
   * Every method: noise draws of the model's forward averaged per objective evaluation (EOT,
   * expectation over transformation): K forwards (and backwards) per gradient or per query.
   * 1 = one draw, exactly as without it; more only helps against a model whose forward is random.
   */
  eot: number;
}

/** Defaults of the method settings, stated once (the CLI's help is made from them). */
export const METHOD_DEFAULTS: Readonly<MethodSettings> = Object.freeze({ restarts: 0, queries: 100, samples: 20, sigmaFraction: 0.5, eot: 1 });

/** What a method is handed for one batch. */
export interface MethodRun {
  images: Tensor;
  budget: PgdBudget;
  settings: MethodSettings;
  /** Where the search starts: the clean images, or a uniform point of the ball (a restart). */
  start: 'clean' | 'random';
  /** The attack's objective at adversarial images (with autograd when the method reads gradients). */
  objective: (xAdv: Tensor, iteration: number) => Objective;
}

/** What a method returns for one batch. */
export interface MethodOutcome {
  /** The adversarial images; the caller owns them. */
  adversarial: Tensor;
  /** The batch objective per iteration (gradient methods) or per accepted step. */
  values: number[];
  /** Forward and backward passes per image spent by the search. */
  forwards: number;
  backwards: number;
  /** Whether the embedding seen at the start of the last iteration describes the result (plain PGD only: ES:D's reference quirk). */
  lastIterationIsFinal: boolean;
}

export type MethodName = 'pgd' | 'apgd' | 'square' | 'nes';

/** One search method of the catalogue. */
export interface MethodEntry {
  readonly name: MethodName;
  readonly summary: string;
  /** Reads the model's input gradients (white-box) or only its outputs (query-only). */
  readonly gradients: boolean;
  /** The norms of the balls it can search (the budget's `norm`). */
  readonly norms: readonly Norm[];
  /** The settings it honours besides `eot`, which every method honours (the others are ignored). */
  readonly honours: readonly (keyof MethodSettings)[];
  /** Forward and backward passes per image for one run at one draw (restarts and EOT draws multiply it). */
  cost(budget: PgdBudget, s: MethodSettings): { forward: number; backward: number };
  run(o: MethodRun): MethodOutcome;
}

export const METHODS: readonly MethodEntry[] = [
  {
    name: 'pgd',
    summary: 'the reference: η signed-gradient steps α, the last point reported',
    gradients: true,
    norms: ['linf', 'l2'],
    honours: ['restarts'],
    cost: (b) => ({ forward: b.steps, backward: b.steps }),
    run(o) {
      const r = pgd({ images: o.images, ...o.budget, randomStart: o.start === 'random', objective: (x, it) => o.objective(x, it).value });
      // The last iteration's embedding describes the result only for a run from the clean images (ES:D's quirk).
      return { adversarial: r.adversarial, values: r.values, forwards: r.iterations, backwards: r.iterations, lastIterationIsFinal: o.start === 'clean' };
    },
  },
  {
    name: 'apgd',
    summary: "APGD: the step starts at 2ε and halves where an image stagnates, momentum 0.75, each image's best point kept (no α)",
    gradients: true,
    norms: ['linf', 'l2'],
    honours: ['restarts'],
    cost: (b) => ({ forward: b.steps + 1, backward: b.steps }),
    run(o) {
      const r = apgd({ images: o.images, epsilon: o.budget.epsilon, steps: o.budget.steps, norm: normOf(o.budget), start: o.start, objective: o.objective });
      return { adversarial: r.adversarial, values: r.values, forwards: r.forwards, backwards: r.backwards, lastIterationIsFinal: false };
    },
  },
  {
    name: 'square',
    summary: 'query-only Square random search: one random window per image per query, kept when the objective drops',
    gradients: false,
    // Its windows are L∞ moves (x0 ± ε per pixel); an L2 Square proposes other shapes.
    norms: ['linf'],
    honours: ['queries'],
    cost: (_b, s) => ({ forward: s.queries + 1, backward: 0 }),
    run(o) {
      const r = squareSearch({ images: o.images, epsilon: o.budget.epsilon, queries: o.settings.queries, objective: (x, it) => o.objective(x, it).perQuery });
      return { adversarial: r.adversarial, values: [], forwards: r.forwards, backwards: 0, lastIterationIsFinal: false };
    },
  },
  {
    name: 'nes',
    summary: 'query-only: η signed steps α on an NES gradient estimate (antithetic Gaussian probes)',
    gradients: false,
    norms: ['linf'],
    honours: ['samples', 'sigmaFraction'],
    cost: (b, s) => ({ forward: s.samples * b.steps + 1, backward: 0 }),
    run(o) {
      const r = nesSearch({
        images: o.images,
        ...o.budget,
        samples: o.settings.samples,
        sigma: o.settings.sigmaFraction * o.budget.epsilon,
        objective: (x, it) => o.objective(x, it).perQuery,
      });
      return { adversarial: r.adversarial, values: [], forwards: r.forwards, backwards: 0, lastIterationIsFinal: false };
    },
  },
];

/** Every method name, in catalogue order. */
export const METHOD_NAMES: readonly MethodName[] = METHODS.map((m) => m.name);

/** A method's entry by name; throws listing the names. */
export function methodEntry(name: string): MethodEntry {
  const m = METHODS.find((e) => e.name === name);
  if (m === undefined) throw new Error(`unknown attack method '${name}' (expected one of ${METHOD_NAMES.join(', ')})`);
  return m;
}

/** Throws unless the method searches balls of the budget's norm (the message names the methods that do). */
export function checkMethodNorm(m: MethodEntry, budget: PgdBudget): void {
  const norm = normOf(budget);
  if (!m.norms.includes(norm))
    throw new Error(
      `attack method ${m.name} searches only ${m.norms.join(', ')} balls; for --norm ${norm} use ${METHODS.filter((e) => e.norms.includes(norm))
        .map((e) => e.name)
        .join(' or ')}`,
    );
}

/** Settings with the defaults filled in and each value checked (the field named in the error). */
export function methodSettings(s: Partial<MethodSettings> = {}): MethodSettings {
  const out = { ...METHOD_DEFAULTS, ...Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) } as MethodSettings;
  if (!Number.isInteger(out.restarts) || out.restarts < 0) throw new Error(`restarts must be a non-negative integer, got ${out.restarts}`);
  if (!Number.isInteger(out.queries) || out.queries < 1) throw new Error(`queries must be a positive integer, got ${out.queries}`);
  if (!Number.isInteger(out.samples) || out.samples < 2 || out.samples % 2 !== 0) throw new Error(`samples must be an even integer ≥ 2, got ${out.samples}`);
  if (!(out.sigmaFraction > 0 && out.sigmaFraction <= 4)) throw new Error(`sigmaFraction must be in (0, 4], got ${out.sigmaFraction}`);
  if (!Number.isInteger(out.eot) || out.eot < 1) throw new Error(`eot (noise draws per objective evaluation) must be a positive integer, got ${out.eot}`);
  return out;
}
