// Layer: attack. What one search method of the catalogue holds, and the settings the methods
// honour. Each method's file exports its entry (pgd.ts, apgd.ts, query-only.ts); methods.ts lists them.
import type { Tensor } from '../tensor/index.js';
import type { Norm, PgdBudget } from './budget.js';
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

/** One search method of the catalogue. */
export interface MethodEntry<N extends string = string> {
  readonly name: N;
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

/** An entry with its name kept as a literal type (for MethodName). */
export function defineMethod<const N extends string>(m: MethodEntry<N>): MethodEntry<N> {
  return m;
}
