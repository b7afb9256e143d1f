import type * as zc from 'zod/v4/core';
import { DefinitionError } from '../errors.js';
import { describeValue, unknownKeyMessage } from '../util/options.js';
import type { AggregationCompiler, CompiledAggregations, StateCompaction } from './aggregation-spec.js';
import { type CodecOptions, createCodec, type InternalCodec } from './codec.js';
import { type FeatureDefinition, type FeatureSpec, readFeatureSpec } from './feature-spec.js';
import { computeFingerprint } from './fingerprint.js';
import { FINGERPRINT_FEATURE, isReservedName, isValidName } from './names.js';
import type { TtlDuration } from './sagemaker-record.js';
import type { AnyObjectSchema, AnySchema, EventTimeFormat, OnlineStorageType } from './types.js';

/** SageMaker allows 2,500 feature definitions per group and 128 characters of description. */
const MAX_FEATURES = 2500;
const MAX_DESCRIPTION = 128;

/** The loosely typed config as it arrives at run time (JavaScript callers may pass anything). */
export interface RawDefinitionConfig {
  readonly name: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly source: AnySchema;
  readonly features: AnyObjectSchema;
  readonly transform: (source: never) => unknown;
  readonly helpers?: readonly ((...args: never[]) => unknown)[] | undefined;
  readonly description?: string | undefined;
  readonly version?: string | number | undefined;
  readonly eventTimeFormat?: EventTimeFormat | undefined;
  readonly lineage?: boolean | undefined;
  readonly onlineStorageType?: OnlineStorageType | undefined;
  readonly ttl?: TtlDuration | undefined;
  readonly aggregations?: unknown;
  readonly allowedLateness?: string | undefined;
  readonly stateCompaction?: StateCompaction | undefined;
}

/** Everything decided once at definition time, shared by the pipeline and the codec. */
export interface CompiledDefinition<Out> {
  readonly name: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly source: AnySchema;
  readonly features: AnyObjectSchema;
  readonly transform: (source: unknown) => unknown;
  readonly description: string | undefined;
  readonly version: string | number | undefined;
  readonly eventTimeFormat: EventTimeFormat;
  readonly lineage: boolean;
  readonly onlineStorageType: OnlineStorageType;
  readonly ttl: TtlDuration | undefined;
  /** Every feature: the `features` schema's, then the aggregates' outputs. */
  readonly specs: readonly FeatureSpec[];
  /** The window aggregates; undefined for a group without them. */
  readonly aggregation: CompiledAggregations | undefined;
  /** The schemas the pipeline parses with: compiled to a fast path where the installed zod can. */
  readonly parseSource: AnySchema;
  readonly parseFeatures: AnySchema;
  readonly featureDefinitions: readonly FeatureDefinition[];
  readonly fingerprint: string;
  /** What every encoding of the group's records is built from. */
  readonly codecOptions: CodecOptions;
  readonly codec: InternalCodec<Out>;
}

function isZodSchema(value: unknown): value is AnySchema {
  return typeof value === 'object' && value !== null && '_zod' in value;
}

function optionError(group: string | undefined, message: string): DefinitionError {
  return new DefinitionError('INVALID_OPTION', message, { group });
}

/** Every key `defineFeatureGroup` takes: anything else is a typo, named with the key it most likely meant. */
const CONFIG_KEYS = [
  'name', 'recordIdentifier', 'eventTime', 'source', 'features', 'transform', 'helpers', 'description', 'version',
  'eventTimeFormat', 'lineage', 'onlineStorageType', 'ttl', 'aggregations', 'allowedLateness', 'stateCompaction',
];

/** SageMaker's TtlDuration unit for each duration suffix that has one. */
const TTL_UNITS = { s: 'Seconds', m: 'Minutes', h: 'Hours', d: 'Days', w: 'Weeks' } as const;

