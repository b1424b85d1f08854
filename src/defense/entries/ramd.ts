// Layer: defense. RAMD, the revised AMD: benign anchors (suffix ramd).
import { madryTriplet } from '../amd.js';
import { defenseEntry, tripletsOnly } from '../entry.js';
import { budgetOf, fixedSuffix, PGD_FIELDS, resolvePgd } from './budget.js';

export const ramdEntry = defenseEntry('ramd', PGD_FIELDS, {
  summary: 'revised AMD: benign anchors, PGD perturbs positives and negatives only (suffix ramd)',
  paperName: () => 'RAMD',
  resolve: resolvePgd,
  build: (c) => madryTriplet(budgetOf(c), 'pn'),
  refusesLoss: tripletsOnly('RAMD perturbs the positive and negative of each mined triplet'),
  trainsBatchNorm: false,
  suffix: fixedSuffix('ramd', { kind: 'ramd' }),
});
