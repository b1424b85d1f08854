// Layer: reproduce. What a row costs before it runs: model passes counted from
// its config (epochs × batches × passes per batch, PGD steps included), the cost
// of one pass measured here by a short timed probe, the time that makes here and
// on a GPU under a stated throughput assumption, and the disk it needs.
import { getProfile } from '../attack/profiles.js';
import { officialSplit } from '../data/official-splits.js';
import { parseDatasetName } from '../data/registry.js';
import { KEEP_COMMITS } from '../run/commit.js';
import { createModel } from '../run/model-factory.js';
import type { ExperimentConfig } from '../run/config.js';
import { DEFENSES } from '../defense/registry.js';
import { CPU, dispose, noGrad, rand, tidy, type Device } from '../tensor/index.js';
import { SCALE_BUDGETS, type Scale } from './scale.js';

/** Forward and backward passes of the model over one training batch (2B images), PGD included, at most. */
export interface BatchPasses {
  forward: number;
  backward: number;
}

/**
 * The passes a defense's training step makes over a batch, when PGD runs all η steps (early stops only
 * lower it). These are the counts each defense reports per step in log.jsonl (forwardPasses,
 * backwardPasses): clean embedding + η PGD steps + the trained forward(s), η + 1 backward passes.
 */
export function passesPerBatch(c: ExperimentConfig): BatchPasses {
  const d = c.defense;
  const eta = 'steps' in d && d.steps !== undefined ? d.steps : 0;
  switch (d.kind) {
    case 'none':
      return { forward: 1, backward: 1 };
    case 'est':
      return { forward: 2 + eta, backward: 1 + eta };
    case 'act':
    case 'catride':
    case 'ses':
      return { forward: 3 + eta, backward: 1 + eta };
    case 'hm':
      return { forward: 2 + eta + ((d.ics ?? 0) > 0 ? 1 : 0), backward: 1 + eta };
    default:
      // amd, ramd, rest and the rest of the PGD defenses: one clean pass, η steps, one trained pass.
      if (!DEFENSES[d.kind].options.some((o) => o.flag === 'pgd-steps')) throw new Error(`the planner has no pass count for defense ${d.kind}`);
      return { forward: 2 + eta, backward: 1 + eta };
  }
}

/** Image counts of a row's work, split by what dominates the cost (forward-only vs forward + backward). */
export interface RowWork {
  trainImages: number;
  batchesPerEpoch: number;
  batches: number;
  perBatch: BatchPasses;
  /** Images per training batch (2 per pair). */
  batchImages: number;
  /** Forward image passes of training (batches × forward × 2B). */
  trainForward: number;
  trainBackward: number;
  /** Forward image passes of the benign evaluations (each evaluation embeds the test split once). */
  evalForward: number;
  /** Forward image passes of reproduce's own benign evaluation with intervals (the test split once). */
  benignForward: number;
  /** The swipe: queries attacked, attack runs, PGD steps per run. */
  queries: number;
  attackRuns: number;
  attackSteps: number;
  /** Swipe image passes: gallery embedding + per query and run, steps forward+backward and a forward to score. */
  swipeForward: number;
  swipeBackward: number;
}

/** The counts for a resolved config at a scale (no libtorch needed). */
export function rowWork(c: ExperimentConfig, scale: Scale, profileName: string): RowWork {
  const name = parseDatasetName(c.dataset).entry.name;
  const split = officialSplit(name);
  if (split === undefined) throw new Error(`no published split for dataset ${name}`);
  const trainImages = split.train.images;
  const full = Math.ceil(trainImages / c.batchPairs);
  const batchesPerEpoch = c.maxBatches > 0 ? Math.min(c.maxBatches, full) : full;
  const batches = batchesPerEpoch * c.epochs;
  const perBatch = passesPerBatch(c);
  const batchImages = 2 * c.batchPairs;
  const evaluations = Math.ceil(c.epochs / c.evalEvery);
  const testImages = split.test.images;
  const profile = getProfile(profileName);
  const budget = SCALE_BUDGETS[scale];
  const perQueryBatch = budget.swipeBatchSize ?? profile.batchSize;
  const queries = budget.swipeBatches === null ? testImages : Math.min(testImages, budget.swipeBatches * perQueryBatch);
  const attackSteps = Math.max(...profile.runs.map((r) => r.budget.steps));
  const attackRuns = profile.runs.length;
  return {
    trainImages,
    batchesPerEpoch,
    batches,
    perBatch,
    batchImages,
    trainForward: batches * perBatch.forward * batchImages,
    trainBackward: batches * perBatch.backward * batchImages,
    evalForward: evaluations * testImages,
    benignForward: testImages,
    queries,
    attackRuns,
    attackSteps,
    swipeForward: testImages + queries * attackRuns * (attackSteps + 1),
    swipeBackward: queries * attackRuns * attackSteps,
  };
}

/** Seconds per image of a forward pass and of a backward pass (the backward's share of forward + backward). */
export interface PassCost {
  forward: number;
  backward: number;
  /** What was timed: model, images per probe batch, repetitions, threads. */
  probe: string;
}

