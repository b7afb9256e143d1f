import type { ValueKind } from '../schema/feature-spec.js';
import type { OfflineStore } from '../store/types.js';
import type { TrainingPlan } from '../sql/plan.js';

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

/**
 * A backend's own point-in-time engine (DuckDB for the embedded store, Athena for `athenaOffline`):
 * what an offline store supplies besides storage when it can join where its data lives.
 */
export interface TrainingEngine {
  /** The join for a spine's keys and times; per step and row, the chosen row's selected features or null. */
  pointInTimeJoin(plan: TrainingPlan, spine: SpineKeys): Promise<JoinedValues>;
  /**
   * The whole training set, file to file; resolves to undefined when this spine (its column types) is
   * not one it reads exactly as the row path does, and the caller takes that path.
   */
  trainingSetToFile?(plan: TrainingPlan, request: FileTrainingRequest): Promise<FileTrainingResult | undefined>;
}

/** The offline store's own training engine, if it has one. */
export function trainingEngineOf(offline: OfflineStore): (OfflineStore & TrainingEngine) | undefined {
  return typeof (offline as Partial<TrainingEngine>).pointInTimeJoin === 'function' ? (offline as OfflineStore & TrainingEngine) : undefined;
}
