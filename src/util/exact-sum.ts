/**
 * Exact floating-point summation (Shewchuk's partials, as Python's `math.fsum`): the sum is held as
 * non-overlapping partials and rounded once at the end, so it is the correctly rounded sum of its
 * inputs whatever their order and however they were grouped. Window sums depend on this: a stream
 * that sums in batches and a backfill that sums in one go must give the same bits.
 */

/** Adds `value` to `partials` in place. */
export function addToPartials(partials: number[], value: number): void {
  let x = value;
  let kept = 0;
  for (let j = 0; j < partials.length; j++) {
    let y = partials[j] as number;
    if (Math.abs(x) < Math.abs(y)) {
      const t = x;
      x = y;
      y = t;
    }
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[kept++] = lo;
    x = hi;
  }
  partials.length = kept;
  if (!Number.isFinite(x)) {
    // Overflow: exactness is moot; keep the infinity (or NaN) so it surfaces in the result.
    partials.length = 0;
  }
  partials.push(x);
}

/** The correctly rounded value of a sum held as partials. */
export function partialsValue(partials: readonly number[]): number {
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n] as number;
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n] as number;
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // Round half to even across the remaining partials, as fsum does.
  if (n > 0 && ((lo < 0 && (partials[n - 1] as number) < 0) || (lo > 0 && (partials[n - 1] as number) > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

/** The correctly rounded sum of `values`. */
export function exactSum(values: Iterable<number>): number {
  const partials: number[] = [];
  for (const v of values) addToPartials(partials, v);
  return partialsValue(partials);
}
