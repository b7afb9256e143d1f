import type * as zc from 'zod/v4/core';
import { DefinitionError } from '../errors.js';

/** How a feature's value is held in TypeScript; decides its SageMaker type and its encoding. */
export type ValueKind = 'string' | 'int' | 'bigint' | 'float' | 'boolean' | 'date';

/** SageMaker's feature types. */
export type SageMakerFeatureType = 'String' | 'Integral' | 'Fractional';

/** SageMaker's collection types; collections need the InMemory online tier. */
export type CollectionType = 'List' | 'Set';

/** A SageMaker `FeatureDefinition`, as CreateFeatureGroup takes it. */
export interface FeatureDefinition {
  readonly FeatureName: string;
  readonly FeatureType: SageMakerFeatureType;
  readonly CollectionType?: CollectionType;
}

/** What skewless knows about one feature, read once from the `features` schema. */
export interface FeatureSpec {
  readonly name: string;
  readonly kind: ValueKind;
  /** The value may be absent (optional or nullable); absent features are left out of the record. */
  readonly optional: boolean;
  /** Absent reads back as `null` (a nullable, not optional, feature) rather than as a missing key. */
  readonly readsAsNull: boolean;
  readonly collection: CollectionType | undefined;
  readonly featureType: SageMakerFeatureType;
}

const INTEGER_FORMATS = new Set(['safeint', 'int32', 'uint32']);

interface Def {
  readonly type: string;
  readonly [key: string]: unknown;
}

function defOf(schema: zc.$ZodType): Def {
  return schema._zod.def as unknown as Def;
}

function isIntegerNumber(schema: zc.$ZodType): boolean {
  const def = defOf(schema) as Def & { format?: string; checks?: readonly zc.$ZodCheck[] };
  if (def.format !== undefined && INTEGER_FORMATS.has(def.format)) return true;
  return (def.checks ?? []).some((check) => {
    const c = check._zod.def as { check: string; format?: string; value?: unknown };
    return (
      (c.check === 'number_format' && c.format !== undefined && INTEGER_FORMATS.has(c.format)) ||
      (c.check === 'multiple_of' && c.value === 1)
    );
  });
}

function scalarKind(schema: zc.$ZodType): ValueKind | undefined {
  const def = defOf(schema);
  switch (def.type) {
    case 'string':
    case 'enum':
      return def.type === 'enum' && !Object.values(def['entries'] as object).every((v) => typeof v === 'string')
        ? undefined
        : 'string';
    case 'literal': {
      const values = def['values'] as readonly unknown[];
      if (values.every((v) => typeof v === 'string')) return 'string';
      if (values.every((v) => typeof v === 'boolean')) return 'boolean';
      if (values.every((v) => typeof v === 'bigint')) return 'bigint';
      if (values.every((v) => typeof v === 'number')) return values.every(Number.isInteger) ? 'int' : 'float';
      return undefined;
    }
    case 'number':
      return isIntegerNumber(schema) ? 'int' : 'float';
    case 'bigint':
      return 'bigint';
    case 'boolean':
      return 'boolean';
    case 'date':
      return 'date';
    default:
      return undefined;
  }
}

const WRAPPERS_KEEPING_PRESENCE = new Set(['default', 'prefault', 'readonly', 'catch', 'nonoptional']);

export interface Unwrapped {
  readonly schema: zc.$ZodType;
  readonly optional: boolean;
  readonly nullable: boolean;
}

/**
 * Peels optional/nullable/default/readonly wrappers, noting whether the value may be absent. A pipe
 * is followed to its output side (what a feature holds once validated) or, with `side: 'in'`, its
 * input side (what a raw event holds, e.g. `isoTimestamp()`'s text).
 */
export function unwrap(schema: zc.$ZodType, side: 'in' | 'out' = 'out'): Unwrapped {
  let current = schema;
  let optional = false;
  let nullable = false;
  for (;;) {
    const def = defOf(current);
    if (def.type === 'optional' || def.type === 'nullable') {
      if (def.type === 'optional') optional = true;
      else nullable = true;
      current = def['innerType'] as zc.$ZodType;
    } else if (WRAPPERS_KEEPING_PRESENCE.has(def.type)) {
      current = def['innerType'] as zc.$ZodType;
    } else if (def.type === 'pipe') {
      current = def[side] as zc.$ZodType;
    } else {
      return { schema: current, optional, nullable };
    }
  }
}

/** The kind of value a raw event's field holds by its schema (a pipe's input side); undefined for other schemas. */
export function inputKindOf(schema: zc.$ZodType): ValueKind | undefined {
  return scalarKind(unwrap(schema, 'in').schema);
}

/** The kind of value a feature holds once validated (a pipe's output side); undefined for other schemas. */
export function outputKindOf(schema: zc.$ZodType): ValueKind | undefined {
  return scalarKind(unwrap(schema, 'out').schema);
}

export function featureTypeOf(kind: ValueKind, dateAsEpoch: boolean): SageMakerFeatureType {
  switch (kind) {
    case 'string':
      return 'String';
    case 'float':
      return 'Fractional';
    case 'date':
      return dateAsEpoch ? 'Fractional' : 'String';
    default:
      return 'Integral';
  }
}

/** Reads one feature's spec from its zod schema, or explains why SageMaker cannot store it. */
export function readFeatureSpec(
  group: string,
  name: string,
  schema: zc.$ZodType,
  options: { readonly dateAsEpoch: boolean; readonly collectionsAllowed: boolean },
): FeatureSpec {
  const { schema: inner, optional, nullable } = unwrap(schema);
  const def = defOf(inner);
  let collection: CollectionType | undefined;
  let valueSchema = inner;
  if (def.type === 'array' || def.type === 'set') {
    collection = def.type === 'array' ? 'List' : 'Set';
    valueSchema = unwrap((def.type === 'array' ? def['element'] : def['valueType']) as zc.$ZodType).schema;
  }
  const kind = scalarKind(valueSchema);
  if (kind === undefined || (collection !== undefined && kind === 'date')) {
    const what = collection ? `${collection} of ${defOf(valueSchema).type}` : def.type;
    throw new DefinitionError(
      'UNSUPPORTED_TYPE',
      `feature "${name}" of group "${group}" has type ${what}, which SageMaker cannot store; ` +
        'use string, enum, number, number().int(), bigint, boolean, date, or an array of string/number',
      { group, feature: name },
    );
  }
  if (collection !== undefined && !options.collectionsAllowed) {
    throw new DefinitionError(
      'COLLECTION_NOT_SUPPORTED',
      `feature "${name}" of group "${group}" is a ${collection}; SageMaker allows collection types only ` +
        "with the InMemory online store: set onlineStorageType: 'InMemory' or store it as a string",
      { group, feature: name },
    );
  }
  return {
    name,
    kind,
    optional: optional || nullable,
    readsAsNull: nullable && !optional,
    collection,
    featureType: featureTypeOf(kind, options.dateAsEpoch),
  };
}
