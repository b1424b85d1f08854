// The robust evaluation's rules and its EOT, without running one (docs/attacks-and-metrics.md §8):
// the unreliable-PGD finding on hand-made per-image numbers (a shattered-gradient pattern is
// found, a defended model's usual APGD gain is not), EOT's average of noise draws (value,
// variance, gradient, passes on a real c2f2) and `--robust-eval`'s bare value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dispose, gradOf, manualSeed, noGrad, randn, tidy, type Tensor } from '../src/tensor/index.js';
import { Module } from '../src/nn/index.js';
import { C2F2 } from '../src/models/c2f2.js';
import { loadSmallDataset } from '../src/data/index.js';
import { metricByName } from '../src/metric/metric.js';
import type { EmbeddingModel } from '../src/models/model.js';
import { attackBatch, buildBatchContext, createAttack, disposeBatchContext, eotObjective, makeGallery, type Objective } from '../src/attack/index.js';
import { PGD_DAMAGE_SHARE_MIN, pgdReliability, ROBUST_EVAL_DEFAULTS, ROBUST_EVAL_PRESETS } from '../src/eval/robust-eval.js';
import { parseOptions } from '../src/util/options.js';

/** Nine attacks' main columns over 40 images: PGD's values and APGD's, APGD ahead by `gain` (± a little per-image spread). */
function attacks(gain: readonly number[]): { attack: string; column: string; unit: string; sign: number; pgd: number[]; apgd: number[] }[] {
  return gain.map((g, k) => {
    const pgd = Array.from({ length: 40 }, (_, i) => 50 + ((i * 7) % 11));
    // Harm = value (sign +1): APGD's value is PGD's plus the gain, with a spread of ±2 around it.
    return { attack: `A${k}`, column: `A${k}`, unit: '% R@1', sign: 1, pgd, apgd: pgd.map((v, i) => v + g + ((i % 5) - 2)) };
  });
}

test('unreliable PGD: APGD ahead beyond the noise on most attacks AND PGD under half of its damage; either alone is not enough', () => {
  // Shattered gradients (the held-out model): PGD ERS 83.5, APGD 12.7; APGD far ahead on all nine.
  const shattered = pgdReliability(attacks(Array(9).fill(30)), { pgd: 83.5, apgd: 12.7 });
  assert.equal(shattered.unreliable, true, JSON.stringify(shattered.reliability));
  assert.equal(shattered.reliability.attacksBeyondNoise, 9);
  assert.ok(Math.abs(shattered.reliability.damageShare! - 16.5 / 87.3) < 1e-12);
  assert.match(shattered.reliability.reasons.join('\n'), /9 of 9 attacks[\s\S]*19 % of APGD's damage/);
  // A defended model at a small training η (HM[S,g_LGA]&ICS, ERS 21.8 → 9.4): APGD ahead everywhere, but PGD does 86 % of its damage.
  const defended = pgdReliability(attacks(Array(9).fill(20)), { pgd: 21.8, apgd: 9.4 });
  assert.equal(defended.unreliable, false);
  assert.ok(defended.reliability.damageShare! > PGD_DAMAGE_SHARE_MIN && defended.reliability.attacksBeyondNoise === 9);
  assert.deepEqual(defended.reliability.reasons, []);
  // The ERS margin alone is not enough: APGD ahead beyond the noise on only 4 of 9 attacks.
  const few = pgdReliability(attacks([30, 30, 30, 30, 0, 0, 0, 0, 0]), { pgd: 83.5, apgd: 12.7 });
  assert.equal(few.reliability.attacksBeyondNoise, 4);
  assert.equal(few.unreliable, false);
  // A gain inside the noise (spread ±2, gain 0.5 < the 1-point floor) does not count; PGD ahead counts against.
  assert.equal(pgdReliability(attacks(Array(9).fill(0.5)), { pgd: 83.5, apgd: 12.7 }).reliability.attacksBeyondNoise, 0);
  assert.equal(pgdReliability(attacks(Array(9).fill(-30)), { pgd: 83.5, apgd: 12.7 }).unreliable, false);
  // Harm follows the column's direction: the same numbers with sign −1 (robust if higher) mean PGD is the stronger one.
  assert.equal(
    pgdReliability(
      attacks(Array(9).fill(30)).map((a) => ({ ...a, sign: -1 })),
      { pgd: 83.5, apgd: 12.7 },
    ).unreliable,
    false,
  );
  // No damage by APGD: no share, no finding.
  assert.equal(pgdReliability(attacks(Array(9).fill(30)), { pgd: 100, apgd: 100 }).reliability.damageShare, null);
});

test("the budgets: standard is AutoAttack's (APGD 100 iterations, Square 5,000 queries), cheap the profile's η; bare --robust-eval is the default", () => {
  assert.deepEqual({ ...ROBUST_EVAL_PRESETS.standard, summary: '' }, { apgdSteps: 100, restarts: 5, queries: 5000, summary: '' });
  assert.deepEqual({ ...ROBUST_EVAL_PRESETS.cheap, summary: '' }, { apgdSteps: null, restarts: 1, queries: 100, summary: '' });
  const table = {
    'robust-eval': { kind: 'string', choices: ['cheap', 'standard'], bare: ROBUST_EVAL_DEFAULTS.preset, help: '' },
    'max-iter': { kind: 'int', help: '' },
  } as const;
  assert.equal(parseOptions(['run', '--robust-eval'], table).flags.get('robust-eval'), 'cheap');
  assert.equal(parseOptions(['--robust-eval', 'standard', 'run'], table).flags.get('robust-eval'), 'standard');
  const p = parseOptions(['--robust-eval', '--max-iter', '2', 'run'], table);
  assert.equal(p.flags.get('robust-eval'), 'cheap');
  assert.equal(p.flags.get('max-iter'), 2);
  assert.deepEqual(p.positionals, ['run']);
  assert.deepEqual(parseOptions(['--robust-eval', 'run'], table).positionals, ['run']);
  assert.throws(() => parseOptions(['--robust-eval=strong'], table), /--robust-eval must be one of cheap, standard, got 'strong'/);
});

test('EOT averages K draws: the value is the mean, its variance shrinks by K, its gradient is the mean gradient; K = 1 is the objective itself', () => {
  tidy(() => {
    manualSeed(3);
    const w = randn([4, 6], { dtype: 'float64' });
    // A random objective: a fixed smooth part plus fresh noise at every evaluation.
    const noisy = (x: Tensor): Objective => {
      const perQuery = x
        .matmul(w.t())
        .tanh()
        .sum(1)
        .add(randn([x.shape[0]!], { dtype: 'float64' }));
      return { value: perQuery.sum(), perQuery };
    };
    assert.equal(eotObjective(noisy, 1), noisy);
    assert.throws(() => eotObjective(noisy, 0), /draws must be a positive integer/);
    const x = randn([3, 6], { dtype: 'float64' }).mul(0.3);
    const smooth = noGrad(() => x.matmul(w.t()).tanh().sum(1).toArray());
    const spread = (k: number): number => {
      const f = eotObjective(noisy, k);
      const draws = Array.from({ length: 200 }, () => noGrad(() => f(x, 0).perQuery.toArray()[0]! - smooth[0]!));
      const m = draws.reduce((s, v) => s + v, 0) / draws.length;
      return draws.reduce((s, v) => s + (v - m) ** 2, 0) / (draws.length - 1);
    };
    const one = spread(1);
    const sixteen = spread(16);
    assert.ok(one > 0.7 && one < 1.4, `one draw: variance ${one}`);
    assert.ok(sixteen > one / 32 && sixteen < one / 8, `16 draws: variance ${sixteen} against ${one}`);
    // The noise does not depend on x, so every draw's gradient is the smooth part's: the mean must equal it (a sum would be 4×).
    const xa = x.clone().requiresGrad_();
    const g = gradOf(eotObjective(noisy, 4)(xa, 0).value, xa);
    const xb = x.clone().requiresGrad_();
    const exact = gradOf(xb.matmul(w.t()).tanh().sum(), xb);
    assert.ok(noGrad(() => g.sub(exact).abs().max().item()) < 1e-12);
  });
});

/** A real model whose forward is random: the c2f2 behind Gaussian input noise (σ = 0.1). */
class NoisyInput extends Module implements EmbeddingModel {
  readonly kind = 'noisy-input c2f2';
  readonly embeddingDim: number;
  readonly inputShape: [number, number, number];
  constructor(readonly inner: EmbeddingModel) {
    super();
    this.embeddingDim = inner.embeddingDim;
    this.inputShape = inner.inputShape;
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.inner.forward(x.add(randn(x.shape).mul(0.1)).clamp(0, 1)));
  }
}

