import { BackendError, type RecordError, type SourcePosition, unstorableRecord } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import { beforeDeadline } from '../util/concurrency.js';
import { emptyState, resumeState } from './reducer.js';
import { type OnlineWriteStatus, type RecordOutcome, summarize, type WriteSummary } from './outcomes.js';
import { memorySession, type Pipeline, type PreparedRecord } from './pipeline.js';
import type { AggregationSettle, AggregationStateStore, AggregationStateUpdate, StoredAggregationState } from './state.js';

/** One record's write, as the store reports it: a status, or the error that stopped it. */
type WriteOutcome = OnlineWriteStatus | BackendError;

/** What the ingest with stored state needs of the store it runs in. */
export interface StatefulIngestDeps {
  readonly states: AggregationStateStore;
  /** Dead-letters pipeline failures; the outcomes say which the sink took. */
  poison(failures: readonly { index: number; error: RecordError }[]): Promise<RecordOutcome[]>;
  /** Writes encoded records online and offline, in order per identifier; one outcome per record, in input order. */
  write(records: readonly SageMakerRecord[]): Promise<{ readonly outcomes: readonly WriteOutcome[]; readonly retried: number }>;
  /** Why the online store cannot hold a record (`OnlineStore.unstorable`), if it says; such a record is poison. */
  unstorable?(record: SageMakerRecord): BackendError | undefined;
}

export interface StatefulIngestOptions {
  /** The source position of the record at `index` (its stream position is the redelivery guard). */
  readonly position?: (index: number) => SourcePosition;
  /** Epoch milliseconds after which no new commit starts. */
  readonly deadline?: number;
}

/** The ingest of a group with aggregations, brought by its aggregates (see `AggregationRuntime`). */
export type StatefulIngest = (
  pipeline: Pipeline<Record<string, unknown>>,
  group: GroupSchema,
  raw: readonly unknown[],
  options: StatefulIngestOptions,
  deps: StatefulIngestDeps,
) => Promise<WriteSummary>;

/** Saves of one entity that may find its state changed by another writer before this batch gives up on it. */
const MAX_CONFLICTS = 3;

/** One entity's records in this batch and how far they got. */
interface Entity {
  readonly id: string;
  readonly records: readonly PreparedRecord[];
  /** The stored state (and outbox) this batch builds on; undefined until loaded or when none is stored. */
  stored: StoredAggregationState | undefined;
  loaded: boolean;
  /** Records before this one are committed and written. */
  next: number;
  /** Records committed by one save: all that are left, fewer after a save found them too large for one item. */
  take: number;
  conflicts: number;
  /** Set when the entity stops: its records from `next` on are reported with this error. */
  failed: BackendError | undefined;
  /** The version whose outbox this batch wrote in full, to settle at the end. */
  settle: number | undefined;
}

/** A save in flight: the new state and the records it produced. */
interface Commit {
  readonly entity: Entity;
  readonly update: AggregationStateUpdate;
  /** The slice's records, encoded, with their input indices. */
  readonly records: readonly { readonly index: number; readonly record: SageMakerRecord }[];
  readonly duplicates: readonly number[];
  readonly late: readonly number[];
  readonly poison: readonly { readonly index: number; readonly error: RecordError }[];
  /** Records in the slice. */
  readonly size: number;
}

function stateError(group: GroupSchema, what: string, cause: unknown): BackendError {
  if (cause instanceof BackendError) return cause;
  return new BackendError('WRITE_FAILED', `group "${group.name}": ${what} failed: ${(cause as Error).message}`, { cause, retryable: true, group: group.name });
}

/**
 * Ingest for a group with aggregations, exactly once per entity across Lambda instances, redeliveries
 * and crashes, with single-item conditional writes only. Per entity:
 *
 * 1. Load its stored state (one read per 100 entities; a warm instance's cache skips it).
 * 2. If the state holds an outbox (records a previous commit produced and nobody settled), write
 *    those records first: they are what the stored state says was produced.
 * 3. Aggregate this batch's records over the state (redelivered positions are skipped), then save the
 *    new state *and* the records it produced in one conditional write on the version read: the commit.
 *    A conflict (another instance committed meanwhile) writes nothing; the state is read again and
 *    the records aggregated again. A save too large for one item commits fewer records at a time.
 * 4. Write the committed records online and offline, then settle (empty) the outbox.
 *
 * So no record is written before the state that produced it is committed, every committed record is
 * written by someone (this batch, a redelivery, or the entity's next batch), and a conflict can never
 * leave a wrong value online.
 */
