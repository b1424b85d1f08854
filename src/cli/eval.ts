// Layer: cli. `rankshield eval CKPT`: benign retrieval metrics of a checkpoint on its test split.
import { openDataset } from '../data/index.js';
import { evaluateBenign } from '../eval/benign.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { UsageError, type Command } from './command.js';
import { flagBool, parseArgs } from './args.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'benign retrieval metrics (R@1, R@2, mAP, mAP@R, NMI) of a checkpoint',
  usage: `usage: rankshield eval CKPT [--json]

CKPT is a run directory (or its checkpoint.json / model.safetensors). The whole test split is
both query set and gallery (attacks_and_metrics.md §1). --json prints
{"R@1":…,"R@2":…,"mAP":…,"mAP@R":…,"NMI":…} as fractions.`,
  async run(argv) {
    const p = parseArgs(argv, { json: 'boolean' });
    if (p.positionals.length !== 1) throw new UsageError('expected exactly one checkpoint path');
    const { model, info } = loadCheckpoint(p.positionals[0]!);
    try {
      const data = await openDataset(info.config.dataset);
      const m = await evaluateBenign(model, data.test, info.config.metric);
      if (flagBool(p, 'json')) {
        console.log(JSON.stringify({ 'R@1': m['R@1'], 'R@2': m['R@2'], mAP: m.mAP, 'mAP@R': m['mAP@R'], NMI: m.NMI }));
      } else {
        console.log(`${info.config.dataset} test split, metric ${info.config.metric}, epoch ${info.epoch + 1}:`);
        for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(6)} ${k === 'r@M' ? v.toFixed(2) : (100 * v).toFixed(1)}`);
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
