const POWERS = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000];
const MAX_EXACT = 2 ** 53;

/**
 * `String(value)` for a finite double, keeping the sign of -0. Number-to-string of a fraction is
 * the costliest step of encoding a record, so values with at most six decimals (prices, rates,
 * ratios) take an arithmetic path: the fewest decimals `d` whose rounding reads back as exactly
 * `value`, unique at that `d`, which is the digit string ECMAScript's Number::toString picks.
 * Everything else goes to `String`. A property test checks both paths against `String`.
 */
export function formatDouble(value: number): string {
  if (Number.isInteger(value)) return Object.is(value, -0) ? '-0' : String(value);
  const magnitude = value < 0 ? -value : value;
  if (magnitude >= 1e-6 && magnitude < 1e15) {
    for (let d = 1; d < POWERS.length; d++) {
      const scale = POWERS[d] as number;
      const scaled = magnitude * scale;
      if (scaled >= MAX_EXACT) break;
      const n = Math.round(scaled);
      if (n / scale !== magnitude) continue;
      // Another d-decimal number reading back as the same double would make the choice ambiguous.
      if ((n - 1) / scale === magnitude || (n + 1) / scale === magnitude) break;
      const whole = Math.floor(n / scale);
      const fraction = String(n - whole * scale).padStart(d, '0');
      return `${value < 0 ? '-' : ''}${whole}.${fraction}`;
    }
  }
  return String(value);
}
