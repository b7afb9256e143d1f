import { open } from 'node:fs/promises';
import { DataError, type SourcePosition } from '../../errors.js';
import { loadParquetReader as loadParquet, TIMESTAMP_PARSERS } from '../../parquet/reader.js';
import { parquetRowReader, utf8Text } from '../tabular.js';
import { type BackfillItem, type BackfillSource, fileRevision, localFile, type ShardRange, type SourceSpec } from './source.js';

/** Random access to bytes: what the Parquet reader needs (a local file, an S3 object). */
export interface ByteSource {
  readonly byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
  close?(): Promise<void>;
}

type ParquetReader = typeof import('hyparquet');

/** @internal A local file as a byte source: each slice one positioned read. */
export async function fileBytes(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    byteLength: size,
    async slice(start, end = size) {
      const buffer = Buffer.alloc(end - start);
      await handle.read(buffer, 0, end - start, start);
      return buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
    },
    close: () => handle.close(),
  };
}

type ParquetMetadata = Awaited<ReturnType<ParquetReader['parquetMetadataAsync']>>;

/** Runs a read of `what` from the source; a failure becomes a DataError naming the source (the bytes are not Parquet it can read). */
async function asSourceError<T>(source: string, what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    throw new DataError('INVALID_SOURCE', `${source}: cannot read ${what}: ${(cause as Error).message}`, { cause });
  }
}

async function readMetadata(bytes: ByteSource, source: string): Promise<ParquetMetadata> {
  const reader = await loadParquet();
  return asSourceError(source, 'a Parquet footer (is it a Parquet file?)', () => reader.parquetMetadataAsync(bytes));
}

/** A file's top-level DECIMAL columns and their precision: the reader gives their cells as numbers. */
function decimalColumns(metadata: ParquetMetadata): Map<string, number> {
  const [root, ...elements] = metadata.schema;
  const columns = new Map<string, number>();
  // The element after `at`'s subtree: a nested column's children follow it.
  const after = (at: number): number => {
    let next = at + 1;
    for (let child = 0; child < (elements[at]?.num_children ?? 0); child++) next = after(next);
    return next;
  };
  for (let at = 0, column = 0; column < (root?.num_children ?? 0); column++, at = after(at)) {
    const element = elements[at];
    if (element && (element.converted_type === 'DECIMAL' || element.logical_type?.type === 'DECIMAL')) columns.set(element.name, element.precision ?? 38);
  }
  return columns;
}

/**
 * Text cells decoded strictly: bytes that are not UTF-8 stay bytes, so the row is refused as not
 * UTF-8 (the reader's default puts U+FFFD in their place, and the row would be stored changed).
 */
const BYTES_AS_READ: NonNullable<Parameters<ParquetReader['parquetReadObjects']>[0]['parsers']> = {
  ...TIMESTAMP_PARSERS,
  stringFromBytes: (bytes: Uint8Array | undefined) => (bytes === undefined ? bytes : (utf8Text(bytes) ?? bytes)),
};

/** The row groups of a Parquet file as row ranges: the units a Parquet source splits into. */
function rowGroupRanges(metadata: ParquetMetadata): ShardRange[] {
  const ranges: ShardRange[] = [];
  let start = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    ranges.push({ start, end: start + rows });
    start += rows;
  }
  return ranges;
}

/**
 * Parquet from any byte source, read one row group at a time. Used by `parquetFile` and by
 * `s3ParquetFile` in `skewless/aws`.
 *
 * ### Example
 * ```ts
 * const bytes: ArrayBuffer = await download('gs://lake/history.parquet');
 * const source = parquetSource('gcs:history.parquet', async () => ({ byteLength: bytes.byteLength, slice: async (start, end) => bytes.slice(start, end) }));
 * ```
 */
export function parquetSource(id: string, openBytes: () => Promise<ByteSource>, spec?: SourceSpec, file?: string): BackfillSource {
  const name = file ?? id;
  const withBytes = async <T>(use: (bytes: ByteSource) => Promise<T>): Promise<T> => {
    const bytes = await openBytes();
    try {
      return await use(bytes);
    } finally {
      await bytes.close?.();
    }
  };
  return {
    id,
    unit: 'rows',
    splittable: true,
    ...(spec ? { spec } : {}),
    size: () => withBytes(async (bytes) => rowGroupRanges(await readMetadata(bytes, name)).reduce((n, r) => n + (r.end - r.start), 0)),
    // Shards follow row groups: a row group is never read by two shards.
    split: (count) =>
      withBytes(async (bytes) => {
        const groups = rowGroupRanges(await readMetadata(bytes, name));
        const total = groups.at(-1)?.end ?? 0;
        const target = Math.max(1, Math.ceil(total / Math.max(1, count)));
        const out: ShardRange[] = [];
        for (const g of groups) {
          const last = out.at(-1);
          if (last && last.end - last.start < target) out[out.length - 1] = { start: last.start, end: g.end };
          else out.push(g);
        }
        return out.length > 0 ? out : [{ start: 0, end: 0 }];
      }),
    async *read(group, range) {
      const parquet = await loadParquet();
      const bytes = await openBytes();
      try {
        // The footer is read once: on S3 every read is a ranged GET.
        const metadata = await readMetadata(bytes, name);
        const toEvent = parquetRowReader(group.source, decimalColumns(metadata));
        const groups = rowGroupRanges(metadata);
        for (const g of groups) {
          if (range && (g.start < range.start || g.start >= range.end)) continue;
          const rows = (await asSourceError(name, `its Parquet rows ${g.start} to ${g.end - 1}`, () => parquet.parquetReadObjects({ file: bytes, metadata, rowStart: g.start, rowEnd: g.end, parsers: BYTES_AS_READ }))) as Record<string, unknown>[];
          const items = rows.map((row, i): BackfillItem => {
            const index = g.start + i;
            const position: SourcePosition = file ? { source: 'backfill', index, file } : { source: 'backfill', index };
            const { raw, unreadable } = toEvent(row);
            if (unreadable !== undefined) return { raw, unreadable, position };
            // A row the schema refuses goes to the rejects as the file holds it, not as converted.
            return raw === row ? { raw, position } : { raw, asRead: row, position };
          });
          yield { items, at: g.end };
        }
      } finally {
        await bytes.close?.();
      }
    },
  };
}

/**
 * A local Parquet file, read one row group at a time (never loaded whole); splittable by row groups.
 * Cells are converted to what the source schema's fields take when that is exact (INT64 to a
 * number within +-2^53, TIMESTAMP to ISO-8601 text for `isoTimestamp()`); one that would lose
 * precision or need a guessed unit makes its row poison, with the reason, and the rejects file
 * keeps the row as read (`rawTypes` names the bigint and Date fields, and a NaN or infinity).
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: parquetFile('exports/2024-05.parquet') });
 * ```
 */
export function parquetFile(path: string): BackfillSource {
  const file = localFile(path, 'parquetFile');
  return { ...parquetSource(`parquet:${file}`, () => fileBytes(file), { kind: 'parquet', path: file }, file), revision: () => fileRevision(file) };
}
