// Layer: eval. `rankshield certify`: certified retrieval robustness of the Gaussian-smoothed model
// (docs/certification.md). The first Q test images are the queries, the whole test split the gallery
// (each query's own copy left out of Recall@K, as the benign R@1). Each query's ĝ is a Monte Carlo mean of
// n noisy passes; every bounded estimate gets α/m of the failure probability (m = Q, plus N with a smoothed
// gallery), so every certificate of a run holds at once with probability ≥ 1 − α.
import { cat, manualSeed, noGrad, randint, tidy, type Tensor } from '../tensor/index.js';
import type { EmbeddingModel } from '../models/model.js';
import { testLoader, type DmlDataset } from '../data/index.js';
import { l2normalize } from '../metric/metric.js';
import { progressBar } from '../util/progress.js';
import { embedDataset } from './embed.js';
import { topOnePercent } from '../attack/context.js';
import { meanDeviationBound, smoothedEmbeddings, smoothedLipschitz, unionAlpha } from './smoothing.js';
import { attackSmoothedRecall, SMOOTHED_ATTACK_DEFAULTS, smoothedTopOneRelevant } from './smoothed-attack.js';
import { certifiedAt, certifyQuery, embeddingShiftBound, type CertificateConstants, type GalleryMode, type QueryCertificate } from './certificate.js';

/** Defaults of `certify`, stated once (the CLI's help is made from them). */
export const CERTIFY_DEFAULTS = Object.freeze({
  sigma: 0.25,
  samples: 1000,
  alpha: 0.001,
  radii: Object.freeze([0, 0.05, 0.1, 0.2]) as readonly number[],
  ks: Object.freeze([1, 10]) as readonly number[],
  queries: 512,
  gallery: 'clean' as GalleryMode,
  seed: 0,
});

/** The empirical side: the smoothed model's R@1 (%) under the L2 attack at each radius. */
export interface EmpiricalRow {
  radius: number;
  /** R@1 (%) of ĝ at the attacked queries: an upper bound on what is robust at this radius. */
  recallAt1: number;
  /** Queries certified at this radius whose attacked top-1 was irrelevant (0 when the certificate holds). */
  certifiedBroken: number;
}

/** What `certify --empirical` adds to the result. */
export interface EmpiricalResult {
  steps: number;
  restarts: number;
  eot: number;
  /** Samples of ĝ that judge each attacked query. */
  samples: number;
  rows: EmpiricalRow[];
  cost: { forwardPasses: number; backwardPasses: number; seconds: number; cpuSeconds: number };
}

/** Options of `runCertify`; absent fields take CERTIFY_DEFAULTS. */
export interface CertifyOptions {
  sigma?: number;
  samples?: number;
  alpha?: number;
  radii?: readonly number[];
  ks?: readonly number[];
  /** Q: the first Q test images are certified (capped at the split's size). */
  queries?: number;
  gallery?: GalleryMode;
  seed?: number;
  progress?: boolean;
  /** Also attack the smoothed model at every radius (APGD-L2 with EOT) and report its R@1 beside the certified one. */
  empirical?: { steps?: number; restarts?: number; eot?: number; samples?: number };
}

/** The certified numbers at one input radius (means over the queries). */
export interface CertifiedRow {
  /** L2 radius in pixel units (images in [0, 1]). */
  radius: number;
  /** Certified Recall@K (%) for each K of `ks`, keyed `R@K`. */
  recall: Record<string, number>;
  /** Certified upper bound on ES:D, the smoothed embedding's Euclidean shift (mean over queries). */
  embeddingShiftAtMost: number;
  /** QA+: certified lower bound on the candidate's rank percentile (%), mean over queries (higher = more robust). */
  qaPlusAtLeast: number;
  /** QA−: certified upper bound on the candidate's rank percentile (%), mean over queries (lower = more robust). */
  qaMinusAtMost: number;
}

