// Layer: cli. `rankshield eval CKPT`: benign retrieval metrics of a checkpoint on its test split.
import { BENIGN_COLUMNS, benignJson, evaluateBenign, formatBenign } from '../eval/benign.js';
import { catrideLambdaFromEntanglement } from '../eval/entanglement.js';
import { DATA_ROOT_SECTION, MODEL_SOURCE_SECTION, openModelSource } from './model-source.js';
import type { Command } from './command.js';
import { bootstrapInfo, formatInterval, POINT_ESTIMATOR } from '../eval/bootstrap.js';
import {
  applyThreads,
  bootstrapFlags,
  BOOTSTRAP_OPTIONS,
  DEVICE_OPTION,
  deviceFlag,
  flagBool,
  mergeSections,
  OUTPUT_OPTIONS,
  parseOptions,
  showProgress,
  THREADS_OPTION,
  usageText,
  type OptionSection,
} from './args.js';

const SECTIONS: readonly OptionSection[] = [
  {
    options: {
      entanglement: { kind: 'boolean', help: 'also measure the entanglement and the CA-TRIDE λ it implies' },
      ...BOOTSTRAP_OPTIONS,
      ...OUTPUT_OPTIONS,
      ...THREADS_OPTION,
      ...DEVICE_OPTION,
    },
  },
  DATA_ROOT_SECTION,
  MODEL_SOURCE_SECTION,
];

export const evalCommand: Command = {
  name: 'eval',
  summary: `benign retrieval metrics (${BENIGN_COLUMNS.join(', ')}) of a checkpoint`,
  usage: usageText(
    ['rankshield eval CKPT [options]', 'rankshield eval --model-file FILE --dataset NAME [options]'],
    `CKPT is a run directory (or its checkpoint.json / model.safetensors). The whole test split is
both query set and gallery, each query's own copy left out of its ranking (docs/attacks-and-metrics.md §1–2).
Columns: ${BENIGN_COLUMNS.join(', ')} (×100), and r@M (mean rank of the first relevant item).
mAP@10 is RobRank's "mAP@R" with R fixed to 10; mAP@R is the standard one (R = the query's number
of relevant items, as pytorch-metric-learning). --json prints {${BENIGN_COLUMNS.map((k) => `"${k}":…`).join(',')}} as fractions,
with "intervals" (each metric's 95 % interval, same keys, from a per-query bootstrap: the test
images resampled; NMI from the drawn images' labels and k-means clusters) and "bootstrap" (B, seed).
Points are means of per-batch means (RobRank's convention); NMI is of the whole split.

--entanglement measures mean intra-class / mean inter-class test distance and the CA-TRIDE
attention factor λ it implies (docs/methods.md §8.3: linear through SOP 0.66 → 2 and CUB/Cars
0.79 → 9.75, clamped), for datasets without a published λ (MNIST, Fashion-MNIST).
Progress bars (embedding, ranking, k-means) go to stderr; --quiet or --json turn them off.`,
    SECTIONS,
  ),
  options: mergeSections(SECTIONS),
  async run(argv) {
    const p = parseOptions(argv, this.options!);
    const device = deviceFlag(p);
    applyThreads(p);
    const bootstrap = bootstrapInfo(bootstrapFlags(p));
    const { model, data, metric, info } = await openModelSource(p);
    model.to(device);
    try {
      const { entanglement, intervals, ...m } = await evaluateBenign(model, data.test, metric, {
        entanglement: flagBool(p, 'entanglement'),
        progress: showProgress(p),
        bootstrap,
      });
      const shown = benignJson(intervals ?? {});
      const extra = entanglement === undefined ? {} : { entanglement, catrideLambda: catrideLambdaFromEntanglement(entanglement.ratio) };
      if (flagBool(p, 'json')) {
        console.log(JSON.stringify({ ...benignJson(m), ...extra, intervals: shown, bootstrap, estimator: POINT_ESTIMATOR, queries: data.test.length }));
      } else {
        console.log(`${data.test.name} test split, metric ${metric.name}, ${info === null ? model.kind : `epoch ${info.epoch + 1}`} (×100):`);
        console.log(`  ${formatBenign(m)}  r@M ${m['r@M'].toFixed(2)}`);
        const scaled = (k: (typeof BENIGN_COLUMNS)[number]): string => {
          const i = shown[k];
          return `${k} ${i === undefined ? '–' : formatInterval({ lo: 100 * i.lo, hi: 100 * i.hi }, 1)}`;
        };
        console.log(`  95 % intervals (per-query bootstrap, B = ${bootstrap.resamples}, seed ${bootstrap.seed}): ${BENIGN_COLUMNS.map(scaled).join('  ')}`);
        if (entanglement !== undefined) {
          const e = entanglement;
          console.log(
            `  entanglement ${e.ratio.toFixed(3)} (intra-class ${e.intraClass.toFixed(3)} / inter-class ${e.interClass.toFixed(3)}) → CA-TRIDE λ ${extra.catrideLambda!.toFixed(2)}`,
          );
        }
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
