// Layer: metric. Input checks shared by the losses and the miners: bad input
// fails here with an Error that names the problem, instead of deep inside
// libtorch or, worse, as a silently NaN loss.
import { noGrad, type Tensor } from '../tensor/index.js';

const FLOAT_DTYPES = new Set(['float16', 'bfloat16', 'float32', 'float64']);
const INTEGER_DTYPES = new Set(['uint8', 'int8', 'int16', 'int32', 'int64']);

/** Throws unless `t` is a 2-D floating-point matrix [n, d] with n, d >= 1. */
export function assertEmbeddingMatrix(t: Tensor, what: string): void {
  if (t.ndim !== 2) throw new Error(`${what} must be a 2-D [batch, dim] tensor, got shape [${t.shape.join(', ')}]`);
  if (t.shape[0] === 0 || t.shape[1] === 0) throw new Error(`${what} is empty (shape [${t.shape.join(', ')}])`);
  if (!FLOAT_DTYPES.has(t.dtype)) throw new Error(`${what} must be floating point, got ${t.dtype}`);
}

/**
 * Throws if `t` holds NaN or infinite values. One host sync; cheap next to a
 * forward pass, and it turns a diverged model into an error at the first bad step.
 */
export function assertFinite(t: Tensor, what: string): void {
  const ok = noGrad(() => {
    const finite = t.isfinite();
    const all = finite.all();
    const v = all.item();
    all.dispose();
    finite.dispose();
    return v;
  });
  if (!ok) throw new Error(`${what} contains NaN or infinite values`);
}

/** Anchor, positive and negative embeddings: same shape [B, D], finite. */
export function assertTripletInputs(a: Tensor, p: Tensor, n: Tensor): void {
  assertEmbeddingMatrix(a, 'anchor embeddings');
  const s = a.shape.join(', ');
  for (const [t, what] of [
    [p, 'positive'],
    [n, 'negative'],
  ] as const) {
    if (t.shape.join(', ') !== s) throw new Error(`${what} embeddings have shape [${t.shape.join(', ')}], anchors have [${s}]`);
    if (t.dtype !== a.dtype) throw new Error(`${what} embeddings are ${t.dtype}, anchors are ${a.dtype}`);
  }
  assertFinite(a, 'anchor embeddings');
  assertFinite(p, 'positive embeddings');
  assertFinite(n, 'negative embeddings');
}

/** A finite margin (0 is allowed: ICS uses the triplet loss with margin 0). */
export function assertMargin(margin: number, what = 'margin'): void {
  if (!Number.isFinite(margin)) throw new Error(`${what} must be a finite number, got ${margin}`);
}

/**
 * An SPC-2 batch: embeddings [2B, D] (B >= 1, so an even row count) and
 * integer labels [2B]. Returns B.
 */
export function assertSpc2Batch(embeddings: Tensor, labels: Tensor): number {
  assertEmbeddingMatrix(embeddings, 'embeddings');
  const rows = embeddings.shape[0]!;
  if (rows % 2 !== 0) {
    throw new Error(`an SPC-2 batch needs an even number of embeddings (pairs x_k, x_k'), got ${rows}`);
  }
  if (labels.ndim !== 1 || labels.shape[0] !== rows) {
    throw new Error(`labels must have shape [${rows}] to match the embeddings, got [${labels.shape.join(', ')}]`);
  }
  if (!INTEGER_DTYPES.has(labels.dtype)) throw new Error(`labels must be an integer tensor, got ${labels.dtype}`);
  assertFinite(embeddings, 'embeddings');
  return rows / 2;
}
