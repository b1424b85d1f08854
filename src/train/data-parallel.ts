// Layer: train. Data parallelism over a process group, defined so that the
// numbers do not depend on how many processes run them.
//
// An experiment fixes `shards` S: every global SPC-2 batch is cut into S
// contiguous groups of pairs, and the step's loss is Σ_s (n_s / n) · loss_s,
// where loss_s is the defense's loss on shard s alone (mining and PGD inside
// the shard, as DDP does). With W processes (W divides S) rank r runs shards
// [r·S/W, (r+1)·S/W) one after another, accumulating gradients, and the
// ranks' gradients are summed (all-reduce, in buckets). Each shard draws from a
// generator seeded by (seed, epoch, step, shard) and starts from the defense
// state agreed after the previous step, so a shard's work is the same whichever
// rank runs it: W = 1 and W = S give the same weights (bit for bit when S = 2,
// where the only sum is g0 + g1 = g1 + g0), and a run resumes under any W.
// S = 1 is the single-process trainer exactly (its generator stream untouched).
import { cat, noGrad, tidy, zerosLike, type ProcessGroup, type Tensor } from '../tensor/index.js';

/** Bytes of gradient per all-reduce call (PyTorch DDP's default bucket is 25 MiB). */
export const BUCKET_BYTES = 25 * 1024 * 1024;

/** The shards rank `rank` of `world` runs: a contiguous block. */
export function shardsOfRank(rank: number, world: number, shards: number): number[] {
  if (shards % world !== 0) throw new Error(`${world} processes cannot share ${shards} shards evenly (the world size must divide --shards)`);
  const per = shards / world;
  return Array.from({ length: per }, (_, k) => rank * per + k);
}

/** Pairs [start, end) of shard `s` in a batch of `pairs` pairs (as even as possible; may be empty for tiny batches). */
export function pairRange(pairs: number, shards: number, s: number): [number, number] {
  return [Math.floor((s * pairs) / shards), Math.floor(((s + 1) * pairs) / shards)];
}

/** The generator seed of one shard of one step (S > 1 only). */
export function shardSeed(seed: number, epoch: number, step: number, shard: number): number {
  let h = (seed * 1_000_003 + epoch * 7919 + 17) >>> 0;
  for (const v of [step, shard]) h = (Math.imul(h ^ v, 2_654_435_761) + 0x9e3779b9) >>> 0;
  return h % 2 ** 31;
}

/** Sums every parameter's gradient over the group, in place, in buckets of about BUCKET_BYTES. */
export function allreduceGradients(params: readonly Tensor[], group: ProcessGroup): void {
  if (group.worldSize === 1) return;
  noGrad(() => {
    let bucket: Tensor[] = [];
    let bytes = 0;
    const flush = (): void => {
      if (bucket.length === 0) return;
      const grads = bucket.map((p) => {
        const g = p.grad; // a new handle to the parameter's gradient, freed below
        if (g !== null) return g;
        const zero = zerosLike(p); // a parameter no shard used: it still takes part in the sum
        p.grad = zero;
        zero.dispose();
        return p.grad!;
      });
      const flat = tidy(() =>
        cat(
          grads.map((g) => g.reshape(-1)),
          0,
        ),
      );
      group.allreduceSum([flat]);
      let offset = 0;
      for (const g of grads) {
        const n = g.numel;
        tidy(() => g.copy_(flat.narrow(0, offset, n).reshape(...g.shape)));
        offset += n;
        g.dispose();
      }
      flat.dispose();
      bucket = [];
      bytes = 0;
    };
    for (const p of params) {
      bucket.push(p);
      bytes += p.numel * 4;
      if (bytes >= BUCKET_BYTES) flush();
    }
    flush();
  });
}
