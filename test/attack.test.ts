// Ranking attacks (docs/attacks-and-metrics.md §3–4): the PGD core; float64
// finite-difference checks of every embedding-level objective on tiny
// galleries; selection rules (CA−/QA− from the top-1% list, GTM's reference
// index bug vs the intended target); hand-checkable effects of each attack on a
// seeded untrained c2f2 over 256 Fashion-MNIST test images; no tensor leak.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { dispose, gradOf, liveTensors, manualSeed, noGrad, rand, randn, stack, tensor, tidy, type Tensor } from '../src/tensor/index.js';
import { loadSmallDataset, InMemoryImageDataset, spc2Loader } from '../src/data/index.js';
import { Adam } from '../src/optim/index.js';
import { minerByName } from '../src/metric/miners.js';
import { buildTrainingLoss } from '../src/metric/training-loss.js';
import { noDefense } from '../src/defense/none.js';
import { C2F2 } from '../src/models/c2f2.js';
import { l2normalize, metricByName, METRICS, type Metric } from '../src/metric/metric.js';
import {
  attackBatch,
  columnMeans,
  buildBatchContext,
  checkBudget,
  candidateAttackObjective,
  contextFromEmbeddings,
  createAttack,
  disposeBatchContext,
  embedImages,
  embeddingShiftObjective,
  getProfile,
  greedyTopMisrankObjective,
  greedyTopMisrankTargets,
  greedyTopTranslocationObjective,
  learningToMisrankObjective,
  makeGallery,
  parseAttackKind,
  pgd,
  PROFILES,
  queryAttackObjective,
  selfMaskedRanking,
  semanticsPreservingQueryAttack,
  spqaXi,
  spqaXiRate,
  targetedMismatchObjective,
  type AttackKind,
  type AttackOptions,
  type BatchContext,
  type Gallery,
  type PgdBudget,
  type Profile,
} from '../src/attack/index.js';
import { runSwipe } from '../src/eval/swipe.js';
import { swipeMarkdown, swipeSvg } from '../src/eval/report-svg.js';
import { attackCommand } from '../src/cli/attack.js';
import { swipeCommand } from '../src/cli/swipe.js';
import { UsageError } from '../src/cli/command.js';
import { checkGradient } from './helpers/gradcheck.js';
import { near } from './helpers/assert.js';

const [mN, mE, mC] = (['N', 'E', 'C'] as const).map(metricByName);

// ------------------------------------------------------------------ PGD core

test('PGD stays in the ε-ball and in [0,1]; η = 1 is FGSM with step ε; sign(0) = 0', () => {
  tidy(() => {
    manualSeed(1);
    const x = rand([3, 1, 4, 4]);
    const eps = 0.1;
    // Push every pixel up for many steps: saturates at min(x + ε, 1) exactly.
    const up = pgd({ images: x, objective: (xa) => xa.sum().neg(), epsilon: eps, alpha: 0.03, steps: 10 }).adversarial;
    const diff = up.sub(x);
    assert.ok(diff.abs().max().item() <= eps + 1e-6, 'inside the ε-ball');
    assert.ok(up.min().item() >= 0 && up.max().item() <= 1, 'inside [0,1]');
    assert.ok(up.sub(x.add(eps).clampMax(1)).abs().max().item() < 1e-6, 'saturated at min(x+ε, 1)');
    // η = 1: one step of exactly ε (not α) against the gradient sign, then clipped to [0,1].
    const fgsm = pgd({ images: x, objective: (xa) => xa.sum(), epsilon: eps, alpha: 0.001, steps: 1 }).adversarial;
    assert.ok(fgsm.sub(x.sub(eps).clampMin(0)).abs().max().item() < 1e-6, 'FGSM steps ε');
    // A flat objective has gradient 0 and sign(0) = 0: nothing moves.
    const flat = pgd({ images: x, objective: (xa) => xa.sum().mul(0), epsilon: eps, alpha: 0.05, steps: 3 }).adversarial;
    assert.equal(flat.sub(x).abs().max().item(), 0);
    // A mixed objective: pixels with zero gradient stay, the others move by α per step.
    const mask = tensor([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 1, 4, 4]);
    const x1 = tensor(new Array(16).fill(0.5), [1, 1, 4, 4]);
    const partial = pgd({ images: x1, objective: (xa) => xa.mul(mask).sum(), epsilon: 0.2, alpha: 0.05, steps: 2 }).adversarial.toArray();
    near(partial[0]!, 0.4, 1e-6);
    assert.deepEqual(partial.slice(1), new Array(15).fill(0.5));
  });
});

test('PGD reports every iteration to its hooks and stops early on request', () => {
  tidy(() => {
    const x = tensor(new Array(8).fill(0.5), [2, 4]);
    const seen: number[] = [];
    const r = pgd({
      images: x,
      objective: (xa) => xa.sum(),
      epsilon: 0.3,
      alpha: 0.01,
      steps: 10,
      onIteration: (it) => seen.push(it),
      after: (it) => it === 3,
    });
    assert.equal(r.iterations, 4);
    assert.deepEqual(seen, [0, 1, 2, 3]);
    near(r.values[1]!, 8 * 0.49, 1e-5, 'values are the objective before each update');
  });
});

