// RobRank's remaining defense baselines and free adversarial training, by hand
// on the two-pixel model (embedding = image) where every adversarial batch and
// loss has a closed form: AMD / RAMD (min-max), REST (EST's shift on candidates),
// SES (clean loss + shift), ACT-50 % (px), and free AT's one-backward ascent on
// amd / amdsemi / hm. A flipped sign in any objective moves the images the
// other way and fails. Then through the trainer on real Fashion-MNIST: the
// shorthands, free AT's replays, and a mid-epoch resume that equals an
// uninterrupted run for every new defense.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { liveTensors, manualSeed, tidy, tensor, type Tensor } from '../src/tensor/index.js';
import { minerByName } from '../src/metric/miners.js';
import { metricByName, type MetricName } from '../src/metric/metric.js';
import type { DefenseContext } from '../src/defense/defense.js';
import { buildDefense, DEFENSES, describeDefense, modelSuffix, resolveDefense, type DefenseConfig } from '../src/defense/registry.js';
import { madryObjective } from '../src/defense/amd.js';
import { embeddingShiftPenalty } from '../src/defense/ses.js';
import { defaultConfig, parseShorthand, resolveConfig, type ExperimentConfig } from '../src/run/config.js';
import { train, TrainingInterrupted } from '../src/train/trainer.js';
import { readCheckpointInfo } from '../src/run/checkpoint.js';
import { near, allNear } from './helpers/assert.js';
import { jsEpsDistance } from './helpers/distances.js';
import { fashionSlice } from './helpers/fashion-slice.js';
import { handTripletLoss, pairsOf, PIXELS, PixelModel, pixelBatch } from './helpers/pixel-model.js';

const E = metricByName('E');
const MARGIN = 0.2;

function build(cfg: DefenseConfig, loss = 'triplet', metric: MetricName = 'E') {
  const defense = resolveDefense(cfg, { imageSide: 28, paper: {}, metric, dataset: 'test' });
  return buildDefense({ defense, loss, metric, margin: MARGIN });
}

/** The pixel batch with the hardest miner: triplets (x0, x0', x1) and (x1, x1', x0) (see defense.test.ts's ACT case). */
function context(model: PixelModel, over: Partial<DefenseContext> = {}): Omit<DefenseContext, 'loss'> {
  const b = pixelBatch();
  return { model, images: b.images, labels: b.labels, metric: E, margin: MARGIN, miner: minerByName('hardest'), epoch: 0, maxEpochs: 1, step: 0, ...over };
}

const [X0, X0P, X1, X1P] = PIXELS as [number[], number[], number[], number[]];
/** The two mined triplets' members, as rows. */
const ANCHORS = [X0, X1];
const POSITIVES = [X0P, X1P];
const NEGATIVES = [X1, X0];

const sub = (u: number[], v: number[]): number[] => u.map((x, i) => x - v[i]!);
const add = (u: number[], v: number[]): number[] => u.map((x, i) => x + v[i]!);
const scale = (u: number[], k: number): number[] => u.map((x) => x * k);
const sign = (u: number[]): number[] => u.map(Math.sign);
const clip01 = (u: number[]): number[] => u.map((x) => Math.min(1, Math.max(0, x)));
/** ∇_u ||u − v + eps|| = (u − v + eps)/d; ∇_v of the same distance is its negative. */
const gradU = (u: number[], v: number[]): number[] =>
  scale(
    u.map((x, i) => x - v[i]! + 1e-6),
    1 / jsEpsDistance(u, v),
  );

test('AMD/RAMD and SES objectives on hand embeddings: mean d(a,n) − d(a,p) and mean d(x̃, x)', () => {
  tidy(() => {
    const f64 = (rows: number[][]): Tensor => tensor(rows, undefined, 'float64');
    const [a, p, n] = [[[0, 0]], [[3, 4]], [[1, 0]]];
    near(madryObjective(f64(a), f64(p), f64(n), E).item(), jsEpsDistance(a[0]!, n[0]!) - jsEpsDistance(a[0]!, p[0]!), 1e-12, 'AMD: d(a,n) − d(a,p), minimised');
    near(
      embeddingShiftPenalty(
        f64([
          [3, 4],
          [1, 1],
        ]),
        f64([
          [0, 0],
          [1, 2],
        ]),
        E,
      ).item(),
      (jsEpsDistance([3, 4], [0, 0]) + jsEpsDistance([1, 1], [1, 2])) / 2,
      1e-12,
      'SES: a mean',
    );
  });
});

