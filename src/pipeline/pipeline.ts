import * as zc from 'zod/v4/core';
import {
  ConfigurationError,
  FeatureValidationError,
  type RecordError,
  type SkewlessIssue,
  SourceValidationError,
  type SourcePosition,
  summarizeIssues,
  TransformError,
} from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import { describeValue, notAnObject } from '../util/options.js';
import type { CompiledDefinition } from '../schema/compile.js';
import type { FeatureSpec } from '../schema/feature-spec.js';
import type { BatchOptions, BatchResult, ProcessResult } from '../schema/types.js';
import { emptyState, type EntityState, type Reducer, streamOrderOf } from './reducer.js';

/** Entity states a batch aggregates over, by record identifier (as text). */
export interface AggregationSession {
  /** The entity's state, created empty the first time it is asked for; the reducer updates it in place. */
  state(id: string): EntityState;
}

/** A record that passed validation and the transform, before aggregation and encoding. */
export interface PreparedRecord {
  readonly index: number;
  readonly record: Record<string, unknown>;
  /** Its record identifier as text: the entity its aggregates belong to. */
  readonly id: string;
}

export interface PreparedBatch {
  readonly prepared: PreparedRecord[];
  readonly failures: BatchResult<unknown>['failures'];
}

/** Entity states held in memory: what a batch without stored state (and every backfill replay) starts from. */
export function memorySession(states: Map<string, EntityState> = new Map()): AggregationSession & { readonly states: Map<string, EntityState> } {
  return {
    states,
    state(id) {
      let state = states.get(id);
      if (!state) states.set(id, (state = emptyState()));
      return state;
    },
  };
}

/**
 * The one path from a raw event to an encoded record:
 * validate source -> transform -> validate features -> aggregate -> encode.
 * Lambda handlers, backfills and `store.ingest` all call this; none re-implements a step.
 */
export interface Pipeline<R> {
  process(raw: unknown, position?: SourcePosition): ProcessResult<R>;
  /** The stages after the transform, for records that are already features (`store.put`). */
  processRecord(record: unknown, position?: SourcePosition): ProcessResult<R>;
  /** The whole pipeline; aggregates start from empty state unless `options.aggregation` holds some. */
  processBatch(raws: readonly unknown[], options?: BatchOptions & { readonly aggregation?: AggregationSession }): BatchResult<R>;
  /** validate -> transform -> validate: what the store needs to know which entities' state to load. */
  prepareBatch(raws: readonly unknown[], options?: BatchOptions): PreparedBatch;
  /** aggregate (in input order, over `session`, or values computed already) -> encode. */
  completeBatch(batch: PreparedBatch, options?: CompleteOptions): BatchResult<R>;
  /** The group's reducer; undefined without aggregations. */
  readonly reducer: Reducer | undefined;
  /** The features the reducer reads. */
  readonly aggregationInputs: readonly string[];
  /** Every feature's spec, and whether Date features are stored as epoch seconds: how stored values read back. */
  readonly specs: readonly FeatureSpec[];
  readonly dateAsEpoch: boolean;
}

export interface CompleteOptions extends BatchOptions {
  readonly aggregation?: AggregationSession;
  /** Aggregate values computed by a replay (backfills): the record at `index` gets these instead. */
  readonly aggregated?: (index: number) => { readonly values: Record<string, unknown>; readonly late: boolean } | undefined;
}

/** A failed record's position: the caller's, else its index in the batch. Built only on failure. */
function at(given: SourcePosition | ((index: number) => SourcePosition) | undefined, index: number | undefined): SourcePosition | undefined {
  if (typeof given === 'function') return given(index as number);
  return given ?? (index === undefined ? undefined : { index });
}

/**
 * The record with its aggregate values added in place (the record is the pipeline's own copy). A
 * spread copy would give every record a fresh dictionary-shaped object, which made encoding 3x slower.
 */
function withValues(record: Record<string, unknown>, values: Record<string, unknown>): Record<string, unknown> {
  for (const name in values) record[name] = values[name];
  return record;
}

/** A record after validation: its features, or the error that stops it. */
type Checked = { readonly error: RecordError; readonly record?: undefined } | { readonly error?: undefined; readonly record: Record<string, unknown> };

/** What one step of the pipeline produced: the value, or the error that stops this record. */
type Step<R> = { readonly error: RecordError; readonly record?: undefined; readonly encoded?: undefined } | {
  readonly error?: undefined;
  readonly record: R;
  readonly encoded: SageMakerRecord;
};