test('one budget validator: ε ∈ [0, 1], α ∈ (0, 1], η a positive integer, NaN refused, the field named', () => {
  const ok = { epsilon: 0, alpha: 1, steps: 1 };
  assert.equal(checkBudget(ok), ok, 'the edges are accepted and the budget returned');
  const cases: [Partial<PgdBudget>, RegExp][] = [
    [{ epsilon: NaN }, /^Error: who: epsilon must be in \[0, 1\] \(pixel scale\), got NaN$/],
    [{ epsilon: -1e-9 }, /who: epsilon must be in \[0, 1\]/],
    [{ epsilon: 1.0001 }, /who: epsilon must be in \[0, 1\]/],
    [{ alpha: NaN }, /^Error: who: alpha must be in \(0, 1\], got NaN$/],
    [{ alpha: 0 }, /who: alpha must be in \(0, 1\]/],
    [{ alpha: 1.5 }, /who: alpha must be in \(0, 1\]/],
    [{ alpha: Infinity }, /who: alpha must be in \(0, 1\]/],
    [{ steps: NaN }, /^Error: who: steps must be a positive integer, got NaN$/],
    [{ steps: 0 }, /who: steps must be a positive integer/],
    [{ steps: 1.5 }, /who: steps must be a positive integer/],
  ];
  for (const [bad, message] of cases)
    assert.throws(
      () => checkBudget({ ...ok, ...bad }, 'who'),
      (e: unknown) => message.test(String(e)),
      JSON.stringify(bad),
    );
  // The PGD core, the attacks and the defenses all use it (defense: test/defense.test.ts).
  assert.throws(() => pgd({ images: tensor([[0.5]]), objective: (xa) => xa.sum(), epsilon: 0.1, alpha: 2, steps: 1 }), /PGD: alpha must be in \(0, 1\]/);
});

test('PGD rejects bad budgets and bad images with errors naming the problem', () => {
  tidy(() => {
    const x = rand([2, 1, 4, 4]);
    const f = (xa: Tensor): Tensor => xa.sum();
    assert.throws(() => pgd({ images: x, objective: f, epsilon: 1.5, alpha: 0.01, steps: 1 }), /epsilon must be in \[0, 1\]/);
    assert.throws(() => pgd({ images: x, objective: f, epsilon: -0.1, alpha: 0.01, steps: 1 }), /epsilon/);
    assert.throws(() => pgd({ images: x, objective: f, epsilon: 0.1, alpha: 0, steps: 1 }), /alpha must be in \(0, 1\]/);
    assert.throws(() => pgd({ images: x, objective: f, epsilon: 0.1, alpha: 0.01, steps: 0 }), /steps must be a positive integer/);
    assert.throws(() => pgd({ images: x, objective: f, epsilon: 0.1, alpha: 0.01, steps: 2.5 }), /steps must be a positive integer/);
    assert.throws(() => pgd({ images: x.mul(2), objective: f, epsilon: 0.1, alpha: 0.01, steps: 1 }), /images must be in \[0, 1\]/);
    assert.throws(() => pgd({ images: x.div(0).mul(0), objective: f, epsilon: 0.1, alpha: 0.01, steps: 1 }), /NaN/);
    assert.throws(() => pgd({ images: x, objective: (xa) => xa.sum().div(0).mul(0), epsilon: 0.1, alpha: 0.01, steps: 1 }), /objective became NaN/);
  });
});

// ------------------------------------------------------------------ objectives, float64 finite differences

/** A tiny gallery of N items in D dims, with labels i mod 3 (float64, metric space). */
function tinyGallery(metric: Metric, n = 9, d = 5): { X: Tensor; Y: Tensor } {
  const raw = randn([n, d], { dtype: 'float64' });
  const X = metric.embed(raw);
  const Y = tensor(
    Array.from({ length: n }, (_, i) => i % 3),
    [n],
    'int64',
  );
  return { X, Y };
}

test('CA± objectives match finite differences w.r.t. the candidate embedding (N, E, C)', () => {
  for (const metric of METRICS) {
    tidy(() => {
      manualSeed(11);
      const { X } = tinyGallery(metric);
      const c = randn([3, 5], { dtype: 'float64' });
      const queries = X.index([
        tensor(
          [
            [0, 4],
            [2, 7],
            [5, 5],
          ],
          [3, 2],
          'int64',
        ),
      ]); // W = 2
      // Clean query-to-gallery distances, computed independently of the attack code.
      const queryToGallery = noGrad(() =>
        tidy(() => {
          const flat = queries.reshape(6, 5);
          if (metric.name === 'C') return flat.matmul(X.t()).rsub(1).view(3, 2, 9);
          return stack(Array.from({ length: 6 }, (_, i) => flat.narrow(0, i, 1).sub(X).norm(2, -1))).view(3, 2, 9);
        }),
      );
      for (const dir of ['+', '-'] as const) checkGradient((x) => candidateAttackObjective(x, queries, queryToGallery, metric, dir).value, c);
    });
  }
});

test('QA± / GTT objectives match finite differences w.r.t. the query embedding (N, E, C)', () => {
  for (const metric of METRICS) {
    tidy(() => {
      manualSeed(12);
      const { X } = tinyGallery(metric);
      const q = randn([3, 5], { dtype: 'float64' });
      const candidates = tensor(
        [
          [1, 3],
          [0, 8],
          [6, 2],
        ],
        [3, 2],
        'int64',
      );
      for (const dir of ['+', '-'] as const) checkGradient((x) => queryAttackObjective(x, X, candidates, metric, dir).value, q);
      checkGradient((x) => greedyTopTranslocationObjective(x, X, tensor([4, 0, 7], [3], 'int64'), metric).value, q);
    });
  }
});

