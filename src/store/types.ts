import type { BackendError } from '../errors.js';
import type { OnlineWriteStatus } from '../pipeline/outcomes.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { GroupSchema, TtlDuration } from '../schema/sagemaker-record.js';

/** One record's outcome: a status, or the error that stopped it (after the backend's retries). */
export type OnlineWriteOutcome = OnlineWriteStatus | BackendError;

/** A record as an online store returns it. */
export interface OnlineRecord {
  readonly record: SageMakerRecord;
  /** When the record expires, if it was written with a TTL. */
  readonly expiresAt?: Date;
}

export type DeletionMode = 'SoftDelete' | 'HardDelete';

/** What became of a delete: done, refused because the stored record is not older (`stale`), or taken by a service that does not say (`accepted`). */
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
   * A record that cannot be written is reported as its error; the others are still written. A record
   * holding a value the backend cannot store (a number outside DynamoDB's range) is refused before it
   * is sent, as a `BackendError` with code `INVALID_VALUE` and `retryable` false: the feature store
   * treats it as poison, and the identifier's later records are still written.
   */
  put(group: GroupSchema, records: readonly SageMakerRecord[], options?: OnlinePutOptions): Promise<OnlineWriteOutcome[]>;
  /**
   * Why the backend cannot hold a record, asked before anything is written: the `INVALID_VALUE`
   * error `put` would report for it, or undefined. A backfill asks before it writes the offline
   * files, and the ingest of a group with aggregations before it saves the state's outbox, so such
   * a record is poison in both tiers and never written again on a redelivery (its event still counts
   * in the aggregates). Optional: a backend that can hold any record need not have it.
   */
  unstorable?(group: GroupSchema, record: SageMakerRecord): BackendError | undefined;
  /** True when the backend also delivers every record to the offline store (SageMaker PutRecord does). */
  readonly writesOffline?: boolean;
  get(group: GroupSchema, id: string, options?: { readonly features?: readonly string[] }): Promise<OnlineRecord | undefined>;
  /** Reads many identifiers; identifiers with no (live) record are absent from the map. */
  getMany(group: GroupSchema, ids: readonly string[], options?: { readonly features?: readonly string[] }): Promise<Map<string, OnlineRecord>>;
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

/**
 * Storage of the offline tier. A backend with its own training engine (the embedded DuckDB store,
 * `athenaOffline`) also implements `TrainingEngine` (training sets use it; others are joined in memory).
 */
export interface OfflineStore {
  append(group: GroupSchema, writes: readonly OfflineWrite[], options?: OfflineAppendOptions): Promise<void>;
  /** Every row of the group, in no particular order. */
  scan(group: GroupSchema): Promise<OfflineStoredRow[]>;
  /**
   * Deletes the group's data files, in every partition, whose name (without `.parquet`) `select`
   * picks; resolves to how many. How a backfill run from the start removes what an earlier run of
   * the same input wrote under other names (another chunk size, another plan of shards). Stores
   * without named files leave it out, and a backfill then only replaces files by name.
   */
  removeFiles?(group: GroupSchema, select: (fileName: string) => boolean): Promise<number>;
  /**
   * How long a row appended here may take to reach `scan`, as a duration: `'0s'` for a store that
   * reads back what it has written at once (the embedded store, `parquetDirOffline`, `memoryOffline`). The audit's default
   * `availabilityDelay`; a store that cannot say (one SageMaker or Firehose delivers to) leaves it
   * out, and the audit assumes the 15 minutes SageMaker documents.
   */
  readonly availabilityDelay?: string;
  close(): Promise<void>;
}
