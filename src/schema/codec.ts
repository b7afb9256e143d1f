import { DecodeError, FeatureValidationError, type SkewlessIssue, summarizeIssues } from '../errors.js';
import type { FeatureSpec, SageMakerFeatureType, ValueKind } from './feature-spec.js';
import { formatDouble } from './float.js';
import { FINGERPRINT_FEATURE } from './names.js';
import { formatIsoInstant, isTimeInRange, parseIsoInstant } from './time.js';

/** One feature of a SageMaker `Record`, exactly as PutRecord takes it and GetRecord returns it. */
export interface FeatureValue {
  FeatureName: string;
  ValueAsString?: string;
  ValueAsStringList?: string[];
}

/** A SageMaker Feature Store `Record`. */
export type SageMakerRecord = FeatureValue[];

/**
 * SageMaker's limits: a record and a single value are at most 350 KB, a record identifier at most 2 KB.
 *
 * ### Example
 * ```ts
 * if (recordBytes(record) > MAX_RECORD_BYTES) throw new Error('record too large');
 * ```
 */
export const MAX_RECORD_BYTES = 350 * 1024;
/**
 * SageMaker's limit on one feature value, in UTF-8 bytes.
 *
 * ### Example
 * ```ts
 * if (Buffer.byteLength(text) > MAX_VALUE_BYTES) text = text.slice(0, 1000);
 * ```
 */
export const MAX_VALUE_BYTES = 350 * 1024;
/**
 * SageMaker's limit on a record identifier, in UTF-8 bytes.
 *
 * ### Example
 * ```ts
 * z.string().max(MAX_RECORD_IDENTIFIER_BYTES)   // (characters <= bytes for ASCII identifiers)
 * ```
 */
export const MAX_RECORD_IDENTIFIER_BYTES = 2 * 1024;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const DECIMAL_INTEGER = /^-?\d+$/;
/** What a decoder returns for a value that is not of its kind. */
export const FAIL = Symbol('decode failure');

/**
 * The typed record <-> SageMaker `Record`, for one group; the round trip is exact for every supported
 * type. The other stored shapes are encodings of their own: `offlineRowCodec` (skewless) and
 * `dynamoDbItemCodec` (skewless/aws).
 */
export interface Codec<T> {
  /** Typed record -> SageMaker `Record`; throws {@link FeatureValidationError} for a value SageMaker cannot hold. */
  toRecord(record: T): SageMakerRecord;
  /**
   * SageMaker `Record` -> typed record; features not in the group (such as the fingerprint) are
   * ignored. With `partial`, missing features are left out instead of being an error (GetRecord
   * with FeatureNames returns only those).
   */
  fromRecord(record: readonly FeatureValue[], options?: { readonly partial?: boolean }): T;
}

/** @internal What the pipeline uses: encode without throwing, collecting issues instead. */
export interface InternalCodec<T> extends Codec<T> {
  encodeInto(record: T, issues: SkewlessIssue[]): SageMakerRecord | undefined;
}

/** Every UTF-16 unit is at most 3 UTF-8 bytes, so a string this short cannot break a byte limit. */
function mayExceed(text: string, limit: number): boolean {
  return text.length * 3 > limit;
}

type ScalarEncoder = (value: unknown) => string | undefined;

/** One encoder per value kind, chosen once per feature so the per-record loop does not branch on kind. */
function scalarEncoder(kind: ValueKind, dateAsEpoch: boolean): ScalarEncoder {
  switch (kind) {
    case 'string':
      // A lone surrogate has no UTF-8 form: SageMaker would store U+FFFD, so it is refused instead.
      return (value) => (typeof value === 'string' && value.isWellFormed() ? value : undefined);
    case 'int':
      return (value) => (Number.isSafeInteger(value) ? String(value) : undefined);
    case 'bigint':
      return (value) =>
        typeof value === 'bigint' && value >= INT64_MIN && value <= INT64_MAX ? value.toString() : undefined;
    case 'float':
      return (value) => (typeof value === 'number' && Number.isFinite(value) ? formatDouble(value) : undefined);
    case 'boolean':
      return (value) => (value === true ? '1' : value === false ? '0' : undefined);
    case 'date':
      return (value) => {
        if (!(value instanceof Date)) return undefined;
        const ms = value.getTime();
        if (!isTimeInRange(ms)) return undefined;
        return dateAsEpoch ? String(ms / 1000) : formatIsoInstant(ms);
      };
  }
}

function describeBadValue(spec: FeatureSpec, value: unknown): string {
  switch (spec.kind) {
    case 'int':
      return 'expected an integer that a double holds exactly (use z.bigint() for 64-bit values)';
    case 'bigint':
      return 'expected an integer within signed 64-bit (-2^63 .. 2^63-1)';
    case 'float':
      return 'expected a finite number (NaN and Infinity cannot be stored)';
    case 'date':
      return value instanceof Date && !Number.isNaN(value.getTime())
        ? 'time must be between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z'
        : 'expected a valid Date';
    case 'string':
      return typeof value === 'string' ? 'string holds a lone UTF-16 surrogate, which UTF-8 cannot encode' : 'expected a string';
    default:
      return `expected a ${spec.kind}`;
  }
}

