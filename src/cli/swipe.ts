// Layer: cli. `rankshield swipe CKPT --profile rob28`: every attack of a
// profile over the checkpoint's test split, ERS and ARS (docs/attacks-and-metrics.md §3, §5, §6).
import path from 'node:path';
import { ensureWritableDir, writeFileAtomicSync } from '../io/atomic.js';
import { ersProfile, PROFILES } from '../attack/profiles.js';
import { runSwipe, type SwipeResult } from '../eval/swipe.js';
import { swipeMarkdown, swipeSvg } from '../eval/report-svg.js';
import { readBenignMetrics, robrankBenignKeys } from '../eval/benign.js';
import { DATA_ROOT_SECTION, MODEL_SOURCE_SECTION, openModelSource } from './model-source.js';
import { UsageError, type Command } from './command.js';
import { launchRanks, processGroupFromEnv, withoutNproc } from './launch.js';
import {
  applyThreads, DEVICE_OPTION, deviceFlag, flagBool, flagNumber, flagString, mergeSections, NPROC_OPTION, OUTPUT_OPTIONS, parseOptions, showProgress, THREADS_OPTION, usageText,
  type OptionSection,
} from './args.js';

const SECTIONS: readonly OptionSection[] = [
  {
    options: {
      profile: { kind: 'string', value: 'NAME', choices: Object.keys(PROFILES), help: `${Object.values(PROFILES).map((p) => `${p.name}: ${p.usedFor}`).join('\n')}\n(default: rob28 for 28×28 datasets, rob224 for 224×224)` },
      'max-iter': { kind: 'int', value: 'N', min: 1, help: 'attack only the first N query batches' },
      seed: { kind: 'int', value: 'S', min: 0, help: 'seed of the attacks\' random choices (candidates, queries)', default: '0' },
      'benign-r1': { kind: 'number', value: 'PCT', min: 0, max: 100, help: 'benign R@1 (%) for ARS (default: measured on the attacked batches)' },
      'gtm-target': { kind: 'string', choices: ['reference-bug', 'intended'], help: "GTM's target: the reference code's index bug or the intended one", default: 'reference-bug' },
      out: { kind: 'string', value: 'DIR', help: 'also write swipe.json, swipe.md and swipe.svg there' },
      ...OUTPUT_OPTIONS,
      ...THREADS_OPTION,
      ...DEVICE_OPTION,
      ...NPROC_OPTION,
    },
  },
  DATA_ROOT_SECTION,
  MODEL_SOURCE_SECTION,
];

export const swipeCommand: Command = {
  name: 'swipe',
  summary: 'run every ranking attack of a profile (rob28, rob224) and print ERS / ARS',
  usage: usageText(
    ['rankshield swipe CKPT [options]', 'rankshield swipe --model-file FILE --dataset NAME [options]'],
    `Attacks every test image (queries in loader order, batches of 128 for 28×28, 112 for 224×224)
with the nine attacks of the profile (CA+, CA−, QA+, QA−, TMA, ES, LTM, GTM, GTT), the whole
test split as the clean gallery. Numbers are per-batch means averaged over batches, as RobRank.
With --nproc the ranks share the query batches (the result equals one process's).
Units, directions and the ERS/ARS formulas: docs/attacks-and-metrics.md.`,
    SECTIONS,
    `The last line of output is the JSON result; its "benign" holds the checkpoint's benign metrics and
"robrank" the same numbers under RobRank's names (there "mAP@R" is R = 10, our "mAP@10").`,
  ),
  options: mergeSections(SECTIONS),
  async run(argv) {
    const p = parseOptions(argv, this.options!);
    const maxIter = flagNumber(p, 'max-iter');
    const gtmTarget = flagString(p, 'gtm-target') as 'reference-bug' | 'intended' | undefined;
    const json = flagBool(p, 'json');
    const benignR1 = flagNumber(p, 'benign-r1');
    applyThreads(p);
    // Every check before the work: a swipe can take an hour, its results must have somewhere to go.
    const out = flagString(p, 'out');
    const nproc = flagNumber(p, 'nproc');
    const group = nproc !== undefined && nproc > 1 ? null : processGroupFromEnv();
    if (out !== undefined && (group === null || group.rank === 0)) ensureWritableDir(out);
    const device = deviceFlag(p);
    if (group === null) return launchRanks(nproc!, 'swipe', withoutNproc(argv));
    const { model, data, metric, info } = await openModelSource(p);
    model.to(device);
    try {
      const swiped = await runSwipe(model, data.test, metric, {
        profile: flagString(p, 'profile') ?? ersProfile(data.test.height).name,
        maxIter,
        seed: flagNumber(p, 'seed'),
        benignRecallAt1: benignR1,
        attackOptions: gtmTarget === undefined ? {} : { gtmTarget },
        progress: showProgress(p) && group.rank === 0,
        group,
      });
      if (group.rank !== 0) return 0; // every rank holds the result; rank 0 reports it
      // A checkpoint taken before any evaluation has no benign metrics to carry along.
      const benign = info === null ? {} : readBenignMetrics(info.metrics);
      const result = Object.keys(benign).length === 0 ? swiped : { ...swiped, benign, robrank: robrankBenignKeys(benign) };
      // The result is printed before the reports are written: a failing disk cannot take it away.
      if (!json) console.log(swipeMarkdown(result));
      console.log(JSON.stringify(result));
      if (out !== undefined) writeReports(out, result);
      return 0;
    } finally {
      model.dispose();
      group.destroy();
    }
  },
};

function writeReports(dir: string, r: SwipeResult): void {
  writeFileAtomicSync(path.join(dir, 'swipe.json'), JSON.stringify(r, null, 2) + '\n');
  writeFileAtomicSync(path.join(dir, 'swipe.md'), swipeMarkdown(r));
  if (r.ERS !== null) writeFileAtomicSync(path.join(dir, 'swipe.svg'), swipeSvg(r));
}
