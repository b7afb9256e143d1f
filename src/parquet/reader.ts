import type { SchemaElement } from 'hyparquet';
import type { ValueKind } from '../schema/feature-spec.js';
import { missingPeer, optionalModule } from '../util/optional-module.js';

/**
 * hyparquet, the optional peer every Parquet read goes through (backfill sources, spines, offline
 * files); skewless writes Parquet itself (`ParquetFileBuilder`).
 */
export const loadParquetReader = /* @__PURE__ */ optionalModule(() => import('hyparquet').catch(missingPeer('hyparquet')));

/** The bytes of a whole file as the reader takes them. */
export function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * Each top-level column of a Parquet file, in order, with its output kind from the schema: integers
 * (but UINT64) `int`, FLOAT/DOUBLE/DECIMAL `float`, DATE and TIMESTAMP `date`, UTF-8 text `string`,
 * BOOLEAN `boolean`; other columns (nested, bytes, UINT64) undefined, to be typed by their values.
 */
export async function parquetColumnKinds(bytes: Uint8Array): Promise<Map<string, ValueKind | undefined>> {
  const { parquetMetadata } = await loadParquetReader();
  const [, ...elements] = parquetMetadata(arrayBufferOf(bytes)).schema;
  const kinds = new Map<string, ValueKind | undefined>();
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i] as (typeof elements)[number];
    if (element.num_children) {
      kinds.set(element.name, undefined);
      i += countDescendants(elements, i);
    } else kinds.set(element.name, leafKind(element));
  }
  return kinds;
}

function countDescendants(elements: readonly SchemaElement[], at: number): number {
  let pending = (elements[at] as SchemaElement).num_children ?? 0;
  let count = 0;
  while (pending > 0) {
    const child = elements[at + count + 1] as SchemaElement;
    count++;
    pending += (child.num_children ?? 0) - 1;
  }
  return count;
}

function leafKind(element: SchemaElement): ValueKind | undefined {
  const logical = element.logical_type?.type;
  const converted = element.converted_type;
  if (logical === 'DATE' || logical === 'TIMESTAMP' || converted === 'DATE' || converted === 'TIMESTAMP_MILLIS' || converted === 'TIMESTAMP_MICROS' || element.type === 'INT96') return 'date';
  if (logical === 'DECIMAL' || converted === 'DECIMAL' || element.type === 'FLOAT' || element.type === 'DOUBLE') return 'float';
  if (element.type === 'BOOLEAN') return 'boolean';
  if (element.type === 'INT32' || element.type === 'INT64') {
    const unsigned64 = converted === 'UINT_64' || (element.logical_type?.type === 'INTEGER' && element.logical_type.bitWidth === 64 && !element.logical_type.isSigned);
    return logical === undefined || logical === 'INTEGER' ? (unsigned64 ? undefined : 'int') : undefined;
  }
  if (element.type === 'BYTE_ARRAY' && (logical === 'STRING' || logical === 'ENUM' || logical === 'JSON' || converted === 'UTF8' || converted === 'ENUM' || converted === 'JSON')) return 'string';
  return undefined;
}

/** Whole `unit`s at or before `n`: bigint division rounds toward zero, which before 1970 is the later side. */
function floorDivide(n: bigint, unit: bigint): number {
  const quotient = n / unit;
  return Number(n % unit < 0n ? quotient - 1n : quotient);
}

/**
 * Timestamps finer than a millisecond as the millisecond they fall in, before 1970 as after it: a
 * Date holds milliseconds, and an instant is never moved later (the reader's own conversion gives
 * `1969-12-31 23:59:59.9995` as 1970-01-01).
 */
export const TIMESTAMP_PARSERS = {
  timestampFromMicroseconds: (micros: bigint) => new Date(floorDivide(micros, 1_000n)),
  timestampFromNanoseconds: (nanos: bigint) => new Date(floorDivide(nanos, 1_000_000n)),
};

/** Every row of a Parquet file (INT64 as bigint, timestamps as Date). */
export async function readParquetRows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const { parquetReadObjects } = await loadParquetReader();
  return (await parquetReadObjects({ file: arrayBufferOf(bytes), parsers: TIMESTAMP_PARSERS })) as Record<string, unknown>[];
}