test('AMD by hand: one FGSM step of ε makes both triplets harder, all three members move; RAMD keeps the anchors', () => {
  const model = new PixelModel();
  const eps = 0.05;
  for (const kind of ['amd', 'ramd'] as const) {
    tidy(() => {
      let adversarial: number[] = [];
      const out = build({ kind, steps: 1, epsilon: eps }).step({ ...context(model), inspect: (_r, _c, adv) => (adversarial = adv.toArray()) });
      // x − ε·sign ∇J with J = (1/B) Σ d(a,n) − d(a,p): p away from a, n towards a, and the anchor by both.
      const moved = (x: number[], g: number[]): number[] => clip01(sub(x, scale(sign(g), eps)));
      // The distances are d(a, ·) with eps added to a − ·, so a zero difference moves too, by the eps's sign (as the reference).
      const p = POSITIVES.map((pi, i) => moved(pi, gradU(ANCHORS[i]!, pi)));
      const n = NEGATIVES.map((ni, i) => moved(ni, scale(gradU(ANCHORS[i]!, ni), -1)));
      const a = kind === 'amd' ? ANCHORS.map((ai, i) => moved(ai, sub(gradU(ai, NEGATIVES[i]!), gradU(ai, POSITIVES[i]!)))) : ANCHORS;
      allNear(adversarial, [...(kind === 'amd' ? a.flat() : []), ...p.flat(), ...n.flat()], 1e-6, `${kind} adversarial triplets`);
      near(out.loss.item(), handTripletLoss(a, p, n, MARGIN), 1e-6, `${kind} loss`);
      assert.ok(
        out.stats.trainedHardness > out.stats.sourceHardness + 0.05,
        `${kind}: harder after PGD (${out.stats.sourceHardness} → ${out.stats.trainedHardness})`,
      );
      assert.deepEqual([out.stats.pgdIterations, out.stats.forwardPasses, out.stats.backwardPasses], [1, 3, 2]);
    });
  }
  model.dispose();
});

test("REST by hand: benign anchors; EST's shift moves only positives and negatives, each coordinate 0 or ±2α", () => {
  const model = new PixelModel();
  tidy(() => {
    const alpha = 0.03;
    let clean: number[] = [];
    let adversarial: number[] = [];
    manualSeed(5);
    const out = build({ kind: 'rest', steps: 2, epsilon: 0.1, alpha }).step({
      ...context(model),
      inspect: (role, c, adv) => {
        assert.equal(role, 'candidates');
        clean = c.toArray();
        adversarial = adv.toArray();
      },
    });
    allNear(clean, [...POSITIVES.flat(), ...NEGATIVES.flat()], 1e-7, 'REST perturbs [p, n] only');
    const shift = sub(adversarial, clean);
    for (const [i, d] of shift.entries()) assert.ok(Math.abs(d) < 1e-6 || Math.abs(Math.abs(d) - 2 * alpha) < 1e-6, `coordinate ${i} moved by ${d}`);
    assert.ok(shift.filter((d) => Math.abs(d) > 1e-6).length >= 6, `the shift moves away from the clean images: ${shift}`);
    const z = pairsOf(adversarial);
    near(out.loss.item(), handTripletLoss(ANCHORS, z.slice(0, 2), z.slice(2), MARGIN), 1e-6, 'REST loss: benign anchors against shifted candidates');
  });
  model.dispose();
});

test("SES by hand: the loss is the clean triplet loss PLUS the mean shift EST's attack achieved", () => {
  const model = new PixelModel();
  tidy(() => {
    let adversarial: number[] = [];
    manualSeed(5);
    const out = build({ kind: 'ses', steps: 2, epsilon: 0.1, alpha: 0.03 }).step({
      ...context(model),
      inspect: (_r, _c, adv) => (adversarial = adv.toArray()),
    });
    const clean = handTripletLoss(ANCHORS, POSITIVES, NEGATIVES, MARGIN);
    const z = pairsOf(adversarial);
    const shift = PIXELS.reduce((s, x, i) => s + jsEpsDistance(z[i]!, x), 0) / PIXELS.length;
    assert.ok(shift > 0.05, `the attack moved the embeddings (${shift})`);
    near(out.loss.item(), clean + shift, 1e-6, 'SES loss (a flipped sign would give clean − shift)');
    near(out.stats.trainedHardness, out.stats.sourceHardness, 0, 'SES trains on clean triplets');
  });
  model.dispose();
});

