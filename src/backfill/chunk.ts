import { type BackendError, SourceValidationError, unstorableRecord } from '../errors.js';
import { pipelineOf } from '../feature-group.js';
import type { SageMakerRecord } from '../schema/codec.js';
import { checkRecord } from '../schema/sagemaker-record.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { offlineWritesAt, type WriteClock } from '../store/offline-writes.js';
import type { OfflineStore, OnlineStore } from '../store/types.js';
import type { Rejected } from './checkpoint.js';
import type { ReplayResult } from './replay.js';
import type { BackfillItem } from './sources/index.js';

/** A chunk being filled: how many rows it has, and their encoded records and rejects so far. */
export interface ChunkPart {
  rows: number;
  readonly records: SageMakerRecord[];
  readonly rejected: Rejected[];
}

export const emptyChunk = (): ChunkPart => ({ rows: 0, records: [], rejected: [] });

/**
 * How a backfill turns rows into records: the group, its chunk size, for aggregates the replay's
 * values, and when it writes online, why the online store cannot hold a record (see `OnlineStore.unstorable`).
 */
export interface ChunkEncoding {
  readonly group: AnyFeatureGroup;
  readonly chunkSize: number;
  readonly replay: ReplayResult | undefined;
  readonly unstorable?: (record: SageMakerRecord) => BackendError | undefined;
}

/**
 * Runs rows of chunk `chunk` through the pipeline as they are read, so that only their encoded
 * records wait for the chunk's write: the raw events die young instead of living until the chunk is
 * full, which V8 would copy and promote. `part.rows` is how many rows of the chunk came before these.
 */
export function encodeRows(encoding: ChunkEncoding, chunk: number, part: ChunkPart, items: readonly BackfillItem[]): void {
  const { group, chunkSize, replay } = encoding;
  const filled = part.rows;
  part.rows += items.length;
  const raws: unknown[] = [];
  const rawIndex: number[] = [];
  const rejected: Rejected[] = [];
  items.forEach((item, i) => {
    if (item.unreadable !== undefined) {
      rejected.push({ at: i, raw: item.raw ?? null, error: new SourceValidationError(`row cannot be read: ${item.unreadable}`, { position: item.position }) });
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
  for (const r of result.records) {
    // A record the online store cannot hold is poison, in neither tier: as ingest treats it.
    const refused = encoding.unstorable?.(r.encoded);
    if (refused === undefined) {
      part.records.push(r.encoded);
      continue;
    }
    const at = rawIndex[r.index] as number;
    rejected.push({ at, raw: (items[at] as BackfillItem).asRead ?? raws[r.index], error: unstorableRecord(refused, position(r.index)) });
  }
  for (const f of result.failures) {
    const at = rawIndex[f.index] as number;
    rejected.push({ at, raw: (items[at] as BackfillItem).asRead ?? raws[f.index], error: f.error });
  }
  // Rejects in input order, whichever step refused them.
  rejected.sort((a, b) => a.at - b.at);
  for (const r of rejected) part.rejected.push(r);
}

/** Online write counts of a chunk, by outcome. */
export interface OnlineCounts {
  applied: number;
  stale: number;
  accepted: number;
  failed: number;
}

/** Where a chunk goes: its file name's key, the target, and the stores. */
export interface ChunkTarget {
  readonly group: AnyFeatureGroup;
  readonly key: string;
  readonly offline: OfflineStore | undefined;
  readonly online: OnlineStore | undefined;
  readonly writeClock: WriteClock;
}

/** The newest record of each identifier: the write rule would make the others stale anyway. */
function latestPerIdentifier(group: AnyFeatureGroup, records: readonly SageMakerRecord[]): SageMakerRecord[] {
  const latest = new Map<string, { eventTimeMs: number; record: SageMakerRecord }>();
  for (const record of records) {
    const checked = checkRecord(group, record);
    if (!checked.ok) continue;
    const before = latest.get(checked.id);
    if (!before || checked.eventTimeMs > before.eventTimeMs) latest.set(checked.id, { eventTimeMs: checked.eventTimeMs, record });
  }
  return [...latest.values()].map((l) => l.record);
}

/**
 * One chunk's writes: its offline file(s) under a name fixed by the input (`backfill-<key>-<chunk>`,
 * so a rerun replaces them), and online only the newest record per identifier (a rerun or a later
 * chunk with an older record changes nothing). Returns the online counts.
 *
 * Chunks written together write offline at once, but online in chunk order: after `previous` says
 * the chunk before was written. Of two records with one identifier and one event time the online
 * store keeps the one it receives first, which must be the earlier chunk's, as its offline rows are
 * dated first. After a chunk that failed, this one writes nothing online and fails too: the run
 * stops there, and a resumed run writes both again.
 */
export async function writeChunk(target: ChunkTarget, chunk: number, records: readonly SageMakerRecord[], previous: Promise<boolean>): Promise<OnlineCounts> {
  const { group, offline } = target;
  const counts: OnlineCounts = { applied: 0, stale: 0, accepted: 0, failed: 0 };
  // Dated now, while the chunks are still in order, whatever finishes first.
  if (offline && records.length > 0) {
    await offline.append(group, offlineWritesAt(group, records, target.writeClock), { fileName: `backfill-${target.key}-${String(chunk).padStart(6, '0')}` });
  }
  // Waited for by a chunk without records too, so the chunk after it still waits for the one before.
  if (!(await previous)) throw new Error(`chunk ${chunk} not written online: a chunk before it failed`);
  if (records.length === 0) return counts;
  if (target.online) {
    const outcomes = await target.online.put(group, latestPerIdentifier(group, records), group.ttl ? { ttl: group.ttl } : {});
    for (const outcome of outcomes) {
      // Anything but a status is a failure, whichever copy of the package made it.
      if (typeof outcome === 'string') counts[outcome]++;
      else counts.failed++;
    }
  }
  return counts;
}
