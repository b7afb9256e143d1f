import { DefinitionError } from '../errors.js';
import { featureTypeOf, type FeatureSpec, type ValueKind } from './feature-spec.js';
import { parseDuration } from './time.js';
import { describeValue, unknownKeyMessage } from '../util/options.js';

/** The window aggregates skewless computes identically in the stream and in backfills. */
export type AggregationKind = 'count' | 'sum' | 'avg' | 'min' | 'max' | 'last' | 'distinctCount';

/**
 * One window aggregate, as the builders (`count`, `sum`, ...) make it: plain data, so it goes into
 * the group's fingerprint as it is.
 */
export interface Aggregation<K extends AggregationKind = AggregationKind, F extends string | undefined = string | undefined, N extends number = number> {
  readonly kind: K;
  /** The feature aggregated (none for `count`). */
  readonly feature: F;
  /** How far back from each event the window reaches: `'5m'`, `'1h'`, `'24h'`, `'7d'`. */
  readonly window: string;
  /** `last`: how many values (1 gives the value itself, more a list). */
  readonly n: N;
  /** `distinctCount`: distinct values counted exactly up to this bound. */
  readonly limit: number | undefined;
}

/** Any aggregate, whatever it aggregates. */
export type AnyAggregation = Aggregation<AggregationKind, string | undefined, number>;

/** A group's aggregates by output feature name. */
export type Aggregations = { readonly [name: string]: AnyAggregation };

export interface WindowOptions {
  /** `'5m'`, `'1h'`, `'24h'`, `'7d'`, ...: the value for an event covers (event time - window, event time]. */
  readonly window: string;
}

/**
 * What a group's aggregates supply to the definition compiler. The builders (`count`, `sum`, ...)
 * bring it with the aggregates they make (with the reducer and the ingest, see the pipeline's
 * `AggregationRuntime`), so a bundle whose groups have none carries none of it.
 */
export interface AggregationCompiler {
  compile(aggregations: unknown, options: CompileAggregationsOptions): CompiledAggregations | undefined;
}

/**
 * Makes an aggregate spec: plain data (it goes into the fingerprint as it is), with what the builder
 * brings for it as a `runtime` property that is not enumerable (so copies and JSON are the data only).
 */
export function aggregationSpec<K extends AggregationKind, F extends string | undefined, N extends number>(
  kind: K,
  feature: F,
  options: WindowOptions,
  n: N,
  limit: number | undefined,
  runtime: AggregationCompiler,
): Aggregation<K, F, N> {
  const known = ['window', ...(kind === 'last' ? ['n'] : []), ...(kind === 'distinctCount' ? ['limit'] : [])];
  // A misspelt key first: `{ windw: '1h' }` is a typo of the window, not a missing one.
  if (typeof options === 'object' && options !== null) checkKnownKeys(options, known, `${kind}()`);
  if (typeof options !== 'object' || options === null || options.window === undefined) {
    throw new DefinitionError('INVALID_OPTION', `${kind}(): a window is required, e.g. { window: '1h' }`);
  }
  if (kind !== 'count' && typeof feature !== 'string') {
    throw new DefinitionError('INVALID_OPTION', `${kind}(): the first argument is the feature to aggregate, by name; got ${describeValue(feature)}`);
  }
  let windowMs: number;
  try {
    windowMs = parseDuration(options.window);
  } catch (error) {
    throw new DefinitionError('INVALID_OPTION', `${kind}(): window: ${(error as Error).message}`);
  }
  if (windowMs <= 0) throw new DefinitionError('INVALID_OPTION', `${kind}(): the window must be longer than zero`);
  const spec = { kind, feature, window: options.window, n, limit };
  Object.defineProperty(spec, 'runtime', { value: runtime, enumerable: false });
  return Object.freeze(spec);
}

/** Refuses a key of `options` not in `known`, naming the one it most likely meant. */
function checkKnownKeys(options: object, known: readonly string[], where: string, group?: string): void {
  const unknown = unknownKeyMessage(options, known, where);
  if (unknown) throw new DefinitionError('INVALID_OPTION', unknown, { group });
}

