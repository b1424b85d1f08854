// Layer: defense. Gaussian-noise training N(0, σ²I), unclipped: the training of randomized smoothing.
import { defenseEntry } from '../entry.js';
import { numberField } from '../fields.js';
import { GAUSSIAN_SIGMA_MAX, gaussianNoise } from '../gaussian.js';

/** σ of Gaussian-noise training unless --sigma says otherwise: the smoothing level `certify` defaults to. */
export const GAUSSIAN_SIGMA = 0.25;

export const gaussianEntry = defenseEntry(
  'gaussian',
  {
    sigma: numberField({
      flag: 'sigma',
      value: 'S',
      above: 0,
      max: GAUSSIAN_SIGMA_MAX,
      default: GAUSSIAN_SIGMA,
      help: "gaussian: the noise's standard deviation σ in pixel units",
    }),
  },
  {
    summary: 'Gaussian noise N(0, σ²I) on every image, unclipped: the training of randomized smoothing (certify at the same σ)',
    paperName: (c) => `Gaussian σ=${c.sigma ?? GAUSSIAN_SIGMA}`,
    resolve: (c) => ({ ...c, sigma: c.sigma ?? GAUSSIAN_SIGMA }),
    build: (c) => gaussianNoise(c.sigma ?? GAUSSIAN_SIGMA),
    // Every image is perturbed: any loss trains on the noisy batch.
    refusesLoss: () => undefined,
    trainsBatchNorm: false,
    // RobRank has no such model.
    suffix: { grammar: '', parse: () => null, format: () => null },
  },
);
