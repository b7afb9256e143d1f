// A record as an offline row: one typed value per Glue/Parquet column, as the offline store and the
// training engines read it.
import { type Codec, type CodecOptions, decodeFailure, decodeScalar, FAIL, isAbsent, readAbsent, toArray } from './codec.js';
import type { FeatureSpec, ValueKind } from './feature-spec.js';
import { FINGERPRINT_FEATURE } from './names.js';
import { formatIsoInstant, isTimeInRange } from './time.js';

/** A value in an offline row, typed as its Parquet/Glue column: bigint (Integral), double, string, or an array of them. */
export type OfflineScalar = string | number | bigint;
export type OfflineValue = OfflineScalar | OfflineScalar[] | null;
export type OfflineRow = Record<string, OfflineValue>;

/** The Glue/Parquet column of one feature in the offline store, as SageMaker's Glue table declares it. */
export interface OfflineColumn {
  readonly name: string;
  readonly type: 'bigint' | 'double' | 'string' | 'array<bigint>' | 'array<double>' | 'array<string>';
}

/** The typed record <-> offline row of one group; the round trip is exact. */
export interface OfflineRowCodec<T> {
  /** Typed record -> row with Parquet-typed values; absent optional features are `null`. Refuses what `toRecord` refuses. */
  toRow(record: T): OfflineRow;
  /** With `partial`, features absent from the row are left out instead of being an error (training sets read only the selected ones). */
  fromRow(row: Readonly<Record<string, unknown>>, options?: { readonly partial?: boolean }): T;
  /** The offline columns of the group's features, in definition order (fingerprint last when lineage is on). */
  readonly columns: readonly OfflineColumn[];
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

/** The offline encoding of a group, over its record codec (which decides what is storable). */
export function createOfflineRowCodec<T>(options: CodecOptions, records: Codec<T>): OfflineRowCodec<T> {
  const { group, specs, dateAsEpoch, fingerprint } = options;
  const decode = (spec: FeatureSpec, value: unknown): unknown => {
    const decoded = fromOfflineScalar(spec.kind, dateAsEpoch, value);
    if (decoded === FAIL) throw decodeFailure(group, spec.name, value);
    return decoded;
  };
  return {
    toRow(record) {
      records.toRecord(record);
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
    fromRow(row, rowOptions = {}) {
      if (typeof row !== 'object' || row === null) throw decodeFailure(group, '(row)', row);
      const out: Record<string, unknown> = {};
      for (const spec of specs) {
        const v = row[spec.name];
        if (isAbsent(v)) {
          if (!rowOptions.partial) readAbsent(group, out, spec);
          else if (v === null && spec.readsAsNull) out[spec.name] = null;
          continue;
        }
        if (!spec.collection) {
          out[spec.name] = decode(spec, v);
          continue;
        }
        const items = toArray(v);
        if (items === undefined) throw decodeFailure(group, spec.name, v);
        const decoded = items.map((x) => decode(spec, x));
        out[spec.name] = spec.collection === 'Set' ? new Set(decoded) : decoded;
      }
      return out as T;
    },
    columns: [
      ...specs.map((spec) => ({ name: spec.name, type: offlineType(spec) })),
      ...(fingerprint === undefined ? [] : [{ name: FINGERPRINT_FEATURE, type: 'string' as const }]),
    ],
  };
}
