import type * as zc from 'zod/v4/core';
import { inputKindOf, outputKindOf, unwrap, type ValueKind } from './feature-spec.js';
import { FINGERPRINT_FEATURE } from './names.js';
import type { AnyFeatureGroup } from './types.js';

// Record sizes read off a group's schemas, for capacity planning: every value at the widest its
// schema allows, so the units planned are never short. A string no check bounds has no widest, so it
// is taken at ASSUMED_STRING_BYTES and named in `assumed`: a plan prints those as assumptions.

/** The widest text of a signed 64-bit integer: `-9223372036854775808`. */
const INTEGER_BYTES = 20;
/** The widest shortest round-trip text of a double: `-2.2250738585072014e-308`. */
const FLOAT_BYTES = 24;
/** An instant as skewless writes it (`toISOString()`): `2024-05-01T00:00:00.000Z`. */
const ISO_INSTANT_BYTES = 24;
/** A string no check bounds. An assumption, not a measurement: pass a measured size where one exists. */
export const ASSUMED_STRING_BYTES = 32;
/** String formats of one width. */
const FORMAT_BYTES: Readonly<Record<string, number>> = { uuid: 36, guid: 36 };

/** The estimated bytes of one record, and the fields whose size had to be assumed. */
export interface SizeEstimate {
  readonly bytes: number;
  /** Paths of the fields taken at an assumed size: unbounded strings, and lists counted as one element. */
  readonly assumed: readonly string[];
}

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** The most bytes a string schema lets through, or undefined when nothing bounds it (characters counted as bytes). */
function stringBound(schema: zc.$ZodType): number | undefined {
  const def = schema._zod.def as unknown as { type: string; format?: string; entries?: object; values?: readonly unknown[]; checks?: readonly zc.$ZodCheck[] };
  if (def.type === 'enum') return Math.max(...Object.values(def.entries ?? {}).map((v) => utf8(String(v))));
  if (def.type === 'literal') return Math.max(...(def.values ?? []).map((v) => utf8(String(v))));
  if (def.format !== undefined && FORMAT_BYTES[def.format] !== undefined) return FORMAT_BYTES[def.format];
  let bound: number | undefined;
  for (const check of def.checks ?? []) {
    const c = check._zod.def as { check: string; length?: number; maximum?: number };
    const limit = c.check === 'length_equals' ? c.length : c.check === 'max_length' ? c.maximum : undefined;
    if (limit !== undefined) bound = Math.min(bound ?? limit, limit);
  }
  return bound;
}

function stringBytes(schema: zc.$ZodType, side: 'in' | 'out', path: string, assumed: string[]): number {
  const bound = stringBound(unwrap(schema, side).schema);
  if (bound !== undefined) return bound;
  assumed.push(path);
  return ASSUMED_STRING_BYTES;
}

/** A value's bytes in a JSON event (a string quoted, a boolean as `false`). */
function jsonScalarBytes(kind: ValueKind, schema: zc.$ZodType, path: string, assumed: string[]): number {
  switch (kind) {
    case 'string':
      return stringBytes(schema, 'in', path, assumed) + 2;
    case 'int':
    case 'bigint':
      return INTEGER_BYTES;
    case 'float':
      return FLOAT_BYTES;
    case 'boolean':
      return 5;
    case 'date':
      return ISO_INSTANT_BYTES + 2;
  }
}

function jsonBytes(schema: zc.$ZodType, path: string, assumed: string[]): number {
  const inner = unwrap(schema, 'in').schema;
  const def = inner._zod.def as unknown as { type: string; shape?: Record<string, zc.$ZodType>; element?: zc.$ZodType };
  if (def.type === 'object') {
    const fields = Object.entries(def.shape ?? {});
    // {"name":value,...}: braces, each name quoted with its colon, commas between fields.
    const body = fields.reduce((sum, [name, field]) => sum + utf8(name) + 3 + jsonBytes(field, path === '' ? name : `${path}.${name}`, assumed), 0);
    return 2 + body + Math.max(0, fields.length - 1);
  }
  if (def.type === 'array' && def.element) {
    assumed.push(`${path}[]`);
    return 2 + jsonBytes(def.element, `${path}[0]`, []);
  }
  const kind = inputKindOf(inner);
  if (kind !== undefined) return jsonScalarBytes(kind, inner, path, assumed);
  assumed.push(path);
  return ASSUMED_STRING_BYTES;
}