export function decodeScalar(kind: ValueKind, dateAsEpoch: boolean, text: string): unknown {
  switch (kind) {
    case 'string':
      return text;
    case 'int': {
      if (!DECIMAL_INTEGER.test(text)) return FAIL;
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : FAIL;
    }
    case 'bigint': {
      if (!DECIMAL_INTEGER.test(text)) return FAIL;
      const n = BigInt(text);
      return n >= INT64_MIN && n <= INT64_MAX ? n : FAIL;
    }
    case 'float': {
      const n = text.trim() === '' ? Number.NaN : Number(text);
      return Number.isFinite(n) ? n : FAIL;
    }
    case 'boolean':
      return text === '1' ? true : text === '0' ? false : FAIL;
    case 'date': {
      let ms: number | undefined;
      if (dateAsEpoch) {
        const seconds = text.trim() === '' ? Number.NaN : Number(text);
        ms = Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined;
      } else {
        ms = parseIsoInstant(text);
      }
      return ms !== undefined && isTimeInRange(ms) ? new Date(ms) : FAIL;
    }
  }
}

export function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

export function toArray(value: unknown): readonly unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  return undefined;
}

/** A stored value that cannot be read back as its feature's type. */
export function decodeFailure(group: string, feature: string, got: unknown): DecodeError {
  return new DecodeError(`group "${group}": stored value of feature "${feature}" cannot be read as its type`, {
    issues: [{ code: 'invalid_value', path: [feature], message: `cannot decode ${JSON.stringify(String(got))}` }],
  });
}

/** What a value is, for a message that must not show it (it may be user data): `null`, `an array`, `a string`, ... */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** `fromRecord` given something that is not a SageMaker record; `got` says what it was. */
function notARecord(group: string, got: string): DecodeError {
  return new DecodeError(`group "${group}": fromRecord takes a SageMaker record, an array of { FeatureName, ValueAsString }, got ${got}`);
}

/**
 * An absent feature reads back as its schema says: a missing key, or null for a nullable one. A
 * required one is refused, saying it is missing (a record written before the feature was added).
 */
export function readAbsent(group: string, out: Record<string, unknown>, spec: FeatureSpec): void {
  if (!spec.optional) {
    throw new DecodeError(
      `group "${group}": the record has no value for feature "${spec.name}", which the group requires: it was written before the feature was added, or by another definition (its ${FINGERPRINT_FEATURE} says which)`,
      { issues: [{ code: 'invalid_type', path: [spec.name], message: 'missing from the record' }] },
    );
  }
  if (spec.readsAsNull) out[spec.name] = null;
}

export interface CodecOptions {
  readonly group: string;
  readonly specs: readonly FeatureSpec[];
  readonly recordIdentifier: string;
  readonly dateAsEpoch: boolean;
  /** When set, every encoded record carries it as the `skewless_fingerprint` String feature. */
  readonly fingerprint: string | undefined;
}