test('TMA, ES, LTM and GTM objectives match finite differences (N, E, C)', () => {
  for (const metric of METRICS) {
    tidy(() => {
      manualSeed(13);
      const { X, Y } = tinyGallery(metric);
      const q = randn([3, 5], { dtype: 'float64' });
      const targets = X.indexSelect(0, tensor([2, 5, 8], [3], 'int64'));
      checkGradient((x) => targetedMismatchObjective(x, targets).value, q);
      const clean = randn([3, 5], { dtype: 'float64' });
      checkGradient((x) => embeddingShiftObjective(x, clean, metric, 0).value, q);
      checkGradient((x) => embeddingShiftObjective(x, clean, metric, 3).value, q);
      const labels = tensor([0, 1, 2], [3], 'int64');
      checkGradient((x) => learningToMisrankObjective(x, X, Y, labels, metric).value, q);
      checkGradient((x) => learningToMisrankObjective(x, X, Y, labels, metric, tensor([0, 1, 2], [3], 'int64')).value, q);
      checkGradient((x) => greedyTopMisrankObjective(x, targets, metric).value, q);
    });
  }
});

test('objective values on a hand-checkable 1-D gallery', () => {
  tidy(() => {
    // Gallery on a line (metric E): X = 0, 1, 2, 3; query at 0.4, candidate X_3.
    const X = tensor([[0], [1], [2], [3]], [4, 1], 'float64');
    const q = tensor([[0.4]], [1, 1], 'float64');
    // QA+: (1/4) Σ_j relu(d(q, X3) − d(X_j, q)) = (2.2 + 2.0 + 1.0 + 0) / 4
    near(queryAttackObjective(q, X, tensor([[3]], [1, 1], 'int64'), mE, '+').value.item(), 5.2 / 4, 1e-12);
    // QA−: (1/4) Σ_j relu(d(X_j, q) − d(q, X3)) = 0 (X3 is the farthest)
    assert.equal(queryAttackObjective(q, X, tensor([[3]], [1, 1], 'int64'), mE, '-').value.item(), 0);
    // LTM with labels [0, 0, 1, 1], query label 0: relu(max_diff 2.6 − min_same 0.4) = 2.2
    const Y = tensor([0, 0, 1, 1], [4], 'int64');
    near(learningToMisrankObjective(q, X, Y, tensor([0], [1], 'int64'), mE).value.item(), 2.2, 1e-12);
    // ...excluding the self (index 0): min_same = d(q, X1) = 0.6 → 2.0
    near(learningToMisrankObjective(q, X, Y, tensor([0], [1], 'int64'), mE, tensor([0], [1], 'int64')).value.item(), 2.0, 1e-12);
    // ES: −d(q, e0) summed; at iteration 0 the target is e0 + 1e-7.
    near(embeddingShiftObjective(q, tensor([[0]], [1, 1], 'float64'), mE, 1).value.item(), -(0.4 + 1e-6), 1e-12); // pairwise_distance's eps
    near(embeddingShiftObjective(q, tensor([[0]], [1, 1], 'float64'), mE, 0).value.item(), -(0.4 - 1e-7 + 1e-6), 1e-12);
  });
});

// ------------------------------------------------------------------ selection rules

/** A context over a random gallery of n items (metric N), batch = the first b items as images' clean embeddings. */
function embeddingContext(n: number, b: number, seed: number): { ctx: BatchContext; free: () => void } {
  manualSeed(seed);
  const { X, Y, images, labels, clean } = tidy(() => {
    const X = l2normalize(randn([n, 8]));
    const Y = tensor(
      Array.from({ length: n }, (_, i) => i % 5),
      [n],
      'int64',
    );
    return { X, Y, images: rand([b, 1, 2, 2]), labels: Y.narrow(0, 0, b).clone(), clean: X.narrow(0, 0, b).clone() };
  });
  const gallery = makeGallery(X, Y, mN);
  const ctx = contextFromEmbeddings(gallery, images, labels, clean);
  return {
    ctx,
    free: () => {
      disposeBatchContext(ctx);
      dispose([X, Y, images, labels]);
    },
  };
}

test('CA− queries and QA− candidates come from the top-1% neighbour list (self removed); QA− draws without replacement', () => {
  const { ctx, free } = embeddingContext(500, 16, 21);
  try {
    assert.equal(ctx.topCount, 5);
    tidy(() => {
      const allowed = ctx.ranking.narrow(1, 1, 5).toArray(); // [16, 5]
      const self = ctx.selfIndex.toArray();
      assert.deepEqual(
        self,
        Array.from({ length: 16 }, (_, i) => i),
        'the clean copy is found as the nearest item',
      );
      const ca = createAttack('CA-', { queriesPerCandidate: 10 });
      manualSeed(3);
      const sel = ca.select(ctx);
      // Recover the query indices from the selected embeddings.
      const q = sel.queries!.reshape(160, 8);
      const idx = q.matmul(ctx.gallery.embeddings.t()).argmax(1).toArray();
      for (let i = 0; i < 16; i++)
        for (let w = 0; w < 10; w++) assert.ok(allowed.slice(5 * i, 5 * i + 5).includes(idx[10 * i + w]!), `CA- query of candidate ${i}`);
      const qa = createAttack('QA-', { candidatesPerQuery: 5 });
      manualSeed(4);
      const c = qa.select(ctx).candidates!.toArray();
      for (let i = 0; i < 16; i++) {
        const mine = c.slice(5 * i, 5 * i + 5);
        assert.deepEqual(
          [...mine].sort((a, b) => a - b),
          allowed.slice(5 * i, 5 * i + 5).sort((a, b) => a - b),
          'M = T takes the whole list',
        );
      }
      assert.throws(() => createAttack('QA-', { candidatesPerQuery: 6 }).select(ctx), /M = 6 candidates but the top-1% list has only 5/);
    });
  } finally {
    free();
  }
});

