// Layer: cli. `rankshield attack CKPT --attack CA+`: one ranking attack with a
// chosen PGD budget over the checkpoint's test split (the same runner, seeding
// and aggregation as a swipe column).
import { BUDGETS, describeBudget } from '../attack/budget.js';
import { BUDGET_OPTIONS, checkBudgetFlags, profileFor } from './budget-options.js';
import { ATTACKS, attackEntry, ersProfile, type AttackKind, type Profile } from '../attack/index.js';
import { attackOptionFlags, attackOptionTable } from './attack-options.js';
import { attackExamples, runSwipe } from '../eval/swipe.js';
import { SEARCH_OPTIONS, searchFlags } from './search-options.js';
import { saveAttackImages } from '../eval/attack-images.js';
import { ensureWritableDir } from '../io/atomic.js';
import { attackColumn, formatAttackValue, robustPhrase } from '../eval/columns.js';
import { DATA_ROOT_SECTION, MODEL_SOURCE_SECTION, openModelSource } from './model-source.js';
import { UsageError, type Command } from './command.js';
import {
  applyThreads,
  DEVICE_OPTION,
  MAX_BATCHES_OPTION,
  deviceFlag,
  flagBool,
  flagNumber,
  flagString,
  mergeSections,
  OUTPUT_OPTIONS,
  parseOptions,
  showProgress,
  THREADS_OPTION,
  usageText,
  type OptionSection,
} from './args.js';

/** The ERS attacks' budgets (BUDGETS), which the help texts quote. */
const ATTACK_28 = BUDGETS.small.attack;
const ATTACK_224 = BUDGETS.large.attack;

/** Images --save-images writes when --save-count is not given. */
const SAVE_COUNT = 8;

const SECTIONS: readonly OptionSection[] = [
  {
    title: 'attack',
    options: {
      attack: { kind: 'string', value: 'NAME', help: ATTACKS.map((a) => `${a.kind}: ${a.summary}`).join('\n') },
      ...BUDGET_OPTIONS,
      'max-batches': MAX_BATCHES_OPTION,
      seed: { kind: 'int', value: 'S', min: 0, help: "seed of the attack's random choices", default: '0' },
      // Each attack's options (src/attack/*.ts), the other attacks ignore them.
      ...attackOptionTable('all'),
    },
  },
  {
    title: 'search method (docs/attacks-and-metrics.md §8)',
    options: SEARCH_OPTIONS,
  },
  {
    title: 'output',
    options: {
      ...OUTPUT_OPTIONS,
      'save-images': {
        kind: 'string',
        value: 'DIR',
        help: 'also write, for the first --save-count images of the first query batch,\nINDEX-query.png, INDEX-perturbation-xS.png (pixel = 0.5 + S·δ), INDEX-adversarial.png\nand rankings.json (top-10 neighbours before and after: index, label, class name, distance)',
      },
      'save-count': { kind: 'int', value: 'N', min: 1, help: 'how many images --save-images writes', default: String(SAVE_COUNT) },
      ...THREADS_OPTION,
      ...DEVICE_OPTION,
    },
  },
  DATA_ROOT_SECTION,
  MODEL_SOURCE_SECTION,
];

export const attackCommand: Command = {
  name: 'attack',
  summary: 'one ranking attack (CA±, QA±, SPQA±, TMA, ES, LTM, GTM, GTT) on a checkpoint',
  usage: usageText(
    ['rankshield attack CKPT --attack NAME [options]', 'rankshield attack --model-file FILE --dataset NAME --attack NAME [options]'],
    `The budget defaults to the rob28 profile's for 28×28 inputs (${describeBudget(ATTACK_28)}) and rob224's
otherwise (${describeBudget(ATTACK_224)}). Units and directions of the reported numbers: docs/attacks-and-metrics.md §4.
Progress bars go to stderr; --quiet or --json turn them off. The last line of output is the JSON result.`,
    SECTIONS,
  ),
  options: mergeSections(SECTIONS),
  async run(argv) {
    const p = parseOptions(argv, this.options!);
    const name = flagString(p, 'attack');
    if (name === undefined) throw new UsageError(`--attack is required (one of ${ATTACKS.map((a) => a.kind).join(', ')})`);
    let kind: AttackKind;
    try {
      kind = attackEntry(name).kind;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { perRun, swipeWide: attackOptions } = attackOptionFlags(p, 'all');
    const device = deviceFlag(p);
    applyThreads(p);
    const saveImages = flagString(p, 'save-images');
    const saveCount = flagNumber(p, 'save-count') ?? SAVE_COUNT;
    if (saveImages !== undefined) ensureWritableDir(saveImages);
    const search = searchFlags(p);
    checkBudgetFlags(p, search.norm);
    const { model, data, metric } = await openModelSource(p);
    model.to(device);
    try {
      const base = profileFor(ersProfile(data.test.height), search.norm, p, data.test.height);
      const budget = base.runs[0]!.budget;
      const profile: Profile = {
        name: `${kind}${search.norm === 'l2' ? ' L2' : ''} ε=${budget.epsilon.toFixed(5)} α=${budget.alpha.toFixed(5)} η=${budget.steps}`,
        usedFor: 'one attack',
        batchSize: base.batchSize,
        runs: [{ attack: kind, budget, options: perRun }],
      };
      const result = await runSwipe(model, data.test, metric, {
        profile,
        maxIter: flagNumber(p, 'max-batches'),
        seed: flagNumber(p, 'seed'),
        progress: showProgress(p),
        attackOptions,
        method: search.method,
        methodSettings: search.settings,
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
        const ex = await attackExamples(model, data.test, metric, {
          run: profile.runs[0]!,
          batchSize: profile.batchSize,
          seed: flagNumber(p, 'seed'),
          attackOptions,
        });
        try {
          const { files } = await saveAttackImages(saveImages, {
            attack: kind,
            budget,
            clean: ex.clean,
            examples: ex.examples,
            indices: ex.indices,
            labels: data.test.labels,
            ...(data.test.classNames === undefined ? {} : { classNames: data.test.classNames }),
            limit: saveCount,
          });
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