/** Builds the codec of one group; the per-feature work is decided here once, not per record. */
export function createCodec<T>(options: CodecOptions): InternalCodec<T> {
  const { group, specs, recordIdentifier, dateAsEpoch, fingerprint } = options;
  const nameBytes = specs.reduce((n, s) => n + Buffer.byteLength(s.name, 'utf8'), 0);
  const fingerprintBytes = fingerprint === undefined ? 0 : FINGERPRINT_FEATURE.length + fingerprint.length;

  const plans = specs.map((spec) => ({
    spec,
    name: spec.name,
    encode: scalarEncoder(spec.kind, dateAsEpoch),
    isString: spec.kind === 'string',
    isId: spec.name === recordIdentifier,
  }));
  const encodeInto = (record: T, issues: SkewlessIssue[]): SageMakerRecord | undefined => {
    const values = record as Record<string, unknown>;
    const out: SageMakerRecord = [];
    // Counts UTF-16 units, which equal UTF-8 bytes for ASCII; counted exactly only when it could matter.
    let units = nameBytes + fingerprintBytes;
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i] as (typeof plans)[number];
      const value = values[plan.name];
      if (value === undefined || value === null) {
        // SageMaker has no null: an absent optional feature is simply not in the record.
        if (!plan.spec.optional) issues.push({ code: 'invalid_type', path: [plan.name], message: 'required feature is missing' });
        continue;
      }
      if (plan.spec.collection) {
        const items = toArray(value);
        if (items === undefined) {
          issues.push({ code: 'invalid_type', path: [plan.name], message: 'expected an array' });
          continue;
        }
        const list: string[] = [];
        for (let j = 0; j < items.length; j++) {
          const text = plan.encode(items[j]);
          if (text === undefined) issues.push({ code: 'invalid_value', path: [plan.name, j], message: describeBadValue(plan.spec, items[j]) });
          else {
            list.push(text);
            units += text.length;
          }
        }
        out.push({ FeatureName: plan.name, ValueAsStringList: list });
        continue;
      }
      const text = plan.encode(value);
      if (text === undefined) {
        issues.push({ code: 'invalid_value', path: [plan.name], message: describeBadValue(plan.spec, value) });
        continue;
      }
      units += text.length;
      if (plan.isString && mayExceed(text, MAX_VALUE_BYTES)) {
        const size = Buffer.byteLength(text, 'utf8');
        if (size > MAX_VALUE_BYTES) {
          issues.push({ code: 'too_big', path: [plan.name], message: `value is ${size} bytes; SageMaker allows ${MAX_VALUE_BYTES}` });
        }
      }
      if (plan.isId && (text.length === 0 || mayExceed(text, MAX_RECORD_IDENTIFIER_BYTES))) {
        const size = Buffer.byteLength(text, 'utf8');
        if (size === 0 || size > MAX_RECORD_IDENTIFIER_BYTES) {
          issues.push({
            code: size === 0 ? 'too_small' : 'too_big',
            path: [plan.name],
            message: `record identifier must be 1..${MAX_RECORD_IDENTIFIER_BYTES} bytes, got ${size}`,
          });
        }
      }
      out.push({ FeatureName: plan.name, ValueAsString: text });
    }
    if (fingerprint !== undefined) out.push({ FeatureName: FINGERPRINT_FEATURE, ValueAsString: fingerprint });
    if (issues.length > 0) return undefined;
    if (units * 3 > MAX_RECORD_BYTES) {
      const bytes = recordBytes(out);
      if (bytes > MAX_RECORD_BYTES) {
        issues.push({ code: 'too_big', path: [], message: `encoded record is ${bytes} bytes; SageMaker allows ${MAX_RECORD_BYTES}` });
        return undefined;
      }
    }
    return out;
  };

  const fail = (issues: SkewlessIssue[]): never => {
    throw new FeatureValidationError(`group "${group}": record cannot be stored${summarizeIssues(issues)}`, { issues });
  };

  const codec: InternalCodec<T> = {
    encodeInto,
    toRecord(record) {
      const issues: SkewlessIssue[] = [];
      return encodeInto(record, issues) ?? fail(issues);
    },
    fromRecord(record, options = {}) {
      // A JavaScript caller's null, or a record read from elsewhere, is refused saying what it is.
      if (!Array.isArray(record)) throw notARecord(group, kindOf(record));
      const byName = new Map<string, FeatureValue>();
      record.forEach((feature, i) => {
        if (typeof feature?.FeatureName !== 'string') throw notARecord(group, `an array whose item ${i} is ${kindOf(feature)} without a FeatureName`);
        byName.set(feature.FeatureName, feature);
      });
      const out: Record<string, unknown> = {};
      for (const spec of specs) {
        const feature = byName.get(spec.name);
        if (feature === undefined) {
          if (!options.partial) readAbsent(group, out, spec);
          continue;
        }
        if (spec.collection) {
          const items = (feature.ValueAsStringList ?? []).map((text) => {
            const v = decodeScalar(spec.kind, dateAsEpoch, text);
            if (v === FAIL) throw decodeFailure(group, spec.name, text);
            return v;
          });
          out[spec.name] = spec.collection === 'Set' ? new Set(items) : items;
          continue;
        }
        const v = decodeScalar(spec.kind, dateAsEpoch, feature.ValueAsString ?? '');
        if (v === FAIL) throw decodeFailure(group, spec.name, feature.ValueAsString);
        out[spec.name] = v;
      }
      return out as T;
    },
  };
  return codec;
}

/**
 * The size SageMaker counts for a record: feature names and values, UTF-8.
 *
 * ### Example
 * ```ts
 * if (recordBytes(record) > MAX_RECORD_BYTES) console.warn('too large for SageMaker');
 * ```
 */
export function recordBytes(record: readonly FeatureValue[]): number {
  let bytes = 0;
  for (const f of record) {
    bytes += Buffer.byteLength(f.FeatureName, 'utf8');
    if (f.ValueAsString !== undefined) bytes += Buffer.byteLength(f.ValueAsString, 'utf8');
    for (const v of f.ValueAsStringList ?? []) bytes += Buffer.byteLength(v, 'utf8');
  }
  return bytes;
}

/**
 * Reads the `skewless_fingerprint` a record carries, if any.
 *
 * ### Example
 * ```ts
 * fingerprintOf(record) === cardActivity.fingerprint;   // written by this version of the code?
 * ```
 */
export function fingerprintOf(record: readonly FeatureValue[]): string | undefined {
  return record.find((f) => f.FeatureName === FINGERPRINT_FEATURE)?.ValueAsString;
}

export type { SageMakerFeatureType };