/** The pipeline of a compiled definition; `reducer` computes its aggregates (brought by them, see `AggregationRuntime`). */
export function createPipeline<R>(definition: CompiledDefinition<R>, reducer: Reducer | undefined): Pipeline<R> {
  const { name, parseSource: source, parseFeatures: features, transform, codec, aggregation, recordIdentifier, eventTime } = definition;
  const outputs = aggregation ? aggregation.list.map((a) => a.name) : [];

  /** validate source -> transform -> validate features. */
  const prepare = (raw: unknown, given: SourcePosition | ((index: number) => SourcePosition) | undefined, index?: number): Checked => {
    let parsedSource: zc.util.SafeParseResult<unknown>;
    try {
      parsedSource = zc.safeParse(source, raw);
    } catch (cause) {
      // A user refinement that throws is still a source problem, not a crash.
      return {
        error: new SourceValidationError(`group "${name}": source schema threw while validating`, { position: at(given, index), cause }),
      };
    }
    if (!parsedSource.success) {
      const issues = parsedSource.error.issues;
      return {
        error: new SourceValidationError(`group "${name}": event does not match the source schema${summarizeIssues(issues)}`, {
          position: at(given, index),
          issues,
        }),
      };
    }

    let output: unknown;
    try {
      output = transform(parsedSource.data);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      return { error: new TransformError(`group "${name}": transform threw: ${reason}`, { position: at(given, index), cause }) };
    }
    const what = notAnObject(output);
    if (what !== undefined) {
      return {
        error: new TransformError(
          `group "${name}": transform must return a record object synchronously, got ${what}`,
          { position: at(given, index) },
        ),
      };
    }

    return validate(output, given, index);
  };

  /** Validate features: what follows the transform, shared with records given directly. */
  const validate = (output: unknown, given: SourcePosition | ((index: number) => SourcePosition) | undefined, index?: number): Checked => {
    let parsedFeatures: zc.util.SafeParseResult<unknown>;
    try {
      parsedFeatures = zc.safeParse(features, output);
    } catch (cause) {
      return {
        error: new FeatureValidationError(`group "${name}": features schema threw while validating`, { position: at(given, index), cause }),
      };
    }
    if (!parsedFeatures.success) {
      const issues = parsedFeatures.error.issues;
      return {
        error: new FeatureValidationError(
          `group "${name}": record does not match the features schema${summarizeIssues(issues)}`,
          { position: at(given, index), issues },
        ),
      };
    }

    return { record: parsedFeatures.data as Record<string, unknown> };
  };

  const encode = (record: R, given: SourcePosition | ((index: number) => SourcePosition) | undefined, index?: number): Step<R> => {
    const issues: SkewlessIssue[] = [];
    const encoded = codec.encodeInto(record, issues);
    if (encoded === undefined) {
      return {
        error: new FeatureValidationError(`group "${name}": record cannot be stored in SageMaker${summarizeIssues(issues)}`, {
          position: at(given, index),
          issues,
        }),
      };
    }
    return { record, encoded };
  };

  const result = (step: Step<R>): ProcessResult<R> =>
    step.error ? { ok: false, error: step.error } : { ok: true, record: step.record, encoded: step.encoded };

  const prepareBatch = (raws: readonly unknown[], options: BatchOptions = {}): PreparedBatch => {
    const batch: PreparedBatch = { prepared: [], failures: [] };
    const positionOf = options.position;
    for (let index = 0; index < raws.length; index++) {
      // The position is asked for only when a record fails.
      const checked = prepare(raws[index], positionOf, index);
      if (checked.error) batch.failures.push({ index, error: checked.error });
      else batch.prepared.push({ index, record: checked.record, id: reducer ? String(checked.record[recordIdentifier]) : '' });
    }
    return batch;
  };

  const completeBatch = (batch: PreparedBatch, options: CompleteOptions = {}): BatchResult<R> => {
    const out: BatchResult<R> = { records: [], failures: [...batch.failures], duplicates: [], late: [] };
    const positionOf = options.position;
    const session = reducer ? (options.aggregation ?? memorySession()) : undefined;
    for (const { index, record, id } of batch.prepared) {
      let full = record;
      const given = reducer && options.aggregated ? options.aggregated(index) : undefined;
      if (given) {
        if (given.late) out.late.push(index);
        full = withValues(record, given.values);
      } else if (reducer && session) {
        const position = positionOf?.(index);
        const outcome = reducer.apply(session.state(id), (record[eventTime] as Date).getTime(), record, streamOrderOf(position));
        if (outcome.status === 'duplicate') {
          out.duplicates.push(index);
          continue;
        }
        if (outcome.status === 'late') out.late.push(index);
        full = withValues(record, outcome.values);
      }
      const step = encode(full as R, positionOf, index);
      if (step.error) out.failures.push({ index, error: step.error });
      else out.records.push({ index, record: step.record, encoded: step.encoded });
    }
    if (batch.failures.length > 0 && out.failures.length > batch.failures.length) out.failures.sort((a, b) => a.index - b.index);
    return out;
  };

  /** One record through aggregation (from empty state) and encoding. */
  const single = (checked: Checked, position: SourcePosition | undefined): ProcessResult<R> => {
    if (checked.error) return { ok: false, error: checked.error };
    const done = completeBatch(
      { prepared: [{ index: 0, record: checked.record, id: String(checked.record[recordIdentifier]) }], failures: [] },
      position ? { position: () => position } : {},
    );
    const failure = done.failures[0];
    if (failure) return { ok: false, error: failure.error };
    const first = done.records[0] as BatchResult<R>['records'][number];
    return result({ record: first.record, encoded: first.encoded });
  };

  return {
    process: (raw, position) => {
      const checked = prepare(raw, position);
      if (!reducer) return checked.error ? { ok: false, error: checked.error } : result(encode(checked.record as R, position));
      return single(checked, position);
    },
    processRecord: (record, position) => {
      const checked = validate(record, position);
      if (checked.error || !reducer) return checked.error ? { ok: false, error: checked.error } : result(encode(checked.record as R, position));
      // A record given whole carries its aggregate values; they are checked by the encoder, not recomputed.
      const full: Record<string, unknown> = { ...checked.record };
      for (const name of outputs) {
        const value = (record as Record<string, unknown>)[name];
        if (value !== undefined) full[name] = value;
      }
      return result(encode(full as R, position));
    },
    processBatch: (raws, options = {}) => {
      // Indexed, not iterated: a Set or a string would be read wrongly, null not at all.
      if (!Array.isArray(raws)) throw new ConfigurationError('INVALID_CONFIG', `group "${definition.name}" processBatch: expected an array of events, got ${describeValue(raws)}`);
      return completeBatch(prepareBatch(raws, options), options);
    },
    prepareBatch,
    completeBatch,
    reducer,
    aggregationInputs: aggregation ? aggregation.inputs.map((i) => i.name) : [],
    specs: definition.specs,
    dateAsEpoch: definition.eventTimeFormat === 'epoch-seconds',
  };
}