/**
 * Times the row's model here: a forward pass without gradients and a forward + backward over a small batch
 * of random images, after one warm-up. Random weights: the cost does not depend on the values.
 * On one CPU thread the time is this process's CPU time (user + system), which other work on the
 * machine does not inflate; otherwise (several threads, a GPU) it is the wall time.
 */
export function probePassCost(c: ExperimentConfig, threads: number, device: Device = CPU): PassCost {
  const { channels, imageSide } = parseDatasetName(c.dataset).entry;
  const onCpu = device === CPU;
  const images = imageSide >= 224 ? (onCpu ? 4 : 112) : 256;
  const reps = onCpu ? 2 : 5;
  const model = createModel({ ...c, pretrained: undefined } as ExperimentConfig, 'initial').to(device);
  const first = model.parameters()[0]!;
  try {
    const x = tidy(() => rand([images, channels, imageSide, imageSide]).to(device));
    // .item() waits for the device: the forward's result, and after the backward a gradient value.
    const forward = (): void => noGrad(() => tidy(() => void model.forward(x).sum().item()));
    const both = (): void => {
      tidy(() => model.forward(x).sum().backward());
      tidy(() => void first.grad?.sum().item());
      model.zeroGrad();
    };
    forward();
    both();
    const cpuClock = onCpu && threads === 1;
    // Milliseconds: process CPU time (µs → ms) on one thread, wall time otherwise.
    const now = (): number => {
      if (!cpuClock) return performance.now();
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const t0 = now();
    for (let i = 0; i < reps; i++) forward();
    const t1 = now();
    for (let i = 0; i < reps; i++) both();
    const t2 = now();
    dispose(x);
    const f = (t1 - t0) / 1000 / reps / images;
    const fb = (t2 - t1) / 1000 / reps / images;
    return {
      forward: f,
      backward: Math.max(fb - f, 0),
      probe: `${c.model} on ${device}: ${images} images of ${channels}×${imageSide}×${imageSide}, ${reps} timed repetitions after a warm-up${onCpu ? `, ${threads} thread(s)` : ''}, ${cpuClock ? 'CPU time' : 'wall time'}`,
    };
  } finally {
    model.dispose();
  }
}

/** A GPU's assumed throughput per model, in images per second (stated, not measured here). */
export interface GpuAssumption {
  readonly device: string;
  /** Forward-only and forward + backward images/s per model name. */
  readonly throughput: Readonly<Record<string, { forward: number; forwardBackward: number }>>;
  readonly basis: string;
}

/**
 * An H100's throughput, assumed: float32 (TF32 matmuls), batches of 112–256 images. ResNet-18 at
 * 224×224 trains at roughly 2,500 images/s and infers at ~7,500 in public float32 benchmarks of that
 * card class; c2f2 at 28×28 is launch-bound, assumed 50,000 / 150,000. The GPU verification step
 * (scripts/gpu-check.sh) measures it and replaces this guess with numbers.
 */
export const H100_ASSUMPTION: GpuAssumption = {
  device: 'one NVIDIA H100 (80 GB)',
  throughput: {
    resnet18: { forward: 7_500, forwardBackward: 2_500 },
    resnet50: { forward: 3_000, forwardBackward: 1_000 },
    c2f2: { forward: 150_000, forwardBackward: 50_000 },
  },
  basis: 'assumed, not measured: float32, ResNet-18 2,500 images/s forward+backward and 7,500 forward; ResNet-50 1,000 / 3,000; c2f2 50,000 / 150,000',
};

/** Seconds of a row's work at a per-image cost. */
export function secondsOf(
  w: RowWork,
  cost: { forward: number; backward: number },
): { train: number; eval: number; benign: number; swipe: number; total: number } {
  const train = w.trainForward * cost.forward + w.trainBackward * cost.backward;
  const evaluation = w.evalForward * cost.forward;
  const benign = w.benignForward * cost.forward;
  const swipe = w.swipeForward * cost.forward + w.swipeBackward * cost.backward;
  return { train, eval: evaluation, benign, swipe, total: train + evaluation + benign + swipe };
}

/** The per-image cost of the assumed GPU for a model. */
export function gpuCost(a: GpuAssumption, model: string): { forward: number; backward: number } {
  const t = a.throughput[model];
  if (t === undefined) throw new Error(`no throughput assumption for model ${model} on ${a.device}`);
  const forward = 1 / t.forward;
  return { forward, backward: Math.max(1 / t.forwardBackward - forward, 0) };
}

/**
 * Disk of a row's run directory: the model and Adam's two moments (float32) in each of the
 * KEEP_COMMITS checkpoint commits plus model.safetensors, the log (one line of ~300 bytes per step)
 * and the swipe's reports (~1 MB with pictures).
 */
export function diskBytes(parameters: number, batches: number): number {
  const checkpoint = parameters * 4 * 3;
  return KEEP_COMMITS * checkpoint + parameters * 4 + batches * 300 + 1_000_000;
}

/** Trainable scalars of a config's model (builds it once, random weights). */
export function parameterCount(c: ExperimentConfig): number {
  const m = createModel({ ...c, pretrained: undefined } as ExperimentConfig, 'initial');
  try {
    return m.parameterCount();
  } finally {
    m.dispose();
  }
}
