// `rankshield bench scripted`: what bringing your own model costs. The same
// c2f2 as rankshield's own module and as a TorchScript module traced by
// PyTorch (test/fixtures/c2f2_traced.pt), batch 128 of 1×28×28: forward, input
// gradient (what every PGD step does) and a training step, medians over
// alternating rounds; ratio = scripted / native.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gradOf, noGrad, rand, manualSeed, setNumThreads, tidy } from '../src/tensor/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { ScriptedModel } from '../src/models/scripted.js';
import type { EmbeddingModel } from '../src/models/model.js';
import { Adam } from '../src/optim/index.js';
import { medianMs, medianOfRounds, parseBenchArgs } from './common.js';

export async function runScriptedBench(argv: string[]): Promise<number> {
  const args = parseBenchArgs(argv, { batch: 128, warmup: 5, iters: 20, rounds: 3 });
  setNumThreads(args.threads);
  manualSeed(0);
  const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'c2f2_traced.pt');
  const scripted = ScriptedModel.load(fixture, [1, 28, 28]);
  const native = new C2F2();
  native.loadStateDict(scripted.stateDict()); // the same weights: only the execution path differs
  const models: Record<string, EmbeddingModel> = { native, scripted };
  const x = rand([args.batch, 1, 28, 28]);
  const measure = (model: EmbeddingModel): Record<string, number> => {
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    const out = {
      forward: medianMs(() => noGrad(() => tidy(() => void model.forward(x))), args.warmup, args.iters),
      input_grad: medianMs(
        () =>
          tidy(() => {
            const xa = x.clone().requiresGrad_();
            gradOf(model.forward(xa).pow(2).mean(), xa);
          }),
        args.warmup,
        args.iters,
      ),
      train_step: medianMs(
        () => {
          tidy(() => {
            opt.zeroGrad();
            model.forward(x).pow(2).mean().backward();
          });
          opt.step();
        },
        args.warmup,
        args.iters,
      ),
    };
    opt.dispose();
    return out;
  };
  const rounds: Record<string, Record<string, number>[]> = { native: [], scripted: [] };
  for (let r = 0; r < args.rounds; r++) for (const name of ['native', 'scripted'] as const) rounds[name]!.push(measure(models[name]!));
  const n = medianOfRounds(rounds.native!);
  const sc = medianOfRounds(rounds.scripted!);
  const cases = Object.keys(n).map((k) => ({ name: k, native_ms: n[k]!, scripted_ms: sc[k]!, ratio: Math.round((sc[k]! / n[k]!) * 1000) / 1000 }));
  if (!args.json) {
    console.log(`scripted bench: c2f2, batch ${args.batch}, ${args.threads} thread(s), median of ${args.iters} × ${args.rounds} rounds`);
    for (const c of cases)
      console.log(`  ${c.name.padEnd(11)} native ${c.native_ms.toFixed(1)} ms   scripted ${c.scripted_ms.toFixed(1)} ms   ratio ${c.ratio}`);
  }
  console.log(JSON.stringify({ bench: 'scripted', threads: args.threads, batch: args.batch, cases }));
  for (const m of Object.values(models)) m.dispose();
  x.dispose();
  return 0;
}
