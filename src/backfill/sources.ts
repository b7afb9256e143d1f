import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { isAscii, isUtf8 } from 'node:buffer';
import { ConfigurationError, type SourcePosition } from '../errors.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { loadParquetReader as loadParquet } from '../parquet/reader.js';
import { CsvRows } from '../csv/reader.js';
import { checkOptions, describeValue, expected, lazySchema } from '../util/options.js';
import * as z from 'zod/mini';
import { csvRowReader, parquetRowReader } from './tabular.js';

/** A local file a source reads: checked when the source is made, so a typo fails before the run starts. */
function localFile(path: unknown, what: string): string {
  if (typeof path !== 'string' || path.length === 0) throw new ConfigurationError('INVALID_CONFIG', `${what}: expected a file path, got ${describeValue(path)}`);
  const file = resolve(path);
  if (!existsSync(file)) throw new ConfigurationError('INVALID_CONFIG', `${what}: no file at ${file}`);
  return file;
}

const CSV_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  delimiter: z.optional(z.string({ error: expected('one character') }).check(z.length(1, { error: expected('one character') }))),
  header: z.optional(z.array(z.string(), { error: expected('the column names, an array of strings') })),
}));

/** One input row: the raw event, or why the row could not be read (malformed), and where it is. */
export interface BackfillItem {
  readonly raw?: unknown;
  /** The row could not be read (bad JSON, a broken CSV row): a poison record; `raw` then holds the row as read. */
  readonly unreadable?: string;
  readonly position: SourcePosition;
}

/** Rows read together, and how far into the source (in its unit) the read is after them. */
export interface BackfillBlock {
  readonly items: readonly BackfillItem[];
  readonly at: number;
}

/** Rows per block for sources that read a row at a time. */
const BLOCK_ROWS = 1000;

/** Part of a source, in the source's unit (bytes of a file, rows of a Parquet file or an array). */
export interface ShardRange {
  readonly start: number;
  readonly end: number;
}

/** JSON that recreates a source in a worker thread or a Lambda; see `sourceFromSpec`. */
export type SourceSpec =
  | { readonly kind: 'ndjson'; readonly path: string }
  | { readonly kind: 'csv'; readonly path: string; readonly delimiter?: string; readonly header?: readonly string[] }
  | { readonly kind: 'parquet'; readonly path: string }
  | { readonly kind: string; readonly [key: string]: unknown };

/**
 * Where a backfill reads from. Every source streams: rows are read as they are processed, never
 * loaded whole. Build one with `ndjsonFile`, `csvFile`, `parquetFile`, `fromRecords` (arrays and
 * iterables), or from `skewless/aws`: `s3ParquetFile`, `athenaSource`.
 */
export interface BackfillSource {
  /** Names the input; with the range it names the backfill's output files and checkpoint. */
  readonly id: string;
  /** What `ShardRange` counts: bytes (NDJSON, CSV) or rows (Parquet, arrays). */
  readonly unit: 'bytes' | 'rows';
  /** Whether `planBackfill` may split this source into ranges. */
  readonly splittable: boolean;
  /** False when the rows can be read only once (an iterator); aggregation backfills read twice. Default true. */
  readonly replayable?: boolean;
  /** How to recreate the source elsewhere; absent for in-memory sources. */
  readonly spec?: SourceSpec;
  /** The size in `unit`s, when known: progress and splitting use it. */
  size(): Promise<number | undefined>;
  /** Split points: ranges that cover the source; `planBackfill` asks for about `count`. */
  split?(count: number): Promise<ShardRange[]>;
  /**
   * The rows of `range` (all when absent), in order, a block at a time (a row per promise would cost
   * more than the row); `at` is how far into the source the read is after the block.
   */
  read(group: AnyFeatureGroup, range?: ShardRange): AsyncIterable<BackfillBlock>;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';
}

/**
 * Raw events from memory: an array, an iterable or an async iterable (a generator reading a
 * database cursor, say). Arrays can be split into row ranges; iterables are read once, in order.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: fromRecords(history, { id: 'history-2024' }) });
 * ```
 */