function checkOptions(config: RawDefinitionConfig, group: string): void {
  const unknown = unknownKeyMessage(config, CONFIG_KEYS, `group "${group}"`);
  if (unknown) throw optionError(group, unknown);
  if (config.lineage !== undefined && typeof config.lineage !== 'boolean') throw optionError(group, `group "${group}": lineage must be true or false`);
  if (!isZodSchema(config.source)) throw optionError(group, `group "${group}": source must be a zod schema`);
  if (!isZodSchema(config.features) || config.features._zod.def.type !== 'object') {
    throw optionError(group, `group "${group}": features must be a zod object schema (z.object({...}))`);
  }
  if (typeof config.transform !== 'function') throw optionError(group, `group "${group}": transform must be a function`);
  if (config.helpers !== undefined && (!Array.isArray(config.helpers) || config.helpers.some((h) => typeof h !== 'function'))) {
    throw optionError(group, `group "${group}": helpers must be an array of the functions the transform calls`);
  }
  if (config.eventTimeFormat !== undefined && !['iso', 'epoch-seconds'].includes(config.eventTimeFormat)) {
    throw optionError(group, `group "${group}": eventTimeFormat must be 'iso' or 'epoch-seconds'`);
  }
  if (config.onlineStorageType !== undefined && !['Standard', 'InMemory'].includes(config.onlineStorageType)) {
    throw optionError(group, `group "${group}": onlineStorageType must be 'Standard' or 'InMemory'`);
  }
  if (config.description !== undefined && (typeof config.description !== 'string' || config.description.length > MAX_DESCRIPTION)) {
    throw optionError(group, `group "${group}": description must be a string of at most ${MAX_DESCRIPTION} characters`);
  }
  const ttl = config.ttl;
  if (
    ttl !== undefined &&
    (typeof ttl !== 'object' || ttl === null || !['Seconds', 'Minutes', 'Hours', 'Days', 'Weeks'].includes(ttl.Unit) || !Number.isInteger(ttl.Value) || ttl.Value < 1)
  ) {
    // A duration as text has the TtlDuration it means, when its unit is one of SageMaker's.
    const text = typeof ttl === 'string' ? /^([1-9]\d*)([smhdw])$/.exec((ttl as string).trim()) : null;
    const meant = text ? ` (for ${describeValue(ttl)}: { Unit: '${TTL_UNITS[text[2] as keyof typeof TTL_UNITS]}', Value: ${Number(text[1])} })` : '';
    throw optionError(group, `group "${group}": ttl is SageMaker's TtlDuration, { Unit: 'Seconds' | 'Minutes' | 'Hours' | 'Days' | 'Weeks', Value: a positive integer }${meant}, got ${describeValue(ttl)}`);
  }
  if (config.version !== undefined && typeof config.version !== 'string' && !Number.isFinite(config.version)) {
    throw optionError(group, `group "${group}": version must be a string or a finite number, got ${describeValue(config.version)}`);
  }
}

function checkFeatureName(group: string, name: string, lineage: boolean): void {
  if (!isValidName(name)) {
    throw new DefinitionError(
      'INVALID_NAME',
      `feature name "${name}" of group "${group}" is invalid: use 1-64 letters, digits, - and _, starting and ending with a letter or digit`,
      { group, feature: name },
    );
  }
  if (isReservedName(name) || (lineage && name === FINGERPRINT_FEATURE)) {
    throw new DefinitionError(
      'RESERVED_NAME',
      `feature name "${name}" of group "${group}" is reserved` +
        (name === FINGERPRINT_FEATURE ? ' for lineage (set lineage: false to use it)' : ' by SageMaker for offline rows'),
      { group, feature: name },
    );
  }
}

function keyFeature(group: string, specs: readonly FeatureSpec[], role: string, name: unknown): FeatureSpec {
  const spec = typeof name === 'string' ? specs.find((s) => s.name === name) : undefined;
  if (spec === undefined) {
    throw new DefinitionError(
      'MISSING_FEATURE',
      `${role} ${describeValue(name)} of group "${group}" is not one of its features (${specs.map((s) => s.name).join(', ')})`,
      { group, feature: typeof name === 'string' ? name : undefined },
    );
  }
  return spec;
}

/** Validates a definition and decides everything that does not depend on a record. */
/**
 * Checks and compiles a group's config. `aggregations` is what the group's aggregates brought to
 * compile them with (undefined without aggregates).
 */
