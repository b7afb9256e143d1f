import type * as zc from 'zod/v4/core';
import type { RecordError, SourcePosition } from '../errors.js';
import type { Codec, SageMakerRecord } from './codec.js';
import type { FeatureDefinition } from './feature-spec.js';
import type { TtlDuration } from './sagemaker-record.js';
import type { Aggregation, AggregationKind, Aggregations, StateCompaction } from './aggregation-spec.js';

/** Flattens an intersection so editors show one object type on hover. */
export type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Any zod schema (classic or mini). */
export type AnySchema = zc.$ZodType;
/** Any zod object schema. */
export type AnyObjectSchema = zc.$ZodObject;

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

/** Names of required features holding a `Date`: the candidates for `eventTime`. */
export type DateFeatureName<T> = { [K in RequiredKeys<T>]: T[K] extends Date ? K : never }[RequiredKeys<T>] & string;

/** Names of required features holding a string or an integer: the candidates for `recordIdentifier`. */
export type IdFeatureName<T> = {
  [K in RequiredKeys<T>]: T[K] extends string | number | bigint ? K : never;
}[RequiredKeys<T>] &
  string;

/** How `z.date()` features are stored: ISO-8601 strings (default) or Fractional epoch seconds. */
export type EventTimeFormat = 'iso' | 'epoch-seconds';

/** SageMaker's online store tiers; collection features need `InMemory`. */
export type OnlineStorageType = 'Standard' | 'InMemory';

/** Aggregates whose input is one of the features `Out` declares. */
export type AggregationsOf<Out> = { readonly [name: string]: Aggregation<AggregationKind, (keyof Out & string) | undefined, number> };

type LastValue<Out, F, N> = F extends keyof Out ? (N extends 1 ? NonNullable<Out[F]> : NonNullable<Out[F]>[]) : never;
type RequiredAggregates<A> = {
  -readonly [K in keyof A as A[K] extends Aggregation<'count' | 'sum' | 'distinctCount', string | undefined, number> ? K : never]: number;
};
type OptionalAggregates<A, Out> = {
  -readonly [K in keyof A as A[K] extends Aggregation<'avg' | 'min' | 'max' | 'last', string | undefined, number> ? K : never]?: A[K] extends Aggregation<
    'last',
    infer F,
    infer N
  >
    ? LastValue<Out, F, N>
    : number;
};

/**
 * The features a group's aggregates add to its records: `count`, `sum` and `distinctCount` always
 * present; `avg`, `min`, `max` and `last` absent when the window holds no value.
 */
export type AggregateValues<A, Out> = RequiredAggregates<A> & OptionalAggregates<A, Out>;

/** A group's record: its features and its aggregates' outputs. */
export type GroupRecord<F extends AnyObjectSchema, A> = zc.output<F> & AggregateValues<A, zc.output<F>>;

export interface FeatureGroupConfig<
  N extends string,
  S extends AnySchema,
  F extends AnyObjectSchema,
  Id extends string,
  T extends string,
  A extends Aggregations = {},
> {
  /** The SageMaker feature group name: 1-64 characters matching `^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$`. */
  readonly name: N;
  /** The feature that identifies a record (String or Integral). */
  readonly recordIdentifier: Id;
  /** The `z.date()` feature that says when the event happened. */
  readonly eventTime: T;
  /** The raw event as it arrives (from a stream, a file, a table). Unknown fields are stripped. */
  readonly source: S;
  /** The record as stored: one entry per SageMaker feature. */
  readonly features: F;
  /** A pure function from a validated source event to a record. It must not read the clock or randomness. */
  readonly transform: (source: zc.output<S>) => zc.input<F>;
  /**
   * Module-level functions the transform calls, whose code the fingerprint should cover as well
   * (their names are not enough: a bundler renames them). Optional; without it a change inside a
   * helper needs a `version` bump to show in the fingerprint.
   */
  readonly helpers?: readonly ((...args: never[]) => unknown)[];
  readonly description?: string;
  /** Bump to change the fingerprint when behaviour changes outside the transform's text. */
  readonly version?: string | number;
  readonly eventTimeFormat?: EventTimeFormat;
  /** When true (default) every record carries the group's fingerprint as `skewless_fingerprint`. */
  readonly lineage?: boolean;
  readonly onlineStorageType?: OnlineStorageType;
  /** How long online records live after their event time (SageMaker's TtlDuration); default forever. */
  readonly ttl?: TtlDuration;
  /**
   * Window aggregates over each entity's events (`count`, `sum`, `avg`, `min`, `max`, `last`,
   * `distinctCount`), by output feature name; computed by the same reducer in the stream and in backfills.
   */
  readonly aggregations?: A;
  /**
   * How far behind an entity's newest event time an event may be and still count in its aggregates;
   * later ones are written but left out, and counted as late. Default `'5m'`.
   */
  readonly allowedLateness?: string;
  /** Bounds an entity's aggregation state; see README "Aggregations". */
  readonly stateCompaction?: StateCompaction;
}