test('SPQA: G = the clean top-5 (SPQA+) or the best-ranked top-1% entries not chosen (SPQA−); ξ = min(exp(k·J_sp), 1e9)', () => {
  const { ctx, free } = embeddingContext(1000, 16, 23);
  try {
    assert.equal(ctx.topCount, 10);
    tidy(() => {
      const ranking = ctx.ranking.toArray();
      const row = (i: number, from: number, length: number) => ranking.slice(1000 * i + from, 1000 * i + from + length);
      manualSeed(6);
      const plus = createAttack('SPQA+').select(ctx);
      assert.deepEqual(plus.groundTruth!.toArray(), Array.from({ length: 16 }, (_, i) => row(i, 1, 5)).flat(), 'SPQA+ keeps neighbour-list positions 0…4');
      manualSeed(6);
      assert.deepEqual(plus.candidates!.toArray(), createAttack('QA+').select(ctx).candidates!.toArray(), 'candidates drawn as QA+');
      const minus = createAttack('SPQA-', { candidatesPerQuery: 3 }).select(ctx);
      const c = minus.candidates!.toArray();
      const g = minus.groundTruth!.toArray();
      for (let i = 0; i < 16; i++) {
        const top = row(i, 1, 10);
        const mine = c.slice(3 * i, 3 * i + 3);
        assert.ok(
          mine.every((j) => top.includes(j)),
          'SPQA- candidates come from the top-1% list',
        );
        assert.deepEqual(g.slice(5 * i, 5 * i + 5), top.filter((j) => !mine.includes(j)).slice(0, 5), 'G = the 5 best-ranked entries left');
      }
      assert.throws(
        () => createAttack('SPQA-', { candidatesPerQuery: 6 }).select(ctx),
        /M = 6 candidates plus 5 ground-truth neighbours exceed the top-1% list \(10 entries\)/,
      );
    });
  } finally {
    free();
  }
  assert.equal(spqaXi(4e4, 0), 1);
  near(spqaXi(4e4, 1e-4), Math.exp(4), 1e-9);
  assert.equal(spqaXi(4e4, 1e-3), 1e9, 'capped');
  assert.equal(spqaXi(7e4, 1), 1e7, 'exp overflow → 1e7');
  assert.deepEqual(['mnist', 'fashion', 'cub', 'cars', 'sop'].map(spqaXiRate), [2e4, 4e4, 4e4, 7e4, 7e4]);
  assert.throws(() => createAttack('SPQA+', { spqaXiRate: 0 }), /SPQA\+: spqaXiRate \(--xi-rate\) must be a number > 0, got 0/);
});

test('SPQA objective = J_QA(C) + ξ·J_QA(G, +) with ξ from the current J_sp, not differentiated', () => {
  const { ctx, free } = embeddingContext(1000, 8, 24);
  try {
    tidy(() => {
      const attack = semanticsPreservingQueryAttack('-', { spqaXiRate: 4e4 });
      manualSeed(1);
      const sel = attack.select(ctx);
      manualSeed(2);
      const q = l2normalize(ctx.clean.add(randn([8, 8]).mul(0.3)))
        .detach()
        .requiresGrad_();
      const j = attack.objective(q, sel, ctx, 0).value;
      const X = ctx.gallery.embeddings;
      const sp = queryAttackObjective(q, X, sel.groundTruth!, mN, '+').value;
      const xi = spqaXi(4e4, sp.item());
      assert.ok(xi > 1, `the perturbation lets G slip (ξ = ${xi})`);
      const expected = queryAttackObjective(q, X, sel.candidates!, mN, '-').value.add(sp.mul(xi));
      near(j.item(), expected.item(), 1e-6 * Math.abs(expected.item()), 'SPQA objective');
      const gj = gradOf(j, q);
      const ge = gradOf(expected, q);
      assert.ok(gj.sub(ge).abs().max().item() <= 1e-6 * ge.abs().max().item(), 'ξ is a constant of the step');
    });
  } finally {
    free();
  }
});

test('selections are deterministic under manualSeed and QA+/CA+/TMA draw over the whole gallery', () => {
  const { ctx, free } = embeddingContext(300, 32, 22);
  try {
    tidy(() => {
      for (const kind of ['QA+', 'CA+', 'TMA'] as AttackKind[]) {
        const a = createAttack(kind);
        manualSeed(9);
        const s1 = Object.values(a.select(ctx)).map((t) => t.toArray());
        manualSeed(9);
        const s2 = Object.values(a.select(ctx)).map((t) => t.toArray());
        assert.deepEqual(s1, s2, `${kind} selection is reproducible`);
      }
      manualSeed(5);
      const c = createAttack('QA+', { candidatesPerQuery: 50 }).select(ctx).candidates!.toArray();
      assert.ok(Math.max(...c) >= 200 && Math.min(...c) >= 0 && Math.max(...c) < 300, 'spread over [0, N)');
    });
  } finally {
    free();
  }
});

test('GTM: the reference uses the position inside U as a gallery index; "intended" uses U[k*]', () => {
  tidy(() => {
    // 1-D gallery (metric E): positions and labels chosen by hand.
    //   index:  0    1    2    3    4    5
    //   x:      0.0  0.1  0.2  5.0  0.3  9.0
    //   label:  0    1    1    2    0    2
    const X = tensor([[0], [0.1], [0.2], [5], [0.3], [9]], [6, 1]);
    const Y = tensor([0, 1, 1, 2, 0, 2], [6], 'int64');
    const gallery = makeGallery(X, Y, mE);
    const ctx = contextFromEmbeddings(gallery, rand([1, 1, 1, 1]), tensor([0], [1], 'int64'), tensor([[0]], [1, 1]));
    // Query = item 0 (self, masked). Ranking of the rest: 1 (0.1), 2, 4, 3, 5 → top-1 = item 1, ℓ* = 1.
    // U = {0, 3, 4, 5} (label ≠ 1), best-ranked: item 4 (0.3) — self 0 is masked to 1e38 — at k* = 2 inside U.
    assert.deepEqual(greedyTopMisrankTargets(ctx, 'intended').toArray(), [4]);
    assert.deepEqual(greedyTopMisrankTargets(ctx, 'reference-bug').toArray(), [2]);
    const s = createAttack('GTM').select(ctx);
    assert.deepEqual(s.targetIndex!.toArray(), [2]);
    assert.deepEqual(createAttack('GTM', { gtmTarget: 'intended' }).select(ctx).targetIndex!.toArray(), [4]);
    disposeBatchContext(ctx);
  });
});

