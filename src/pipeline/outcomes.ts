import type { BackendError, RecordError } from '../errors.js';

// What a write reports per record and in all: the same shape for store.ingest, store.put and the
// ingest with aggregation state.

/** What became of one record written to an online store. */
export type OnlineWriteStatus =
  /** It is now the stored record for its identifier. */
  | 'applied'
  /** Its event time is not newer than the stored record's: it belongs to history (offline) only. */
  | 'stale'
  /** The service took it and applies the write rule itself without saying which way (SageMaker). */
  | 'accepted';

/** What became of one input record. */
export type RecordOutcome =
  /** `duplicate`: a redelivered record its entity's aggregation state had already applied; not written again. */
  | { readonly index: number; readonly status: 'applied' | 'stale' | 'accepted' | 'duplicate' }
  | { readonly index: number; readonly status: 'poison'; readonly error: RecordError }
  | { readonly index: number; readonly status: 'failed'; readonly error: BackendError };

/** The outcome of `ingest` or `put`: one entry per input record, and the counts. */
export interface WriteSummary {
  readonly outcomes: RecordOutcome[];
  /** Records that became the online record of their identifier. */
  readonly applied: number;
  /** Records older than the online record: written offline only. */
  readonly stale: number;
  /** Records a service took without saying which way the write rule went (SageMaker). */
  readonly accepted: number;
  readonly poison: number;
  readonly failed: number;
  /** Calls the online backend retried (throttling, 5xx, unprocessed leftovers) on the way. */
  readonly retried: number;
  /** Redelivered records the aggregation state had already applied (groups with aggregations). */
  readonly duplicate: number;
  /** Records older than the allowed lateness: written, but left out of their entity's aggregates. */
  readonly late: number;
  /**
   * Saves of an entity's aggregation state that found another writer's newer version (another
   * Lambda instance, or a stale cache): the state was read again and the records aggregated again.
   */
  readonly conflicts: number;
  /**
   * Records written again from an entity's outbox: produced by an earlier commit whose writes were
   * not confirmed (a crash, a timeout, a failed write). Online they change nothing; offline they may
   * add a row with the same values.
   */
  readonly reemitted: number;
}

/** Counts a write reports beside its outcomes. */
export interface WriteCounts {
  readonly retried: number;
  readonly late?: number;
  readonly conflicts?: number;
  readonly reemitted?: number;
}

/** The counts of a write's outcomes. */
export function summarize(outcomes: RecordOutcome[], counts: WriteCounts): WriteSummary {
  const statuses = { applied: 0, stale: 0, accepted: 0, duplicate: 0, poison: 0, failed: 0 };
  for (const outcome of outcomes) statuses[outcome.status]++;
  return { outcomes, ...statuses, retried: counts.retried, late: counts.late ?? 0, conflicts: counts.conflicts ?? 0, reemitted: counts.reemitted ?? 0 };
}