export function fromRecords(records: readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown>, options: { readonly id?: string } = {}): BackfillSource {
  checkOptions(z.strictObject({ id: z.optional(z.string({ error: expected('text') })) }), options, 'fromRecords options');
  if (typeof records === 'string' || typeof records !== 'object' || records === null || !(Symbol.iterator in records || Symbol.asyncIterator in records)) {
    throw new ConfigurationError('INVALID_CONFIG', `fromRecords: expected an array or an (async) iterable of raw events, got ${describeValue(records)}`);
  }
  const array = Array.isArray(records) ? (records as readonly unknown[]) : undefined;
  return {
    id: options.id ?? (array ? `records:${array.length}` : 'records'),
    unit: 'rows',
    splittable: array !== undefined,
    replayable: array !== undefined,
    size: async () => array?.length,
    async split(count) {
      return evenRanges(array?.length ?? 0, count);
    },
    async *read(_group, range) {
      const start = range?.start ?? 0;
      const end = range?.end ?? Number.POSITIVE_INFINITY;
      let index = 0;
      let items: BackfillItem[] = [];
      const rows = array ?? records;
      for await (const raw of isAsyncIterable(rows) ? rows : (rows as Iterable<unknown>)) {
        if (index >= end) break;
        if (index >= start) items.push({ raw, position: { source: 'backfill', index } });
        index++;
        if (items.length === BLOCK_ROWS) {
          yield { items, at: index };
          items = [];
        }
      }
      if (items.length > 0) yield { items, at: index };
    },
  };
}

function evenRanges(size: number, count: number): ShardRange[] {
  const n = Math.max(1, Math.min(count, size));
  const step = Math.ceil(size / n);
  const out: ShardRange[] = [];
  for (let start = 0; start < size; start += step) out.push({ start, end: Math.min(size, start + step) });
  return out.length > 0 ? out : [{ start: 0, end: 0 }];
}

/**
 * A file as blocks of whole lines, from `start` to `end`: each block's bytes end at a newline (the
 * last block may not). A line belongs to the range its first byte is in, so ranges that tile a file
 * read every line exactly once.
 */