export const ingestWithState: StatefulIngest = async (pipeline, group, raw, ingestOptions, deps) => {
  const positioned = ingestOptions.position ? { position: ingestOptions.position } : {};
  const { states } = deps;
  /** The poison entry of a record the online store cannot hold, or undefined. */
  const unstorable = (r: { index: number; encoded: SageMakerRecord }): { index: number; error: RecordError } | undefined => {
    const why = deps.unstorable?.(r.encoded);
    const position = ingestOptions.position?.(r.index) ?? { index: r.index };
    return why && { index: r.index, error: unstorableRecord(why, position) };
  };
  const batch = pipeline.prepareBatch(raw, positioned);
  const outcomes: RecordOutcome[] = await deps.poison(batch.failures);
  let retried = 0;
  let late = 0;
  let conflicts = 0;
  let reemitted = 0;

  const entities = new Map<string, Entity>();
  for (const p of batch.prepared) {
    const entity = entities.get(p.id);
    if (entity) (entity.records as PreparedRecord[]).push(p);
    else entities.set(p.id, { id: p.id, records: [p], stored: undefined, loaded: false, next: 0, take: Number.POSITIVE_INFINITY, conflicts: 0, failed: undefined, settle: undefined });
  }
  const stop = (entity: Entity, error: BackendError) => {
    entity.failed ??= error;
  };
  const active = () => [...entities.values()].filter((e) => e.failed === undefined && e.next < e.records.length);

  /**
   * Writes records (each with its place in the batch, for the order they go out in) and says per
   * entity whether all of its records were written.
   */
  const writeAll = async (parts: readonly { entity: Entity; records: readonly { index: number; record: SageMakerRecord }[] }[]) => {
    const flat = parts.flatMap(({ entity, records }) => records.map((r) => ({ entity, ...r }))).sort((a, b) => a.index - b.index);
    const written = new Map<Entity, { ok: boolean; outcomes: WriteOutcome[] }>();
    for (const { entity } of parts) written.set(entity, { ok: true, outcomes: [] });
    if (flat.length === 0) return written;
    const result = await deps.write(flat.map((f) => f.record));
    retried += result.retried;
    flat.forEach((f, k) => {
      const outcome = result.outcomes[k] as WriteOutcome;
      const mine = written.get(f.entity) as { ok: boolean; outcomes: WriteOutcome[] };
      mine.outcomes.push(outcome);
      // Anything but a status is a failure: a BackendError from another copy of the package is one too.
      if (typeof outcome !== 'string') mine.ok = false;
    });
    return written;
  };

  for (let round = active(); round.length > 0; round = active()) {
    if (!beforeDeadline(ingestOptions.deadline)) {
      const error = new BackendError('DEADLINE_EXCEEDED', `group "${group.name}": not written, the invocation ran out of time`, { retryable: true, group: group.name });
      for (const e of round) stop(e, error);
      break;
    }

    // 1. Load what is not loaded (first round, and entities whose save met a newer version).
    const unloaded = round.filter((e) => !e.loaded);
    if (unloaded.length > 0) {
      try {
        const found = await states.load(group, unloaded.map((e) => e.id));
        for (const e of unloaded) {
          e.stored = found.get(e.id);
          e.loaded = true;
        }
      } catch (cause) {
        const error = new BackendError('READ_FAILED', `group "${group.name}": reading aggregation state failed: ${(cause as Error).message}`, { cause, retryable: true, group: group.name });
        for (const e of unloaded) stop(e, error);
      }
    }

    // 2. Outboxes left by a commit nobody settled: written before anything newer of the entity.
    const leftovers = round.flatMap((e) => (e.failed === undefined && e.stored?.pending?.length ? [{ entity: e, pending: e.stored.pending }] : []));
    const rewritten = await writeAll(leftovers.map(({ entity, pending }) => ({ entity, records: pending.map((record) => ({ index: -1, record })) })));
    for (const { entity: e } of leftovers) {
      const result = rewritten.get(e) as { ok: boolean; outcomes: WriteOutcome[] };
      reemitted += result.outcomes.length;
      const stored = e.stored as StoredAggregationState;
      if (result.ok) {
        e.stored = { state: stored.state, version: stored.version };
        e.settle = stored.version;
      } else {
        const first = result.outcomes.find((o): o is BackendError => typeof o !== 'string') as BackendError;
        stop(e, new BackendError(first.code, `group "${group.name}": records saved with the state of "${e.id}" could not be written again: ${first.message}`, { cause: first, retryable: first.retryable, group: group.name }));
      }
    }

    // 3. Aggregate each entity's next slice over its stored state, and save state and records together.
    const commits: Commit[] = [];
    for (const e of round) {
      if (e.failed !== undefined) continue;
      const slice = e.records.slice(e.next, e.next + e.take);
      const start = e.stored ? resumeState(e.stored.state) : emptyState();
      const session = memorySession(new Map([[e.id, start]]));
      const done = pipeline.completeBatch({ prepared: [...slice], failures: [] }, { ...positioned, aggregation: session });
      // A record the online store cannot hold is poison like one the encoder refused: kept in the
      // outbox, it would fail again on every redelivery and hold the entity back for good.
      const unheld = done.records.map(unstorable);
      const storable = done.records.filter((_, k) => unheld[k] === undefined);
      commits.push({
        entity: e,
        update: { id: e.id, state: start, expected: e.stored?.version, pending: storable.map((r) => r.encoded) },
        records: storable.map((r) => ({ index: r.index, record: r.encoded })),
        duplicates: done.duplicates,
        late: done.late,
        poison: [...done.failures, ...unheld.flatMap((p) => p ?? [])].sort((a, b) => a.index - b.index),
        size: slice.length,
      });
    }
    // Records the encoder refused are dead-lettered before their state is saved: once saved, a
    // redelivered copy would be skipped as already applied, so the sink must have them first.
    const refused = commits.filter((c) => c.poison.length > 0);
    if (refused.length > 0) {
      const sent = await deps.poison(refused.flatMap((c) => c.poison));
      const failed = sent.find((o) => o.status === 'failed');
      if (failed?.status === 'failed') for (const c of refused) stop(c.entity, failed.error);
    }
    const ready = commits.filter((c) => c.entity.failed === undefined);
    // Every record a duplicate: nothing to save (the stored state already holds them).
    const toSave = ready.filter((c) => c.duplicates.length < c.size);
    let saved: Awaited<ReturnType<AggregationStateStore['save']>>;
    try {
      saved = toSave.length > 0 ? await states.save(group, toSave.map((c) => c.update)) : [];
    } catch (cause) {
      saved = toSave.map(() => stateError(group, 'writing aggregation state', cause));
    }
    const committed: Commit[] = [];
    for (const c of ready) {
      const i = toSave.indexOf(c);
      const outcome = i < 0 ? 'unchanged' : saved[i];
      const e = c.entity;
      if (outcome === 'saved' || outcome === 'unchanged') committed.push(c);
      else if (outcome === 'conflict') {
        conflicts++;
        if (++e.conflicts >= MAX_CONFLICTS) {
          stop(
            e,
            new BackendError('STATE_CONFLICT', `group "${group.name}": the aggregation state of "${e.id}" kept changing while this batch ran (is the stream partitioned by the record identifier?)`, {
              retryable: true,
              group: group.name,
            }),
          );
        } else e.loaded = false;
      } else if (outcome === 'too-large') {
        if (c.size > 1) e.take = Math.ceil(c.size / 2);
        else {
          stop(e, new BackendError('WRITE_FAILED', `group "${group.name}": one record of "${e.id}" and its aggregation state do not fit one state item`, { group: group.name }));
        }
      } else stop(e, outcome as BackendError);
    }

    // 4. Write what was committed; an entity goes on to its next slice only when all of it was written.
    const written = await writeAll(committed.map((c) => ({ entity: c.entity, records: c.records })));
    for (const c of committed) {
      const e = c.entity;
      const result = written.get(e) as { ok: boolean; outcomes: WriteOutcome[] };
      c.records.forEach((r, k) => {
        const outcome = result.outcomes[k] as WriteOutcome;
        outcomes.push(typeof outcome !== 'string' ? { index: r.index, status: 'failed', error: outcome } : { index: r.index, status: outcome });
      });
      for (const index of c.duplicates) outcomes.push({ index, status: 'duplicate' });
      for (const p of c.poison) outcomes.push({ index: p.index, status: 'poison', error: p.error });
      late += c.late.length;
      e.next += c.size;
      const savedVersion = c.duplicates.length < c.size ? (c.update.expected ?? 0) + 1 : undefined;
      if (savedVersion !== undefined) {
        e.stored = { state: c.update.state, version: savedVersion };
        // A save replaced the outbox; settled only once all of its records were written.
        e.settle = result.ok && c.records.length > 0 ? savedVersion : undefined;
      }
      if (!result.ok) {
        stop(e, new BackendError('WRITE_FAILED', `group "${group.name}": not written, an earlier record of "${e.id}" was not written`, { retryable: true, group: group.name }));
      }
    }
  }

  // Records that never got to a write: reported, so Lambda redelivers them.
  for (const e of entities.values()) {
    if (e.failed === undefined) continue;
    for (const r of e.records.slice(e.next)) outcomes.push({ index: r.index, status: 'failed', error: e.failed });
  }
  const settled: AggregationSettle[] = [];
  for (const e of entities.values()) if (e.settle !== undefined) settled.push({ id: e.id, version: e.settle });
  if (settled.length > 0) {
    try {
      await states.settle(group, settled);
    } catch {
      // An outbox left unsettled is written again by the entity's next reader: duplicates, never losses.
    }
  }
  outcomes.sort((a, b) => a.index - b.index);
  return summarize(outcomes, { retried, late, conflicts, reemitted });
};
