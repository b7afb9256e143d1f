// zod/mini: these schemas end up in users' Lambda bundles, and the full zod API would come with them.
import * as z from 'zod/mini';
import { DefinitionError } from '../errors.js';
import { durationMessage } from '../util/options.js';

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the event times SageMaker accepts. */
export const MIN_TIME_MS = -62_167_219_200_000;
export const MAX_TIME_MS = 253_402_300_799_999;

export function isTimeInRange(ms: number): boolean {
  return ms >= MIN_TIME_MS && ms <= MAX_TIME_MS;
}

const OUT_OF_RANGE = 'time must be between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z';

// An ISO-8601 instant needs a zone, `Z` or an offset: no zone means "local time", which differs by
// machine, so it is refused rather than guessed.

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysInMonth(year: number, month: number): number {
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return leap ? 29 : (DAYS_IN_MONTH[month - 1] as number);
}

function utcMillis(year: number, month: number, day: number): number {
  // Date.UTC reads years 0-99 as 1900-1999; those few go the long way.
  if (year >= 100) return Date.UTC(year, month - 1, day);
  const probe = new Date(0);
  probe.setUTCFullYear(year, month - 1, day);
  return probe.getTime();
}

/** Reads `length` ASCII digits at `at` as a number, or -1 if any is not a digit. */
function digits(text: string, at: number, length: number): number {
  let n = 0;
  for (let i = at; i < at + length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Parses an ISO-8601 instant that carries a time zone into epoch milliseconds (sub-millisecond
 * digits are truncated). Returns `undefined` for anything else, including impossible dates.
 * Written with charCodeAt rather than a regex: it runs once per event on the ingestion hot path.
 */
export function parseIsoInstant(text: string): number | undefined {
  // YYYY-MM-DDTHH:MM[:SS[.fffffffff]](Z|±HH[:]MM)
  const length = text.length;
  if (length < 17 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || text.charCodeAt(13) !== 58) return undefined;
  const t = text.charCodeAt(10);
  if (t !== 84 && t !== 116 && t !== 32) return undefined; // T, t or space
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return undefined;
  let at = 16;
  let second = 0;
  let millis = 0;
  if (text.charCodeAt(at) === 58) {
    second = digits(text, at + 1, 2);
    if (second < 0 || second > 59) return undefined;
    at += 3;
    if (text.charCodeAt(at) === 46) {
      const start = ++at;
      while (at < length && at - start < 9) {
        const c = text.charCodeAt(at) - 48;
        if (c < 0 || c > 9) break;
        if (at - start < 3) millis = millis * 10 + c;
        at++;
      }
      const count = at - start;
      if (count === 0) return undefined;
      if (count === 1) millis *= 100;
      else if (count === 2) millis *= 10;
    }
  }
  let offsetMinutes = 0;
  const zone = text.charCodeAt(at);
  if (zone === 90 || zone === 122) {
    if (at + 1 !== length) return undefined; // Z or z ends the text
  } else if (zone === 43 || zone === 45) {
    const rest = length - at - 1;
    const colon = rest === 5 && text.charCodeAt(at + 3) === 58;
    if (rest !== 4 && !colon) return undefined;
    const oh = digits(text, at + 1, 2);
    const om = digits(text, at + (colon ? 4 : 3), 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMinutes = (zone === 45 ? -1 : 1) * (oh * 60 + om);
  } else return undefined;
  return utcMillis(year, month, day) + ((hour * 60 + minute - offsetMinutes) * 60 + second) * 1000 + millis;
}

/** The character code of the digit of `n` at `place` (1, 10, 100, 1000). */
const digitAt = (n: number, place: number): number => 48 + (Math.floor(n / place) % 10);
const MS_PER_DAY = 86_400_000;
const YEAR_1000_MS = -30_610_224_000_000;

/**
 * `toISOString()` form, the one skewless writes: `2024-05-01T12:00:00.000Z`. Date#toISOString
 * costs more than the rest of encoding a record together, so years 1000-9999 take an arithmetic
 * path (days -> civil date, as in Hinnant's algorithm) that produces the same text.
 */
export function formatIsoInstant(ms: number): string {
  if (ms < YEAR_1000_MS || ms > MAX_TIME_MS) return new Date(ms).toISOString();
  const days = Math.floor(ms / MS_PER_DAY);
  let rest = ms - days * MS_PER_DAY;
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const millis = rest - second * 1000;
  // One flat string from character codes: a template would build a chain of ten small strings per call.
  return String.fromCharCode(
    digitAt(year, 1000), digitAt(year, 100), digitAt(year, 10), digitAt(year, 1), 45, // -
    digitAt(month, 10), digitAt(month, 1), 45, // -
    digitAt(day, 10), digitAt(day, 1), 84, // T
    digitAt(hour, 10), digitAt(hour, 1), 58, // :
    digitAt(minute, 10), digitAt(minute, 1), 58, // :
    digitAt(second, 10), digitAt(second, 1), 46, // .
    digitAt(millis, 100), digitAt(millis, 10), digitAt(millis, 1), 90, // Z
  );
}

/**
 * A source field holding an ISO-8601 instant with a time zone (`Z` or `+02:00`), parsed to a `Date`.
 * Strings without a zone are rejected: skewless never guesses a machine's local time. A `zod/mini`
 * schema, without methods: an optional one is `z.optional(isoTimestamp())`.
 *
 * ### Example
 * ```ts
 * source: z.object({ card_id: z.string(), ts: isoTimestamp() }),
 * transform: (e) => ({ card_id: e.card_id, event_time: e.ts }),   // e.ts is a Date
 * ```
 */
export function isoTimestamp() {
  return z.pipe(
    z.string(),
    z.transform((text: string, ctx) => {
      const ms = parseIsoInstant(text);
      if (ms === undefined || !isTimeInRange(ms)) {
        ctx.issues.push({ code: 'custom', input: text, message: ms === undefined ? 'expected an ISO-8601 date-time with a time zone (Z or ±hh:mm)' : OUT_OF_RANGE });
        return z.NEVER;
      }
      return new Date(ms);
    }),
  );
}

function epoch(unitMs: number, unit: string) {
  return z.pipe(
    z.number(),
    z.transform((value: number, ctx) => {
      const ms = Math.round(value * unitMs);
      if (!isTimeInRange(ms)) {
        ctx.issues.push({ code: 'custom', input: value, message: `${OUT_OF_RANGE} (read as epoch ${unit})` });
        return z.NEVER;
      }
      return new Date(ms);
    }),
  );
}

/**
 * A source field holding Unix epoch **seconds** (fractions allowed), parsed to a `Date`.
 * The unit is declared, never guessed from the magnitude.
 *
 * ### Example
 * ```ts
 * source: z.object({ id: z.string(), approximateArrivalTimestamp: epochSeconds() })
 * ```
 */
export function epochSeconds() {
  return epoch(1000, 'seconds');
}

/**
 * A source field holding Unix epoch **milliseconds**, parsed to a `Date`.
 *
 * ### Example
 * ```ts
 * source: z.object({ id: z.string(), sentAt: epochMillis() })
 * ```
 */
export function epochMillis() {
  return epoch(1, 'milliseconds');
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `'30d'`, `'12h'`, `'15m'`, `'90s'`, `'500ms'`, `'2w'` in milliseconds; `what` names the option in
 * the error for anything else.
 *
 * ### Example
 * ```ts
 * parseDuration('30d');   // 2_592_000_000
 * ```
 */
export function parseDuration(text: string, what?: string): number {
  const match = typeof text === 'string' ? /^(\d+)(ms|s|m|h|d|w)$/.exec(text.trim()) : null;
  if (!match) throw new DefinitionError('INVALID_OPTION', what === undefined ? durationMessage(text) : `${what}: ${durationMessage(text)}`);
  return Number(match[1]) * (UNIT_MS[match[2] as string] as number);
}
