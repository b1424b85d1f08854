// Memory soak: 2,000 c2f2 training steps, each with an input-gradient (attack)
// pass and an optimizer step, must keep RSS flat (< 5 % growth after warm-up)
// and leave no live tensors behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradOf, liveTensors, manualSeed, noGrad, rand, tidy } from '../src/tensor/index.js';
import { Adam } from '../src/optim/index.js';
import { C2F2 } from '../src/models/c2f2.js';

const STEPS = 2000;
const WARMUP = 500;

test(`soak: ${STEPS} training steps keep memory flat`, () => {
  manualSeed(0);
  const model = new C2F2();
  const opt = new Adam(model.parameters(), { lr: 1e-4 });
  const live0 = liveTensors();
  let rssAfterWarmup = 0;
  let rssMax = 0;
  for (let step = 0; step < STEPS; step++) {
    tidy(() => {
      const x = rand([8, 1, 28, 28]);
      // one PGD-like step on the input, as attacks and defenses do
      const xa = x.clone().requiresGrad_();
      const g = gradOf(model.forward(xa).pow(2).mean(), xa);
      const xAdv = noGrad(() => x.add(g.sign().mul(0.01)).clamp(0, 1));
      opt.zeroGrad();
      model.forward(xAdv).pow(2).mean().backward();
    });
    opt.step();
    if (step === WARMUP) rssAfterWarmup = process.memoryUsage.rss();
    if (step % 250 === 0) {
      const m = process.memoryUsage();
      console.log(step, (m.rss / 2 ** 20).toFixed(1), (m.heapUsed / 2 ** 20).toFixed(1), (m.heapTotal / 2 ** 20).toFixed(1));
    }
    if (step > WARMUP) rssMax = Math.max(rssMax, process.memoryUsage.rss());
  }
  const growth = (rssMax - rssAfterWarmup) / rssAfterWarmup;
  console.log(
    `soak: rss after warm-up ${(rssAfterWarmup / 2 ** 20).toFixed(1)} MiB, max later ${(rssMax / 2 ** 20).toFixed(1)} MiB, growth ${(100 * growth).toFixed(2)} %`,
  );
  assert.ok(growth < 0.05, `RSS grew ${(100 * growth).toFixed(2)} % after warm-up`);
  // the optimizer's moment buffers are the only tensors added during the run
  assert.equal(liveTensors(), live0 + 2 * model.parameters().length);
  opt.dispose();
  model.dispose();
});