/** How a group's aggregation state is kept small; see README "Aggregations". */
export interface StateCompaction {
  /** Raw events kept per entity before they are merged into time buckets; default 1,000. */
  readonly maxEntries?: number;
  /** The width of those buckets; default the longest window / 60, at least 1 s. */
  readonly resolution?: string;
}

type NumericKinds = 'int' | 'float';

/** One aggregate, compiled: where its input sits in a state entry and what it outputs. */
export interface CompiledAggregation {
  readonly name: string;
  readonly kind: AggregationKind;
  readonly windowMs: number;
  /** Index of its input among the state's inputs; -1 for `count`. */
  readonly input: number;
  readonly n: number;
  readonly limit: number;
  readonly output: FeatureSpec;
}

/** An input feature the state keeps per event, and which statistics its buckets need. */
export interface AggregationInput {
  readonly name: string;
  readonly kind: ValueKind;
  readonly numeric: boolean;
  /** The most `last` values any aggregate of it asks for (0 for none). */
  readonly lastN: number;
  /** The largest `distinctCount` bound on it (0 for none). */
  readonly distinctLimit: number;
}

/** Everything the reducer needs, decided once at definition time. */
export interface CompiledAggregations {
  readonly list: readonly CompiledAggregation[];
  readonly inputs: readonly AggregationInput[];
  readonly longestWindowMs: number;
  readonly allowedLatenessMs: number;
  readonly maxEntries: number;
  readonly resolutionMs: number;
  /** What goes into the fingerprint. */
  readonly spec: unknown;
}

const NUMERIC_ONLY = new Set<AggregationKind>(['sum', 'avg', 'min', 'max']);

function outputSpec(name: string, a: AnyAggregation, input: FeatureSpec | undefined, dateAsEpoch: boolean): FeatureSpec {
  const scalar = (kind: ValueKind, optional: boolean): FeatureSpec => ({
    name,
    kind,
    optional,
    readsAsNull: false,
    collection: undefined,
    featureType: featureTypeOf(kind, dateAsEpoch),
  });
  switch (a.kind) {
    case 'count':
    case 'distinctCount':
      return scalar('int', false);
    case 'sum':
      return scalar('float', false);
    case 'avg':
      return scalar('float', true);
    case 'min':
    case 'max':
      return scalar((input as FeatureSpec).kind as NumericKinds, true);
    case 'last': {
      const kind = (input as FeatureSpec).kind;
      if (a.n === 1) return scalar(kind, true);
      return { ...scalar(kind, true), collection: 'List' };
    }
  }
}

export interface CompileAggregationsOptions {
  readonly group: string;
  readonly specs: readonly FeatureSpec[];
  readonly dateAsEpoch: boolean;
  readonly collectionsAllowed: boolean;
  readonly allowedLateness: string | undefined;
  readonly compaction: StateCompaction | undefined;
}

