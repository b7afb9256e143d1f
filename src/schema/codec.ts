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

/** A DynamoDB `AttributeValue` as the low-level client speaks it (numbers stay strings, so 64-bit ids are exact). */
export type DynamoDbAttributeValue =
  | { S: string }
  | { N: string }
  | { L: DynamoDbAttributeValue[] };

export type DynamoDbItem = Record<string, DynamoDbAttributeValue>;

/** A value in an offline row, typed as its Parquet/Glue column: bigint (Integral), double, string, or an array of them. */
export type OfflineScalar = string | number | bigint;
export type OfflineValue = OfflineScalar | OfflineScalar[] | null;
export type OfflineRow = Record<string, OfflineValue>;

/** The Glue/Parquet column of one feature in the offline store, as SageMaker's Glue table declares it. */
export interface OfflineColumn {
  readonly name: string;
  readonly type: 'bigint' | 'double' | 'string' | 'array<bigint>' | 'array<double>' | 'array<string>';
}

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
const FAIL = Symbol('decode failure');

/** The typed record <-> stored shapes, for one group. Round trips are exact for every supported type. */
export interface Codec<T> {
  /** Typed record -> SageMaker `Record`; throws {@link FeatureValidationError} for a value SageMaker cannot hold. */
  toRecord(record: T): SageMakerRecord;
  /**
   * SageMaker `Record` -> typed record; features not in the group (such as the fingerprint) are
   * ignored. With `partial`, missing features are left out instead of being an error (GetRecord
   * with FeatureNames returns only those).
   */
  fromRecord(record: readonly FeatureValue[], options?: { readonly partial?: boolean }): T;
  /**
   * Typed record -> DynamoDB attribute values (low-level): the record's text as `S` for String
   * features and `N` for Integral/Fractional ones (booleans are N 0/1), lists as `L`. This is the
   * `features` map `dynamoDbOnline` stores.
   */
  toDynamoItem(record: T): DynamoDbItem;
  fromDynamoItem(item: Readonly<Record<string, unknown>>): T;
  /** Typed record -> offline row with Parquet-typed values; absent optional features are `null`. */
  toOfflineRow(record: T): OfflineRow;
  /** With `partial`, features absent from the row are left out instead of being an error (training sets read only the selected ones). */
  fromOfflineRow(row: Readonly<Record<string, unknown>>, options?: { readonly partial?: boolean }): T;
  /** The offline columns of the group's features, in definition order (fingerprint last when lineage is on). */
  readonly offlineColumns: readonly OfflineColumn[];
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

function decodeScalar(kind: ValueKind, dateAsEpoch: boolean, text: string): unknown {
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

function toOfflineScalar(kind: ValueKind, dateAsEpoch: boolean, value: unknown): OfflineScalar {
  switch (kind) {
    case 'int':
      return BigInt(value as number);
    case 'boolean':
      return value ? 1n : 0n;
    case 'date': {
      const ms = (value as Date).getTime();
      return dateAsEpoch ? ms / 1000 : formatIsoInstant(ms);
    }
    default:
      return value as string | number | bigint;
  }
}

function fromOfflineScalar(kind: ValueKind, dateAsEpoch: boolean, value: unknown): unknown {
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? value : FAIL;
    case 'int': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      return Number.isSafeInteger(n) ? n : FAIL;
    }
    case 'bigint':
      if (typeof value === 'bigint') return value;
      if (Number.isSafeInteger(value)) return BigInt(value as number);
      return typeof value === 'string' ? decodeScalar('bigint', false, value) : FAIL;
    case 'float':
      return typeof value === 'number' && Number.isFinite(value) ? value : FAIL;
    case 'boolean':
      if (value === 1n || value === 1 || value === true) return true;
      return value === 0n || value === 0 || value === false ? false : FAIL;
    case 'date':
      if (value instanceof Date) return isTimeInRange(value.getTime()) ? value : FAIL;
      if (typeof value === 'string') return decodeScalar('date', false, value);
      if (typeof value === 'number' && dateAsEpoch) return decodeScalar('date', true, String(value));
      return FAIL;
  }
}

function offlineType(spec: FeatureSpec): OfflineColumn['type'] {
  const scalar = ({ String: 'string', Integral: 'bigint', Fractional: 'double' } as const)[spec.featureType];
  return spec.collection ? `array<${scalar}>` : scalar;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null;
}

