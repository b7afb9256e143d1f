import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { appendFile, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BackendError, ConfigurationError, type RecordError, SourceValidationError } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import { checkRecord } from '../schema/sagemaker-record.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { deadLetterJson } from '../store/dead-letter.js';
import type { FeatureStore } from '../store/feature-store.js';
import { checkOptions, countSchema, expected, functionSchema, lazySchema, positiveInteger } from '../util/options.js';
import * as z from 'zod/mini';
import { requireGroup } from '../feature-group.js';
import type { OfflineStore, OnlineStore } from '../store/types.js';
import type { AggregationStateStore } from '../pipeline/state.js';
import { pipelineOf } from '../feature-group.js';
import { type ProcessingOrder, replayAggregations, type ReplayResult } from './replay.js';
import { asSource, type BackfillItem, type BackfillSource, type ShardRange } from './sources.js';

/** Where a backfill writes: the offline store (default), the online store, or both. */
export type BackfillTarget = 'offline' | 'online' | 'both';

export interface BackfillProgress {
  /** Input rows read so far (poison included). */
  readonly done: number;
  readonly written: number;
  readonly poison: number;
  /** How far through the input, 0..1, when the source's size is known. */
  readonly fraction: number | undefined;
  readonly recordsPerSecond: number;
  /** Seconds left at the current rate, when the size is known. */
  readonly etaSeconds: number | undefined;
  readonly elapsedMs: number;
}

