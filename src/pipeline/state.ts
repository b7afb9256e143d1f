import type { BackendError } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { EntityState, StoredEntityState } from './reducer.js';

// Where the ingest of a group with aggregations keeps each entity's window state: the interface its
// backends (DynamoDB, the embedded DuckDB, memory) implement.

/**
 * An entity's aggregation state as stored, with the version its conditional write compares and the
 * records its last commit produced that are not yet known to be written (its outbox).
 */
export interface StoredAggregationState {
  readonly state: StoredEntityState;
  readonly version: number;
  /**
   * Records saved with this state and not settled since: whoever loads the state next writes them
   * again (before anything newer of the entity), so a crash between saving and writing loses none.
   */
  readonly pending?: readonly SageMakerRecord[];
}

/**
 * One entity's new state, written only if the stored version is still `expected` (undefined: none
 * stored yet), together with the records it produced (saved in the same item, as its outbox).
 */
export interface AggregationStateUpdate {
  readonly id: string;
  readonly state: EntityState;
  readonly expected: number | undefined;
  /** The records to write after the save; they replace the stored outbox. */
  readonly pending?: readonly SageMakerRecord[];
}

/**
 * What became of one state write: saved, refused because another writer got there first, refused
 * because state and records together would not fit one item (`too-large`: save fewer records at a
 * time), or failed.
 */
export type AggregationSaveOutcome = 'saved' | 'conflict' | 'too-large' | BackendError;

/** An entity whose outbox was written in full: the outbox saved with `version` counts as written from then on. */
export interface AggregationSettle {
  readonly id: string;
  readonly version: number;
}

/**
 * Where the stream keeps each entity's aggregation state between batches: one record per entity,
 * read once per batch and saved with single-record conditional writes (no transactions).
 */
export interface AggregationStateStore {
  /** The states of these entities; entities with none are absent. */
  load(group: GroupSchema, ids: readonly string[]): Promise<Map<string, StoredAggregationState>>;
  /** Writes each state (and its outbox) if its stored version is still the expected one. One outcome per update, in order. */
  save(group: GroupSchema, updates: readonly AggregationStateUpdate[]): Promise<AggregationSaveOutcome[]>;
  /**
   * Records that the outboxes of these entities were written in full, so the next reader does not
   * write them again. One that fails, or names a version no longer stored, leaves the stored outbox
   * counting as unwritten: the next reader writes it once more (a duplicate, never a loss).
   */
  settle(group: GroupSchema, settled: readonly AggregationSettle[]): Promise<void>;
  close(): Promise<void>;
}
