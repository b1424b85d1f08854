// Layer: cli. `rankshield swipe CKPT --profile rob28`: every attack of a
// profile over the checkpoint's test split, ERS and ARS (docs/attacks-and-metrics.md §3, §5, §6).
import path from 'node:path';
import { ensureWritableDir, writeFileAtomicSync } from '../io/atomic.js';
import { PROFILES } from '../attack/profiles.js';
import { runSwipe, withStoredBenign, type SwipeResult } from '../eval/swipe.js';
import { swipeMarkdown, swipeReports } from '../eval/report-svg.js';
import { SwipeExampleKeeper, writeSwipePage, type SwipePageSource } from '../eval/report-html.js';
import type { CheckpointInfo } from '../train/checkpoint.js';
import { MODEL_SOURCE_FLAGS, MODEL_SOURCE_USAGE, openModelSource } from './model-source.js';
import { UsageError, type Command } from './command.js';
import { launchRanks, processGroupFromEnv, withoutNproc } from './launch.js';
import { DEVICE_USAGE, deviceFlag, flagBool, flagNumber, flagString, parseArgs, showProgress } from './args.js';

export const swipeCommand: Command = {
  name: 'swipe',
  summary: 'run every ranking attack of a profile (rob28, rob224) and print ERS / ARS',
  usage: `usage: rankshield swipe CKPT [--profile rob28] [--max-iter N] [--seed S] [--benign-r1 PCT]
                       [--gtm-target reference-bug|intended] [--out DIR] [--examples N]
                       [--json] [--quiet]
       rankshield swipe --model-file FILE --dataset NAME [--metric N|E|C] [...]

Attacks every test image (queries in loader order, batches of 128 for 28×28, 112 for 224×224)
with the nine attacks of the profile (CA+, CA−, QA+, QA−, TMA, ES, LTM, GTM, GTT), the whole
test split as the clean gallery. Numbers are per-batch means averaged over batches, as RobRank.
Units, directions and the ERS/ARS formulas: docs/attacks-and-metrics.md.
  --profile     ${Object.keys(PROFILES).join(', ')} (default rob28; rob28/rob224 give ERS and ARS,
                the others the CA±/SPQA± curves at several ε, W, M)
  --max-iter    attack only the first N query batches
  --benign-r1   benign R@1 (%) for ARS (default: measured on the attacked batches)
  --out         also write swipe.json, swipe.md, swipe.svg and index.html there: a page (open it
                offline) with the numbers, the chart and, under examples/, pictures of what each
                attack did to the first N queries of batch 1
  --examples    N queries pictured per attack on the page (default 3; 0 = numbers only)
  --json        print only the JSON result (no progress bars)
  --quiet       no progress bars (they go to stderr: gallery embedding, then each attack of each batch)
  --nproc N     N local processes share the query batches (the result equals one process's);
                ranks started by a scheduler use RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT instead
${DEVICE_USAGE}
${MODEL_SOURCE_USAGE}
The last line of output is the JSON result; its "benign" holds the checkpoint's benign metrics and
"robrank" the same numbers under RobRank's names (there "mAP@R" is R = 10, our "mAP@10").`,
  async run(argv) {
    const p = parseArgs(argv, { profile: 'string', 'max-iter': 'int', seed: 'int', 'benign-r1': 'number', 'gtm-target': 'string', out: 'string', examples: 'int', json: 'boolean', quiet: 'boolean', nproc: 'int', device: 'string', ...MODEL_SOURCE_FLAGS });
    const profile = flagString(p, 'profile') ?? 'rob28';
    if (PROFILES[profile] === undefined) throw new UsageError(`unknown profile '${profile}' (known: ${Object.keys(PROFILES).join(', ')})`);
    const maxIter = flagNumber(p, 'max-iter');
    if (maxIter !== undefined && maxIter < 1) throw new UsageError('--max-iter must be >= 1');
    const gtmTarget = flagString(p, 'gtm-target');
    if (gtmTarget !== undefined && gtmTarget !== 'reference-bug' && gtmTarget !== 'intended') throw new UsageError(`--gtm-target must be reference-bug or intended, got '${gtmTarget}'`);
    const json = flagBool(p, 'json');
    const benignR1 = flagNumber(p, 'benign-r1');
    if (benignR1 !== undefined && !(benignR1 >= 0 && benignR1 <= 100)) throw new UsageError(`--benign-r1 is a percentage in [0, 100], got ${benignR1}`);
    // Every check before the work: a swipe can take an hour, its results must have somewhere to go.
    const out = flagString(p, 'out');
    const examples = flagNumber(p, 'examples');
    if (examples !== undefined && examples < 0) throw new UsageError(`--examples must be >= 0, got ${examples}`);
    if (examples !== undefined && out === undefined) throw new UsageError('--examples goes with --out (the page it pictures is written there)');
    const nproc = flagNumber(p, 'nproc');
    if (nproc !== undefined && nproc < 1) throw new UsageError(`--nproc must be >= 1, got ${nproc}`);
    const group = nproc !== undefined && nproc > 1 ? null : processGroupFromEnv();
    if (out !== undefined && (group === null || group.rank === 0)) ensureWritableDir(out);
    const device = deviceFlag(p);
    if (group === null) return launchRanks(nproc!, 'swipe', withoutNproc(argv));
    const { model, data, metric, info } = await openModelSource(p);
    model.to(device);
    // Only the rank that writes the reports keeps pictures (batch 0 is its batch).
    const keeper = out !== undefined && group.rank === 0 && examples !== 0 ? new SwipeExampleKeeper(examples) : undefined;
    try {
      const swiped = await runSwipe(model, data.test, metric, {
        profile,
        maxIter,
        seed: flagNumber(p, 'seed'),
        benignRecallAt1: benignR1,
        attackOptions: gtmTarget === undefined ? {} : { gtmTarget },
        progress: showProgress(p) && group.rank === 0,
        group,
        examples: keeper?.option,
      });
      if (group.rank !== 0) return 0; // every rank holds the result; rank 0 reports it
      const result = withStoredBenign(swiped, info === null ? null : info.metrics);
      // The result is printed before the reports are written: a failing disk cannot take it away.
      if (!json) console.log(swipeMarkdown(result));
      console.log(JSON.stringify(result));
      if (out === undefined) return 0;
      writeReports(out, result);
      // The page comes last: a failure there costs the page only.
      try {
        const page = await writeSwipePage(out, result, { ds: data.test, keeper, source: pageSource(p.positionals[0], flagString(p, 'model-file'), info, data.test.name) });
        if (!json) process.stderr.write(`rankshield swipe: wrote ${page}\n`);
      } catch (e) {
        process.stderr.write(`rankshield swipe: the results are in ${out}, but index.html could not be written: ${(e as Error).message}\n`);
        return 1;
      }
      return 0;
    } finally {
      keeper?.dispose();
      model.dispose();
      group.destroy();
    }
  },
};