/** A validated record from the pipeline, with the SageMaker record it encodes to. */
export interface ProcessedRecord<R> {
  readonly ok: true;
  readonly record: R;
  readonly encoded: SageMakerRecord;
}

/** A raw event the pipeline refused; the error says why and where. */
export interface ProcessFailure {
  readonly ok: false;
  readonly error: RecordError;
}

export type ProcessResult<R> = ProcessedRecord<R> | ProcessFailure;

/** The outcome of a batch: successes and failures, each with its index in the input. */
export interface BatchResult<R> {
  readonly records: Array<{ readonly index: number; readonly record: R; readonly encoded: SageMakerRecord }>;
  readonly failures: Array<{ readonly index: number; readonly error: RecordError }>;
  /**
   * Records of a group with aggregations whose stream position the entity's state had already applied
   * (a redelivered record): not aggregated or encoded again.
   */
  readonly duplicates: number[];
  /** Records older than the allowed lateness: written, but left out of their entity's aggregates. */
  readonly late: number[];
}

export interface BatchOptions {
  /** The position of the record at `index`; defaults to `{ index }`. */
  readonly position?: (index: number) => SourcePosition;
}

/** Options of one selection in a training set. */
export interface SelectionOptions {
  /** Column prefix; defaults to `<group>__`. */
  readonly prefix?: string;
  /** The spine column that holds this group's record identifier, when it is named differently. */
  readonly key?: string;
  /** Ignore feature rows older than this relative to the spine time, e.g. `'30d'`. */
  readonly maxAge?: string;
}

/** Features of one group chosen for a training set: `group.select('amount', 'is_foreign')`. */
export interface FeatureSelection<N extends string = string, Selected extends object = Record<string, unknown>, P extends string = `${N}__`> {
  readonly groupName: N;
  readonly group: AnyFeatureGroup;
  readonly features: ReadonlyArray<keyof Selected & string>;
  readonly options: SelectionOptions;
  /** Returns a copy with these options set; a `prefix` renames the output columns in the type too. */
  with<const O extends SelectionOptions>(options: O): FeatureSelection<N, Selected, O extends { readonly prefix: infer Q extends string } ? Q : P>;
  /** Phantom: the selected features' types, for `InferTrainingRow`. Never set at run time. */
  readonly '~selected'?: Selected;
  /** Phantom: the output column prefix. Never set at run time. */
  readonly '~prefix'?: P;
}

/**
 * Any selection, whatever it selected: `Selected` is invariant (it types both the feature names and
 * their values), so only `any` accepts every selection.
 */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type AnyFeatureSelection = FeatureSelection<string, any, string>;

declare const featureGroupBrand: unique symbol;

/** A feature group: the one definition that ingestion, backfills and training sets all run. */
export interface FeatureGroup<
  N extends string = string,
  S extends AnySchema = AnySchema,
  F extends AnyObjectSchema = AnyObjectSchema,
  Id extends string = string,
  T extends string = string,
  A extends Aggregations = {},
