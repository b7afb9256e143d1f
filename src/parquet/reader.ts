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

/** Every row of a Parquet file (INT64 as bigint, timestamps as Date). */
export async function readParquetRows(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const { parquetReadObjects } = await loadParquetReader();
  return (await parquetReadObjects({ file: arrayBufferOf(bytes) })) as Record<string, unknown>[];
}
