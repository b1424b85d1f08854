// Layer: defense. EST, the embedding-shifted triplet (RobRank suffix d; df: η = 1).
import { defenseEntry } from '../entry.js';
import { embeddingShiftedTriplet } from '../est.js';
import { budgetOf, etaSuffix, PGD_FIELDS, resolvePgd } from './budget.js';

const suffix = etaSuffix('d');

export const estEntry = defenseEntry('est', PGD_FIELDS, {
  summary: 'embedding-shifted triplet: train on adversarial anchors (RobRank EST, shorthand suffix d)',
  paperName: () => 'EST',
  resolve: resolvePgd,
  build: (c) => embeddingShiftedTriplet(budgetOf(c)),
  // Every image is perturbed, so a loss on triplets or on the whole batch trains on the adversarial batch.
  refusesLoss: () => undefined,
  trainsBatchNorm: true,
  suffix: {
    grammar: suffix.grammar,
    parse: (s) => {
      const eta = suffix.parse(s);
      return eta === null ? null : { kind: 'est', ...eta };
    },
    format: suffix.format,
  },
});