export interface BackfillOptions {
  /** A source (`ndjsonFile`, `csvFile`, `parquetFile`, `s3ParquetFile`, `athenaSource`) or raw events. */
  readonly from: BackfillSource | readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown>;
  /** Default `'offline'`. `'online'` and `'both'` write only the latest record per identifier online. */
  readonly to?: BackfillTarget;
  /** Only this part of the source (a shard from `planBackfill`). */
  readonly range?: ShardRange;
  /** Chunks written at once; default 2. */
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
  /** Records written offline (or, with `to: 'online'`, accepted by the pipeline). */
  readonly written: number;
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

interface Checkpoint {
  readonly version: 1;
  readonly key: string;
  /** The group's fingerprint: a checkpoint written by other code is not resumed. */
  readonly fingerprint: string;
  readonly chunkSize: number;
  readonly chunksDone: number;
  readonly rowsDone: number;
  readonly written: number;
  readonly poison: number;
  readonly rejectsBytes: number;
}

/** The backends a backfill writes to. */
export interface BackfillBackends {
  readonly offline: OfflineStore | undefined;
  readonly online: OnlineStore | undefined;
  /** Base directory for the default rejects file. */
  readonly dir: string;
  readonly now: () => number;
  /**
   * Groups with aggregations backfilled online: each entity's state after its history is stored here
   * (where the stream has none yet), so the stream's windows continue from the history.
   */
  readonly aggregationState?: () => Promise<AggregationStateStore | undefined>;
}

/**
 * Identifies a (group, source, range): the same input always gets the same key.
 *
 * ### Example
 * ```ts
 * const key = backfillKey(cardActivity, ndjsonFile('history.ndjson'), undefined);   // names backfill-<key>-<chunk>.parquet
 * ```
 */
export function backfillKey(group: AnyFeatureGroup, source: BackfillSource, range: ShardRange | undefined): string {
  const text = JSON.stringify([group.name, source.id, range ? [range.start, range.end] : null]);
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function readCheckpoint(path: string | undefined): Checkpoint | undefined {
  if (!path) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
  } catch {
    return undefined;
  }
}

function writeCheckpoint(path: string, checkpoint: Checkpoint): void {
  mkdirSync(dirname(path), { recursive: true });
  // Written aside and renamed: a process killed mid-write leaves the previous checkpoint intact.
  writeFileSync(`${path}.tmp`, JSON.stringify(checkpoint));
  renameSync(`${path}.tmp`, path);
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

/** A row the backfill refused, kept for the rejects file; `at` is its place among the rows it was read with. */
type Rejected = { at: number; raw: unknown; error: RecordError; position: BackfillItem['position'] | undefined };

/** A chunk being filled: the encoded records and rejects of its rows so far. */
interface ChunkPart {
  rows: number;
  readonly records: SageMakerRecord[];
  readonly rejected: Rejected[];
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
  const { online, offline } = await store.backends();
  return runBackfill(group, options, {
    online,
    offline,
    dir: store.dir,
    now: store.now,
    // The state store, where the store has one (a backfill does not need it otherwise).
    aggregationState: () => store.aggregationState(group).catch((error: unknown) => (error instanceof ConfigurationError ? undefined : Promise.reject(error))),
  });
}

const backfillOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  from: z.unknown(),
  to: z.optional(z.enum(['offline', 'online', 'both'], { error: expected("'offline', 'online' or 'both'") })),
  range: z.optional(z.strictObject({ start: countSchema(), end: countSchema() }, { error: expected('{ start, end } row or byte offsets') })),
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
  const started = Date.now();
  const source = asSource(options.from);
  const to = options.to ?? 'offline';
  const key = backfillKey(group, source, options.range);
  const chunkSize = Math.max(1, options.chunkSize ?? 10_000);
  const concurrency = Math.max(1, options.concurrency ?? 2);
  if ((to === 'offline' || to === 'both') && !backends.offline) {
    throw new BackendError('INVALID_REQUEST', `group "${group.name}": backfill to "${to}" needs an offline store`, { group: group.name });
  }
  if ((to === 'online' || to === 'both') && !backends.online) {
    throw new BackendError('INVALID_REQUEST', `group "${group.name}": backfill to "${to}" needs an online store`, { group: group.name });
  }
  if (to !== 'offline' && backends.online?.writesOffline) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `group "${group.name}": the online store also writes offline, so a backfill to "${to}" would add only the latest records offline; ` +
        `backfill offline, then online with sageMakerOnline({ targetStores: ['OnlineStore'] })`,
    );
  }
  let replay: ReplayResult | undefined;
  if (Object.keys(group.aggregations).length > 0) {
    if (options.range) {
      throw new ConfigurationError(
        'INVALID_CONFIG',
        `group "${group.name}" has aggregations: its backfill replays every entity's whole history in order, so it cannot run on a range of the source`,
      );
    }
    if (source.replayable === false) {
      throw new ConfigurationError(
        'INVALID_CONFIG',
        `group "${group.name}" has aggregations: its backfill reads the source twice (replay, then write), and ${source.id} can be read once; pass an array or a file`,
      );
    }
    replay = await replayAggregations(group, source, options.order);
  }
  const rejectsFile = options.rejects ?? join(backends.dir, 'backfill', group.name, `${key}.rejects.ndjson`);
  mkdirSync(dirname(rejectsFile), { recursive: true });

  // Resume only a checkpoint of this very input and chunking; anything else starts over.
  const saved = readCheckpoint(options.checkpoint);
  const resume = saved && saved.key === key && saved.chunkSize === chunkSize && saved.fingerprint === group.fingerprint ? saved : undefined;
  if (resume) await truncate(rejectsFile, resume.rejectsBytes).catch(() => writeFileSync(rejectsFile, ''));
  else writeFileSync(rejectsFile, '');
  let rejectsBytes = resume?.rejectsBytes ?? 0;

  const size = await source.size().catch(() => undefined);
  const rangeStart = options.range?.start ?? 0;
  const rangeSize = size === undefined ? undefined : Math.max(0, Math.min(options.range?.end ?? size, size) - rangeStart);
  let at = rangeStart;

  let rowsDone = resume?.rowsDone ?? 0;
  let written = resume?.written ?? 0;
  let poison = resume?.poison ?? 0;
  let rowsThisRun = 0;
  const online = { applied: 0, stale: 0, accepted: 0, failed: 0 };
  let chunksDone = resume?.chunksDone ?? 0;

  const progress = (): BackfillProgress => {
    const elapsedMs = Date.now() - started;
    const rate = elapsedMs > 0 ? (rowsThisRun * 1000) / elapsedMs : 0;
    const fraction = rangeSize ? Math.min(1, (at - rangeStart) / rangeSize) : undefined;
    const etaSeconds = fraction !== undefined && fraction > 0 && fraction < 1 ? ((elapsedMs / 1000) * (1 - fraction)) / fraction : fraction === 1 ? 0 : undefined;
    return { done: rowsDone, written, poison, fraction, recordsPerSecond: Math.round(rate), etaSeconds, elapsedMs };
  };

  /**
   * Runs rows of a chunk through the pipeline as they are read, so that only their encoded records
   * wait for the chunk's write: the raw events die young instead of living until the chunk is full,
   * which V8 would copy and promote. `part.rows` is how many rows of the chunk came before these.
   */
  const encodePart = (chunk: number, part: ChunkPart, items: readonly BackfillItem[]): void => {
    const filled = part.rows;
    part.rows += items.length;
    const raws: unknown[] = [];
    const rawIndex: number[] = [];
    const rejected: Rejected[] = [];
    items.forEach((item, i) => {
      if (item.unreadable !== undefined) {
        rejected.push({ at: i, raw: item.raw ?? null, error: new SourceValidationError(`row cannot be read: ${item.unreadable}`, { position: item.position }), position: item.position });
      } else {
        raws.push(item.raw);
        rawIndex.push(i);
      }
    });
    const position = (k: number) => (items[rawIndex[k] as number] as BackfillItem).position;
    let result: ReturnType<AnyFeatureGroup['processBatch']>;
    if (replay) {
      // Chunks are whole until the last, so a row's ordinal in the source is chunk * chunkSize + its place.
      const values = replay.values;
      const base = chunk * chunkSize + filled;
      const pipeline = pipelineOf(group);
      result = pipeline.completeBatch(pipeline.prepareBatch(raws, { position }), {
        position,
        aggregated: (k) => {
          const at = base + (rawIndex[k] as number);
          const found = values.get(at);
          values.delete(at);
          return found;
        },
      }) as typeof result;
    } else {
      result = group.processBatch(raws, { position });
    }
    for (const r of result.records) part.records.push(r.encoded);
    for (const f of result.failures) rejected.push({ at: rawIndex[f.index] as number, raw: raws[f.index], error: f.error, position: f.error.position });
    // Rejects in input order, whichever step refused them.
    rejected.sort((a, b) => a.at - b.at);
    for (const r of rejected) part.rejected.push(r);
  };

  /** One chunk's writes: offline file(s), latest per identifier online. Returns its counts. */
  const writeChunk = async (chunk: number, part: ChunkPart) => {
    const { records } = part;
    const at = new Date(backends.now());
    if (to !== 'online' && records.length > 0) {
      const offline = backends.offline as OfflineStore;
      await offline.append(
        group,
        records.map((record) => ({ record, writeTime: at, apiInvocationTime: at, isDeleted: false })),
        { fileName: `backfill-${key}-${String(chunk).padStart(6, '0')}` },
      );
    }
    const counts = { applied: 0, stale: 0, accepted: 0, failed: 0 };
    if (to !== 'offline' && records.length > 0) {
      // Only the newest record per identifier: the write rule makes the rest stale anyway, and a
      // rerun or a later chunk with an older record changes nothing.
      const latest = new Map<string, { eventTimeMs: number; record: SageMakerRecord }>();
      for (const record of records) {
        const checked = checkRecord(group, record);
        if (!checked.ok) continue;
        const before = latest.get(checked.id);
        if (!before || checked.eventTimeMs > before.eventTimeMs) latest.set(checked.id, { eventTimeMs: checked.eventTimeMs, record });
      }
      const outcomes = await (backends.online as OnlineStore).put(group, [...latest.values()].map((l) => l.record), group.ttl ? { ttl: group.ttl } : {});
      for (const outcome of outcomes) {
        if (typeof outcome === 'string') counts[outcome]++;
        else counts.failed++;
      }
    }
    return { rows: part.rows, written: records.length, rejected: part.rejected, counts };
  };

  const inFlight: Promise<Awaited<ReturnType<typeof writeChunk>> & { chunk: number; at: number }>[] = [];
  const start = (n: number, part: ChunkPart, reached: number) => {
    const running = writeChunk(n, part).then((r) => ({ ...r, chunk: n, at: reached }));
    // Awaited in order later; until then a failure must not count as unhandled.
    running.catch(() => undefined);
    inFlight.push(running);
  };
  const finishOldest = async () => {
    const done = await (inFlight.shift() as (typeof inFlight)[number]);
    // Chunks finish in order (the oldest is awaited first), so the checkpoint only ever advances
    // over chunks whose files are complete.
    if (done.rejected.length > 0) {
      const at = new Date(backends.now());
      const text = `${done.rejected.map((r) => deadLetterJson({ group: group.name, raw: r.raw, error: r.error, position: r.position }, at)).join('\n')}\n`;
      await appendFile(rejectsFile, text);
      rejectsBytes += Buffer.byteLength(text);
    }
    rowsDone += done.rows;
    rowsThisRun += done.rows;
    written += done.written;
    poison += done.rejected.length;
    for (const k of ['applied', 'stale', 'accepted', 'failed'] as const) online[k] += done.counts[k];
    chunksDone = done.chunk + 1;
    // Progress counts what is written, not what has been read ahead.
    at = done.at;
    if (options.checkpoint) writeCheckpoint(options.checkpoint, { version: 1, key, fingerprint: group.fingerprint, chunkSize, chunksDone, rowsDone, written, poison, rejectsBytes });
    options.onProgress?.(progress());
  };

  const skip = (resume?.chunksDone ?? 0) * chunkSize;
  let seen = 0;
  let chunk = resume?.chunksDone ?? 0;
  const emptyPart = (): ChunkPart => ({ rows: 0, records: [], rejected: [] });
  let part = emptyPart();
  let reached = rangeStart;
  for await (const block of source.read(group, options.range)) {
    reached = block.at;
    // Rows a resumed run already wrote are skipped; the rest fill chunks, each chunkSize rows.
    let from = Math.min(block.items.length, Math.max(0, skip - seen));
    seen += from;
    while (from < block.items.length) {
      const end = Math.min(block.items.length, from + chunkSize - part.rows);
      encodePart(chunk, part, block.items.slice(from, end));
      seen += end - from;
      from = end;
      if (part.rows === chunkSize) {
        start(chunk++, part, reached);
        part = emptyPart();
        if (inFlight.length >= concurrency) await finishOldest();
      }
    }
    if (seen <= skip) at = reached;
  }
  if (part.rows > 0) start(chunk++, part, reached);
  while (inFlight.length > 0) await finishOldest();
  if (size !== undefined) at = rangeStart + (rangeSize ?? 0);
  const seeded = replay && to !== 'offline' ? await seedAggregationState(group, replay, backends) : undefined;
  const durationMs = Date.now() - started;
  options.onProgress?.(progress());
  return {
    group: group.name,
    source: source.id,
    key,
    records: rowsThisRun,
    written,
    poison,
    ...(to !== 'offline' ? { online } : {}),
    chunks: chunksDone,
    resumedAtChunk: resume?.chunksDone ?? 0,
    rejectsFile: poison > 0 ? rejectsFile : undefined,
    durationMs,
    recordsPerSecond: durationMs > 0 ? Math.round((rowsThisRun * 1000) / durationMs) : rowsThisRun,
    late: replay?.late ?? 0,
    ...(seeded ? { aggregationState: seeded } : {}),
  };
}
