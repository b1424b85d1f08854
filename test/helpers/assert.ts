// Float comparisons for tests: one definition of "close enough", with messages
// that say what was compared, so a failure reads the same in every file.
import assert from 'node:assert/strict';

/** |actual − expected| ≤ tol (absolute). */
export function near(actual: number, expected: number, tol: number, what = 'value'): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs expected ${expected} (±${tol})`);
}

/** |actual − expected| ≤ rtol·max(1, |expected|): absolute near 0, relative for large values. */
export function nearRelative(actual: number, expected: number, rtol: number, what = 'value'): void {
  near(actual, expected, rtol * Math.max(1, Math.abs(expected)), what);
}

/** Same length, and every element near its counterpart (absolute tolerance). */
export function allNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = 'array'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) near(actual[i]!, expected[i]!, tol, `${what}[${i}]`);
}

/** The largest absolute element-wise difference of two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
