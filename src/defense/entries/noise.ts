// Layer: defense. Uniform noise from the ε-ball, no search: the baseline that separates search from noise.
import { defenseEntry } from '../entry.js';
import { uniformNoise } from '../noise.js';
import { budgetOf, EPSILON_FIELD, resolveBudget } from './budget.js';

export const noiseEntry = defenseEntry(
  'noise',
  { epsilon: EPSILON_FIELD },
  {
    summary: 'uniform noise from the ε-ball on every image, no search: the baseline that separates search from noise',
    paperName: () => 'Noise',
    resolve: (c, r) => ({ ...c, epsilon: resolveBudget(c, r.imageSide, 1).epsilon }),
    build: (c) => uniformNoise(budgetOf({ ...c, alpha: 1, steps: 1 }).epsilon),
    // Every image is perturbed: any loss trains on the noisy batch.
    refusesLoss: () => undefined,
    trainsBatchNorm: false,
    // RobRank has no such model.
    suffix: { grammar: '', parse: () => null, format: () => null },
  },
);
