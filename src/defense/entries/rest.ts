// Layer: defense. REST, the revised EST: EST's shift on positives and negatives (suffix r).
import { defenseEntry, tripletsOnly } from '../entry.js';
import { revisedEmbeddingShiftedTriplet } from '../rest.js';
import { budgetOf, fixedSuffix, PGD_FIELDS, resolvePgd } from './budget.js';

export const restEntry = defenseEntry('rest', PGD_FIELDS, {
  summary: "revised EST: EST's shift on positives and negatives, benign anchors (suffix r)",
  paperName: () => 'REST',
  resolve: resolvePgd,
  build: (c) => revisedEmbeddingShiftedTriplet(budgetOf(c)),
  refusesLoss: tripletsOnly('REST perturbs the positive and negative of each mined triplet'),
  trainsBatchNorm: false,
  suffix: fixedSuffix('r', { kind: 'rest' }),
});
