// Layer: attack. Expectation over transformation (EOT, Athalye et al. 2018): against a model
// whose forward is random (noise on the input or inside the network), one draw's gradient or
// output is a noisy sample of what the attack should follow; averaging K draws of the
// objective estimates its expectation. The gradient of the average is the average of the K
// draws' gradients, so a gradient method differentiates the returned scalar as before, and a
// query-only method compares the averaged per-image terms. Cost: K forwards (and K backwards
// through the K graphs) per evaluation.
import { tidy, type Tensor } from '../tensor/index.js';
import type { Objective } from './objectives.js';

/** An attack's objective at adversarial images (the iteration is the method's). */
export type ObjectiveOf = (xAdv: Tensor, iteration: number) => Objective;

/** The objective averaged over `draws` evaluations (draws = 1: the objective itself, untouched). */
export function eotObjective(objective: ObjectiveOf, draws: number): ObjectiveOf {
  if (!Number.isInteger(draws) || draws < 1) throw new Error(`EOT: draws must be a positive integer, got ${draws}`);
  if (draws === 1) return objective;
  return (xAdv, iteration) =>
    tidy(() => {
      let value: Tensor | undefined;
      let perQuery: Tensor | undefined;
      for (let k = 0; k < draws; k++) {
        const o = objective(xAdv, iteration);
        value = value === undefined ? o.value : value.add(o.value);
        perQuery = perQuery === undefined ? o.perQuery : perQuery.add(o.perQuery);
      }
      return { value: value!.div(draws), perQuery: perQuery!.div(draws) };
    });
}
