// Layer: defense. HM, hardness manipulation HM[source, destination] with an optional
// gradual adversary and ICS (RobRank suffix [g]hmet<src><dst>[i]).
import { defenseEntry } from '../entry.js';
import { booleanField, required } from '../fields.js';
import { hardnessManipulation } from '../hm.js';
import { budgetOf, PGD_FIELDS, resolveBudget, DEFAULT_STEPS } from './budget.js';
import {
  GRADUAL_BASE,
  HM_METRICS,
  HM_TARGET_FIELDS,
  hmDestination,
  hmLetter,
  hmName,
  hmRefusesLoss,
  isGradual,
  resolveHmTarget,
  sampler,
  SAMPLERS,
  samplerOfLetter,
} from './hm-target.js';

export const hmEntry = defenseEntry(
  'hm',
  {
    ...HM_TARGET_FIELDS,
    source: required(HM_TARGET_FIELDS.source),
    destination: required(HM_TARGET_FIELDS.destination),
    skipSatisfied: booleanField({ flag: 'skip-satisfied', help: 'HM: skip PGD work for triplets already at their destination (exact, faster)' }),
    ...PGD_FIELDS,
  },
  {
    summary: 'hardness manipulation HM[source, destination], optional gradual adversary and ICS (suffix [g]hmet<src><dst>[i])',
    metrics: HM_METRICS,
    paperName: hmName,
    resolve: (c, r) => ({ ...resolveHmTarget(c), skipSatisfied: c.skipSatisfied ?? false, ...resolveBudget(c, r.imageSide, DEFAULT_STEPS) }),
    build: (d) =>
      hardnessManipulation({
        ...budgetOf(d),
        source: sampler(d.source),
        sourceName: d.source,
        destination: hmDestination(d),
        ics: d.ics,
        skipSatisfied: d.skipSatisfied,
      }),
    refusesLoss: hmRefusesLoss,
    trainsBatchNorm: false,
    suffix: {
      grammar: '[g]hmet<src><dst>[i]',
      parse: (suffix, icsWeight) => {
        const letters = SAMPLERS.map(hmLetter).join('');
        const m = new RegExp(`^(g?)hmet([${letters}])([${letters}])(i?)$`).exec(suffix);
        if (m === null) return null;
        const [, gradual, src = '', dst = '', ics] = m;
        return {
          kind: 'hm',
          source: samplerOfLetter(src),
          destination: gradual ? ('lga' as const) : samplerOfLetter(dst),
          ...(gradual ? { gradualBase: samplerOfLetter(dst) } : {}),
          ics: ics ? icsWeight : 0,
        };
      },
      format: (c) => {
        const tail = c.ics ? 'i' : '';
        if (typeof c.destination === 'number') return null;
        if (isGradual(c.destination)) return c.destination === 'lga' ? `ghmet${hmLetter(c.source)}${hmLetter(c.gradualBase ?? GRADUAL_BASE)}${tail}` : null;
        return `hmet${hmLetter(c.source)}${hmLetter(c.destination)}${tail}`;
      },
    },
  },
);
