import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { ConfigurationError } from '../errors.js';
import { requireGroup } from '../feature-group.js';
import type { AggregationStateStore } from '../pipeline/state.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { backendsOf, type FeatureStore, writeClockOf } from '../store/feature-store.js';
import type { OfflineStore, OnlineStore } from '../store/types.js';
import { type WriteClock, writeClock } from '../store/offline-writes.js';
import { checkOptions, countSchema, expected, functionSchema, lazySchema, positiveInteger } from '../util/options.js';
import { prepareOutputFile } from '../util/output-file.js';
import { RejectsFile, resumableCheckpoint, writeCheckpoint } from './checkpoint.js';
import { type ChunkEncoding, type ChunkPart, type ChunkTarget, emptyChunk, encodeRows, type OnlineCounts, writeChunk } from './chunk.js';
import { type BackfillProgress, BackfillTotals } from './progress.js';
import { type ProcessingOrder, replayAggregations, type ReplayResult } from './replay.js';
import { asSource, type BackfillSource, type ShardRange } from './sources/index.js';

/** Where a backfill writes: the offline store (default), the online store, or both. */
export type BackfillTarget = 'offline' | 'online' | 'both';

export type { BackfillProgress };

export interface BackfillOptions {
  /** A source (`ndjsonFile`, `csvFile`, `parquetFile`, `s3ParquetFile`, `athenaSource`) or raw events. */
  readonly from: BackfillSource | readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown>;
  /** Default `'offline'`. `'online'` and `'both'` write only the latest record per identifier online. */
  readonly to?: BackfillTarget;
  /** Only this part of the source (a shard from `planBackfill`). */
  readonly range?: ShardRange;
  /**
   * Chunks written at once; default 2. Their offline files are written together; online, one chunk
   * at a time, in order (so of records with one identifier and one event time, the first is kept).
   */
  readonly concurrency?: number;
  /**
   * A checkpoint file: progress is recorded after every chunk, and a backfill started again with
   * the same file, source, range, chunk size and group fingerprint resumes after the last chunk it
   * finished (a finished one writes nothing more). Changed code starts over.
   */
  readonly checkpoint?: string;
  /** Where poison rows go, one JSON line each with its error; default `<dir>/backfill/<group>/<key>.rejects.ndjson`. */
  readonly rejects?: string;
  /** Called after every chunk and at the end. */
  readonly onProgress?: (progress: BackfillProgress) => void;
  /** Rows per chunk (one output file per partition per chunk); default 10,000 (larger chunks cost memory and GC time, not speed). Part of the checkpoint. */
  readonly chunkSize?: number;
  /**
   * Groups with aggregations: the order each entity's events are replayed in (the stream's arrival
   * order); default by an `arrival` field of the raw events, else by event time. See `ProcessingOrder`.
   */
  readonly order?: ProcessingOrder;
}

export interface BackfillSummary {
  readonly group: string;
  readonly source: string;
  /** Names the output files (`backfill-<key>-<chunk>.parquet`) and the default rejects file. */
  readonly key: string;
  /** Input rows read by this run (poison included; rows before a resumed checkpoint excluded). */
  readonly records: number;
  /**
   * Records written offline (or, with `to: 'online'`, accepted by the pipeline), over the whole input:
   * a resumed run counts the chunks before its checkpoint too.
   */
  readonly written: number;
  /** Poison rows over the whole input, as `written` counts. */
  readonly poison: number;
  /** Online writes of the latest record per identifier: applied, stale, accepted (SageMaker), failed. */
  readonly online?: { readonly applied: number; readonly stale: number; readonly accepted: number; readonly failed: number };
  readonly chunks: number;
  /** The chunk this run resumed at (0 for a fresh run). */
  readonly resumedAtChunk: number;
  readonly rejectsFile: string | undefined;
  readonly durationMs: number;
  readonly recordsPerSecond: number;
  /** Groups with aggregations: events later than the allowed lateness, left out of the aggregates. */
  readonly late: number;
  /**
   * Groups with aggregations backfilled online: entities whose window state the stream now continues
   * from (`seeded`), and those it already had state for and kept (`kept`).
   */
  readonly aggregationState?: { readonly seeded: number; readonly kept: number };
}