> {
  readonly [featureGroupBrand]: true;
  readonly name: N;
  readonly recordIdentifier: Id;
  readonly eventTime: T;
  readonly source: S;
  readonly features: F;
  transform(source: zc.output<S>): zc.input<F>;
  readonly description: string | undefined;
  readonly version: string | number | undefined;
  readonly eventTimeFormat: EventTimeFormat;
  readonly lineage: boolean;
  readonly onlineStorageType: OnlineStorageType;
  readonly ttl: TtlDuration | undefined;
  /** The window aggregates, by output feature name (empty for a group without them). */
  readonly aggregations: A;
  /** The group's features as SageMaker `FeatureDefinitions` (with `skewless_fingerprint` when lineage is on). */
  readonly featureDefinitions: readonly FeatureDefinition[];
  /** The names of the features the `features` schema declares, in order, then the aggregates'. */
  readonly featureNames: readonly (keyof GroupRecord<F, A> & string)[];
  /** A stable hash of the definition (README: "Fingerprint and lineage"). */
  readonly fingerprint: string;
  /** Typed record <-> SageMaker record, DynamoDB item, offline row. */
  readonly codec: Codec<GroupRecord<F, A>>;
  /**
   * Chooses features for a training set.
   *
   * ### Example
   * ```ts
   * trainingSet(store, { spine, entityKey: 'card_id', timestamp: 'label_time',
   *                     features: [cardActivity.select('amount', 'is_foreign')] });
   * ```
   */
  select<K extends keyof GroupRecord<F, A> & string>(...features: K[]): FeatureSelection<N, Simplify<Pick<GroupRecord<F, A>, K>>>;
  /**
   * Runs the pipeline on one raw event: validate source -> transform -> validate features -> encode.
   * Never throws for bad input; returns `{ ok: false, error }` with a typed error instead.
   *
   * ### Example
   * ```ts
   * const result = cardActivity.process({ card_id: 'c1', amount_cents: 1250, country: 'FR', ts: '2024-05-01T12:00:00Z' });
   * if (result.ok) console.log(result.record.amount, result.encoded);
   * else console.error(formatError(result.error));
   * ```
   */
  process(raw: unknown, position?: SourcePosition): ProcessResult<Simplify<GroupRecord<F, A>>>;
  /**
   * Validates and encodes a record that is already in the group's feature shape (no transform):
   * what `store.put` runs. Never throws for bad input.
   *
   * ### Example
   * ```ts
   * const result = cardActivity.processRecord({ card_id: 'c1', event_time: new Date(), amount: 12.5, is_foreign: true });
   * ```
   */
  processRecord(record: unknown, position?: SourcePosition): ProcessResult<Simplify<GroupRecord<F, A>>>;
  /**
   * Runs the pipeline on many raw events; one bad event never stops the others.
   *
   * ### Example
   * ```ts
   * const { records, failures } = cardActivity.processBatch(events);
   * ```
   */
  processBatch(raws: readonly unknown[], options?: BatchOptions): BatchResult<Simplify<GroupRecord<F, A>>>;
}

/** Any feature group, whatever its schemas. */
export type AnyFeatureGroup = FeatureGroup<string, AnySchema, AnyObjectSchema, string, string, Aggregations>;

/** The validated source event type of a group (the transform's parameter). */
export type InferSource<G extends AnyFeatureGroup> = zc.output<G['source']>;

/** The raw source event type of a group, before its schema parses it (e.g. ISO strings before they become Dates). */
export type InferRawSource<G extends AnyFeatureGroup> = zc.input<G['source']>;

/** The record type of a group: what `store.get` returns and the pipeline produces. */
export type InferFeatures<G extends AnyFeatureGroup> = Simplify<GroupRecord<G['features'], G['aggregations']>>;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** The output columns of one selection: `<prefix><feature>`, each null when no row matched. */
type SelectionColumns<Sel> = Sel extends FeatureSelection<string, infer Selected, infer P>
  ? { [K in keyof Selected & string as `${P}${K}`]: Selected[K] | null }
  : never;

/** The output columns of request features: `<prefix><feature>` as its `features` schema types them, an optional one null when absent. */
type RequestColumns<R> = R extends RequestFeatures<string, AnyObjectSchema, ReadsOf, infer Out, infer P>
  ? { [K in keyof zc.output<Out> & string as `${P}${K}`]: undefined extends zc.output<Out>[K] ? Exclude<zc.output<Out>[K], undefined> | null : zc.output<Out>[K] }
  : never;

/**
 * A training-set row (and a served feature vector): the spine row's own columns plus every selected
 * feature as `<group>__<feature>` (or `<prefix><feature>`), null where no feature row qualified, and
 * every request feature's outputs as `<name>__<feature>` (or `<prefix><feature>`).
 *
 * ### Example
 * ```ts
 * type Row = InferTrainingRow<{ card_id: string; label_time: Date; fraud: boolean }, [ReturnType<typeof cardActivity.select<'amount'>>]>;
 * // { card_id: string; label_time: Date; fraud: boolean; 'card-activity__amount': number | null }
 * ```
 */