test('EOT in an attack: K draws cost K× the passes of every method, and on a deterministic model change nothing', async () => {
  const { test: t } = await loadSmallDataset('fashion');
  const mN = metricByName('N');
  manualSeed(0);
  const model = new C2F2();
  model.eval();
  const all = Array.from({ length: 96 }, (_, i) => i);
  const images = t.batch(all);
  const labels = t.labelBatch(all);
  const emb = noGrad(() => tidy(() => mN.embed(model.forward(images))));
  const g = makeGallery(emb, labels, mN);
  const q = images.narrow(0, 0, 8).contiguous();
  const ql = labels.narrow(0, 0, 8).contiguous();
  const ctx = buildBatchContext(model, g, q, ql);
  const noisy = new NoisyInput(model);
  try {
    const budget = { epsilon: 16 / 255, alpha: 4 / 255, steps: 3 };
    for (const method of ['pgd', 'apgd', 'square'] as const) {
      const run = (m: EmbeddingModel, eot: number): ReturnType<typeof attackBatch> => {
        manualSeed(5);
        return attackBatch(m, createAttack('QA+'), ctx, budget, { method, settings: { eot, queries: 4 } });
      };
      const one = run(model, 1);
      const three = run(model, 3);
      assert.equal(three.passes.forward, 3 * one.passes.forward, method);
      assert.equal(three.passes.backward, 3 * one.passes.backward, method);
      // Three identical draws average to the one draw (up to float rounding): the same result on a deterministic model.
      assert.ok(Math.abs(three.values['QA+']! - one.values['QA+']!) < 1e-9, `${method}: ${three.values['QA+']} vs ${one.values['QA+']}`);
      // On the random model it runs, and its passes are counted the same way.
      assert.equal(run(noisy, 3).passes.forward, 3 * one.passes.forward);
    }
  } finally {
    disposeBatchContext(ctx);
    dispose([images, labels, emb, g.labels, q, ql]);
    model.dispose();
  }
});