/** Free AT's replays of the pixel batch: each replay's loss, and σ after each replay's ascent step. */
function freeReplays(cfg: DefenseConfig, metric: MetricName = 'E', replays = 2): { losses: number[]; sigmas: number[][] } {
  const model = new PixelModel();
  const defense = build(cfg, 'triplet', metric);
  const losses: number[] = [];
  const sigmas: number[][] = [];
  const live = liveTensors();
  for (let replay = 0; replay < replays; replay++) {
    tidy(() => {
      const out = defense.step({ ...context(model), metric: metricByName(metric), replay });
      losses.push(out.loss.item());
      out.loss.backward();
      defense.afterBackward();
      sigmas.push(defense.tensors().get('sigma')!.toArray());
    });
  }
  defense.dispose();
  assert.equal(liveTensors(), live, 'free AT frees its perturbation and batch plan on dispose');
  model.dispose();
  return { losses, sigmas };
}

test('free AT by hand: one backward gives σ = α·sign ∇σ L (ascent); the next replay trains on the harder triplets', () => {
  const [eps, alpha] = [0.05, 0.02];
  // Both clean triplets are active (0.1 − 0.2 + 0.2 > 0 and 0.2 − 0.2 + 0.2 > 0): L = (1/2) Σ d(a,p) − d(a,n) + γ.
  const ga = ANCHORS.map((a, i) => sub(gradU(a, POSITIVES[i]!), gradU(a, NEGATIVES[i]!)));
  const gp = POSITIVES.map((p, i) => scale(gradU(ANCHORS[i]!, p), -1));
  const gn = NEGATIVES.map((n, i) => gradU(ANCHORS[i]!, n));
  const sigma = [...ga, ...gp, ...gn].map((g) => scale(sign(g), alpha));
  const r = freeReplays({ kind: 'free', base: 'amd', replays: 2, epsilon: eps, alpha });
  allNear(r.sigmas[0]!, sigma.flat(), 1e-7, 'σ after the first replay, rows [a, p, n]');
  near(r.losses[0]!, handTripletLoss(ANCHORS, POSITIVES, NEGATIVES, MARGIN), 1e-6, 'replay 0 trains on the clean triplets (σ = 0)');
  const perturbed = [...ANCHORS, ...POSITIVES, ...NEGATIVES].map((x, i) => clip01(add(x, sigma[i]!)));
  near(r.losses[1]!, handTripletLoss(perturbed.slice(0, 2), perturbed.slice(2, 4), perturbed.slice(4), MARGIN), 1e-6, 'replay 1 trains on x + σ');
  assert.ok(r.losses[1]! > r.losses[0]! + 0.01, `ascent makes the triplets harder: ${r.losses}`);
  // σ stays in the ε-ball however many replays ascend it.
  const long = freeReplays({ kind: 'free', base: 'amd', replays: 6, epsilon: eps, alpha }, 'E', 6);
  assert.ok(Math.max(...long.sigmas[5]!.map(Math.abs)) <= eps + 1e-7, 'σ is clipped to ε');
});

test('free AT stop rules: amdsemi wipes σ of semihard-or-harder triplets; HM + free moves σ only below H_D', () => {
  const cfg = { kind: 'free', replays: 2, epsilon: 0.05, alpha: 0.02 } as const;
  // Clean hardness −0.1 and 0 are both above −0.2: amdsemi keeps no perturbation.
  allNear(freeReplays({ ...cfg, base: 'amdsemi' }).sigmas[0]!, new Array(12).fill(0), 0, 'amdsemi σ');
  // HM + free with the hardest source under N: destination +2 (never reached) ascends like AMD, −2 (always reached) never moves.
  const amd = freeReplays({ ...cfg, base: 'amd' }, 'N');
  const below = freeReplays({ ...cfg, base: 'hm', source: 'hardest', destination: 2 }, 'N');
  const above = freeReplays({ ...cfg, base: 'hm', source: 'hardest', destination: -2 }, 'N');
  assert.deepEqual(below.sigmas[0], amd.sigmas[0], 'below H_D: the same ascent as free AMD');
  assert.ok(below.sigmas[0]!.some((v) => v !== 0));
  allNear(above.sigmas[1]!, new Array(12).fill(0), 0, 'at H_D: σ stays 0');
  near(above.losses[1]!, above.losses[0]!, 1e-9, 'so the replays train on the same triplets');
});

