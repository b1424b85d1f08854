// Layer: defense. CA-TRIDE, collapse-aware triplet decoupling, and its CA-ANP / CA-CAP
// ablations (the shorthand rres18p:pgtripletN: ACT's suffix with the gradual semihard loss).
import {
  CATRIDE_MARGIN,
  CATRIDE_MODES,
  CATRIDE_STEPS,
  CATRIDE_WEIGHTINGS,
  type CatrideMode,
  type CollapseWeighting,
  collapseAwareTripletDecoupling,
} from '../catride.js';
import { defenseEntry } from '../entry.js';
import { choiceField, numberField } from '../fields.js';
import { budgetOf, PGD_FIELDS, resolveBudget } from './budget.js';

const DEFAULT_WEIGHTING: CollapseWeighting = 'softmax';
const DEFAULT_MODE: CatrideMode = 'alternate';

export const catrideEntry = defenseEntry(
  'catride',
  {
    lambda: numberField({
      flag: 'lambda',
      value: 'L',
      above: 0,
      help: 'CA-TRIDE attention factor λ (CUB 10, Cars 9.5, SOP 2; other datasets: give it,\nor --lambda-from an undefended run)',
    }),
    weighting: choiceField({
      flag: 'catride-weighting',
      choices: CATRIDE_WEIGHTINGS,
      default: DEFAULT_WEIGHTING,
      help: "collapse-aware weights: the code's soft-max or the slides' soft-min",
    }),
    mode: choiceField({
      flag: 'catride-mode',
      choices: CATRIDE_MODES,
      default: DEFAULT_MODE,
      help: 'CA-TRIDE branches: both alternating, or the CA-ANP / CA-CAP ablation',
    }),
    ...PGD_FIELDS,
  },
  {
    summary: 'CA-TRIDE: collapse-aware anchor (ANP) and candidate (CAP) perturbations (shorthand rres18p:pgtripletN)',
    // Its separation term is defined for N and E only.
    metrics: ['N', 'E'],
    paperName: (d) => (d.mode === undefined || d.mode === 'alternate' ? 'CA-TRIDE' : `CA-${d.mode.toUpperCase()}`),
    resolve: (c, r) => {
      const lambda = c.lambda ?? r.paper.catrideLambda;
      if (lambda === undefined) {
        throw new Error(
          `CA-TRIDE on ${r.dataset} needs λ: it is published for cub (10), cars (9.5) and sop (2) only; give --lambda L, or --lambda-from RUN to take it from an undefended run's entanglement (eval --entanglement shows it)`,
        );
      }
      return { ...c, lambda, weighting: c.weighting ?? DEFAULT_WEIGHTING, mode: c.mode ?? DEFAULT_MODE, ...resolveBudget(c, r.imageSide, CATRIDE_STEPS) };
    },
    build: (c) => collapseAwareTripletDecoupling({ ...budgetOf(c), lambda: c.lambda, weighting: c.weighting, mode: c.mode }),
    // The separation term is added inside the triplet loss (the released code's triplet kernel).
    refusesLoss: (loss) =>
      loss.name === 'triplet' ? undefined : `CA-TRIDE adds its separation term inside the triplet loss; it is not defined for loss ${loss.name}`,
    trainsBatchNorm: false,
    defaultMargin: CATRIDE_MARGIN,
    suffix: {
      grammar: 'p with a pg… loss',
      parse: () => null,
      format: (c) => (c.mode === undefined || c.mode === 'alternate' ? 'p' : null),
      // CA-TRIDE's released configuration is the ACT model class with the gradual semihard loss (docs/methods.md §8.1).
      claims: (parsed, miner) => parsed.kind === 'act' && parsed.probability === undefined && miner === 'gradual-semihard',
    },
  },
);
