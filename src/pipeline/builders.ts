import { DefinitionError } from '../errors.js';
import { type Aggregation, aggregationSpec, type AggregationKind, compileAggregations, type WindowOptions } from '../schema/aggregation-spec.js';
import { createReducer } from './reducer.js';
import type { AggregationRuntime } from './runtime.js';
import { ingestWithState } from './stateful-ingest.js';

// The aggregation builders. Each aggregate carries the runtime (compiler, reducer, the ingest with
// stored state), so a program whose groups have none bundles none of it.

const runtime: AggregationRuntime = { compile: compileAggregations, createReducer, ingest: ingestWithState };

function make<K extends AggregationKind, F extends string | undefined, N extends number>(kind: K, feature: F, options: WindowOptions, n: N, limit?: number): Aggregation<K, F, N> {
  return aggregationSpec(kind, feature, options, n, limit, runtime);
}

/**
 * The number of the entity's events in the window (the event itself included).
 *
 * ### Example
 * ```ts
 * aggregations: { txn_count_1h: count({ window: '1h' }) }
 * ```
 */
export function count(options: WindowOptions): Aggregation<'count', undefined, 1> {
  return make('count', undefined, options, 1);
}

/**
 * The sum of a numeric feature over the window, summed exactly (the result does not depend on the
 * order or grouping of the events, so stream batches and a backfill give the same bits).
 *
 * ### Example
 * ```ts
 * aggregations: { amount_sum_24h: sum('amount', { window: '24h' }) }
 * ```
 */
export function sum<const F extends string>(feature: F, options: WindowOptions): Aggregation<'sum', F, 1> {
  return make('sum', feature, options, 1);
}

/**
 * The mean of a numeric feature over the window; absent when no event in it has the feature.
 *
 * ### Example
 * ```ts
 * aggregations: { amount_avg_7d: avg('amount', { window: '7d' }) }
 * ```
 */
export function avg<const F extends string>(feature: F, options: WindowOptions): Aggregation<'avg', F, 1> {
  return make('avg', feature, options, 1);
}

/**
 * The smallest value of a numeric feature in the window; absent when there is none.
 *
 * ### Example
 * ```ts
 * aggregations: { amount_min_24h: min('amount', { window: '24h' }) }
 * ```
 */
export function min<const F extends string>(feature: F, options: WindowOptions): Aggregation<'min', F, 1> {
  return make('min', feature, options, 1);
}

/**
 * The largest value of a numeric feature in the window; absent when there is none.
 *
 * ### Example
 * ```ts
 * aggregations: { amount_max_24h: max('amount', { window: '24h' }) }
 * ```
 */
export function max<const F extends string>(feature: F, options: WindowOptions): Aggregation<'max', F, 1> {
  return make('max', feature, options, 1);
}

/**
 * The latest value of a feature in the window (greatest event time; on a tie, the one processed
 * last), or with `n > 1` the latest `n` values as a list, newest first. Lists are collection features,
 * which SageMaker allows only with `onlineStorageType: 'InMemory'`.
 *
 * ### Example
 * ```ts
 * aggregations: { last_country: last('country', { window: '7d' }), last_3_amounts: last('amount', { window: '7d', n: 3 }) }
 * ```
 */
export function last<const F extends string>(feature: F, options: WindowOptions & { readonly n?: 1 }): Aggregation<'last', F, 1>;
export function last<const F extends string, const N extends number>(feature: F, options: WindowOptions & { readonly n: N }): Aggregation<'last', F, N>;
export function last(feature: string, options: WindowOptions & { readonly n?: number }): Aggregation<'last', string, number> {
  const n = options?.n ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new DefinitionError('INVALID_OPTION', `last('${feature}'): n must be an integer from 1 to 100`);
  return make('last', feature, options, n);
}

/**
 * The number of distinct values of a feature in the window, exact up to `limit` (default 100). Past
 * the bound the value is `limit` itself: read it as "at least `limit`". The bound keeps the entity's
 * state small enough for one DynamoDB item.
 *
 * ### Example
 * ```ts
 * aggregations: { merchants_24h: distinctCount('merchant_id', { window: '24h', limit: 500 }) }
 * ```
 */
export function distinctCount<const F extends string>(feature: F, options: WindowOptions & { readonly limit?: number }): Aggregation<'distinctCount', F, 1> {
  const limit = options?.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
    throw new DefinitionError('INVALID_OPTION', `distinctCount('${feature}'): limit must be an integer from 1 to 10,000`);
  }
  return make('distinctCount', feature, options, 1, limit);
}

