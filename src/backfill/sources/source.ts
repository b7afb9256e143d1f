import { createHash } from 'node:crypto';
import { type Stats, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigurationError, type SourcePosition } from '../../errors.js';
import type { AnyFeatureGroup } from '../../schema/types.js';
import { describeValue } from '../../util/options.js';

/** A local file a source reads: checked when the source is made, so a typo fails before the run starts. */
export function localFile(path: unknown, what: string): string {
  if (typeof path !== 'string' || path.length === 0) throw new ConfigurationError('INVALID_CONFIG', `${what}: expected a file path, got ${describeValue(path)}`);
  const file = resolve(path);
  let found: Stats | undefined;
  try {
    found = statSync(file, { throwIfNoEntry: false });
  } catch {
    // A folder on the way that is a file (ENOTDIR), or one not readable (EACCES): no file to read either.
  }
  if (!found) throw new ConfigurationError('INVALID_CONFIG', `${what}: no file at ${file}`);
  if (!found.isFile()) throw new ConfigurationError('INVALID_CONFIG', `${what}: ${file} is ${found.isDirectory() ? 'a directory' : 'not a regular file'}: give the path of a file`);
  return file;
}

/** A local file's revision: its size and modification time. */
export async function fileRevision(file: string): Promise<string> {
  const { size, mtimeMs } = await stat(file);
  return `${size}:${mtimeMs}`;
}

/** One input row: the raw event, or why the row could not be read (malformed), and where it is. */
export interface BackfillItem {
  readonly raw?: unknown;
  /** The row could not be read (bad JSON, a broken CSV row): a poison record; `raw` then holds the row as read. */
  readonly unreadable?: string;
  /**
   * The row as the source writes it, when `raw` was converted from it: an NDJSON line's text, a CSV
   * row's cells. A refused row is kept in the rejects file as this, not as the event made from it,
   * so a number JSON or a CSV cell's conversion would round keeps its digits.
   */
  readonly asRead?: unknown;
  readonly position: SourcePosition;
}

/** Rows read together, and how far into the source (in its unit) the read is after them. */
export interface BackfillBlock {
  readonly items: readonly BackfillItem[];
  readonly at: number;
}

/** Rows per block for sources that read a row at a time. */
export const BLOCK_ROWS = 1000;

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
  /**
   * What the content is now, when the source can tell (a local file: its size and modification
   * time): a checkpoint taken of another revision is not resumed.
   */
  revision?(): Promise<string | undefined>;
  /** Split points: ranges that cover the source; `planBackfill` asks for about `count`. */
  split?(count: number): Promise<ShardRange[]>;
  /**
   * The rows of `range` (all when absent), in order, a block at a time (a row per promise would cost
   * more than the row); `at` is how far into the source the read is after the block.
   */
  read(group: AnyFeatureGroup, range?: ShardRange): AsyncIterable<BackfillBlock>;
}

/** A short digest of a source's identity, for its id. */
export const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** `count` ranges of about equal size over `size` units. */
export function evenRanges(size: number, count: number): ShardRange[] {
  const n = Math.max(1, Math.min(count, size));
  const step = Math.ceil(size / n);
  const out: ShardRange[] = [];
  for (let start = 0; start < size; start += step) out.push({ start, end: Math.min(size, start + step) });
  return out.length > 0 ? out : [{ start: 0, end: 0 }];
}
