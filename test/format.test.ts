import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDouble } from '../src/schema/float.js';
import { formatIsoInstant, MAX_TIME_MS, MIN_TIME_MS, parseIsoInstant } from '../src/schema/time.js';

describe('formatDouble', () => {
  const decimals = (digits: number) => fc.integer({ min: -1e12, max: 1e12 }).map((n) => n / 10 ** digits);

  it('writes the same text as String() for any double', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), decimals(1), decimals(2), decimals(3), decimals(6)), (v) => {
        expect(formatDouble(v)).toBe(Object.is(v, -0) ? '-0' : String(v));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    [0.1, '0.1'],
    [12.5, '12.5'],
    [-0.000001, '-0.000001'],
    [1e-7, '1e-7'],
    [123456789.123456, '123456789.123456'],
    [0.30000000000000004, '0.30000000000000004'],
    [-0, '-0'],
  ])('writes %s as %s', (value, text) => {
    expect(formatDouble(value)).toBe(text);
  });
});

describe('ISO instants', () => {
  it('formats exactly as Date#toISOString across 0000..9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_TIME_MS, max: MAX_TIME_MS }), (ms) => {
        expect(formatIsoInstant(ms)).toBe(new Date(ms).toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  it('parses what it formats', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_TIME_MS, max: MAX_TIME_MS }), (ms) => {
        expect(parseIsoInstant(formatIsoInstant(ms))).toBe(ms);
      }),
    );
  });

  it.each([
    '2024-05-01',
    '2024-05-01T12:00:00',
    '2024-05-01T12:00:00.Z',
    '2024-05-01T12:00:60Z',
    '2024-13-01T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-05-01T12:00:00+24:00',
    '2024-05-01T12:00:00Z ',
    '2024-05-01T12:00:00.1234567890Z',
    '１２３４-05-01T12:00:00Z',
  ])('refuses %j', (text) => {
    expect(parseIsoInstant(text)).toBeUndefined();
  });

  it('truncates digits past the millisecond', () => {
    expect(parseIsoInstant('2024-05-01T12:00:00.123999999Z')).toBe(Date.UTC(2024, 4, 1, 12, 0, 0, 123));
  });
});
