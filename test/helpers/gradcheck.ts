// Finite-difference gradient checks (float64 central differences) for tests.
import assert from 'node:assert/strict';
import { gradOf, noGrad, tensor, tidy, type Tensor } from '../../src/tensor/index.js';

/**
 * Checks d f(x) / dx from autograd against central differences, where f maps
 * the input (float64) to a scalar tensor. Samples up to `maxChecks` coordinates.
 */
export function checkGradient(f: (x: Tensor) => Tensor, x: Tensor, opts: { h?: number; tol?: number; maxChecks?: number } = {}): void {
  const h = opts.h ?? 1e-6;
  const tol = opts.tol ?? 1e-6;
  const maxChecks = opts.maxChecks ?? 40;
  assert.equal(x.dtype, 'float64', 'gradient checks run in float64');
  tidy(() => {
    const xa = x.clone().requiresGrad_();
    const analytic = gradOf(f(xa), xa).toArray();
    const base = x.toArray();
    const n = base.length;
    const stride = Math.max(1, Math.floor(n / maxChecks));
    for (let i = 0; i < n; i += stride) {
      const numeric = noGrad(() =>
        tidy(() => {
          const plus = base.slice();
          const minus = base.slice();
          plus[i]! += h;
          minus[i]! -= h;
          const fp = f(fromLike(x, plus)).item();
          const fm = f(fromLike(x, minus)).item();
          return (fp - fm) / (2 * h);
        }),
      );
      const a = analytic[i]!;
      const err = Math.abs(a - numeric) / Math.max(1, Math.abs(a), Math.abs(numeric));
      assert.ok(err < tol, `gradient mismatch at ${i}: autograd ${a}, finite difference ${numeric} (rel err ${err})`);
    }
  });
}

function fromLike(x: Tensor, values: number[]): Tensor {
  return tensor(Float64Array.from(values), x.shape, 'float64');
}