/**
 * The bytes of one raw event as JSON on the stream, from the group's `source` schema: what a
 * Kinesis record's data holds when the producer sends the event as JSON.
 *
 * ### Example
 * ```ts
 * const { bytes, assumed } = sourceEventBytes(cardActivity);   // assumed: ['card_id', 'country', 'ts']
 * ```
 */
export function sourceEventBytes(group: AnyFeatureGroup): SizeEstimate {
  const assumed: string[] = [];
  return { bytes: jsonBytes(group.source as zc.$ZodType, '', assumed), assumed };
}

/** One feature value's bytes as SageMaker holds it (ValueAsString: a boolean as 0 or 1). */
function featureValueBytes(group: AnyFeatureGroup, name: string, type: string, assumed: string[]): number {
  if (name === FINGERPRINT_FEATURE) return group.fingerprint.length;
  const shape = (group.features._zod.def as unknown as { shape: Record<string, zc.$ZodType> }).shape;
  const schema = shape[name];
  const kind = schema === undefined ? undefined : outputKindOf(schema);
  if (kind === 'boolean') return 1;
  if (kind === 'date' && type === 'String') return ISO_INSTANT_BYTES;
  if (type === 'Integral') return INTEGER_BYTES;
  if (type === 'Fractional') return FLOAT_BYTES;
  if (schema !== undefined && kind === 'string') return stringBytes(schema, 'out', name, assumed);
  assumed.push(name);
  return ASSUMED_STRING_BYTES;
}

/**
 * The bytes SageMaker counts for one of the group's records (feature names and values, UTF-8, as
 * `recordBytes` counts them), every feature present, aggregates and the fingerprint included.
 *
 * ### Example
 * ```ts
 * const writeUnits = Math.ceil(featureRecordBytes(cardActivity).bytes / 1000);
 * ```
 */
export function featureRecordBytes(group: AnyFeatureGroup): SizeEstimate {
  const assumed: string[] = [];
  let bytes = 0;
  for (const definition of group.featureDefinitions) {
    // A list counts as one element; its real length is the user's to know.
    if (definition.CollectionType !== undefined) assumed.push(`${definition.FeatureName}[]`);
    bytes += utf8(definition.FeatureName) + featureValueBytes(group, definition.FeatureName, definition.FeatureType, definition.CollectionType ? [] : assumed);
  }
  return { bytes, assumed };
}

/**
 * The bytes of the record identifier's value: a Kinesis partition key when producers partition by it,
 * and part of the key of the entity's aggregation state.
 *
 * ### Example
 * ```ts
 * recordIdentifierBytes(cardActivity).bytes;   // 32 for an unbounded z.string() (assumed)
 * ```
 */
export function recordIdentifierBytes(group: AnyFeatureGroup): SizeEstimate {
  const assumed: string[] = [];
  const type = group.featureDefinitions.find((d) => d.FeatureName === group.recordIdentifier)?.FeatureType ?? 'String';
  return { bytes: featureValueBytes(group, group.recordIdentifier, type, assumed), assumed };
}

/** The aggregations' input features as one event of an entity's state holds them (JSON, each after a comma). */
export function aggregationInputBytes(group: AnyFeatureGroup): SizeEstimate {
  const assumed: string[] = [];
  const inputs = new Set<string>();
  for (const spec of Object.values(group.aggregations as Record<string, { readonly feature?: string }>)) if (spec.feature !== undefined) inputs.add(spec.feature);
  let bytes = 0;
  for (const name of inputs) {
    const type = group.featureDefinitions.find((d) => d.FeatureName === name)?.FeatureType ?? 'String';
    // The state holds strings quoted (JSON), numbers as they print.
    bytes += 1 + featureValueBytes(group, name, type, assumed) + (type === 'String' ? 2 : 0);
  }
  return { bytes, assumed };
}