export function compileDefinition<Out>(config: RawDefinitionConfig, aggregations?: AggregationCompiler): CompiledDefinition<Out> {
  if (typeof config !== 'object' || config === null) throw optionError(undefined, 'defineFeatureGroup takes an object');
  const group = config.name;
  if (typeof group !== 'string' || !isValidName(group)) {
    throw new DefinitionError(
      'INVALID_NAME',
      `feature group name ${describeValue(group)} is invalid: SageMaker requires 1-64 letters, digits, - and _, ` +
        'starting and ending with a letter or digit',
      { group: typeof group === 'string' ? group : undefined },
    );
  }
  checkOptions(config, group);
  const lineage = config.lineage ?? true;
  const eventTimeFormat = config.eventTimeFormat ?? 'iso';
  const onlineStorageType = config.onlineStorageType ?? 'Standard';
  const shape = (config.features._zod.def as unknown as { shape: Record<string, zc.$ZodType> }).shape;

  const specs: FeatureSpec[] = [];
  for (const [name, schema] of Object.entries(shape)) {
    checkFeatureName(group, name, lineage);
    specs.push(
      readFeatureSpec(group, name, schema, {
        dateAsEpoch: eventTimeFormat === 'epoch-seconds',
        collectionsAllowed: onlineStorageType === 'InMemory',
      }),
    );
  }
  const id = keyFeature(group, specs, 'recordIdentifier', config.recordIdentifier);
  if (id.optional || id.collection || !['string', 'int', 'bigint'].includes(id.kind)) {
    throw new DefinitionError(
      'INVALID_RECORD_IDENTIFIER',
      `recordIdentifier "${id.name}" of group "${group}" must be a required string or integer feature`,
      { group, feature: id.name },
    );
  }
  const time = keyFeature(group, specs, 'eventTime', config.eventTime);
  if (time.optional || time.collection || time.kind !== 'date') {
    throw new DefinitionError(
      'INVALID_EVENT_TIME',
      `eventTime "${time.name}" of group "${group}" must be a required z.date() feature`,
      { group, feature: time.name },
    );
  }

  const aggregation = aggregations?.compile(config.aggregations, {
    group,
    specs,
    dateAsEpoch: eventTimeFormat === 'epoch-seconds',
    collectionsAllowed: onlineStorageType === 'InMemory',
    allowedLateness: config.allowedLateness,
    compaction: config.stateCompaction,
  });
  if (aggregation === undefined && (config.allowedLateness !== undefined || config.stateCompaction !== undefined)) {
    throw optionError(group, `group "${group}": allowedLateness and stateCompaction apply to aggregations, and it has none`);
  }
  for (const a of aggregation?.list ?? []) {
    checkFeatureName(group, a.name, lineage);
    specs.push(a.output);
  }
  const featureCount = specs.length + (lineage ? 1 : 0);
  if (featureCount > MAX_FEATURES) {
    throw optionError(group, `group "${group}" has ${featureCount} features; SageMaker allows ${MAX_FEATURES}`);
  }

  const fingerprint = computeFingerprint({
    name: group,
    recordIdentifier: id.name,
    eventTime: time.name,
    eventTimeFormat,
    source: config.source,
    features: config.features,
    specs,
    transform: config.transform,
    helpers: config.helpers ?? [],
    version: config.version,
    aggregations: aggregation?.spec,
  });

  const featureDefinitions: FeatureDefinition[] = specs.map((s) =>
    Object.freeze(
      s.collection
        ? { FeatureName: s.name, FeatureType: s.featureType, CollectionType: s.collection }
        : { FeatureName: s.name, FeatureType: s.featureType },
    ),
  );
  if (lineage) featureDefinitions.push(Object.freeze({ FeatureName: FINGERPRINT_FEATURE, FeatureType: 'String' }));

  const codecOptions: CodecOptions = {
    group,
    specs,
    recordIdentifier: id.name,
    dateAsEpoch: eventTimeFormat === 'epoch-seconds',
    fingerprint: lineage ? fingerprint : undefined,
  };
  return {
    name: group,
    recordIdentifier: id.name,
    eventTime: time.name,
    source: config.source,
    features: config.features,
    transform: config.transform as (source: unknown) => unknown,
    description: config.description,
    version: config.version,
    eventTimeFormat,
    lineage,
    onlineStorageType,
    ttl: config.ttl,
    specs,
    aggregation,
    // zod's compiled fast path is the program's choice (`import 'zod/compile'`): it is 30 KB of bundle.
    parseSource: config.source,
    parseFeatures: config.features,
    featureDefinitions: Object.freeze(featureDefinitions),
    fingerprint,
    codecOptions,
    codec: createCodec<Out>(codecOptions),
  };
}
