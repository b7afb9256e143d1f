import { extname } from 'node:path';
import { ConfigurationError } from '../../errors.js';
import { describeValue } from '../../util/options.js';
import { csvFile } from './csv.js';
import { ndjsonFile } from './ndjson.js';
import { parquetFile } from './parquet.js';
import { fromRecords } from './records.js';
import { type BackfillSource, localFile, type SourceSpec } from './source.js';

export type { BackfillBlock, BackfillItem, BackfillSource, ShardRange, SourceSpec } from './source.js';
export { fromRecords } from './records.js';
export { ndjsonFile } from './ndjson.js';
export { csvFile, type CsvFileOptions } from './csv.js';
export { type ByteSource, parquetFile, parquetSource } from './parquet.js';

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

/** A value that is a source (what `ndjsonFile`, `csvFile`, ... return), not raw events. */
function isSource(value: unknown): value is BackfillSource {
  const candidate = value as Partial<BackfillSource> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.read === 'function' && typeof candidate.size === 'function' && 'unit' in candidate;
}

/** A source, or records to wrap as one; `aggregated` for a group with aggregations (whose history cannot be split across sources). */
export function asSource(from: BackfillSource | readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown>, where = 'backfill', aggregated = false): BackfillSource {
  if (typeof from === 'string') {
    // A string is iterable (by character): never what a caller means.
    throw new ConfigurationError('INVALID_CONFIG', `${where}: from is the string ${JSON.stringify(from)}; for a file use ndjsonFile(path), csvFile(path), parquetFile(path) or fileSource(path)`);
  }
  if (isSource(from)) return from;
  // Sources in an array would be taken as raw events, each one poison, and the files never read.
  if (Array.isArray(from) && from.some(isSource)) {
    const advice = aggregated
      ? "the group has aggregations, so each entity's whole history must come from that one source: put the events in one file"
      : 'run one backfill per source, or planBackfill(group, { from: [...] }) and backfillShard for each shard';
    throw new ConfigurationError('INVALID_CONFIG', `${where}: from is an array of sources, and a backfill reads one source: ${advice}`);
  }
  const iterable = typeof from === 'object' && from !== null && (Symbol.iterator in from || Symbol.asyncIterator in from);
  if (!iterable) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `${where}: from must be a source (ndjsonFile(), csvFile(), parquetFile(), fileSource(), ...), an array or an (async) iterable of raw events; got ${describeValue(from)}`,
    );
  }
  return fromRecords(from as readonly unknown[]);
}