/** The backends a backfill writes to. */
export interface BackfillBackends {
  readonly offline: OfflineStore | undefined;
  readonly online: OnlineStore | undefined;
  /** Base directory for the default rejects file. */
  readonly dir: string;
  readonly now: () => number;
  /** The times of the offline rows; default one from `now` for this backfill alone. */
  readonly writeClock?: WriteClock;
  /**
   * Groups with aggregations backfilled online: each entity's state after its history is stored here
   * (where the stream has none yet), so the stream's windows continue from the history.
   */
  readonly aggregationState?: () => Promise<AggregationStateStore | undefined>;
}

/**
 * Identifies a (group, source, range): the same input always gets the same key. A range's key is the
 * whole source's, followed by the range (`<key>-r<start>-<end>`), so every file a source's backfills
 * wrote, whole or in shards, starts with `backfill-<the source's key>-`.
 *
 * ### Example
 * ```ts
 * const key = backfillKey(cardActivity, ndjsonFile('history.ndjson'), undefined);   // names backfill-<key>-<chunk>.parquet
 * ```
 */
export function backfillKey(group: Pick<AnyFeatureGroup, 'name'>, source: Pick<BackfillSource, 'id'>, range: ShardRange | undefined): string {
  // The whole source's key is what 0.1 named it, so a rerun replaces files written then too.
  const input = createHash('sha256').update(JSON.stringify([group.name, source.id, null])).digest('hex').slice(0, 16);
  return range ? `${input}-r${range.start}-${range.end}` : input;
}

/**
 * Removes, before a run from the start, the offline files an earlier run of this input wrote under
 * other names (another chunk size, a source that changed since): a run of the whole source removes
 * every file of the source's backfills, shards' included. A run of a range removes its own only when
 * its checkpoint shows an earlier run (the plan's runner removes other plans' files): on S3 a removal
 * lists the group's files, which each of many shards should not do for nothing.
 */
async function removeEarlierOutput(group: AnyFeatureGroup, key: string, options: BackfillOptions, offline: OfflineStore | undefined): Promise<void> {
  if (options.range !== undefined && (options.checkpoint === undefined || !existsSync(options.checkpoint))) return;
  await offline?.removeFiles?.(group, (name) => name.startsWith(`backfill-${key}-`));
}

/**
 * Hands the replay's final entity states to the stream's state store, only where the stream has none
 * (a conditional write on "no item yet"): state the stream already built is newer and stays.
 */
async function seedAggregationState(group: AnyFeatureGroup, replay: ReplayResult, backends: BackfillBackends): Promise<{ seeded: number; kept: number } | undefined> {
  const store = await backends.aggregationState?.();
  if (!store) return undefined;
  let seeded = 0;
  let kept = 0;
  const entries = [...replay.states];
  for (let i = 0; i < entries.length; i += 1000) {
    const updates = entries.slice(i, i + 1000).map(([id, state]) => ({ id, state, expected: undefined }));
    const outcomes = await store.save(group, updates);
    for (const outcome of outcomes) {
      if (outcome === 'saved') seeded++;
      else if (outcome === 'conflict') kept++;
      else throw outcome;
    }
  }
  return { seeded, kept };
}

/**
 * Runs history through the group's pipeline (the one the Lambda handlers run) into the store's
 * offline tier, and with `to: 'online' | 'both'` the latest record per identifier online. Streams
 * the source; deterministic file names (chunk `n` of a (group, source, range) always lands in
 * `backfill-<key>-<n>.parquet`) make a rerun replace its output; a checkpoint resumes it; poison
 * rows go to a rejects file and never stop the run.
 *
 * ### Example
 * ```ts
 * import { backfill, ndjsonFile } from 'skewless';
 * const summary = await backfill(store, cardActivity, { from: ndjsonFile('history.ndjson'), checkpoint: 'history.ckpt' });
 * console.log(summary.written, summary.poison, summary.rejectsFile);
 * ```
 */
export async function backfill(store: FeatureStore, group: AnyFeatureGroup, options: BackfillOptions): Promise<BackfillSummary> {
  const { online, offline } = await backendsOf(store, 'backfill');
  return runBackfill(group, options, {
    online,
    offline,
    dir: store.dir,
    now: store.now,
    // The store's own: its other writes and this backfill's chunks are dated in the order they are written.
    writeClock: writeClockOf(store),
    // The state store, where the store has one (a backfill does not need it otherwise).
    aggregationState: () => store.aggregationState(group).catch((error: unknown) => (error instanceof ConfigurationError ? undefined : Promise.reject(error))),
  });
}

