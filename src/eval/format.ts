// Layer: eval. Fixed-point formatting of doubles exactly as Python's
// `format(x, '.Nf')` does it, so printed scores match the published tables.
//
// Python rounds the *exact* binary value of the double to N decimals and breaks
// exact ties to even (0.25 -> '0.2', 0.75 -> '0.8'). JavaScript's toFixed also
// works on the exact value but breaks ties upwards (0.25.toFixed(1) === '0.3')
// and switches to exponent notation from 1e21 on. Ties are only possible for
// dyadic values (0.25, 0.125, ...); 0.35 is really 0.34999999999999997779... and
// rounds down in both languages.

const FRACTION_BITS = 52n;

/** The double as sign, integer mantissa and binary exponent: |x| = mantissa * 2^exponent. */
function decompose(x: number): { negative: boolean; mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const negative = bits >> 63n === 1n;
  const biased = Number((bits >> FRACTION_BITS) & 0x7ffn);
  const fraction = bits & ((1n << FRACTION_BITS) - 1n);
  // Subnormals have no implicit leading 1 and the minimum exponent.
  if (biased === 0) return { negative, mantissa: fraction, exponent: -1074 };
  return { negative, mantissa: fraction | (1n << FRACTION_BITS), exponent: biased - 1075 };
}

/** round(numerator / denominator) with ties to even, for non-negative BigInts. */
function divideRoundHalfEven(numerator: bigint, denominator: bigint): bigint {
  const quotient = numerator / denominator;
  const twiceRemainder = 2n * (numerator % denominator);
  if (twiceRemainder > denominator) return quotient + 1n;
  if (twiceRemainder < denominator) return quotient;
  return quotient % 2n === 0n ? quotient : quotient + 1n;
}

/**
 * Python's `format(x, '.{digits}f')`: exact decimal rounding of the double with
 * ties to even; 'nan', 'inf', '-inf' for non-finite values; keeps the sign of
 * negative zero and of negatives that round to zero ('-0.0'), as Python does.
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 100) {
    throw new Error(`formatFixed: digits must be an integer in [0, 100], got ${digits}`);
  }
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  const { negative, mantissa, exponent } = decompose(x);
  // scaled = |x| * 10^digits = mantissa * 10^digits * 2^exponent, rounded to an integer.
  const numerator = mantissa * 10n ** BigInt(digits);
  const scaled = exponent >= 0 ? numerator << BigInt(exponent) : divideRoundHalfEven(numerator, 1n << BigInt(-exponent));
  const text = scaled.toString().padStart(digits + 1, '0');
  const integerPart = text.slice(0, text.length - digits);
  const body = digits === 0 ? integerPart : `${integerPart}.${text.slice(text.length - digits)}`;
  return negative ? `-${body}` : body;
}

/** A score as the papers print it: Python `format(x, '.1f')`. */
export function formatScore(x: number): string {
  return formatFixed(x, 1);
}
