// What marks request features and what they carry for the engines, apart from how they are defined.
import type { FeatureSpec, ValueKind } from '../schema/feature-spec.js';
import type { AnyFeatureColumns, AnyFeatureSelection, AnyRequestFeatures } from '../schema/types.js';

/** A column the request features add: its name and how a training file types it. */
export interface RequestOutputColumn {
  readonly name: string;
  readonly kind: ValueKind;
  readonly list: boolean;
  /** The name of the request features that compute it. */
  readonly from: string;
}

export interface FeatureListPlan {
  /** What to join, in order: the listed selections, then the reads no listed selection covers. */
  readonly selections: readonly AnyFeatureSelection[];
  /** How many of `selections` were listed; the others' columns are read for request features and dropped. */
  readonly listed: number;
  /** The request features' output columns, in list order: after the selections' columns in every row. */
  readonly outputs: readonly RequestOutputColumn[];
  /** The columns of the steps past `listed`: read for request features only, and dropped from each row. */
  readonly hidden: readonly string[];
  /** True when the list holds request features (a training set then builds its rows in JavaScript). */
  readonly hasRequestFeatures: boolean;
  /**
   * Runs the request features over one joined row (request values from its columns), writes their
   * outputs and drops the columns only they read. `unavailable(step)` says the join step's read failed
   * for this row: request features reading it then give nulls, as the step's own columns do.
   */
  completeRow(row: Record<string, unknown>, index: number, source: RequestRowSource, unavailable?: (step: number) => boolean): void;
}

/** Where a request feature's row comes from, for its errors: a spine row or an entity row. */
export type RequestRowSource = 'training-set' | 'feature-vectors';

// A registered symbol, so request features made by one copy of skewless are recognised by another.
export const REQUEST_FEATURES = Symbol.for('skewless.requestFeatures');
export const INTERNALS = Symbol.for('skewless.requestFeaturesInternals');

/** What the engines need of request features beside their public face. */
export interface RequestFeaturesInternals {
  /** The request schema's fields: the columns read off a spine or entity row. */
  readonly requestFields: readonly string[];
  /** Each output's kind, in the `features` schema's order (what a training file's column is typed by). */
  readonly outputs: readonly FeatureSpec[];
  /**
   * Plans a `features` list holding request features: brought by them, so a program that lists none
   * (a Lambda serving selections only) carries neither the planning nor the transform runner.
   */
  readonly planList: (features: readonly AnyFeatureColumns[], entityKey: string, maxAge: string | undefined) => FeatureListPlan;
}

/**
 * True when `value` was made by `defineRequestFeatures`.
 *
 * ### Example
 * ```ts
 * const requestOnly = features.filter(isRequestFeatures);
 * ```
 */
export function isRequestFeatures(value: unknown): value is AnyRequestFeatures {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[REQUEST_FEATURES] === true;
}

export function requestFeaturesInternals(features: AnyRequestFeatures): RequestFeaturesInternals {
  return (features as unknown as { readonly [INTERNALS]: RequestFeaturesInternals })[INTERNALS];
}