async function* lineBlocks(path: string, range: ShardRange | undefined): AsyncGenerator<{ bytes: Buffer; offset: number; last: boolean }> {
  const start = range?.start ?? 0;
  const end = range?.end ?? Number.POSITIVE_INFINITY;
  // From one byte early: if that byte is a newline, a line starts exactly at `start`.
  let offset = Math.max(0, start - 1);
  let skipping = start > 0;
  let carry: Buffer | undefined;
  let carryOffset = offset;
  for await (const chunk of createReadStream(path, { start: offset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const data = carry ? Buffer.concat([carry, chunk]) : chunk;
    const base = carry ? carryOffset : offset;
    offset += chunk.length;
    carry = undefined;
    let from = 0;
    if (skipping) {
      const newline = data.indexOf(10);
      if (newline < 0) continue;
      skipping = false;
      from = newline + 1;
    }
    const lastNewline = data.lastIndexOf(10);
    if (lastNewline >= from) {
      // Lines starting at or after `end` belong to the next range.
      const stop = end - base;
      if (stop <= from) return;
      let cut = lastNewline + 1;
      if (stop < cut) {
        const after = data.indexOf(10, stop - 1);
        cut = after < 0 ? cut : after + 1;
        yield { bytes: data.subarray(from, cut), offset: base + from, last: true };
        return;
      }
      yield { bytes: data.subarray(from, cut), offset: base + from, last: false };
      from = cut;
    }
    if (from < data.length) {
      carry = data.subarray(from);
      carryOffset = base + from;
    }
  }
  if (carry && !skipping && carryOffset < end) yield { bytes: carry, offset: carryOffset, last: true };
}

/** Byte ranges of about equal size; line boundaries are found when each range is read. */
async function byteRanges(path: string, count: number): Promise<ShardRange[]> {
  const { size } = await stat(path);
  return evenRanges(size, count);
}

/**
 * Newline-delimited JSON, one raw event per line, streamed. A line that is not JSON is a poison
 * record (with its file and byte offset); blank lines are skipped. Splittable by byte range.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: ndjsonFile('history.ndjson') });
 * ```
 */
export function ndjsonFile(path: string): BackfillSource {
  const file = localFile(path, 'ndjsonFile');
  return {
    id: `ndjson:${file}`,
    unit: 'bytes',
    splittable: true,
    spec: { kind: 'ndjson', path: file },
    size: async () => (await stat(file)).size,
    split: (count) => byteRanges(file, count),
    async *read(_group, range) {
      let index = 0;
      for await (const block of lineBlocks(file, range)) {
        let items: BackfillItem[] = [];
        // Valid UTF-8 (the usual case) is decoded once per block; a block with a bad byte goes line by
        // line. ASCII, the commonest, is read as latin1: the same string, several times faster to make.
        const ascii = isAscii(block.bytes);
        const text = ascii ? block.bytes.toString('latin1') : isUtf8(block.bytes) ? block.bytes.toString('utf8') : undefined;
        let byteOffset = block.offset;
        let from = 0;
        while (from < (text ?? block.bytes).length) {
          let next = text !== undefined ? text.indexOf('\n', from) : block.bytes.indexOf(10, from);
          if (next < 0) next = (text ?? block.bytes).length;
          const lineOffset = text === undefined || ascii ? block.offset + from : byteOffset;
          // A megabyte holds thousands of lines: they go on in blocks of rows, so each block's events
          // are through the pipeline (and garbage) before the next block's are parsed.
          if (items.length === BLOCK_ROWS) {
            yield { items, at: lineOffset };
            items = [];
          }
          let line: string | Buffer = text !== undefined ? text.slice(from, next) : block.bytes.subarray(from, next);
          if (text !== undefined && !ascii) byteOffset += Buffer.byteLength(line) + 1;
          from = next + 1;
          if (line.length > 0 && (typeof line === 'string' ? line.charCodeAt(line.length - 1) === 13 : line[line.length - 1] === 13)) line = line.slice(0, line.length - 1);
          if (line.length === 0 || (line.length < 64 && line.toString().trim() === '')) continue;
          const position: SourcePosition = { source: 'backfill', index: index++, file, byteOffset: lineOffset };
          if (typeof line !== 'string' && !isUtf8(line)) {
            items.push({ raw: Buffer.from(line), unreadable: 'not valid UTF-8', position });
            continue;
          }
          const json = typeof line === 'string' ? line : line.toString('utf8');
          try {
            items.push({ raw: JSON.parse(json), position });
          } catch (error) {
            items.push({ raw: json, unreadable: `not JSON: ${(error as Error).message}`, position });
          }
        }
        yield { items, at: block.offset + block.bytes.length };
      }
    },
  };
}

export interface CsvFileOptions {
  /** Field separator; default `,`. */
  readonly delimiter?: string;
  /** Column names; default the file's first row. */
  readonly header?: readonly string[];
}

/**
 * A CSV file (RFC 4180: quoted fields, `""`, newlines inside quotes), streamed. Cells are typed by
 * the group's source schema (numbers, bigints, booleans); an empty unquoted cell is an absent field.
 * A broken row (stray quote, wrong number of cells) is a poison record with its line number. Not
 * splittable (a quoted field may hold a newline): split large inputs into several files.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: csvFile('history.csv') });
 * ```
 */
export function csvFile(path: string, options: CsvFileOptions = {}): BackfillSource {
  const file = localFile(path, 'csvFile');
  checkOptions(CSV_OPTIONS, options, 'csvFile options');
  return {
    id: `csv:${file}${options.header ? `:${hash(options.header.join(','))}` : ''}`,
    unit: 'bytes',
    splittable: false,
    spec: { kind: 'csv', path: file, ...(options.delimiter ? { delimiter: options.delimiter } : {}), ...(options.header ? { header: [...options.header] } : {}) },
    size: async () => (await stat(file)).size,
    async *read(group) {
      const rows = new CsvRows(options.delimiter ?? ',');
      let header = options.header;
      let toEvent = header ? csvRowReader(group.source, header) : undefined;
      let index = 0;
      let at = 0;
      const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 });
      let items: BackfillItem[] = [];
      const emit = (row: { cells: (string | undefined)[]; line: number; malformed?: string }) => {
        if (!header) {
          header = row.cells.map((c) => c ?? '');
          toEvent = csvRowReader(group.source, header);
          return;
        }
        const position: SourcePosition = { source: 'backfill', index: index++, file, line: row.line };
        if (row.malformed) items.push({ raw: row.cells, unreadable: `malformed CSV row: ${row.malformed}`, position });
        else if (row.cells.length !== header.length) {
          items.push({ raw: row.cells, unreadable: `CSV row has ${row.cells.length} cells, the header has ${header.length}`, position });
        } else items.push({ raw: (toEvent as (cells: readonly (string | undefined)[]) => unknown)(row.cells), position });
      };
      for await (const chunk of stream as AsyncIterable<string>) {
        at += Buffer.byteLength(chunk);
        for (const row of rows.push(chunk)) emit(row);
        yield { items, at };
        items = [];
      }
      for (const row of rows.end()) emit(row);
      if (items.length > 0) yield { items, at };
    },
  };
}

/** Random access to bytes: what the Parquet reader needs (a local file, an S3 object). */
export interface ByteSource {
  readonly byteLength: number;
  slice(start: number, end?: number): Promise<ArrayBuffer>;
  close?(): Promise<void>;
}

type ParquetReader = typeof import('hyparquet');