test('attack names, options and profiles are validated', () => {
  assert.equal(parseAttackKind('ca-'), 'CA-');
  assert.equal(parseAttackKind('ES:R'), 'ES');
  assert.throws(() => parseAttackKind('FOA'), /unknown attack 'FOA'/);
  assert.throws(() => createAttack('CA+', { queriesPerCandidate: 0 }), /CA\+: queriesPerCandidate \(--size\) must be an integer ≥ 1, got 0/);
  assert.throws(() => createAttack('QA+', { candidatesPerQuery: 1.5 }), /QA\+: candidatesPerQuery \(--size\) must be an integer ≥ 1, got 1.5/);
  assert.throws(() => createAttack('SPQA-', { candidatesPerQuery: -1 }), /SPQA-: candidatesPerQuery \(--size\) must be an integer ≥ 1/);
  assert.throws(
    () => createAttack('GTM', { gtmTarget: 'intented' as never }),
    /GTM: gtmTarget \(--gtm-target\) must be one of reference-bug, intended, got "intented"/,
  );
  assert.throws(() => createAttack('CA+', { caSampling: 'near' as never }), /CA\+: caSampling \(--ca-sampling\) must be one of global, local/);
  assert.throws(() => createAttack('ES', { esDistanceAt: 'first' as never }), /ES: esDistanceAt \(--es-distance-at\) must be one of/);
  // Another attack's option is not this attack's business: left out, unchecked.
  assert.doesNotThrow(() => createAttack('TMA', { gtmTarget: 'intended', queriesPerCandidate: 3 }));
  const rob28 = getProfile('rob28');
  assert.equal(rob28.batchSize, 128);
  assert.deepEqual(
    rob28.runs.map((r) => r.attack),
    ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES', 'LTM', 'GTM', 'GTT'],
  );
  for (const r of rob28.runs) assert.deepEqual(r.budget, { epsilon: 77 / 255, alpha: 3 / 255, steps: 32 });
  near(getProfile('rob224').runs[0]!.budget.epsilon, 0.03137, 1e-5);
  assert.equal(getProfile('rob224').batchSize, 112);
  assert.equal(PROFILES.qccurve28!.runs.filter((r) => r.attack === 'CA+').length, 12);
  // Every run of every profile (SPQA± included) builds an attack.
  for (const profile of Object.values(PROFILES)) for (const r of profile.runs) assert.equal(createAttack(r.attack, r.options).kind, r.attack);
  assert.equal(PROFILES.pami28!.runs.filter((r) => r.attack === 'SPQA-').length, 8);
  assert.throws(() => getProfile('nope'), /unknown profile 'nope'/);
});

// ------------------------------------------------------------------ effects on a tiny model

let images256: InMemoryImageDataset;
before(async () => {
  const { test: t } = await loadSmallDataset('fashion');
  const n = 256;
  const bytes = t.channels * t.height * t.width;
  images256 = new InMemoryImageDataset({
    name: 'fashion',
    split: 'test',
    source: 'first 256 test images',
    channels: t.channels,
    height: t.height,
    width: t.width,
    pixels: t.pixels.slice(0, n * bytes),
    labels: t.labels.slice(0, n),
  });
});

interface TinySetup {
  model: C2F2;
  gallery: Gallery;
  ctx: BatchContext;
  free: () => void;
}

/** Seeded untrained c2f2; gallery = the 256 images; batch = the first 64. */
function tinyModel(metric: Metric = mN): TinySetup {
  manualSeed(0);
  const model = new C2F2();
  model.eval();
  const all = Array.from({ length: 256 }, (_, i) => i);
  const emb = noGrad(() => tidy(() => metric.embed(model.forward(images256.batch(all)))));
  const labels = images256.labelBatch(all);
  const gallery = makeGallery(emb, labels, metric);
  const images = images256.batch(all.slice(0, 64));
  const batchLabels = images256.labelBatch(all.slice(0, 64));
  const ctx = buildBatchContext(model, gallery, images, batchLabels);
  return {
    model,
    gallery,
    ctx,
    free: () => {
      disposeBatchContext(ctx);
      dispose([emb, labels, images, batchLabels]);
      model.dispose();
    },
  };
}

const BUDGET = { epsilon: 77 / 255, alpha: 3 / 255, steps: 6 };

/** The attack's reported numbers on the clean batch and after the attack, with the same seeded selection. */
function cleanVersusAttacked(
  s: TinySetup,
  kind: AttackKind,
  seed = 7,
  options: AttackOptions = {},
): { clean: Record<string, number>; attacked: Record<string, number> } {
  const attack = createAttack(kind, options);
  manualSeed(seed);
  const clean = noGrad(() =>
    tidy(() => {
      const sel = attack.select(s.ctx);
      return columnMeans(attack.measure({ final: s.ctx.clean, lastIterationStart: s.ctx.clean }, sel, s.ctx));
    }),
  );
  manualSeed(seed);
  const { values } = attackBatch(s.model, attack, s.ctx, BUDGET);
  return { clean, attacked: values };
}