/** A backfill's or a shard's `range`: offsets, the start at or before the end. */
export const rangeSchema = () =>
  z.strictObject({ start: countSchema(), end: countSchema() }, { error: expected('{ start, end } row or byte offsets') }).check(
    // A reversed range reads nothing: a plan item edited by hand would "succeed" with no rows.
    z.refine((range) => range.start <= range.end, { error: (issue) => `expected its start at or before its end, got start ${(issue.input as ShardRange).start} and end ${(issue.input as ShardRange).end}` }),
  );

const backfillOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  from: z.custom((value) => value !== undefined, { error: expected('a source (ndjsonFile, csvFile, parquetFile, s3ParquetFile, athenaSource) or raw events') }),
  to: z.optional(z.enum(['offline', 'online', 'both'], { error: expected("'offline', 'online' or 'both'") })),
  range: z.optional(rangeSchema()),
  concurrency: z.optional(positiveInteger()),
  checkpoint: z.optional(z.string({ error: expected('a file path') })),
  rejects: z.optional(z.string({ error: expected('a file path') })),
  onProgress: z.optional(functionSchema('a function')),
  chunkSize: z.optional(positiveInteger('a positive whole number of rows')),
  order: z.optional(
    z.union([z.enum(['event-time', 'source']), z.strictObject({ arrival: z.string() })], { error: expected("'event-time', 'source' or { arrival: '<column>' }") }),
  ),
}));

/** The backfill over these backends (what `backfill` runs once it has the store's). */
export async function runBackfill(group: AnyFeatureGroup, options: BackfillOptions, backends: BackfillBackends): Promise<BackfillSummary> {
  requireGroup(group, 'backfill');
  checkOptions(backfillOptions, options, 'backfill options');
  const source = asSource(options.from, 'backfill', Object.keys(group.aggregations).length > 0);
  const to = options.to ?? 'offline';
  const key = backfillKey(group, source, options.range);
  const chunkSize = Math.max(1, options.chunkSize ?? 10_000);
  const concurrency = Math.max(1, options.concurrency ?? 2);
  checkTargets(group, to, backends);
  // After the other checks (this makes their folders), before anything is read or removed: a folder
  // given as the checkpoint failed after the first chunk was written, as the rejects file after the
  // earlier output was removed.
  if (options.checkpoint !== undefined) prepareOutputFile(options.checkpoint, 'backfill options.checkpoint');
  if (options.rejects !== undefined) prepareOutputFile(options.rejects, 'backfill options.rejects');
  const replay = await replayFor(group, options, source);
  const revision = await source.revision?.();
  const resume = resumableCheckpoint(options.checkpoint, { key, chunkSize, fingerprint: group.fingerprint, revision });
  if (!resume && to !== 'online') await removeEarlierOutput(group, key, options, backends.offline);
  const rejects = await RejectsFile.open(options.rejects ?? join(backends.dir, 'backfill', group.name, `${key}.rejects.ndjson`), resume);

  const size = await source.size().catch(() => undefined);
  const rangeStart = options.range?.start ?? 0;
  const rangeSize = size === undefined ? undefined : Math.max(0, Math.min(options.range?.end ?? size, size) - rangeStart);
  const totals = new BackfillTotals(resume, rangeStart, rangeSize);
  const target: ChunkTarget = { group, key, offline: to === 'online' ? undefined : backends.offline, online: to === 'offline' ? undefined : backends.online, writeClock: backends.writeClock ?? writeClock(backends.now) };
  const { online } = target;
  const encoding: ChunkEncoding = { group, chunkSize, replay, ...(online?.unstorable ? { unstorable: (record: SageMakerRecord) => online.unstorable?.(group, record) } : {}) };

  // Chunks are written `concurrency` at a time and finished in order: the checkpoint only ever
  // advances over chunks whose files are complete.
  // A written chunk keeps only its counts and rejects: its records may be collected while others are written.
  const inFlight: Promise<{ chunk: number; rows: number; written: number; rejected: ChunkPart['rejected']; online: OnlineCounts; at: number }>[] = [];
  // Whether the chunk before the next one was written: chunks write online in chunk order.
  let previous: Promise<boolean> = Promise.resolve(true);
  const start = (chunk: number, part: ChunkPart, at: number) => {
    const { rows, rejected } = part;
    const written = part.records.length;
    const running = writeChunk(target, chunk, part.records, previous).then((online) => ({ chunk, rows, written, rejected, online, at }));
    // Also what keeps a failure, awaited in order later, from counting as unhandled until then.
    previous = running.then(
      () => true,
      () => false,
    );
    inFlight.push(running);
  };
  const finishOldest = async () => {
    const done = await (inFlight.shift() as (typeof inFlight)[number]);
    await rejects.append(group.name, done.rejected, new Date(backends.now()));
    totals.add(done.chunk, { ...done, poison: done.rejected.length });
    if (options.checkpoint) {
      const { rowsDone, written, poison, chunksDone } = totals;
      writeCheckpoint(options.checkpoint, { version: 1, key, fingerprint: group.fingerprint, revision, chunkSize, chunksDone, rowsDone, written, poison, rejectsBytes: rejects.bytes });
    }
    options.onProgress?.(totals.progress());
  };

  // Rows a resumed run already wrote are skipped; the rest fill chunks, each chunkSize rows.
  let toSkip = (resume?.chunksDone ?? 0) * chunkSize;
  let chunk = resume?.chunksDone ?? 0;
  let part = emptyChunk();
  let reached = rangeStart;
  try {
    for await (const block of source.read(group, options.range)) {
      reached = block.at;
      let from = Math.min(block.items.length, toSkip);
      toSkip -= from;
      while (from < block.items.length) {
        const end = Math.min(block.items.length, from + chunkSize - part.rows);
        encodeRows(encoding, chunk, part, block.items.slice(from, end));
        from = end;
        if (part.rows === chunkSize) {
          start(chunk++, part, reached);
          part = emptyChunk();
          if (inFlight.length >= concurrency) await finishOldest();
        }
      }
    }
    if (part.rows > 0) start(chunk, part, reached);
    while (inFlight.length > 0) await finishOldest();
  } catch (error) {
    // Nothing of a failed run writes after it has failed: the chunks still in flight settle first
    // (those after a failed chunk write nothing online).
    await Promise.allSettled(inFlight);
    throw error;
  }
  if (size !== undefined) totals.at = rangeStart + (rangeSize ?? 0);
  const seeded = replay && to !== 'offline' ? await seedAggregationState(group, replay, backends) : undefined;
  const durationMs = totals.elapsedMs();
  options.onProgress?.(totals.progress());
  return {
    group: group.name,
    source: source.id,
    key,
    records: totals.rowsThisRun,
    written: totals.written,
    poison: totals.poison,
    ...(to !== 'offline' ? { online: totals.online } : {}),
    chunks: totals.chunksDone,
    resumedAtChunk: resume?.chunksDone ?? 0,
    rejectsFile: totals.poison > 0 ? rejects.path : undefined,
    durationMs,
    recordsPerSecond: durationMs > 0 ? Math.round((totals.rowsThisRun * 1000) / durationMs) : totals.rowsThisRun,
    late: replay?.late ?? 0,
    ...(seeded ? { aggregationState: seeded } : {}),
  };
}

