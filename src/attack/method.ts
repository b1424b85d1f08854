// Layer: attack. What one search method of the catalogue holds, and the settings the methods
// honour. Each method's file exports its entry (pgd.ts, apgd.ts, query-only.ts); methods.ts lists them.
import type { Tensor } from '../tensor/index.js';
import type { Norm, PgdBudget } from './budget.js';
import type { Objective } from './objectives.js';
import { intField, type AttackField, type OptionsOf } from './option-fields.js';

/**
 * The settings a method with setting fields F is handed, every one filled in: its own fields and
 * EOT (every method's). Each field is declared by the method that honours it (pgd.ts, apgd.ts,
 * query-only.ts) or, for EOT, here; methods.ts derives every method's settings from them.
 */
export type SettingsOf<F extends readonly AttackField[]> = Required<OptionsOf<F>> & { eot: number };

/**
 * Every method: noise draws of the model's forward averaged per objective evaluation (EOT,
 * expectation over transformation): K forwards (and backwards) per gradient or per query. 1 = one
 * draw, exactly as without it; more only helps against a model whose forward is random.
 */
export const EOT_FIELD = intField({
  key: 'eot',
  flag: 'eot',
  value: 'K',
  min: 1,
  default: 1,
  help: "every method: K draws of the model's forward averaged per gradient or per query\n(EOT, for a model whose forward is random; costs K× the passes)",
});

/** What a method is handed for one batch. */
export interface MethodRun<F extends readonly AttackField[] = readonly AttackField[]> {
  images: Tensor;
  budget: PgdBudget;
  settings: SettingsOf<F>;
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
export interface MethodEntry<N extends string = string, F extends readonly AttackField[] = readonly AttackField[]> {
  readonly name: N;
  readonly summary: string;
  /** Reads the model's input gradients (white-box) or only its outputs (query-only). */
  readonly gradients: boolean;
  /** The norms of the balls it can search (the budget's `norm`). */
  readonly norms: readonly Norm[];
  /** The settings it honours besides `eot`, which every method honours (the others are ignored), each declared once as a field. */
  readonly settings: F;
  /** Forward and backward passes per image for one run at one draw (restarts and EOT draws multiply it). */
  cost(budget: PgdBudget, s: SettingsOf<F>): { forward: number; backward: number };
  run(o: MethodRun<F>): MethodOutcome;
}

/** An entry with its name and setting fields kept as literal types (for MethodName, MethodSettings). */
export function defineMethod<const N extends string, const F extends readonly AttackField[]>(m: MethodEntry<N, F>): MethodEntry<N, F> {
  return m;
}