test('each attack moves its number the way it should on a seeded c2f2 (256 Fashion test images)', () => {
  const s = tinyModel(mN);
  try {
    const qaUp = cleanVersusAttacked(s, 'QA+');
    assert.ok(qaUp.attacked['QA+']! < qaUp.clean['QA+']! - 5, `QA+ pulls the candidate up: ${JSON.stringify(qaUp)}`);
    const qaDown = cleanVersusAttacked(s, 'QA-');
    assert.ok(qaDown.attacked['QA-']! > qaDown.clean['QA-']! + 2, `QA- pushes the candidate down: ${JSON.stringify(qaDown)}`);
    const caUp = cleanVersusAttacked(s, 'CA+');
    assert.ok(caUp.attacked['CA+']! < caUp.clean['CA+']! - 5, `CA+ pulls the candidate up: ${JSON.stringify(caUp)}`);
    const caDown = cleanVersusAttacked(s, 'CA-');
    assert.ok(caDown.attacked['CA-']! > caDown.clean['CA-']! + 5, `CA- pushes the candidate down: ${JSON.stringify(caDown)}`);
    const tma = cleanVersusAttacked(s, 'TMA');
    assert.ok(tma.attacked.TMA! > tma.clean.TMA!, `TMA raises the cosine to the target: ${JSON.stringify(tma)}`);
    const es = cleanVersusAttacked(s, 'ES');
    assert.equal(es.clean['ES:D'], 0);
    assert.ok(es.attacked['ES:D']! > 0.01, `ES shifts the embedding: ${JSON.stringify(es)}`);
    const gtt = cleanVersusAttacked(s, 'GTT');
    assert.equal(gtt.clean.GTT, 100, 'the clean top-1 is retained before the attack');
    assert.ok(gtt.attacked.GTT! < 100, `GTT drops retain@4: ${JSON.stringify(gtt)}`);
    const ltm = cleanVersusAttacked(s, 'LTM');
    assert.ok(ltm.attacked.LTM! < ltm.clean.LTM!, `LTM lowers R@1: ${JSON.stringify(ltm)}`);
    const gtm = cleanVersusAttacked(s, 'GTM', 3);
    assert.ok(gtm.attacked.GTM! <= gtm.clean.GTM!, `GTM does not raise R@1: ${JSON.stringify(gtm)}`);
  } finally {
    s.free();
  }
});

/** A c2f2 after a few steps of regular (undefended) triplet training on Fashion-MNIST: SPC-2, random miner, metric N. */
async function briefTrainedC2F2(steps: number): Promise<{ model: C2F2; losses: number[] }> {
  const { train } = await loadSmallDataset('fashion');
  manualSeed(0);
  const model = new C2F2();
  const opt = new Adam(model.parameters(), { lr: 1e-3, weightDecay: 1e-7 });
  const regular = noDefense();
  const loss = buildTrainingLoss('triplet', { margin: 0.2, metric: mN });
  const losses: number[] = [];
  for await (const b of spc2Loader(train, { seed: 0, batchPairs: 32 })) {
    const step = losses.length;
    losses.push(
      tidy(() => {
        const s = regular.step({
          model,
          images: b.images,
          labels: b.labels,
          metric: mN,
          margin: 0.2,
          loss,
          miner: minerByName('random'),
          epoch: 0,
          maxEpochs: 1,
          step,
        });
        opt.zeroGrad();
        s.loss.backward();
        return s.loss.item();
      }),
    );
    opt.step();
    dispose([b.images, b.labels]);
    if (losses.length === steps) break;
  }
  opt.dispose();
  return { model, losses };
}

test('GTM on an undefended trained c2f2: strictly lower R@1 than the clean rank, each query pulled towards its target', async () => {
  const { model, losses } = await briefTrainedC2F2(8);
  const mean = (v: readonly number[]): number => v.reduce((s, x) => s + x, 0) / v.length;
  assert.ok(mean(losses.slice(-4)) < losses[0]!, `regular training lowered the loss: ${losses.map((l) => l.toFixed(3))}`);
  model.eval();
  const all = Array.from({ length: 256 }, (_, i) => i);
  const emb = noGrad(() => tidy(() => mN.embed(model.forward(images256.batch(all)))));
  const labels = images256.labelBatch(all);
  const gallery = makeGallery(emb, labels, mN);
  const images = images256.batch(all.slice(0, 64));
  const queryLabels = images256.labelBatch(all.slice(0, 64));
  const ctx = buildBatchContext(model, gallery, images, queryLabels);
  try {
    for (const target of ['reference-bug', 'intended'] as const) {
      const attack = createAttack('GTM', { gtmTarget: target });
      manualSeed(3);
      const clean = noGrad(() => tidy(() => columnMeans(attack.measure({ final: ctx.clean, lastIterationStart: ctx.clean }, attack.select(ctx), ctx)))).GTM!;
      manualSeed(3);
      const run = attackBatch(model, attack, ctx, BUDGET, { examples: 1 });
      try {
        // R@1 (%), clean self masked: a trained model ranks most queries right, and the attack takes a real share of that away.
        assert.ok(clean > 50, `${target}: the trained model's clean R@1 is ${clean}`);
        assert.ok(run.values.GTM! < clean - 10, `${target}: GTM R@1 ${run.values.GTM} is not well below the clean ${clean}`);
        // PGD makes progress on d(q̃, target) at every step.
        run.objective.slice(1).forEach((v, i) => assert.ok(v < run.objective[i]!, `${target}: objective rose at step ${i + 1}: ${run.objective}`));
        // Rank of each query's target (items strictly closer, clean self masked), before and after: it improves on average.
        const targetRank = (queries: Tensor): number[] =>
          noGrad(() =>
            tidy(() => {
              const t = greedyTopMisrankTargets(ctx, target).unsqueeze(1);
              const d = selfMaskedRanking(queries, gallery.embeddings, ctx.selfIndex, mN);
              return d.lt(d.gather(1, t)).sum(1).toArray();
            }),
          );
        const before = targetRank(ctx.clean);
        const after = tidy(() => targetRank(noGrad(() => embedImages(model, run.examples!.adversarial, mN))));
        assert.ok(mean(after) < mean(before), `${target}: mean target rank ${mean(after)} after vs ${mean(before)} before`);
        assert.ok(after.filter((r, i) => r < before[i]!).length > after.filter((r, i) => r > before[i]!).length, `${target}: more targets rise than fall`);
      } finally {
        run.examples!.adversarial.dispose();
      }
    }
  } finally {
    disposeBatchContext(ctx);
    dispose([emb, labels, images, queryLabels]);
    model.dispose();
  }
});