/** The stores a backfill to `to` needs, and what it refuses. */
function checkTargets(group: AnyFeatureGroup, to: BackfillTarget, backends: BackfillBackends): void {
  if ((to === 'offline' || to === 'both') && !backends.offline) {
    throw new ConfigurationError('INVALID_CONFIG', `group "${group.name}": backfill to "${to}" needs an offline store`);
  }
  if ((to === 'online' || to === 'both') && !backends.online) {
    throw new ConfigurationError('INVALID_CONFIG', `group "${group.name}": backfill to "${to}" needs an online store`);
  }
  if (to !== 'offline' && backends.online?.writesOffline) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `group "${group.name}": the online store also writes offline, so a backfill to "${to}" would add only the latest records offline; ` +
        `backfill offline, then online with sageMakerOnline({ targetStores: ['OnlineStore'] })`,
    );
  }
}

/**
 * A group with aggregations replays every entity's whole history first (the values each row's
 * aggregates take): over the whole source, which it reads twice.
 */
async function replayFor(group: AnyFeatureGroup, options: BackfillOptions, source: BackfillSource): Promise<ReplayResult | undefined> {
  if (Object.keys(group.aggregations).length === 0) return undefined;
  if (options.range) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `group "${group.name}" has aggregations: its backfill replays every entity's whole history in order, so it cannot run on a range of the source`,
    );
  }
  if (source.replayable === false) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `group "${group.name}" has aggregations: its backfill reads the source twice (replay, then write), and this source (an iterable) can be read only once; pass an array or a file`,
    );
  }
  return replayAggregations(group, source, options.order);
}
