// The one place a request-features transform is called, for training rows and feature vectors alike:
// request values validated by the request schema, the transform, its outputs validated by the features schema.
import * as zc from 'zod/v4/core';
import { DataError, FeatureValidationError, summarizeIssues, TransformError, type SourcePosition } from '../errors.js';
import type { AnyRequestFeatures } from '../schema/types.js';
import { notAnObject } from '../util/options.js';
import { type RequestRowSource, requestFeaturesInternals } from './brand.js';

/** Where a row came from: a training set's spine (request values from its columns) or a feature-vector call's entity rows. */

const ROWS = { 'training-set': { noun: 'spine row', code: 'INVALID_SPINE' }, 'feature-vectors': { noun: 'entity row', code: 'INVALID_ENTITIES' } } as const;

/** The request values of a row, parsed by the request schema; a DataError naming the row and column if they do not match. */
function requestOf(features: AnyRequestFeatures, row: Readonly<Record<string, unknown>>, index: number, source: RequestRowSource): unknown {
  const { noun, code } = ROWS[source];
  // Only the schema's fields: a strict request schema must not see the row's other columns.
  const values = Object.fromEntries(requestFeaturesInternals(features).requestFields.map((field) => [field, row[field]]));
  let parsed: zc.util.SafeParseResult<unknown>;
  try {
    parsed = zc.safeParse(features.request, values);
  } catch (cause) {
    throw new DataError(code, `${noun} ${index}: the request schema of request features "${features.name}" threw while validating`, { row: index, cause });
  }
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const column = String(issues[0]?.path[0] ?? '');
  const what = column !== '' && !(column in row) ? `has no column "${column}" (request data of request features "${features.name}")` : `column "${column}": request data of request features "${features.name}" does not match its schema${summarizeIssues(issues)}`;
  throw new DataError(code, `${noun} ${index} ${what}`, { row: index, column, issues });
}

/**
 * Runs request features over one row: parses the row's request values, calls the transform with them
 * and the reads' values (each read's features, null where no row qualified), and validates the outputs.
 * Returns the outputs by feature name (absent ones null). Throws a DataError for request values the
 * schema refuses, a TransformError when the transform throws or returns no object, and a
 * FeatureValidationError for outputs the features schema refuses — each naming the request features and the row.
 */
export function runRequestFeatures(
  features: AnyRequestFeatures,
  row: Readonly<Record<string, unknown>>,
  reads: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  index: number,
  source: RequestRowSource,
): Record<string, unknown> {
  const request = requestOf(features, row, index, source);
  const position: SourcePosition = { source, index };
  const where = `request features "${features.name}", ${ROWS[source].noun} ${index}`;
  let output: unknown;
  try {
    output = features.transform(request as never, reads as never);
  } catch (cause) {
    throw new TransformError(`${where}: transform threw: ${cause instanceof Error ? cause.message : String(cause)}`, { position, cause });
  }
  const what = notAnObject(output);
  if (what !== undefined) {
    throw new TransformError(`${where}: transform must return an object of outputs synchronously, got ${what}`, { position });
  }
  let parsed: zc.util.SafeParseResult<unknown>;
  try {
    parsed = zc.safeParse(features.features, output);
  } catch (cause) {
    throw new FeatureValidationError(`${where}: features schema threw while validating`, { position, cause });
  }
  if (!parsed.success) {
    const issues = parsed.error.issues;
    throw new FeatureValidationError(`${where}: outputs do not match the features schema${summarizeIssues(issues)}`, { position, issues });
  }
  const values = parsed.data as Record<string, unknown>;
  return Object.fromEntries(features.featureNames.map((name) => [name, values[name] ?? null]));
}