function writeReports(dir: string, r: SwipeResult): void {
  const { json, markdown, svg } = swipeReports(r);
  writeFileAtomicSync(path.join(dir, 'swipe.json'), json);
  writeFileAtomicSync(path.join(dir, 'swipe.md'), markdown);
  if (svg !== null) writeFileAtomicSync(path.join(dir, 'swipe.svg'), svg);
}

/** The page's words for where the model came from: the checkpoint's config, or the TorchScript file. */
function pageSource(ckpt: string | undefined, modelFile: string | undefined, info: CheckpointInfo | null, dataset: string): SwipePageSource {
  if (info === null) return { model: `TorchScript ${path.basename(modelFile ?? '?')}`, dataset };
  const c = info.config;
  // A run directory, a file inside one or one of its checkpoints/<seq> commits: the run's name, not the path.
  let dir = ckpt === undefined ? undefined : path.resolve(ckpt);
  if (dir !== undefined && path.extname(dir) !== '') dir = path.dirname(dir);
  if (dir !== undefined && path.basename(path.dirname(dir)) === 'checkpoints') dir = path.dirname(path.dirname(dir));
  const run = dir === undefined ? undefined : path.basename(dir);
  return {
    model: `${c.model}, ${c.loss} loss (${c.miner} miner), defense ${c.defense.kind}, trained ${info.epoch + 1} epoch(s)`,
    dataset,
    ...(run === undefined ? {} : { checkpoint: run }),
  };
}