/** What `runCertify` returns (the JSON of `rankshield certify`). */
export interface CertifyResult {
  dataset: string;
  sigma: number;
  samples: number;
  alpha: number;
  seed: number;
  gallery: GalleryMode;
  queries: number;
  gallerySize: number;
  /** Estimates under the union bound (m) and each one's failure probability α/m. */
  boundedEstimates: number;
  alphaPerEstimate: number;
  /** L = √(2/π)/σ. */
  lipschitz: number;
  /** τ_q and τ_g (0 for a clean gallery): the Monte Carlo error bounds (L2, embedding space). */
  queryError: number;
  galleryError: number;
  ks: number[];
  /** The smoothed model's Recall@1 (%) at the clean queries by its estimate ĝ (no certificate). */
  smoothedRecallAt1: number;
  rows: CertifiedRow[];
  /** Per query: the certified radius of each R@K (keyed `R@K`; ≤ 0 = not certified; null = ∞). */
  perQuery: { index: number; label: number; certifiedRadius: Record<string, number | null> }[];
  /** Forward passes, wall seconds and this process's CPU seconds (all threads; on a shared machine the CPU time is the steadier measure). */
  cost: { forwardPasses: number; seconds: number; cpuSeconds: number };
  /** With `empirical`: the attack's R@1 at each radius. */
  empirical?: EmpiricalResult;
}

function checkList(name: string, values: readonly number[], ok: (v: number) => boolean, what: string): void {
  if (values.length === 0) throw new Error(`${name}: give at least one value`);
  for (const v of values) if (!ok(v)) throw new Error(`${name}: every value must be ${what}, got ${v}`);
}

