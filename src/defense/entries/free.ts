// Layer: defense. Free adversarial training: m replays of each batch whose perturbation
// ascends the same backward pass, on a base defense (RobRank fatnone, fatamd, fatamdsemi).
import { defenseEntry, tripletsOnly } from '../entry.js';
import { choiceField, numberField, required } from '../fields.js';
import { FREE_BASES, FREE_REPLAYS, type FreeBase, freeAdversarialTraining } from '../free.js';
import { ALPHA_FIELD, budgetOf, EPSILON_FIELD, resolveBudget } from './budget.js';
import { HM_METRICS, HM_TARGET_FIELDS, hmDestination, hmName, hmRefusesLoss, resolveHmTarget, sampler } from './hm-target.js';

/** RobRank's free-AT model suffixes (the bases it names). */
const FREE_SUFFIXES: Partial<Record<FreeBase, string>> = { none: 'fatnone', amd: 'fatamd', amdsemi: 'fatamdsemi' };

export const freeEntry = defenseEntry(
  'free',
  {
    base: required(
      choiceField({
        flag: 'free-base',
        value: 'D',
        choices: FREE_BASES,
        help: 'free AT: the defense whose images carry the perturbation (hm: HM + free, with --source/--destination)',
      }),
    ),
    replays: numberField({
      flag: 'replays',
      value: 'M',
      int: true,
      min: 1,
      max: 64,
      default: FREE_REPLAYS,
      help: `free AT: replays of each batch, one optimizer step each (RobRank ${FREE_REPLAYS});\n--epochs E/M trains as many steps as E epochs`,
    }),
    // On HM only: the target its perturbation pursues.
    ...HM_TARGET_FIELDS,
    // One PGD step per replay: no step count.
    epsilon: EPSILON_FIELD,
    alpha: ALPHA_FIELD,
  },
  {
    summary: `free adversarial training: ${FREE_REPLAYS} replays per batch, the perturbation ascends the same backward pass; on a base defense (suffix fatnone, fatamd, fatamdsemi)`,
    // On HM, HM's metric (its hardness bounds are those of normalised Euclidean distances).
    metrics: (c) => (c.base === 'hm' ? HM_METRICS : undefined),
    paperName: (c) =>
      c.base === 'hm' && c.source !== undefined && c.destination !== undefined
        ? `${hmName({ ...c, source: c.source, destination: c.destination })}+free`
        : `FreeAT[${c.base}]`,
    resolve: (c, r) => {
      const { epsilon, alpha } = resolveBudget(c, r.imageSide, 1);
      const base = { ...c, replays: c.replays ?? FREE_REPLAYS, epsilon, alpha };
      if (c.base === 'hm') {
        if (c.source === undefined || c.destination === undefined)
          throw new Error('free AT on hm needs --source and --destination (HM + free: the HM target it perturbs towards)');
        return resolveHmTarget({ ...base, source: c.source, destination: c.destination });
      }
      const stray = (['source', 'destination', 'gradualBase', 'ics'] as const).filter((k) => c[k] !== undefined);
      if (stray.length > 0) throw new Error(`free AT on ${c.base}: ${stray.join(', ')} ${stray.length === 1 ? 'is' : 'are'} HM's (--free-base hm)`);
      return base;
    },
    build: (c) => {
      const hm =
        c.base === 'hm' && c.source !== undefined && c.destination !== undefined
          ? { source: sampler(c.source), destination: hmDestination({ ...c, source: c.source, destination: c.destination }), ics: c.ics ?? 0 }
          : undefined;
      if (c.base === 'hm' && hm === undefined) throw new Error('internal: free AT on hm was built from an unresolved config (call resolveDefense first)');
      return freeAdversarialTraining({
        base: c.base,
        replays: c.replays ?? FREE_REPLAYS,
        ...budgetOf({ ...c, steps: 1 }),
        ...(hm !== undefined ? { hm } : {}),
      });
    },
    refusesLoss: (loss, c) => {
      if (c.base === 'none' || c.base === 'est') return undefined; // the run's loss on the (perturbed) batch
      if (c.base === 'hm')
        return c.source !== undefined && c.destination !== undefined ? hmRefusesLoss(loss, { ...c, source: c.source, destination: c.destination }) : undefined;
      return tripletsOnly(`free AT on ${c.base} perturbs the members of each mined triplet`)(loss);
    },
    trainsBatchNorm: false,
    sharding: 'free AT replays whole batches with a perturbation carried across them; it does not train sharded (--shards, --nproc)',
    suffix: {
      grammar: Object.values(FREE_SUFFIXES).join(', '),
      parse: (s) => {
        const base = FREE_BASES.find((b) => FREE_SUFFIXES[b] === s);
        return base === undefined ? null : { kind: 'free', base };
      },
      format: (c) => (c.replays === undefined || c.replays === FREE_REPLAYS ? (FREE_SUFFIXES[c.base] ?? null) : null),
    },
  },
);