function toArray(value: unknown): readonly unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (value instanceof Set) return [...value];
  return undefined;
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

  const decodeFailure = (feature: string, got: unknown): DecodeError =>
    new DecodeError(`group "${group}": stored value of feature "${feature}" cannot be read as its type`, {
      issues: [{ code: 'invalid_value', path: [feature], message: `cannot decode ${JSON.stringify(String(got))}` }],
    });

  const plans = specs.map((spec) => ({
    spec,
    name: spec.name,
    encode: scalarEncoder(spec.kind, dateAsEpoch),
    isString: spec.kind === 'string',
    isId: spec.name === recordIdentifier,
  }));
  /** The DynamoDB attribute type each feature's text goes in: N for Integral and Fractional, S for String. */
  const attributeKeyOf = new Map(specs.map((spec) => [spec.name, spec.featureType === 'String' ? 'S' : 'N']));

  /** An absent feature reads back as its schema says: a missing key, or null for a nullable one. */
  const readAbsent = (out: Record<string, unknown>, spec: FeatureSpec): void => {
    if (!spec.optional) throw decodeFailure(spec.name, undefined);
    if (spec.readsAsNull) out[spec.name] = null;
  };

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
      const byName = new Map<string, FeatureValue>();
      for (const feature of record) byName.set(feature.FeatureName, feature);
      const out: Record<string, unknown> = {};
      for (const spec of specs) {
        const feature = byName.get(spec.name);
        if (feature === undefined) {
          if (!options.partial) readAbsent(out, spec);
          continue;
        }
        if (spec.collection) {
          const items = (feature.ValueAsStringList ?? []).map((text) => {
            const v = decodeScalar(spec.kind, dateAsEpoch, text);
            if (v === FAIL) throw decodeFailure(spec.name, text);
            return v;
          });
          out[spec.name] = spec.collection === 'Set' ? new Set(items) : items;
          continue;
        }
        const v = decodeScalar(spec.kind, dateAsEpoch, feature.ValueAsString ?? '');
        if (v === FAIL) throw decodeFailure(spec.name, feature.ValueAsString);
        out[spec.name] = v;
      }
      return out as T;
    },
    toDynamoItem(record) {
      // The record form, attribute by attribute: what `dynamoDbOnline` keeps in an item's `features`.
      const item: DynamoDbItem = {};
      for (const feature of codec.toRecord(record)) {
        const key = attributeKeyOf.get(feature.FeatureName) ?? 'S';
        item[feature.FeatureName] = feature.ValueAsStringList ? { L: feature.ValueAsStringList.map((text) => ({ [key]: text }) as DynamoDbAttributeValue) } : ({ [key]: feature.ValueAsString } as DynamoDbAttributeValue);
      }
      return item;
    },
    fromDynamoItem(item) {
      const record: FeatureValue[] = [];
      const text = (name: string, attribute: unknown): string => {
        const value = (attribute as Record<string, unknown> | null)?.[attributeKeyOf.get(name) ?? 'S'];
        if (typeof value !== 'string') throw decodeFailure(name, JSON.stringify(attribute));
        return value;
      };
      for (const spec of specs) {
        const attribute = item[spec.name] as { L?: unknown; NULL?: boolean } | undefined;
        if (attribute === undefined || attribute.NULL === true) continue;
        if (!spec.collection) record.push({ FeatureName: spec.name, ValueAsString: text(spec.name, attribute) });
        else if (Array.isArray(attribute.L)) record.push({ FeatureName: spec.name, ValueAsStringList: attribute.L.map((x) => text(spec.name, x)) });
        else throw decodeFailure(spec.name, JSON.stringify(attribute));
      }
      return codec.fromRecord(record);
    },
    toOfflineRow(record) {
      codec.toRecord(record);
      const values = record as Record<string, unknown>;
      const row: OfflineRow = {};
      for (const spec of specs) {
        const v = values[spec.name];
        if (isAbsent(v)) row[spec.name] = null;
        else if (spec.collection) row[spec.name] = (toArray(v) ?? []).map((x) => toOfflineScalar(spec.kind, dateAsEpoch, x));
        else row[spec.name] = toOfflineScalar(spec.kind, dateAsEpoch, v);
      }
      if (fingerprint !== undefined) row[FINGERPRINT_FEATURE] = fingerprint;
      return row;
    },
    fromOfflineRow(row, options = {}) {
      const out: Record<string, unknown> = {};
      for (const spec of specs) {
        const v = row[spec.name];
        if (isAbsent(v)) {
          if (!options.partial) readAbsent(out, spec);
          else if (v === null && spec.readsAsNull) out[spec.name] = null;
          continue;
        }
        if (spec.collection) {
          const items = toArray(v);
          if (items === undefined) throw decodeFailure(spec.name, v);
          const decoded = items.map((x) => {
            const d = fromOfflineScalar(spec.kind, dateAsEpoch, x);
            if (d === FAIL) throw decodeFailure(spec.name, x);
            return d;
          });
          out[spec.name] = spec.collection === 'Set' ? new Set(decoded) : decoded;
          continue;
        }
        const d = fromOfflineScalar(spec.kind, dateAsEpoch, v);
        if (d === FAIL) throw decodeFailure(spec.name, v);
        out[spec.name] = d;
      }
      return out as T;
    },
    offlineColumns: [
      ...specs.map((spec) => ({ name: spec.name, type: offlineType(spec) })),
      ...(fingerprint === undefined ? [] : [{ name: FINGERPRINT_FEATURE, type: 'string' as const }]),
    ],
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