test('ACT-50 % (px): a seeded coin per step, about half the steps adversarial, the others regular training', () => {
  const model = new PixelModel();
  const coin = (seed: number): boolean[] => {
    manualSeed(seed);
    const defense = build({ kind: 'act', steps: 1, probability: 0.5 });
    return Array.from({ length: 40 }, () => tidy(() => defense.step(context(model)).stats.pgdIterations > 0));
  };
  const a = coin(3);
  assert.deepEqual(coin(3), a, 'same seed, same steps');
  const adversarial = a.filter(Boolean).length;
  assert.ok(adversarial >= 10 && adversarial <= 30, `${adversarial}/40 adversarial steps`);
  model.dispose();
});

test('shorthands and names: amd, ramd, e, r, px, fatnone, fatamd, fatamdsemi round-trip; refusals name the problem', () => {
  const cases: [string, DefenseConfig, string][] = [
    ['amd', { kind: 'amd' }, 'AMD'],
    ['ramd', { kind: 'ramd' }, 'RAMD'],
    ['e', { kind: 'ses' }, 'SES'],
    ['r', { kind: 'rest' }, 'REST'],
    ['px', { kind: 'act', probability: 0.5 }, 'ACT-50%'],
    ['fatnone', { kind: 'free', base: 'none' }, 'FreeAT[none]'],
    ['fatamd', { kind: 'free', base: 'amd' }, 'FreeAT[amd]'],
    ['fatamdsemi', { kind: 'free', base: 'amdsemi' }, 'FreeAT[amdsemi]'],
  ];
  for (const [suffix, defense, name] of cases) {
    const c = parseShorthand(`fashion:rc2f2${suffix}:ptripletN`);
    assert.deepEqual(c.defense, defense, suffix);
    assert.equal(describeDefense(c.defense), name);
    assert.equal(modelSuffix(resolveConfig(c).defense), suffix, `${suffix} formats back`);
  }
  assert.equal(describeDefense({ kind: 'free', base: 'hm', source: 'softhard', destination: 'lga', ics: 0.5 }), 'HM[S,g_LGA]&ICS+free');
  const base = defaultConfig('fashion');
  assert.throws(() => resolveConfig({ ...base, defense: { kind: 'free', base: 'hm' } }), /free AT on hm needs --source and --destination/);
  assert.throws(() => resolveConfig({ ...base, defense: { kind: 'free', base: 'amd', source: 'random' } }), /free AT on amd: source is HM's/);
  assert.throws(() => resolveConfig({ ...base, shards: 2, defense: { kind: 'free', base: 'amd' } }), /does not train sharded/);
  assert.throws(
    () => resolveConfig({ ...base, metric: 'E', margin: 1, defense: { kind: 'free', base: 'hm', source: 'random', destination: 'semihard' } }),
    /defined for metric N only/,
  );
  assert.throws(() => resolveConfig(parseShorthand('fashion:rc2f2amd:pmsN')), /AMD perturbs the members of each mined triplet/);
  // SES trains the run's loss on the clean batch: any loss.
  assert.equal(resolveConfig(parseShorthand('fashion:rc2f2e:pmsN')).defense.kind, 'ses');
  assert.throws(() => build({ kind: 'act', probability: 0 }), /ACT: the adversarial probability must be in \(0, 1\]/);
  for (const k of ['amd', 'ramd', 'ses', 'rest', 'free'] as const)
    assert.equal(DEFENSES[k].trainsBatchNorm, false, `${k}: BatchNorm frozen, as RobRank (only EST trains it)`);
});

test('uniform noise: every image moves inside its ε-ball, and the loss is regular training on the noisy batch', () => {
  const model = new PixelModel();
  tidy(() => {
    const eps = 0.05;
    let noisy: number[] = [];
    manualSeed(1);
    const out = build({ kind: 'noise', epsilon: eps }).step({ ...context(model), inspect: (_r, _c, x) => (noisy = x.toArray()) });
    const moved = sub(noisy, PIXELS.flat());
    assert.ok(moved.every((d) => Math.abs(d) <= eps + 1e-7) && moved.some((d) => Math.abs(d) > 1e-3), `noise in the ε-ball: ${moved}`);
    const regular = build({ kind: 'none' }).step({ ...context(model), images: tensor(noisy, [4, 1, 1, 2]) });
    near(out.loss.item(), regular.loss.item(), 1e-7, "the run's loss on the noisy batch");
    assert.deepEqual([out.stats.pgdIterations, out.stats.forwardPasses, out.stats.backwardPasses], [0, 1, 1]);
  });
  const resolved = resolveDefense<Extract<DefenseConfig, { kind: 'noise' }>>({ kind: 'noise' }, { imageSide: 28, paper: {}, metric: 'N', dataset: 'test' });
  assert.equal(resolved.epsilon, 77 / 255, "the training budget's ε");
  model.dispose();
});

// ------------------------------------------------------------------ through the trainer

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rankshield-baselines-'));
const sha = (dir: string): string =>
  createHash('sha256')
    .update(readFileSync(path.join(dir, 'model.safetensors')))
    .digest('hex');

test('every new defense resumed mid-epoch gives the same model SHA-256 as an uninterrupted run; free AT replays each batch', async () => {
  const root = await fashionSlice(path.join(tmp(), 'fashion'), { train: 1000, test: 128 });
  const quick: ExperimentConfig = { ...defaultConfig('fashion'), root, batchPairs: 16, maxBatches: 4, epochs: 1, evalEvery: 100 };
  const defenses: DefenseConfig[] = [
    { kind: 'amd', steps: 2 },
    { kind: 'ramd', steps: 2 },
    { kind: 'noise' },
    { kind: 'ses', steps: 2 },
    { kind: 'rest', steps: 2 },
    { kind: 'act', steps: 2, probability: 0.5 },
    { kind: 'free', base: 'none', replays: 2 },
    { kind: 'free', base: 'amd', replays: 3 },
    { kind: 'free', base: 'amdsemi', replays: 2 },
    { kind: 'free', base: 'est', replays: 2 },
    { kind: 'free', base: 'act', replays: 2 },
    { kind: 'free', base: 'hm', source: 'softhard', destination: 'lga', ics: 0.5, replays: 2 },
  ];
  for (const defense of defenses) {
    const config = { ...quick, defense };
    const a = tmp();
    await train({ config, outDir: a });
    const b = tmp();
    const stop = new AbortController();
    // Stop once two steps are logged: the checkpoint is taken inside the epoch.
    const poll = setInterval(() => {
      const log = path.join(b, 'log.jsonl');
      if (
        existsSync(log) &&
        readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"event":"step"')).length >= 2
      )
        stop.abort('test stop');
    }, 2);
    const interrupted = await train({ config, outDir: b, signal: stop.signal }).then(
      () => null,
      (e: unknown) => e,
    );
    clearInterval(poll);
    assert.ok(interrupted instanceof TrainingInterrupted, `${describeDefense(defense)}: stopped (${String(interrupted)})`);
    assert.ok(
      interrupted.position.step > 0 && interrupted.position.step < 4,
      `${describeDefense(defense)}: stopped inside the epoch, at step ${interrupted.position.step}`,
    );
    await train({ config, outDir: b, resume: true });
    assert.equal(sha(b), sha(a), `${describeDefense(defense)}: resumed at step ${interrupted.position.step} = uninterrupted`);
    if (defense.kind === 'free') {
      const replays = defense.replays!;
      assert.equal(readCheckpointInfo(a).optimizerStep, 4 * replays, 'one optimizer step per replay');
      const steps = readFileSync(path.join(a, 'log.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"event":"step"'))
        .map((l) => JSON.parse(l) as { backwardPasses: number; pgdIterations: number });
      assert.deepEqual(
        steps.map((s) => [s.backwardPasses, s.pgdIterations]),
        new Array(4).fill([replays, 0]),
        'one backward per replay, no PGD',
      );
    }
  }
});