/** Certifies the first Q test images of `ds` against its whole test split (see the module comment). */
export async function runCertify(model: EmbeddingModel, ds: DmlDataset, o: CertifyOptions = {}): Promise<CertifyResult> {
  const d = CERTIFY_DEFAULTS;
  const sigma = o.sigma ?? d.sigma;
  const samples = o.samples ?? d.samples;
  const alpha = o.alpha ?? d.alpha;
  const radii = [...(o.radii ?? d.radii)].sort((a, b) => a - b);
  // R@1 is always certified: the chart and the empirical check read it.
  const ks = [...new Set([1, ...(o.ks ?? d.ks)])].sort((a, b) => a - b);
  const gallery = o.gallery ?? d.gallery;
  const seed = o.seed ?? d.seed;
  checkList('radii', radii, (v) => v >= 0 && Number.isFinite(v), 'a finite L2 radius ≥ 0');
  checkList('ks', ks, (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  if (gallery !== 'clean' && gallery !== 'smoothed') throw new Error(`gallery must be clean or smoothed, got ${String(gallery)}`);
  const q = Math.min(o.queries ?? d.queries, ds.length);
  if (!Number.isInteger(q) || q < 1) throw new Error(`queries must be a positive integer, got ${o.queries}`);
  const n = ds.length;
  const m = q + (gallery === 'smoothed' ? n : 0);
  const alphaPrime = unionAlpha(alpha, m);
  const tau = meanDeviationBound(samples, alphaPrime);
  const k: CertificateConstants = { lipschitz: smoothedLipschitz(sigma), queryError: tau, galleryError: gallery === 'smoothed' ? tau : 0, gallery };
  const started = Date.now();
  const cpuStarted = process.cpuUsage();
  let forwardPasses = 0;
  let certifyCpu = 0;
  model.eval();
  manualSeed(seed);
  // The QA candidates first, so that they do not depend on how the noise is drawn.
  const qaPlus = noGrad(() => tidy(() => randint(0, n, [q]).toArray()));
  const qaMinus = noGrad(() => tidy(() => randint(0, Math.max(1, topOnePercent(n)), [q]).toArray()));
  const galleryEmbeddings =
    gallery === 'clean'
      ? await (async () => {
          const raw = await embedDataset(model, ds, { progress: o.progress });
          forwardPasses += n;
          try {
            return noGrad(() => tidy(() => l2normalize(raw).double()));
          } finally {
            raw.dispose();
          }
        })()
      : await smoothedSplit(model, ds, n, { sigma, samples, progress: o.progress, label: `smoothing the ${n}-item gallery` });
  if (gallery === 'smoothed') forwardPasses += n * samples;
  const certificates: QueryCertificate[] = [];
  const labels: number[] = [];
  let empirical: EmpiricalResult | undefined;
  let certifySeconds = 0;
  try {
    const bar = progressBar(o.progress, q, `certifying ${q} queries (n = ${samples})`);
    try {
      let index = 0;
      for await (const batch of testLoader(ds, { batchSize: 16 })) {
        try {
          const take = Math.min(batch.images.shape[0]!, q - index);
          const batchLabels = batch.labels.toArray();
          for (let i = 0; i < take; i++) {
            const image = batch.images.narrow(0, i, 1);
            const c = smoothedEmbeddings(model, image, { sigma, samples });
            image.dispose();
            forwardPasses += samples;
            try {
              const row = tidy(() => c.reshape(-1));
              try {
                certificates.push(
                  certifyQuery(row, batchLabels[i]!, index, { embeddings: galleryEmbeddings, labels: ds.labels }, k, {
                    ks,
                    radii,
                    qaPlus: qaPlus[index]!,
                    qaMinusPosition: qaMinus[index]!,
                  }),
                );
              } finally {
                row.dispose();
              }
            } finally {
              c.dispose();
            }
            labels.push(batchLabels[i]!);
            index++;
            bar?.tick();
          }
        } finally {
          batch.images.dispose();
          batch.labels.dispose();
        }
        if (index >= q) break;
      }
    } finally {
      bar?.close();
    }
    certifySeconds = (Date.now() - started) / 1000;
    certifyCpu = cpuSecondsSince(cpuStarted);
    if (o.empirical !== undefined) {
      empirical = await runEmpirical(model, ds, galleryEmbeddings, certificates, { sigma, radii, queries: q, seed, progress: o.progress, ...o.empirical });
    }
  } finally {
    galleryEmbeddings.dispose();
  }
  const pct = (count: number): number => (100 * count) / q;
  const rows: CertifiedRow[] = radii.map((radius, ri) => ({
    radius,
    recall: Object.fromEntries(ks.map((kk, ki) => [`R@${kk}`, pct(certificates.filter((c) => certifiedAt(c.recallRadius[ki]!, radius)).length)])),
    embeddingShiftAtMost: certificates.reduce((s, c) => s + embeddingShiftBound(radius, c.estimateNorm, k), 0) / q,
    qaPlusAtLeast: (100 * certificates.reduce((s, c) => s + c.qaPlus.positionAtLeast[ri]! / n, 0)) / q,
    qaMinusAtMost: (100 * certificates.reduce((s, c) => s + c.qaMinus.positionAtMost[ri]! / n, 0)) / q,
  }));
  return {
    dataset: ds.name,
    sigma,
    samples,
    alpha,
    seed,
    gallery,
    queries: q,
    gallerySize: n,
    boundedEstimates: m,
    alphaPerEstimate: alphaPrime,
    lipschitz: k.lipschitz,
    queryError: k.queryError,
    galleryError: k.galleryError,
    ks,
    smoothedRecallAt1: pct(certificates.filter((c) => c.estimateCorrect).length),
    rows,
    perQuery: certificates.map((c, i) => ({
      index: i,
      label: labels[i]!,
      certifiedRadius: Object.fromEntries(ks.map((kk, ki) => [`R@${kk}`, radiusJson(c.recallRadius[ki]!)])),
    })),
    cost: { forwardPasses, seconds: certifySeconds, cpuSeconds: certifyCpu },
    ...(empirical === undefined ? {} : { empirical }),
  };
}

/** User + system CPU seconds of this process since `start`. */
function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** Queries attacked together by the empirical check. */
const ATTACK_BATCH = 16;

/** The empirical side: every query attacked at every radius > 0 (radius 0: ĝ at the clean query), judged by ĝ. */
async function runEmpirical(
  model: EmbeddingModel,
  ds: DmlDataset,
  gallery: Tensor,
  certificates: readonly QueryCertificate[],
  o: {
    sigma: number;
    radii: readonly number[];
    queries: number;
    seed: number;
    progress?: boolean;
    steps?: number;
    restarts?: number;
    eot?: number;
    samples?: number;
  },
): Promise<EmpiricalResult> {
  const started = Date.now();
  const cpuStarted = process.cpuUsage();
  const steps = o.steps ?? SMOOTHED_ATTACK_DEFAULTS.steps;
  const restarts = o.restarts ?? SMOOTHED_ATTACK_DEFAULTS.restarts;
  const eot = o.eot ?? SMOOTHED_ATTACK_DEFAULTS.eot;
  const samples = o.samples ?? CERTIFY_DEFAULTS.samples;
  const relevantAt = o.radii.map(() => new Array<boolean>(o.queries).fill(false));
  let forwardPasses = 0;
  let backwardPasses = 0;
  const bar = progressBar(o.progress, Math.ceil(o.queries / ATTACK_BATCH) * o.radii.length, `attacking ${o.queries} queries at ${o.radii.length} radii`);
  manualSeed(o.seed + 1);
  try {
    let index = 0;
    for await (const batch of testLoader(ds, { batchSize: ATTACK_BATCH })) {
      const take = Math.min(batch.images.shape[0]!, o.queries - index);
      const images = batch.images.narrow(0, 0, take);
      const labels = batch.labels.toArray().slice(0, take);
      const target = { images, labels, selves: labels.map((_, i) => index + i), gallery, galleryLabels: ds.labels };
      try {
        for (const [ri, radius] of o.radii.entries()) {
          let judged: Tensor = images;
          if (radius > 0) {
            const a = attackSmoothedRecall(model, target, { sigma: o.sigma, radius, steps, restarts, eot });
            judged = a.adversarial;
            forwardPasses += take * a.forwards;
            backwardPasses += take * a.backwards;
          }
          try {
            smoothedTopOneRelevant(model, judged, target, { sigma: o.sigma, samples }).forEach((ok, i) => (relevantAt[ri]![index + i] = ok));
            forwardPasses += take * samples;
          } finally {
            if (judged !== images) judged.dispose();
          }
          bar?.tick();
        }
      } finally {
        images.dispose();
        batch.images.dispose();
        batch.labels.dispose();
      }
      index += take;
      if (index >= o.queries) break;
    }
  } finally {
    bar?.close();
  }
  const rows = o.radii.map((radius, ri) => ({
    radius,
    recallAt1: (100 * relevantAt[ri]!.filter(Boolean).length) / o.queries,
    certifiedBroken: certificates.filter((c, i) => certifiedAt(c.recallRadius[0]!, radius) /* ks[0] = 1 */ && !relevantAt[ri]![i]).length,
  }));
  return {
    steps,
    restarts,
    eot,
    samples,
    rows,
    cost: { forwardPasses, backwardPasses, seconds: (Date.now() - started) / 1000, cpuSeconds: cpuSecondsSince(cpuStarted) },
  };
}

/** A certified radius as JSON: +∞ (fewer than K irrelevant items) is null, −∞ (no relevant item) 0. */
function radiusJson(r: number): number | null {
  return r === Infinity ? null : r === -Infinity ? 0 : r;
}

/** ĝ of every image of a split, [N, D] float64, with a progress bar. */
async function smoothedSplit(
  model: EmbeddingModel,
  ds: DmlDataset,
  n: number,
  o: { sigma: number; samples: number; progress?: boolean; label: string },
): Promise<Tensor> {
  const parts: Tensor[] = [];
  const bar = progressBar(o.progress, n, o.label);
  try {
    for await (const batch of testLoader(ds, { batchSize: 16 })) {
      parts.push(smoothedEmbeddings(model, batch.images, { sigma: o.sigma, samples: o.samples }));
      bar?.tick(batch.images.shape[0]!);
      batch.images.dispose();
      batch.labels.dispose();
    }
    return tidy(() => cat(parts, 0));
  } finally {
    bar?.close();
    for (const p of parts) p.dispose();
  }
}
