import type * as zc from 'zod/v4/core';
import { ConfigurationError, DefinitionError } from './errors.js';
import { checkOptions, closestName, describeValue, durationSchema, expected, lazySchema } from './util/options.js';
import * as z from 'zod/mini';
import type { WriteSummary } from './pipeline/outcomes.js';
import { createPipeline, type Pipeline } from './pipeline/pipeline.js';
import { aggregationRuntimeOf } from './pipeline/runtime.js';
import type { StatefulIngestDeps, StatefulIngestOptions } from './pipeline/stateful-ingest.js';
import { compileDefinition, type RawDefinitionConfig } from './schema/compile.js';
import type { CodecOptions } from './schema/codec.js';
import type {
  AnyFeatureGroup,
  AnyObjectSchema,
  AggregationsOf,
  AnySchema,
  DateFeatureName,
  FeatureGroup,
  FeatureGroupConfig,
  AnyFeatureSelection,
  IdFeatureName,
  SelectionOptions,
} from './schema/types.js';

// A registered symbol, so a group made by one copy of skewless is recognised by another.
const FEATURE_GROUP = Symbol.for('skewless.featureGroup');

const INTERNALS = Symbol.for('skewless.groupInternals');

// Marks a selection made by `group.select`: a look-alike object built by hand has no checked features or options.
const FEATURE_SELECTION = Symbol.for('skewless.featureSelection');

/** What a group holds beside its public face: the stages the store and the engines drive themselves. */
interface GroupInternals {
  readonly pipeline: Pipeline<Record<string, unknown>>;
  /** The ingest that keeps each entity's aggregation state in a store; undefined without aggregates. */
  readonly ingestWithState: ((raw: readonly unknown[], options: StatefulIngestOptions, deps: StatefulIngestDeps) => Promise<WriteSummary>) | undefined;
  /** What the group's encodings other than the record (offline rows, DynamoDB items) are built from. */
  readonly codecOptions: CodecOptions;
}

function internalsOf(group: AnyFeatureGroup): GroupInternals {
  const internals = (group as unknown as { readonly [INTERNALS]?: GroupInternals })[INTERNALS];
  if (!internals) throw new DefinitionError('INVALID_OPTION', 'not a feature group made by defineFeatureGroup');
  return internals;
}

/** The pipeline behind a group, with the stages `processBatch` runs in one go. */
export function pipelineOf(group: AnyFeatureGroup): Pipeline<Record<string, unknown>> {
  return internalsOf(group).pipeline;
}

/** What the group's encodings are built from: its features, time format and fingerprint. */
export function codecOptionsOf(group: AnyFeatureGroup): CodecOptions {
  return internalsOf(group).codecOptions;
}

/** The group's ingest with stored aggregation state; undefined for a group without aggregates. */
export function statefulIngestOf(group: AnyFeatureGroup): GroupInternals['ingestWithState'] {
  return internalsOf(group).ingestWithState;
}

/**
 * True when `value` was made by `defineFeatureGroup`.
 *
 * ### Example
 * ```ts
 * if (isFeatureGroup(exported)) groups.push(exported);
 * ```
 */
export function isFeatureGroup(value: unknown): value is AnyFeatureGroup {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FEATURE_GROUP] === true;
}

/** Refuses anything but a group made by `defineFeatureGroup` where a call takes one. */
export function requireGroup(value: unknown, where: string): asserts value is AnyFeatureGroup {
  if (!isFeatureGroup(value)) {
    throw new ConfigurationError('INVALID_CONFIG', `${where}: expected a feature group made by defineFeatureGroup, got ${describeValue(value)}`);
  }
}

const selectionOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  prefix: z.optional(z.string({ error: expected('a column prefix') })),
  key: z.optional(z.string({ error: expected("the spine column with this group's record identifier") })),
  maxAge: z.optional(durationSchema()),
}));

function makeSelection(group: AnyFeatureGroup, features: readonly string[], options: SelectionOptions): AnyFeatureSelection {
  // The prefix type `with` promises exists only in the type system; at run time it is `options.prefix`.
  const selection = {
    groupName: group.name,
    group,
    features: Object.freeze([...features]),
    options: Object.freeze({ ...options }),
    with: (next: SelectionOptions) => makeSelection(group, features, { ...options, ...checkOptions(selectionOptions, next, `${group.name}.select(...).with options`) }),
  };
  Object.defineProperty(selection, FEATURE_SELECTION, { value: true });
  return Object.freeze(selection) as AnyFeatureSelection;
}

