import { BackendError, type RecordError } from '../errors.js';
import { pipelineOf } from '../define.js';
import { cloneState, emptyState, type EntityState } from '../pipeline/aggregate.js';
import { memorySession, type PreparedRecord } from '../pipeline/pipeline.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { IngestOptions, RecordOutcome, WriteSummary } from './feature-store.js';
import { summarize } from './summary.js';
import type { AggregationStateStore, AggregationStateUpdate, StoredAggregationState } from './types.js';

/** What the aggregated ingest needs of the store it runs in. */
export interface AggregatedIngestDeps {
  readonly states: AggregationStateStore;
  /** Dead-letters pipeline failures; the outcomes say which the sink took. */
  poison(failures: readonly { index: number; error: RecordError }[]): Promise<RecordOutcome[]>;
  /** Writes encoded records online and offline; `done` are outcomes decided already (poison, duplicates). */
  write(encoded: { index: number; record: SageMakerRecord }[], done: RecordOutcome[]): Promise<WriteSummary>;
}

/** What the builders hand the store through their hooks. */
export type AggregatedIngest = typeof ingestWithAggregates;

/**
 * Ingest for a group with aggregations: validate and transform, load the batch's entities' state
 * (one read), aggregate in input order, write the records, then save each entity's state with one
 * conditional write. The saved state covers an entity's records up to its first record that was
 * not written, so whatever Lambda redelivers is aggregated again from the same state (the same
 * values), and what was saved is recognised by its stream position and not counted twice.
 */
export async function ingestWithAggregates(group: AnyFeatureGroup, raw: readonly unknown[], ingestOptions: IngestOptions, deps: AggregatedIngestDeps): Promise<WriteSummary> {
  const pipeline = pipelineOf(group);
  const positioned = ingestOptions.position ? { position: ingestOptions.position } : {};
  const batch = pipeline.prepareBatch(raw, positioned);
  const byEntity = new Map<string, PreparedRecord[]>();
  for (const p of batch.prepared) {
    const list = byEntity.get(p.id);
    if (list) list.push(p);
    else byEntity.set(p.id, [p]);
  }
  const { states } = deps;
  let loaded: Map<string, StoredAggregationState>;
  try {
    loaded = byEntity.size > 0 ? await states.load(group, [...byEntity.keys()]) : new Map();
  } catch (cause) {
    const error = new BackendError('READ_FAILED', `group "${group.name}": reading aggregation state failed: ${(cause as Error).message}`, {
      cause,
      retryable: true,
      group: group.name,
    });
    const poison = await deps.poison(batch.failures);
    return summarize([...poison, ...batch.prepared.map((p): RecordOutcome => ({ index: p.index, status: 'failed', error }))].sort((a, b) => a.index - b.index), 0);
  }
  const startOf = (id: string): EntityState => {
    const found = loaded.get(id);
    return found ? cloneState(found.state) : emptyState();
  };
  const working = new Map<string, EntityState>([...byEntity.keys()].map((id) => [id, startOf(id)]));
  const result = pipeline.completeBatch(batch, { ...positioned, aggregation: memorySession(working) });
  const poison = await deps.poison(result.failures);
  const duplicates = result.duplicates.map((index): RecordOutcome => ({ index, status: 'duplicate' }));
  const summary = await deps.write(result.records.map((r) => ({ index: r.index, record: r.encoded })), [...poison, ...duplicates]);
  const outcomes = [...summary.outcomes];

  const failed = new Set(outcomes.filter((o) => o.status === 'failed').map((o) => o.index));
  const duplicate = new Set(result.duplicates);
  const updates: AggregationStateUpdate[] = [];
  for (const [id, records] of byEntity) {
    const firstFailed = records.findIndex((r) => failed.has(r.index));
    let state = working.get(id) as EntityState;
    if (firstFailed === 0) continue;
    if (firstFailed > 0) {
      // Only what will not be redelivered: the entity's records before its first unwritten one.
      const replay = memorySession(new Map([[id, startOf(id)]]));
      pipeline.completeBatch({ prepared: records.slice(0, firstFailed), failures: [] }, { ...positioned, aggregation: replay });
      state = replay.states.get(id) as EntityState;
    }
    if (records.every((r) => duplicate.has(r.index))) continue;
    updates.push({ id, state, expected: loaded.get(id)?.version });
  }
  if (updates.length > 0) {
    let saved: Awaited<ReturnType<AggregationStateStore['save']>>;
    try {
      saved = await states.save(group, updates);
    } catch (cause) {
      saved = updates.map(() => new BackendError('WRITE_FAILED', `group "${group.name}": writing aggregation state failed: ${(cause as Error).message}`, { cause, retryable: true, group: group.name }));
    }
    saved.forEach((outcome, i) => {
      if (outcome === 'saved') return;
      const { id } = updates[i] as AggregationStateUpdate;
      const error =
        outcome === 'conflict'
          ? new BackendError('STATE_CONFLICT', `group "${group.name}": the aggregation state of "${id}" changed while this batch ran (is the stream partitioned by the record identifier?)`, {
              retryable: true,
              group: group.name,
            })
          : outcome;
      // Written, but their state is not: redelivered, they are aggregated again from the stored state.
      const mine = new Set((byEntity.get(id) as PreparedRecord[]).map((r) => r.index));
      for (let k = 0; k < outcomes.length; k++) {
        const o = outcomes[k] as RecordOutcome;
        if (mine.has(o.index) && o.status !== 'duplicate' && o.status !== 'poison') outcomes[k] = { index: o.index, status: 'failed', error };
      }
    });
  }
  return summarize(outcomes, summary.retried, result.late.length);
}