test('SPQA+ pulls the candidate up while the ground-truth top-5 stays near the top (seeded c2f2)', () => {
  const s = tinyModel(mN);
  try {
    // ξ trades the attack against keeping G: J_sp is normalised by N, so a 256-item gallery needs a
    // smaller k than Fashion's 10 000 items for the same balance.
    const [loose, balanced, strict] = [1e2, 4e3, 4e4].map((k) => cleanVersusAttacked(s, 'SPQA+', 7, { spqaXiRate: k }));
    assert.ok(balanced!.attacked['SPQA+']! < balanced!.clean['SPQA+']! - 10, `SPQA+ pulls the candidate up: ${JSON.stringify(balanced)}`);
    const gt = (r: typeof loose) => r!.attacked['SPQA+:GTprank']!;
    assert.ok(gt(strict) < gt(balanced) && gt(balanced) < gt(loose), `a larger k keeps G nearer the top: ${gt(loose)} > ${gt(balanced)} > ${gt(strict)}`);
    assert.ok(strict!.attacked['SPQA+']! > balanced!.attacked['SPQA+']!, 'at the price of the attack');
  } finally {
    s.free();
  }
});

test('ES:D is measured before the final update (reference) unless asked otherwise; η = 1 gives ES:D = 0', () => {
  const s = tinyModel(mN);
  try {
    manualSeed(1);
    const fgsm = attackBatch(s.model, createAttack('ES'), s.ctx, { epsilon: 0.1, alpha: 0.01, steps: 1 }).values;
    assert.equal(fgsm['ES:D'], 0);
    const final = attackBatch(s.model, createAttack('ES', { esDistanceAt: 'final' }), s.ctx, { epsilon: 0.1, alpha: 0.01, steps: 1 }).values;
    assert.ok(final['ES:D']! > 0);
    const two = attackBatch(s.model, createAttack('ES'), s.ctx, { epsilon: 0.3, alpha: 0.05, steps: 3 }).values;
    const twoFinal = attackBatch(s.model, createAttack('ES', { esDistanceAt: 'final' }), s.ctx, { epsilon: 0.3, alpha: 0.05, steps: 3 }).values;
    assert.ok(two['ES:D']! > 0 && two['ES:D']! < twoFinal['ES:D']!, `${two['ES:D']} < ${twoFinal['ES:D']}`);
  } finally {
    s.free();
  }
});

test('attacks reject images of the wrong shape, NaN images, and bad budgets', () => {
  const s = tinyModel(mN);
  try {
    tidy(() => {
      assert.throws(
        () => buildBatchContext(s.model, s.gallery, rand([4, 3, 28, 28]), tensor([0, 0, 0, 0], [4], 'int64')),
        /images must have shape \[B, 1, 28, 28\]/,
      );
      assert.throws(() => buildBatchContext(s.model, s.gallery, rand([2, 1, 28, 28]).div(0).mul(0), tensor([0, 0], [2], 'int64')), /NaN/);
      assert.throws(() => attackBatch(s.model, createAttack('TMA'), s.ctx, { epsilon: 2, alpha: 0.01, steps: 2 }), /epsilon must be in \[0, 1\]/);
      assert.throws(() => attackBatch(s.model, createAttack('TMA'), s.ctx, { epsilon: 0.1, alpha: -1, steps: 2 }), /TMA: alpha must be in \(0, 1\]/);
    });
  } finally {
    s.free();
  }
});

test('no tensor leak over attack batches of every kind', () => {
  const s = tinyModel(mC);
  try {
    const budget = { epsilon: 0.1, alpha: 0.02, steps: 2 };
    attackBatch(s.model, createAttack('LTM'), s.ctx, budget); // warm-up
    const start = liveTensors();
    for (const kind of ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES', 'LTM', 'GTM', 'GTT'] as AttackKind[]) {
      manualSeed(2);
      attackBatch(s.model, createAttack(kind), s.ctx, budget);
      assert.equal(liveTensors(), start, `${kind} leaked tensors`);
    }
    const ctx2 = buildBatchContext(s.model, s.gallery, s.ctx.images, s.ctx.labels);
    disposeBatchContext(ctx2);
    assert.equal(liveTensors(), start, 'batch context leaked tensors');
  } finally {
    s.free();
  }
});

// ------------------------------------------------------------------ swipe

