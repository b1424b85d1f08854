// Layer: cli. `rankshield eval CKPT`: benign retrieval metrics of a checkpoint on its test split.
import { openDataset } from '../data/index.js';
import { evaluateBenign } from '../eval/benign.js';
import { catrideLambdaFromEntanglement } from '../eval/entanglement.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { UsageError, type Command } from './command.js';
import { flagBool, parseArgs } from './args.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'benign retrieval metrics (R@1, R@2, mAP, mAP@R, NMI) of a checkpoint',
  usage: `usage: rankshield eval CKPT [--entanglement] [--json]

CKPT is a run directory (or its checkpoint.json / model.safetensors). The whole test split is
both query set and gallery (attacks_and_metrics.md §1). --json prints
{"R@1":…,"R@2":…,"mAP":…,"mAP@R":…,"NMI":…} as fractions.

--entanglement also measures mean intra-class / mean inter-class test distance and the CA-TRIDE
attention factor λ it implies (methods.md §8.1: linear through SOP 0.66 → 2 and CUB/Cars
0.79 → 9.75, clamped), for datasets without a published λ (MNIST, Fashion-MNIST).`,
  async run(argv) {
    const p = parseArgs(argv, { json: 'boolean', entanglement: 'boolean' });
    if (p.positionals.length !== 1) throw new UsageError('expected exactly one checkpoint path');
    const { model, info } = loadCheckpoint(p.positionals[0]!);
    try {
      const data = await openDataset(info.config.dataset);
      const { entanglement, ...m } = await evaluateBenign(model, data.test, info.config.metric, { entanglement: flagBool(p, 'entanglement') });
      const extra = entanglement === undefined ? {} : { entanglement, catrideLambda: catrideLambdaFromEntanglement(entanglement.ratio) };
      if (flagBool(p, 'json')) {
        console.log(JSON.stringify({ 'R@1': m['R@1'], 'R@2': m['R@2'], mAP: m.mAP, 'mAP@R': m['mAP@R'], NMI: m.NMI, ...extra }));
      } else {
        console.log(`${info.config.dataset} test split, metric ${info.config.metric}, epoch ${info.epoch + 1}:`);
        for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(6)} ${k === 'r@M' ? v.toFixed(2) : (100 * v).toFixed(1)}`);
        if (entanglement !== undefined) {
          const e = entanglement;
          console.log(`  entanglement ${e.ratio.toFixed(3)} (intra-class ${e.intraClass.toFixed(3)} / inter-class ${e.interClass.toFixed(3)}) → CA-TRIDE λ ${extra.catrideLambda!.toFixed(2)}`);
        }
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