async function fileBytes(path: string): Promise<ByteSource> {
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

async function readMetadata(bytes: ByteSource): Promise<ParquetMetadata> {
  return (await loadParquet()).parquetMetadataAsync(bytes);
}

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
 * const source = parquetSource('gcs:history.parquet', async () => ({ size: bytes.length, read: async (start, end) => bytes.subarray(start, end) }));
 * ```
 */
export function parquetSource(id: string, openBytes: () => Promise<ByteSource>, spec?: SourceSpec, file?: string): BackfillSource {
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
    size: () => withBytes(async (bytes) => rowGroupRanges(await readMetadata(bytes)).reduce((n, r) => n + (r.end - r.start), 0)),
    // Shards follow row groups: a row group is never read by two shards.
    split: (count) =>
      withBytes(async (bytes) => {
        const groups = rowGroupRanges(await readMetadata(bytes));
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
      const toEvent = parquetRowReader(group.source);
      const bytes = await openBytes();
      try {
        // The footer is read once: on S3 every read is a ranged GET.
        const metadata = await readMetadata(bytes);
        const groups = rowGroupRanges(metadata);
        for (const g of groups) {
          if (range && (g.start < range.start || g.start >= range.end)) continue;
          const rows = (await parquet.parquetReadObjects({ file: bytes, metadata, rowStart: g.start, rowEnd: g.end })) as Record<string, unknown>[];
          const items = rows.map((row, i): BackfillItem => {
            const index = g.start + i;
            const position: SourcePosition = file ? { source: 'backfill', index, file } : { source: 'backfill', index };
            const { raw, unreadable } = toEvent(row);
            return unreadable === undefined ? { raw, position } : { raw, unreadable, position };
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
 * keeps the row as read (`rawTypes` names the bigint and Date fields).
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: parquetFile('exports/2024-05.parquet') });
 * ```
 */
export function parquetFile(path: string): BackfillSource {
  const file = localFile(path, 'parquetFile');
  return parquetSource(`parquet:${file}`, () => fileBytes(file), { kind: 'parquet', path: file }, file);
}

/**
 * The source for a local file, by its extension: `.ndjson`/`.jsonl`/`.json`, `.csv` or `.parquet`.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: fileSource('history/2024-05.csv') });
 * ```
 */
export function fileSource(path: string): BackfillSource {
  switch (extname(localFile(path, 'fileSource')).toLowerCase()) {
    case '.ndjson':
    case '.jsonl':
    case '.json':
      return ndjsonFile(path);
    case '.csv':
      return csvFile(path);
    case '.parquet':
      return parquetFile(path);
    default:
      throw new ConfigurationError('INVALID_CONFIG', `cannot tell the format of ${path}: name it .ndjson, .jsonl, .csv or .parquet`);
  }
}

/**
 * Recreates a source from its spec (in a worker thread or a Lambda).
 *
 * ### Example
 * ```ts
 * const source = sourceFromSpec({ kind: 'ndjson', path: 'history.ndjson' });   // in a worker, from a shard's JSON
 * ```
 */
export function sourceFromSpec(spec: SourceSpec): BackfillSource {
  switch (spec.kind) {
    case 'ndjson':
      return ndjsonFile(String(spec['path']));
    case 'csv': {
      const s = spec as Extract<SourceSpec, { kind: 'csv' }>;
      return csvFile(s.path, { ...(s.delimiter ? { delimiter: s.delimiter } : {}), ...(s.header ? { header: s.header } : {}) });
    }
    case 'parquet':
      return parquetFile(String(spec['path']));
    default:
      throw new ConfigurationError('INVALID_CONFIG', `unknown backfill source kind "${spec.kind}" (S3 and Athena sources are recreated by skewless/aws)`);
  }
}

/** A source, or records to wrap as one. */
export function asSource(from: BackfillSource | readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown>, where = 'backfill'): BackfillSource {
  if (typeof from === 'string') {
    // A string is iterable (by character): never what a caller means.
    throw new ConfigurationError('INVALID_CONFIG', `${where}: from is the string ${JSON.stringify(from)}; for a file use ndjsonFile(path), csvFile(path), parquetFile(path) or fileSource(path)`);
  }
  const candidate = from as Partial<BackfillSource> | null;
  if (typeof candidate === 'object' && candidate !== null && typeof candidate.read === 'function' && typeof candidate.size === 'function' && 'unit' in candidate) return from as BackfillSource;
  const iterable = typeof from === 'object' && from !== null && (Symbol.iterator in from || Symbol.asyncIterator in from);
  if (!iterable) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `${where}: from must be a source (ndjsonFile(), csvFile(), parquetFile(), fileSource(), ...), an array or an (async) iterable of raw events; got ${describeValue(from)}`,
    );
  }
  return fromRecords(from as readonly unknown[]);
}