test('swipe: all ten numbers, ERS/ARS, deterministic, reproduced column by column, reports render, no leak', async () => {
  manualSeed(0);
  const model = new C2F2();
  const quick: Profile = {
    ...getProfile('rob28'),
    name: 'rob28-quick',
    runs: getProfile('rob28').runs.map((r) => ({ ...r, budget: { ...r.budget, steps: 2 } })),
  };
  const before = liveTensors();
  const r1 = await runSwipe(model, images256, mN, { profile: quick, maxIter: 1, seed: 5 });
  assert.equal(liveTensors(), before, 'swipe leaked tensors');
  assert.equal(r1.batches, 1);
  assert.equal(r1.queries, 128);
  for (const k of ['CA+', 'CA-', 'QA+', 'QA-', 'TMA', 'ES:D', 'ES:R', 'LTM', 'GTM', 'GTT']) assert.ok(Number.isFinite(r1.attacks[k]), `${k} present`);
  assert.ok(r1.ERS !== null && Number.isFinite(r1.ERS));
  assert.ok(r1.ARS !== null && Number.isFinite(r1.ARS));
  assert.ok(r1.benignRecallAt1 > 0 && r1.benignRecallAt1 <= 100);
  const r2 = await runSwipe(model, images256, mN, { profile: quick, maxIter: 1, seed: 5 });
  assert.deepEqual(r2.attacks, r1.attacks, 'same seed, same numbers');
  // One attack alone reproduces its swipe column (seeded per attack kind and batch).
  const gtmOnly: Profile = { ...quick, name: 'gtm', runs: quick.runs.filter((r) => r.attack === 'GTM') };
  const alone = await runSwipe(model, images256, mN, { profile: gtmOnly, maxIter: 1, seed: 5 });
  assert.equal(alone.attacks.GTM, r1.attacks.GTM);
  assert.equal(alone.ERS, null);
  // Two batches: the unweighted mean over batches (256 = 2 × 128 here).
  const both = await runSwipe(model, images256, mN, { profile: gtmOnly, seed: 5 });
  assert.equal(both.batches, 2);
  const md = swipeMarkdown(r1);
  assert.match(md, /\*\*ERS\*\* \d+\.\d/);
  assert.match(md, /\| CA- \| \d+\.\d \| \[\d+\.\d, \d+\.\d\] \| % \| lower is more robust \|/, 'units, directions and intervals per column');
  assert.match(md, /\| TMA \| -?\d\.\d{3} \| \[-?\d\.\d{3}, -?\d\.\d{3}\] \| cosine \| lower is more robust \|/);
  const svg = swipeSvg(r1);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal((svg.match(/<\/rect>/g) ?? []).length, 10, 'one bar per ERS column');
  assert.match(svg, /128 queries \(1 batch\), PGD L∞ ε = 77\/255, α = 3\/255, η = 2/, 'the scope and budget are on the image');
  assert.match(svg, /ERS score of each attack, 0–100, higher is more robust/);
  model.dispose();
});

test('swipe of a curve profile: one column per (attack, budget), SPQA± with GTprank, no ERS', async () => {
  manualSeed(0);
  const model = new C2F2();
  const curve = getProfile('qccurve28');
  // Two ε of the ε-curve, one PGD step; SPQA− needs 6 top-1% entries, more than a 256-image gallery has.
  const small: Profile = {
    ...curve,
    name: 'qccurve28-quick',
    runs: curve.runs
      .filter((r) => r.budget.epsilon > 0 && r.budget.epsilon < 0.06 && r.attack !== 'SPQA-')
      .map((r) => ({ ...r, budget: { ...r.budget, steps: 1 } })),
  };
  assert.deepEqual([...new Set(small.runs.map((r) => r.attack))], ['CA+', 'CA-', 'SPQA+']);
  const r = await runSwipe(model, images256, mN, { profile: small, maxIter: 1 });
  const columns = Object.keys(r.attacks);
  assert.equal(columns.length, 2 * 4, 'CA+, CA−, SPQA+ and SPQA+:GTprank at two ε');
  assert.ok(columns.includes('SPQA+:GTprank ε=0.02745 α=0.01176 η=1 W/M=1'), columns.join(' | '));
  assert.equal(r.ERS, null);
  const minus: Profile = { ...small, runs: [{ attack: 'SPQA-', budget: small.runs[0]!.budget }] };
  await assert.rejects(
    runSwipe(model, images256, mN, { profile: minus, maxIter: 1 }),
    /SPQA-: M = 1 candidates plus 5 ground-truth neighbours exceed the top-1% list \(2 entries\)/,
  );
  model.dispose();
});

test('attack and swipe commands reject bad flags as usage errors before loading anything', async () => {
  await assert.rejects(attackCommand.run(['ckpt', '--attack', 'FOA']), (e: unknown) => e instanceof UsageError && /unknown attack 'FOA'/.test(e.message));
  await assert.rejects(attackCommand.run(['ckpt']), (e: unknown) => e instanceof UsageError && /--attack is required/.test(e.message));
  await assert.rejects(
    attackCommand.run(['ckpt', '--attack', 'QA+', '--epsilon', '2']),
    (e: unknown) => e instanceof UsageError && /epsilon must be in \[0, 1\]/.test(e.message),
  );
  await assert.rejects(
    attackCommand.run(['ckpt', '--attack', 'QA+', '--alpha', '0']),
    (e: unknown) => e instanceof UsageError && /alpha must be > 0/.test(e.message),
  );
  await assert.rejects(
    swipeCommand.run(['ckpt', '--profile', 'rob1']),
    (e: unknown) => e instanceof UsageError && /--profile must be one of rob28, rob224, .*got 'rob1'/.test(e.message),
  );
  await assert.rejects(swipeCommand.run(['ckpt', '--max-iter', '0']), (e: unknown) => e instanceof UsageError && /--max-iter must be >= 1/.test(e.message));
  await assert.rejects(swipeCommand.run([]), (e: unknown) => e instanceof UsageError);
});
