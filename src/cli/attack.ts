// Layer: cli. `rankshield attack CKPT --attack CA+`: one ranking attack with a
// chosen PGD budget over the checkpoint's test split (the same runner, seeding
// and aggregation as a swipe column).
import { openDataset } from '../data/index.js';
import { ATTACK_KINDS, parseAttackKind, PROFILES, type AttackKind, type Profile } from '../attack/index.js';
import { runSwipe } from '../eval/swipe.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { UsageError, type Command } from './command.js';
import { DEVICE_USAGE, deviceFlag, flagBool, flagNumber, flagString, parseArgs } from './args.js';

/** The --attack value as an attack kind; a bad name is a usage error. */
function attackKindFlag(name: string): AttackKind {
  try {
    return parseAttackKind(name);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export const attackCommand: Command = {
  name: 'attack',
  summary: 'one ranking attack (CA±, QA±, SPQA±, TMA, ES, LTM, GTM, GTT) on a checkpoint',
  usage: `usage: rankshield attack CKPT --attack NAME [--epsilon E] [--alpha A] [--steps N]
                        [--size W|M] [--max-iter N] [--seed S] [--gtm-target reference-bug|intended]
                        [--ltm-exclude-self] [--es-distance-at last-iteration-start|final]
                        [--xi-rate K] [--json]

NAME is one of ${ATTACK_KINDS.join(', ')}. The budget defaults to the rob28 profile for 28×28
inputs (ε 77/255, α 3/255, η 32) and rob224 otherwise (ε 8/255). --size sets W (CA) or M (QA, SPQA);
--xi-rate sets SPQA's k in ξ = exp(k·J_sp) (default: the dataset's value, e.g. 4e4 for Fashion).
${DEVICE_USAGE}
The last line of output is the JSON result.`,
  async run(argv) {
    const p = parseArgs(argv, {
      attack: 'string',
      epsilon: 'number',
      alpha: 'number',
      steps: 'int',
      size: 'int',
      'max-iter': 'int',
      seed: 'int',
      'gtm-target': 'string',
      'ltm-exclude-self': 'boolean',
      'es-distance-at': 'string',
      'xi-rate': 'number',
      json: 'boolean',
      device: 'string',
    });
    if (p.positionals.length !== 1) throw new UsageError('expected exactly one checkpoint path');
    const name = flagString(p, 'attack');
    if (name === undefined) throw new UsageError(`--attack is required (one of ${ATTACK_KINDS.join(', ')})`);
    const kind = attackKindFlag(name);
    const epsilon = flagNumber(p, 'epsilon');
    const alpha = flagNumber(p, 'alpha');
    const steps = flagNumber(p, 'steps');
    if (epsilon !== undefined && !(epsilon >= 0 && epsilon <= 1)) throw new UsageError(`--epsilon must be in [0, 1], got ${epsilon}`);
    if (alpha !== undefined && !(alpha > 0)) throw new UsageError(`--alpha must be > 0, got ${alpha}`);
    if (steps !== undefined && steps < 1) throw new UsageError(`--steps must be >= 1, got ${steps}`);
    const gtmTarget = flagString(p, 'gtm-target');
    if (gtmTarget !== undefined && gtmTarget !== 'reference-bug' && gtmTarget !== 'intended') throw new UsageError(`--gtm-target must be reference-bug or intended`);
    const esDistanceAt = flagString(p, 'es-distance-at');
    if (esDistanceAt !== undefined && esDistanceAt !== 'last-iteration-start' && esDistanceAt !== 'final') throw new UsageError(`--es-distance-at must be last-iteration-start or final`);
    const size = flagNumber(p, 'size');
    const xiRate = flagNumber(p, 'xi-rate');
    if (xiRate !== undefined && !(xiRate > 0)) throw new UsageError(`--xi-rate must be > 0, got ${xiRate}`);
    const device = deviceFlag(p);
    const { model, info } = loadCheckpoint(p.positionals[0]!);
    model.to(device);
    try {
      const data = await openDataset(info.config.dataset);
      const base = PROFILES[data.test.height <= 32 ? 'rob28' : 'rob224']!;
      const budget = { ...base.runs[0]!.budget, ...(epsilon === undefined ? {} : { epsilon }), ...(alpha === undefined ? {} : { alpha }), ...(steps === undefined ? {} : { steps }) };
      const profile: Profile = {
        name: `${kind} ε=${budget.epsilon.toFixed(5)} α=${budget.alpha.toFixed(5)} η=${budget.steps}`,
        usedFor: 'one attack',
        batchSize: base.batchSize,
        runs: [{ attack: kind, budget, options: size === undefined ? {} : { queriesPerCandidate: size, candidatesPerQuery: size } }],
      };
      const result = await runSwipe(model, data.test, info.config.metric, {
        profile,
        maxIter: flagNumber(p, 'max-iter'),
        seed: flagNumber(p, 'seed'),
        attackOptions: {
          ...(gtmTarget === undefined ? {} : { gtmTarget }),
          ...(esDistanceAt === undefined ? {} : { esDistanceAt }),
          ...(flagBool(p, 'ltm-exclude-self') ? { ltmExcludeSelf: true } : {}),
          ...(xiRate === undefined ? {} : { spqaXiRate: xiRate }),
        },
      });
      if (!flagBool(p, 'json')) for (const [k, v] of Object.entries(result.attacks)) console.log(`${k.padEnd(18)} ${v.toFixed(k === 'TMA' || k === 'ES:D' ? 3 : 1)}`);
      // ERS/ARS need all ten columns: a single attack reports only its own numbers.
      const { queries, batches, attacks, benignRecallAt1, seconds } = result;
      console.log(JSON.stringify({ attack: kind, budget, queries, batches, attacks, benignRecallAt1, seconds }));
      return 0;
    } finally {
      model.dispose();
    }
  },
};
