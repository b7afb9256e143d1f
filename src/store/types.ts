import type { BackendError } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { GroupSchema, TtlDuration } from '../schema/sagemaker-record.js';
import type { TrainingPlan } from '../training/plan.js';
import type { EntityState } from '../pipeline/aggregate.js';
import type { ValueKind } from '../schema/feature-spec.js';

/** What became of one record written to an online store. */
export type OnlineWriteStatus =
  /** It is now the stored record for its identifier. */
  | 'applied'
  /** Its event time is not newer than the stored record's: it belongs to history (offline) only. */
  | 'stale'
  /** The service took it and applies the write rule itself without saying which way (SageMaker). */
  | 'accepted';

/** One record's outcome: a status, or the error that stopped it (after the backend's retries). */
export type OnlineWriteOutcome = OnlineWriteStatus | BackendError;

/** A record as an online store returns it. */
export interface OnlineRecord {
  readonly record: SageMakerRecord;
  /** When the record expires, if it was written with a TTL. */
  readonly expiresAt?: Date;
}

export type DeletionMode = 'SoftDelete' | 'HardDelete';

/** What became of a delete: done, or refused because the stored record is newer (see DESIGN.md). */
export type DeleteStatus = 'deleted' | 'stale' | 'accepted';

export interface OnlinePutOptions {
  /** Expire the records this long after their event time, as SageMaker's TtlDuration does. */
  readonly ttl?: TtlDuration;
  /**
   * Epoch milliseconds after which no new write starts; records not started are reported as
   * retryable `DEADLINE_EXCEEDED` failures (a Lambda running out of time).
   */
  readonly deadline?: number;
  /** Called once for every retried call (throttling, 5xx, leftovers), so callers can count retries. */
  readonly onRetry?: () => void;
}

/**
 * The online tier: one record per identifier, the newest by event time. Every backend applies the
 * same rule: a record replaces the stored one only if its event time is strictly greater.
 */
export interface OnlineStore {
  /**
   * Writes records, in order for each identifier; returns one outcome per record, in input order.
   * A record that cannot be written is reported as its error; the others are still written.
   */
  put(group: GroupSchema, records: readonly SageMakerRecord[], options?: OnlinePutOptions): Promise<OnlineWriteOutcome[]>;
  /** True when the backend also delivers every record to the offline store (SageMaker PutRecord does). */
  readonly writesOffline?: boolean;
  get(group: GroupSchema, id: string, options?: { readonly features?: readonly string[] }): Promise<OnlineRecord | undefined>;
  /** Reads many identifiers; identifiers with no (live) record are absent from the map. */
  getMany(group: GroupSchema, ids: readonly string[]): Promise<Map<string, OnlineRecord>>;
  /**
   * Deletes as SageMaker's DeleteRecord does; `eventTime` must be newer than the stored record's.
   * A backend that writes offline itself also writes the delete marker.
   */
  delete(group: GroupSchema, id: string, eventTime: string, mode: DeletionMode): Promise<DeleteStatus>;
  close(): Promise<void>;
}

/** One row appended to the offline store: a written record, or a delete marker. */
export interface OfflineWrite {
  /** The record; for a delete marker only the identifier and event time features. */
  readonly record: SageMakerRecord;
  readonly writeTime: Date;
  readonly apiInvocationTime: Date;
  readonly isDeleted: boolean;
}

/** A row read back from the offline store: features (typed per the group) plus SageMaker's columns. */
export type OfflineStoredRow = Record<string, unknown> & {
  readonly write_time: Date;
  readonly api_invocation_time: Date;
  readonly is_deleted: boolean;
};

/** The offline tier: every write and delete marker, appended, laid out as SageMaker's Glue-format store. */
export interface OfflineAppendOptions {
  /**
   * Name the data file `<fileName>.parquet` in each partition the writes fall in, replacing a file of
   * that name: how backfills make a rerun replace its output instead of duplicating it.
   * Default: a new unique name per write.
   */
  readonly fileName?: string;
}

/** The spine as a point-in-time join needs it: per row its time, and per join step its key. */
export interface SpineKeys {
  readonly times: readonly number[];
  /** `keys[step][row]`: the record identifier to look up, as text; undefined never matches. */
  readonly keys: readonly (readonly (string | undefined)[])[];
}

/** `values[step][row]`: the chosen row's selected features as offline values, or null for no match. */
export type JoinedValues = (Record<string, unknown> | null)[][];

/** How one selected feature's stored value reads back as its type (see the group's codec). */
export interface FeatureDecoding {
  readonly kind: ValueKind;
  /** A Date feature stored as epoch seconds (the group's `eventTimeFormat: 'epoch-seconds'`). */
  readonly dateAsEpoch: boolean;
}

/** A training set an engine runs from spine file to output file, without rows passing through JavaScript. */
export interface FileTrainingRequest {
  readonly spine: { readonly parquet: string } | { readonly csv: string };
  readonly output: { readonly parquet: string };
  /** `decoding[step][feature]`, in the order of the plan's selected features. */
  readonly decoding: readonly (readonly FeatureDecoding[])[];
}

export interface FileTrainingResult {
  readonly rows: number;
  /** Per step: how many spine rows found a (non-deleted, fresh) row. */
  readonly matched: readonly number[];
  /** Per step, per selected feature: how many output rows hold null. */
  readonly nulls: readonly (readonly number[])[];
}

export interface OfflineStore {
  /**
   * Runs the point-in-time join in the backend's own engine (DuckDB locally, Athena on AWS).
   * Stores without one are joined by the in-memory reference engine over `scan`.
   */
  pointInTimeJoin?(plan: TrainingPlan, spine: SpineKeys): Promise<JoinedValues>;
  /**
   * Runs the whole training set in the engine, file to file; resolves to undefined when this spine
   * (its column types) is not one it reads exactly as the row path does, and the caller takes that path.
   */
  trainingSetToFile?(plan: TrainingPlan, request: FileTrainingRequest): Promise<FileTrainingResult | undefined>;
  append(group: GroupSchema, writes: readonly OfflineWrite[], options?: OfflineAppendOptions): Promise<void>;
  /** Every row of the group, in no particular order. */
  scan(group: GroupSchema): Promise<OfflineStoredRow[]>;
  close(): Promise<void>;
}

/**
 * An entity's aggregation state as stored, with the version its conditional write compares and the
 * records its last commit produced that are not yet known to be written (its outbox).
 */
export interface StoredAggregationState {
  readonly state: EntityState;
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

/** An entity whose outbox was written in full: its records are removed if the state is still at `version`. */
export interface AggregationSettle {
  readonly id: string;
  readonly version: number;
}

/**
 * Where the stream keeps each entity's aggregation state between batches: one item per entity,
 * read once per batch and written with single-item conditional writes (no transactions).
 */
export interface AggregationStateStore {
  /** The states of these entities; entities with none are absent. */
  load(group: GroupSchema, ids: readonly string[]): Promise<Map<string, StoredAggregationState>>;
  /** Writes each state (and its outbox) if its stored version is still the expected one. One outcome per update, in order. */
  save(group: GroupSchema, updates: readonly AggregationStateUpdate[]): Promise<AggregationSaveOutcome[]>;
  /**
   * Empties the outbox of entities whose records were all written. A settle that fails or finds a
   * newer version changes nothing (the records are then written once more by the next reader).
   */
  settle(group: GroupSchema, settled: readonly AggregationSettle[]): Promise<void>;
  close(): Promise<void>;
}
