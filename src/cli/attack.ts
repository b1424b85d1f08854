// Layer: cli. `rankshield attack CKPT --attack CA+`: one ranking attack with a
// chosen PGD budget over the checkpoint's test split (the same runner, seeding
// and aggregation as a swipe column).
import { ATTACK_KINDS, parseAttackKind, profileForImageSize, type AttackKind, type AttackOptions, type Profile } from '../attack/index.js';
import { attackExamples, runSwipe } from '../eval/swipe.js';
import { saveAttackImages } from '../eval/attack-images.js';
import { ensureWritableDir } from '../io/atomic.js';
import { attackColumn, formatAttackValue, robustPhrase } from '../eval/columns.js';
import { MODEL_SOURCE_FLAGS, MODEL_SOURCE_USAGE, openModelSource } from './model-source.js';
import { UsageError, type Command } from './command.js';
import { DEVICE_USAGE, deviceFlag, flagBool, flagNumber, flagString, parseArgs, showProgress } from './args.js';

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
                        [--xi-rate K] [--json] [--quiet]

NAME is one of ${ATTACK_KINDS.join(', ')}. The budget defaults to the rob28 profile for 28×28
inputs (ε 77/255, α 3/255, η 32) and rob224 otherwise (ε 8/255). --size sets W (CA) or M (QA, SPQA);
--xi-rate sets SPQA's k in ξ = exp(k·J_sp) (default: the dataset's value, e.g. 4e4 for Fashion).
${DEVICE_USAGE}
  --save-images DIR     also write, for the first --save-count (8) images of the first query batch,
                        INDEX-query.png, INDEX-perturbation-xS.png (pixel = 0.5 + S·δ), INDEX-adversarial.png
                        and rankings.json (top-10 neighbours before and after: index, label, distance)
${MODEL_SOURCE_USAGE}
Units and directions of the reported numbers: docs/attacks-and-metrics.md §4. Progress bars go to
stderr; --quiet or --json turn them off. The last line of output is the JSON result.`,
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
      quiet: 'boolean',
      device: 'string',
      'save-images': 'string',
      'save-count': 'int',
      ...MODEL_SOURCE_FLAGS,
    });
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
    const saveImages = flagString(p, 'save-images');
    const saveCount = flagNumber(p, 'save-count') ?? 8;
    if (saveCount < 1) throw new UsageError(`--save-count must be >= 1, got ${saveCount}`);
    if (saveImages !== undefined) ensureWritableDir(saveImages);
    const { model, data, metric } = await openModelSource(p);
    model.to(device);
    try {
      const base = profileForImageSize(data.test.height);
      const budget = { ...base.runs[0]!.budget, ...(epsilon === undefined ? {} : { epsilon }), ...(alpha === undefined ? {} : { alpha }), ...(steps === undefined ? {} : { steps }) };
      const profile: Profile = {
        name: `${kind} ε=${budget.epsilon.toFixed(5)} α=${budget.alpha.toFixed(5)} η=${budget.steps}`,
        usedFor: 'one attack',
        batchSize: base.batchSize,
        runs: [{ attack: kind, budget, options: size === undefined ? {} : { queriesPerCandidate: size, candidatesPerQuery: size } }],
      };
      const attackOptions: AttackOptions = {
        ...(gtmTarget === undefined ? {} : { gtmTarget }),
        ...(esDistanceAt === undefined ? {} : { esDistanceAt }),
        ...(flagBool(p, 'ltm-exclude-self') ? { ltmExcludeSelf: true } : {}),
        ...(xiRate === undefined ? {} : { spqaXiRate: xiRate }),
      };
      const result = await runSwipe(model, data.test, metric, {
        profile,
        maxIter: flagNumber(p, 'max-iter'),
        seed: flagNumber(p, 'seed'),
        progress: showProgress(p),
        attackOptions,
      });
      if (!flagBool(p, 'json')) {
        for (const [k, v] of Object.entries(result.attacks)) {
          const c = attackColumn(k);
          console.log(`${k.padEnd(18)} ${formatAttackValue(k, v).padStart(7)} ${c.unit.padEnd(10)} (${robustPhrase(c)})`);
        }
      }
      // ERS/ARS need all ten columns: a single attack reports only its own numbers.
      const { queries, batches, attacks, benignRecallAt1, seconds } = result;
      console.log(JSON.stringify({ attack: kind, budget, queries, batches, attacks, benignRecallAt1, seconds }));
      if (saveImages !== undefined) {
        // The first query batch again, attacked exactly as above (same seed), keeping its images.
        const ex = await attackExamples(model, data.test, metric, { run: profile.runs[0]!, batchSize: profile.batchSize, seed: flagNumber(p, 'seed'), attackOptions });
        try {
          const { files } = await saveAttackImages(saveImages, { attack: kind, budget, clean: ex.clean, examples: ex.examples, indices: ex.indices, labels: data.test.labels, limit: saveCount });
          process.stderr.write(`rankshield attack: ${files.length} files in ${saveImages} (query, amplified perturbation, adversarial query; rankings.json)\n`);
        } finally {
          ex.clean.dispose();
          ex.examples.adversarial.dispose();
        }
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
