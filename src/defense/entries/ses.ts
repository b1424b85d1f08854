// Layer: defense. SES, suppressing the embedding shift (suffix e).
import { defenseEntry } from '../entry.js';
import { suppressEmbeddingShift } from '../ses.js';
import { budgetOf, fixedSuffix, PGD_FIELDS, resolvePgd } from './budget.js';

export const sesEntry = defenseEntry('ses', PGD_FIELDS, {
  summary: "suppress embedding shift: the loss on the clean batch plus EST's achieved shift (suffix e)",
  paperName: () => 'SES',
  resolve: resolvePgd,
  build: (c) => suppressEmbeddingShift(budgetOf(c)),
  // The loss trains on the clean batch, so any loss works; the shift term is its own.
  refusesLoss: () => undefined,
  trainsBatchNorm: false,
  suffix: fixedSuffix('e', { kind: 'ses' }),
});
