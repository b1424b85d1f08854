// Layer: defense. ACT, the anti-collapse triplet (RobRank suffix p; pf: η = 1; px: half the steps adversarial).
import { antiCollapseTriplet } from '../act.js';
import { defenseEntry, tripletsOnly } from '../entry.js';
import { numberField } from '../fields.js';
import { atDefaultSteps, budgetOf, etaSuffix, PGD_FIELDS, resolvePgd } from './budget.js';

/** RobRank's px ("ACT-50 %"): half the steps adversarial. */
const PX_PROBABILITY = 0.5;

const suffix = etaSuffix('p');

export const actEntry = defenseEntry(
  'act',
  {
    probability: numberField({
      flag: 'adversarial-probability',
      value: 'P',
      above: 0,
      max: 1,
      default: 1,
      help: `ACT: probability that a step trains adversarially, the others regular (px: ${PX_PROBABILITY})`,
    }),
    ...PGD_FIELDS,
  },
  {
    summary: 'anti-collapse triplet: collapse positives and negatives, then train (RobRank ACT, suffix p; px: half the steps)',
    paperName: (c) => (c.probability === undefined || c.probability === 1 ? 'ACT' : `ACT-${Math.round(c.probability * 100)}%`),
    resolve: resolvePgd,
    build: (c) => antiCollapseTriplet({ ...budgetOf(c), ...(c.probability !== undefined ? { probability: c.probability } : {}) }),
    refusesLoss: tripletsOnly('ACT perturbs the positive and negative of each mined triplet'),
    trainsBatchNorm: false,
    suffix: {
      grammar: `${suffix.grammar}, px`,
      parse: (s) => {
        if (s === 'px') return { kind: 'act', probability: PX_PROBABILITY };
        const eta = suffix.parse(s);
        return eta === null ? null : { kind: 'act', ...eta };
      },
      format: (c) => {
        if (c.probability === undefined || c.probability === 1) return suffix.format(c);
        return c.probability === PX_PROBABILITY && atDefaultSteps(c) ? 'px' : null;
      },
    },
  },
);
