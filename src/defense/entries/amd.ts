// Layer: defense. AMD, the Madry-style min-max on triplets (RobRank suffix amd).
import { madryTriplet } from '../amd.js';
import { defenseEntry, tripletsOnly } from '../entry.js';
import { budgetOf, fixedSuffix, PGD_FIELDS, resolvePgd } from './budget.js';

export const amdEntry = defenseEntry('amd', PGD_FIELDS, {
  summary: 'Madry-style min-max: PGD makes anchor, positive and negative as hard as it can, then train (RobRank AMD, suffix amd)',
  paperName: () => 'AMD',
  resolve: resolvePgd,
  build: (c) => madryTriplet(budgetOf(c), 'apn'),
  refusesLoss: tripletsOnly('AMD perturbs the members of each mined triplet'),
  trainsBatchNorm: false,
  suffix: fixedSuffix('amd', { kind: 'amd' }),
});