export type InferTrainingRow<Spine extends object, Features extends readonly AnyFeatureColumns[]> = Simplify<
  Spine & UnionToIntersection<SelectionColumns<Features[number]> | RequestColumns<Features[number]>>
>;

/** The selections request features read, each under a name of the user's choosing: `{ card: cardActivity.select('amount_avg_24h') }`. */
export type ReadsOf = { readonly [name: string]: AnyFeatureSelection };

/** What a request-features transform receives for its reads: per read, each selected feature, null where no row qualified. */
export type ReadValues<R> = {
  -readonly [K in keyof R]: R[K] extends FeatureSelection<string, infer Selected, string> ? Simplify<{ [F in keyof Selected]: Selected[F] | null }> : never;
};

export interface RequestFeaturesConfig<N extends string, Req extends AnyObjectSchema, Out extends AnyObjectSchema, R extends ReadsOf> {
  /** Names the output columns (`<name>__<feature>`) and errors: 1-64 letters, digits, - and _, as group names. */
  readonly name: N;
  /** The request data, as columns of a spine row (training) or of an entity row (serving): a zod object schema. */
  readonly request: Req;
  /** The stored features the transform needs, by a name the transform reads them under; default none. */
  readonly reads?: R;
  /** The outputs, as a zod object schema: each becomes a column of training rows and feature vectors. */
  readonly features: Out;
  /**
   * A pure function from the validated request and the reads' values (as of the row's time) to the
   * outputs. It must not read the clock, randomness or anything but its arguments.
   */
  readonly transform: (request: zc.output<Req>, reads: ReadValues<R>) => zc.input<Out>;
  /** Module-level functions the transform calls, whose code the fingerprint covers too (as for groups). */
  readonly helpers?: readonly ((...args: never[]) => unknown)[];
  readonly description?: string;
  /** Bump to change the fingerprint when behaviour changes outside the transform's text. */
  readonly version?: string | number;
}

/** Options of request features in a training set or feature vectors. */
export interface RequestFeaturesOptions {
  /** Column prefix; defaults to `<name>__`. */
  readonly prefix?: string;
}

declare const requestFeaturesBrand: unique symbol;

/**
 * Features computed from request data at the row's time, by one transform in training (request values
 * from spine columns) and in serving (from the call). Listed in `features` beside selections.
 */
export interface RequestFeatures<
  N extends string = string,
  Req extends AnyObjectSchema = AnyObjectSchema,
  R extends ReadsOf = ReadsOf,
  Out extends AnyObjectSchema = AnyObjectSchema,
  P extends string = `${N}__`,
> {
  readonly [requestFeaturesBrand]: true;
  readonly name: N;
  readonly request: Req;
  readonly reads: R;
  readonly features: Out;
  transform(request: zc.output<Req>, reads: ReadValues<R>): zc.input<Out>;
  readonly description: string | undefined;
  readonly version: string | number | undefined;
  /** The names of the outputs the `features` schema declares, in order. */
  readonly featureNames: readonly (keyof zc.output<Out> & string)[];
  /** A stable hash of the definition: name, both schemas, the transform's code, the reads and `version`. */
  readonly fingerprint: string;
  readonly options: RequestFeaturesOptions;
  /** Returns a copy with these options set; a `prefix` renames the output columns in the type too. */
  with<const O extends RequestFeaturesOptions>(options: O): RequestFeatures<N, Req, R, Out, O extends { readonly prefix: infer Q extends string } ? Q : P>;
  /** Phantom: the output column prefix. Never set at run time. */
  readonly '~prefix'?: P;
}

/** Any request features, whatever their schemas. */
// biome-ignore lint/suspicious/noExplicitAny: the reads' selections are invariant, as in AnyFeatureSelection
export type AnyRequestFeatures = RequestFeatures<string, AnyObjectSchema, any, AnyObjectSchema, string>;

/** What a `features` list of a training set or feature vectors holds: selections and request features. */
export type AnyFeatureColumns = AnyFeatureSelection | AnyRequestFeatures;

/** The request values request features take, as a spine or entity row holds them (before their schema parses them). */
export type InferRequest<R extends AnyRequestFeatures> = zc.input<R['request']>;

/** The outputs of request features, as their transform returns them once validated. */
export type InferRequestOutputs<R extends AnyRequestFeatures> = zc.output<R['features']>;