/** True when `value` was made by a group's `select` (in this copy of skewless or another). */
export function isFeatureSelection(value: unknown): value is AnyFeatureSelection {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FEATURE_SELECTION] === true;
}

/**
 * Defines a feature group once: zod schemas for the raw event and the stored record, and a pure
 * transform between them. Everything that can be checked without data is checked here, so a bad
 * definition fails at startup with a {@link DefinitionError}, never at the first write.
 *
 * ### Example
 * ```ts
 * import { z } from 'zod';
 * import { defineFeatureGroup, isoTimestamp } from 'skewless';
 *
 * export const cardActivity = defineFeatureGroup({
 *   name: 'card-activity',
 *   recordIdentifier: 'card_id',
 *   eventTime: 'event_time',
 *   source: z.object({ card_id: z.string(), amount_cents: z.number().int(), country: z.string(), ts: isoTimestamp() }),
 *   features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), is_foreign: z.boolean() }),
 *   transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100, is_foreign: e.country !== 'US' }),
 * });
 * ```
 */
export function defineFeatureGroup<
  const N extends string,
  S extends AnySchema,
  F extends AnyObjectSchema,
  Id extends IdFeatureName<zc.output<F>>,
  T extends DateFeatureName<zc.output<F>>,
  const A extends AggregationsOf<zc.output<F>> = {},
>(config: FeatureGroupConfig<N, S, F, Id, T, A>): FeatureGroup<N, S, F, Id, T, A> {
  const raw = config as unknown as RawDefinitionConfig;
  // The aggregates bring their compiler, reducer and stateful ingest (a group without any needs none).
  const runtime = aggregationRuntimeOf(raw?.aggregations, typeof raw?.name === 'string' ? raw.name : describeValue(raw?.name));
  const definition = compileDefinition<zc.output<F>>(raw, runtime);
  const reducer = runtime && definition.aggregation ? runtime.createReducer(definition.aggregation) : undefined;
  const pipeline = createPipeline(definition, reducer);
  const internals: GroupInternals = {
    pipeline: pipeline as Pipeline<Record<string, unknown>>,
    ingestWithState: runtime && reducer ? (events, options, deps) => runtime.ingest(internals.pipeline, definition, events, options, deps) : undefined,
    codecOptions: definition.codecOptions,
  };
  const featureNames = Object.freeze(definition.specs.map((s) => s.name));

  const group = {
    name: definition.name,
    recordIdentifier: definition.recordIdentifier,
    eventTime: definition.eventTime,
    source: definition.source,
    features: definition.features,
    transform: definition.transform,
    description: definition.description,
    version: definition.version,
    eventTimeFormat: definition.eventTimeFormat,
    lineage: definition.lineage,
    onlineStorageType: definition.onlineStorageType,
    ttl: definition.ttl,
    aggregations: Object.freeze({ ...((config as { aggregations?: object }).aggregations ?? {}) }),
    featureDefinitions: definition.featureDefinitions,
    featureNames,
    fingerprint: definition.fingerprint,
    codec: Object.freeze({ ...definition.codec }),
    select(...names: string[]) {
      const unknown = names.filter((n) => !featureNames.includes(n));
      if (unknown.length > 0 || names.length === 0) {
        throw new DefinitionError(
          'UNKNOWN_FEATURE',
          names.length === 0
            ? `select() on group "${definition.name}" needs at least one feature`
            : `group "${definition.name}" has no feature ${unknown.map((n) => describeValue(n)).join(', ')}${typeof unknown[0] === 'string' && closestName(unknown[0], featureNames) ? ` (did you mean "${closestName(unknown[0], featureNames)}"?)` : ''}`,
          { group: definition.name, feature: unknown[0] },
        );
      }
      return makeSelection(group as unknown as AnyFeatureGroup, [...new Set(names)], {});
    },
    process: pipeline.process,
    processRecord: pipeline.processRecord,
    processBatch: pipeline.processBatch,
  };
  // Not enumerable, so a spread copy of a group is not mistaken for the group.
  Object.defineProperty(group, FEATURE_GROUP, { value: true, enumerable: false });
  // The stages the store drives itself (it loads aggregation state between them); not public.
  Object.defineProperty(group, INTERNALS, { value: internals, enumerable: false });
  return Object.freeze(group) as unknown as FeatureGroup<N, S, F, Id, T, A>;
}
