import { DefinitionError } from '../errors.js';
import type { AggregationCompiler, CompiledAggregations } from '../schema/aggregation-spec.js';
import type { Reducer } from './reducer.js';
import type { StatefulIngest } from './stateful-ingest.js';

/**
 * What the aggregation builders bring with every aggregate they make: the compiler, the reducer, and
 * the ingest that keeps each entity's state in a store. A group gets them through its aggregates, so
 * a program whose groups have none (an ingestion Lambda without windows) bundles none of them.
 */
export interface AggregationRuntime extends AggregationCompiler {
  createReducer(compiled: CompiledAggregations): Reducer;
  readonly ingest: StatefulIngest;
}

function isRuntime(value: unknown): value is AggregationRuntime {
  if (typeof value !== 'object' || value === null) return false;
  const { compile, createReducer, ingest } = value as Partial<Record<keyof AggregationRuntime, unknown>>;
  return typeof compile === 'function' && typeof createReducer === 'function' && typeof ingest === 'function';
}

/** The runtime of a group's aggregates; undefined when it has none. */
export function aggregationRuntimeOf(aggregations: unknown, group: string): AggregationRuntime | undefined {
  if (aggregations === undefined) return undefined;
  if (typeof aggregations !== 'object' || aggregations === null || Array.isArray(aggregations)) {
    throw new DefinitionError('INVALID_OPTION', `group "${group}": aggregations must be an object of count(), sum(), ... by feature name`, { group });
  }
  const first: unknown = Object.values(aggregations)[0];
  if (first === undefined) return undefined;
  const runtime = typeof first === 'object' && first !== null && 'runtime' in first ? first.runtime : undefined;
  if (!isRuntime(runtime)) {
    throw new DefinitionError('INVALID_OPTION', `group "${group}": aggregations must be made by count(), sum(), avg(), min(), max(), last() or distinctCount()`, { group });
  }
  return runtime;
}
