import * as zc from 'zod/v4/core';
import {
  FeatureValidationError,
  type RecordError,
  type SkewlessIssue,
  SourceValidationError,
  type SourcePosition,
  summarizeIssues,
  TransformError,
} from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { CompiledDefinition } from '../schema/definition.js';
import type { BatchOptions, BatchResult, ProcessResult } from '../schema/types.js';

/**
 * The one path from a raw event to an encoded record:
 * validate source -> transform -> validate features -> encode.
 * Lambda handlers, backfills and `store.ingest` all call this; none re-implements a step.
 */
export interface Pipeline<R> {
  process(raw: unknown, position?: SourcePosition): ProcessResult<R>;
  /** The stages after the transform, for records that are already features (`store.put`). */
  processRecord(record: unknown, position?: SourcePosition): ProcessResult<R>;
  processBatch(raws: readonly unknown[], options?: BatchOptions): BatchResult<R>;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/** A failed record's position: the caller's, else its index in the batch. Built only on failure. */
function at(given: SourcePosition | ((index: number) => SourcePosition) | undefined, index: number | undefined): SourcePosition | undefined {
  if (typeof given === 'function') return given(index as number);
  return given ?? (index === undefined ? undefined : { index });
}

function isThenable(value: object): boolean {
  return typeof (value as { then?: unknown }).then === 'function';
}

/** What one step of the pipeline produced: the value, or the error that stops this record. */
type Step<R> = { readonly error: RecordError; readonly record?: undefined; readonly encoded?: undefined } | {
  readonly error?: undefined;
  readonly record: R;
  readonly encoded: SageMakerRecord;
};

export function createPipeline<R>(definition: CompiledDefinition<R>): Pipeline<R> {
  const { name, parseSource: source, parseFeatures: features, transform, codec } = definition;

  const run = (raw: unknown, given: SourcePosition | ((index: number) => SourcePosition) | undefined, index?: number): Step<R> => {
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
    if (typeof output !== 'object' || output === null || Array.isArray(output) || isThenable(output)) {
      const what = output !== null && typeof output === 'object' && isThenable(output) ? 'a Promise' : describeValue(output);
      return {
        error: new TransformError(
          `group "${name}": transform must return a record object synchronously, got ${what}`,
          { position: at(given, index) },
        ),
      };
    }

    return finish(output, given, index);
  };

  /** Validate features -> encode: what follows the transform, shared with records given directly. */
  const finish = (output: unknown, given: SourcePosition | ((index: number) => SourcePosition) | undefined, index?: number): Step<R> => {
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

    const record = parsedFeatures.data as R;
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

  return {
    process: (raw, position) => result(run(raw, position)),
    processRecord: (record, position) => result(finish(record, position)),
    processBatch(raws, options = {}) {
      const result: BatchResult<R> = { records: [], failures: [] };
      const positionOf = options.position;
      for (let index = 0; index < raws.length; index++) {
        // The position is asked for only when a record fails.
        const step = run(raws[index], positionOf, index);
        if (step.error) result.failures.push({ index, error: step.error });
        else result.records.push({ index, record: step.record, encoded: step.encoded });
      }
      return result;
    },
  };
}
