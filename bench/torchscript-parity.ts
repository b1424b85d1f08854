// Bring-your-own-model parity on a PyTorch-trained model: PyTorch trains c2f2 on
// Fashion-MNIST and saves it twice (state dict, torch.jit.trace); rankshield
// evaluates both — the state dict in its own C2F2, the trace as a ScriptedModel —
// on the whole test split, and swipes both with rob28 over the first query
// batches. Prints the two sets of numbers and their largest difference.
//   node dist/bench/torchscript-parity.js [--batches 200] [--max-iter 1]
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openDataset, type InMemoryDataset } from '../src/data/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { ScriptedModel } from '../src/models/scripted.js';
import { readStateDictFile } from '../src/models/pretrained.js';
import { evaluateBenign } from '../src/eval/benign.js';
import { runSwipe } from '../src/eval/swipe.js';
import { dispose } from '../src/tensor/index.js';
import { metricByName } from '../src/metric/metric.js';
import { exportFashionTrain, pythonTorch } from './common.js';

const { values } = parseArgs({ options: { batches: { type: 'string', default: '200' }, 'max-iter': { type: 'string', default: '1' } } });
const data = await openDataset('fashion');
const { dir, imagesFile, labelsFile } = exportFashionTrain(data.train as InMemoryDataset, 'parity');
const work = mkdtempSync(path.join(os.tmpdir(), 'rankshield-parity-'));
try {
  const pth = path.join(work, 'c2f2.pth');
  const pt = path.join(work, 'c2f2_traced.pt');
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'torchscript_parity.py');
  const trained = pythonTorch(script, [imagesFile, labelsFile, values.batches!, pth, pt]);
  const native = new C2F2();
  const sd = readStateDictFile(pth);
  native.loadStateDict(sd);
  dispose([...sd.values()]);
  const scripted = ScriptedModel.load(pt, [1, 28, 28]);
  const result: Record<string, Record<string, number>> = {};
  for (const [name, model] of [
    ['native', native],
    ['scripted', scripted],
  ] as const) {
    const benign = await evaluateBenign(model, data.test, metricByName('N'));
    const swipe = await runSwipe(model, data.test, metricByName('N'), { profile: 'rob28', maxIter: Number(values['max-iter']) });
    result[name] = { 'R@1': benign['R@1'], mAP: benign.mAP, 'mAP@R': benign['mAP@R'], ...swipe.attacks, ERS: swipe.ERS ?? NaN };
  }
  const keys = Object.keys(result.native!);
  const maxDiff = Math.max(...keys.map((k) => Math.abs(result.native![k]! - result.scripted![k]!)));
  console.log(JSON.stringify({ pytorchTraining: trained, native: result.native, scripted: result.scripted, maxAbsDifference: maxDiff }));
  native.dispose();
  scripted.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