/** Checks a group's aggregates against its features and compiles them; undefined when it has none. */
export function compileAggregations(aggregations: unknown, options: CompileAggregationsOptions): CompiledAggregations | undefined {
  if (aggregations === undefined) return undefined;
  const { group, specs } = options;
  if (typeof aggregations !== 'object' || aggregations === null || Array.isArray(aggregations)) {
    throw new DefinitionError('INVALID_OPTION', `group "${group}": aggregations must be an object of count(), sum(), ... by feature name`, { group });
  }
  const entries = Object.entries(aggregations as Record<string, AnyAggregation>);
  if (entries.length === 0) return undefined;

  const inputs: AggregationInput[] = [];
  const list: CompiledAggregation[] = [];
  for (const [name, a] of entries) {
    if (typeof a !== 'object' || a === null || typeof a.kind !== 'string' || typeof a.window !== 'string') {
      throw new DefinitionError('INVALID_OPTION', `group "${group}": aggregation "${name}" must be made by count(), sum(), avg(), min(), max(), last() or distinctCount()`, {
        group,
        feature: name,
      });
    }
    if (specs.some((s) => s.name === name)) {
      throw new DefinitionError('INVALID_OPTION', `group "${group}": aggregation "${name}" has the name of a feature; give it its own name`, { group, feature: name });
    }
    let input: FeatureSpec | undefined;
    if (a.kind !== 'count') {
      input = specs.find((s) => s.name === a.feature);
      if (!input) {
        throw new DefinitionError('MISSING_FEATURE', `group "${group}": aggregation "${name}" reads ${describeValue(a.feature)}, which is not one of its features`, {
          group,
          feature: name,
        });
      }
      if (input.collection || (NUMERIC_ONLY.has(a.kind) && input.kind !== 'int' && input.kind !== 'float')) {
        throw new DefinitionError(
          'UNSUPPORTED_TYPE',
          `group "${group}": aggregation "${name}" (${a.kind}) needs a ${NUMERIC_ONLY.has(a.kind) ? 'number' : 'scalar'} feature, and "${input.name}" is a ${input.collection ?? input.kind}`,
          { group, feature: name },
        );
      }
      if (a.kind === 'last' && a.n > 1 && (!options.collectionsAllowed || input.kind === 'date' || input.kind === 'boolean')) {
        throw new DefinitionError(
          'COLLECTION_NOT_SUPPORTED',
          `group "${group}": aggregation "${name}" keeps ${a.n} values, a List feature: SageMaker allows lists of strings and numbers only with ` +
            "onlineStorageType: 'InMemory' (or use n: 1)",
          { group, feature: name },
        );
      }
    }
    let index = -1;
    if (input) {
      index = inputs.findIndex((i) => i.name === (input as FeatureSpec).name);
      if (index < 0) {
        index = inputs.length;
        inputs.push({ name: input.name, kind: input.kind, numeric: input.kind === 'int' || input.kind === 'float', lastN: 0, distinctLimit: 0 });
      }
      const current = inputs[index] as AggregationInput;
      inputs[index] = {
        ...current,
        lastN: a.kind === 'last' ? Math.max(current.lastN, a.n) : current.lastN,
        distinctLimit: a.kind === 'distinctCount' ? Math.max(current.distinctLimit, a.limit ?? 0) : current.distinctLimit,
      };
    }
    list.push({
      name,
      kind: a.kind,
      windowMs: parseDuration(a.window),
      input: index,
      n: a.n,
      limit: a.limit ?? 0,
      output: outputSpec(name, a, input, options.dateAsEpoch),
    });
  }

  const longestWindowMs = Math.max(...list.map((a) => a.windowMs));
  const allowedLatenessMs = options.allowedLateness === undefined ? 5 * 60_000 : parseDuration(options.allowedLateness, `group "${group}": allowedLateness`);
  const compaction: unknown = options.compaction;
  if (compaction !== undefined && (typeof compaction !== 'object' || compaction === null || Array.isArray(compaction))) {
    throw new DefinitionError('INVALID_OPTION', `group "${group}": stateCompaction must be an object { maxEntries?, resolution? }, got ${describeValue(compaction)}`, { group });
  }
  if (compaction) checkKnownKeys(compaction, ['maxEntries', 'resolution'], `group "${group}": stateCompaction`, group);
  const maxEntries = options.compaction?.maxEntries ?? 1000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new DefinitionError('INVALID_OPTION', `group "${group}": stateCompaction.maxEntries must be a positive integer`, { group });
  }
  const resolutionMs =
    options.compaction?.resolution === undefined ? Math.max(1000, Math.floor(longestWindowMs / 60)) : parseDuration(options.compaction.resolution, `group "${group}": stateCompaction.resolution`);
  if (resolutionMs <= 0) throw new DefinitionError('INVALID_OPTION', `group "${group}": stateCompaction.resolution must be longer than zero`, { group });
  return {
    list,
    inputs,
    longestWindowMs,
    allowedLatenessMs,
    maxEntries,
    resolutionMs,
    spec: {
      aggregations: entries.map(([name, a]) => ({ name, kind: a.kind, feature: a.feature ?? null, window: a.window, n: a.n, limit: a.limit ?? null })),
      allowedLatenessMs,
      maxEntries,
      resolutionMs,
    },
  };
}
