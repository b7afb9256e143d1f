import { BackendError, ConfigurationError, DefinitionError, FeatureValidationError, type RecordError, type SourcePosition, unstorableRecord } from '../errors.js';
import { MAX_RECORD_IDENTIFIER_BYTES, type SageMakerRecord } from '../schema/codec.js';
import { formatIsoInstant } from '../schema/time.js';
import type { AnyFeatureGroup, InferFeatures, Simplify } from '../schema/types.js';
import { requireGroup, statefulIngestOf } from '../feature-group.js';
import { checkOptions, describeValue, expected, functionSchema, lazySchema, positiveInteger } from '../util/options.js';
import * as z from 'zod/mini';
import { type RecordOutcome, summarize, type WriteSummary } from '../pipeline/outcomes.js';
import type { DeleteStatus, DeletionMode, OfflineStore, OnlinePutOptions, OnlineStore, OnlineWriteOutcome } from './types.js';
import { offlineWritesAt, rowKey, type WriteClock, writeClock } from './offline-writes.js';
import type { AggregationStateStore } from '../pipeline/state.js';
import { type DeadLetterEntry, deadLetterFailed, type DeadLetterSink, deadLetterSinkSchema, notWrittenBy, sendToDeadLetter } from './dead-letter.js';

export interface FeatureStoreOptions {
  /**
   * The online tier: `sageMakerOnline()` or `dynamoDbOnline()` from `skewless/aws`, the embedded
   * store (`localStores()` from `skewless/local` gives all three), or your own `OnlineStore`.
   */
  readonly online: OnlineStore | Promise<OnlineStore>;
  /**
   * The offline tier: `s3Offline()` / `athenaOffline()`, the embedded store, your own, or `false`
   * for none (as with `sageMakerOnline`, whose PutRecord delivers SageMaker's offline store itself).
   */
  readonly offline: OfflineStore | Promise<OfflineStore> | false;
  /** Where poison records go (they are always reported in the outcomes too). */
  readonly deadLetter?: DeadLetterSink;
  /** Where engines keep working files by default (backfill rejects and checkpoints); default `./.skewless`. */
  readonly dir?: string;
  /** The clock for `write_time` and `api_invocation_time`; default `Date.now`. */
  readonly now?: () => number;
  /**
   * Where groups with aggregations keep each entity's window state between batches:
   * `dynamoDbAggregationState({ tableName })` on AWS, the embedded one locally. Required for them.
   */
  readonly aggregationState?: AggregationStateStore | Promise<AggregationStateStore>;
}

/** A store's backends, once opened. */
export interface StoreBackends {
  readonly online: OnlineStore;
  readonly offline: OfflineStore | undefined;
}

export interface IngestOptions extends OnlinePutOptions {
  /** The source position of the record at `index`, carried into errors and the dead-letter sink. */
  readonly position?: (index: number) => SourcePosition;
  /**
   * What the dead-letter sink keeps as `raw` for the record at `index`; default the raw event. The
   * Lambda handlers pass the payload exactly as it arrived (e.g. Kinesis base64 data), so a number
   * JSON.parse would round is kept as sent.
   */
  readonly payload?: (index: number) => unknown;
  /** `'base64'` when `payload` gives text holding the record's bytes in base64: its dead letters say so. Only with `payload`. */
  readonly payloadEncoding?: 'base64';
}

type RecordId = string | number | bigint;

/** The typed client: the same calls and the same write rule on every backend. */
export interface FeatureStore {
  /**
   * Runs raw events through the group's pipeline and writes the records online and offline.
   *
   * ### Example
   * ```ts
   * const summary = await store.ingest(cardActivity, rawEvents);
   * console.log(summary.applied, summary.poison);
   * ```
   */
  ingest<G extends AnyFeatureGroup>(group: G, raw: readonly unknown[], options?: IngestOptions): Promise<WriteSummary>;
  /**
   * Writes records that are already in the group's feature shape (validated and encoded first).
   *
   * ### Example
   * ```ts
   * await store.put(cardActivity, [{ card_id: 'c1', event_time: new Date(), amount: 12.5, is_foreign: false }]);
   * ```
   */
  put<G extends AnyFeatureGroup>(group: G, records: readonly InferFeatures<G>[], options?: IngestOptions): Promise<WriteSummary>;
  /**
   * Reads the online record of an identifier, decoded to the group's types.
   *
   * ### Example
   * ```ts
   * const row = await store.get(cardActivity, 'card-1');              // InferFeatures<typeof cardActivity> | undefined
   * const some = await store.get(cardActivity, 'card-1', { features: ['amount'] });   // { amount: number } | undefined
   * ```
   */
  get<G extends AnyFeatureGroup>(group: G, id: RecordId): Promise<InferFeatures<G> | undefined>;
  get<G extends AnyFeatureGroup, K extends keyof InferFeatures<G> & string>(
    group: G,
    id: RecordId,
    options: { readonly features: readonly K[] },
  ): Promise<Simplify<Pick<InferFeatures<G>, K>> | undefined>;
  /**
   * Reads many identifiers; identifiers without a record are absent from the map.
   *
   * ### Example
   * ```ts
   * const rows = await store.getMany(cardActivity, ['card-1', 'card-2']);
   * ```
   */
  getMany<G extends AnyFeatureGroup>(group: G, ids: readonly RecordId[]): Promise<Map<string, InferFeatures<G>>>;
  /**
   * Deletes a record as SageMaker's DeleteRecord does, appending a delete marker offline.
   *
   * ### Example
   * ```ts
   * await store.delete(cardActivity, 'card-1', new Date(), 'SoftDelete');
   * ```
   */
  delete(group: AnyFeatureGroup, id: RecordId, eventTime: Date, mode?: DeletionMode): Promise<DeleteStatus>;
  /**
   * Sends entries to the configured dead-letter sink (a no-op without one); throws a retryable
   * `BackendError` (WRITE_FAILED) if the sink fails, so the caller can report the records instead of
   * dropping them.
   */
  deadLetter(entries: readonly DeadLetterEntry[]): Promise<void>;
  /** Whether the store has a dead-letter sink (Lambda handlers refuse a store without one unless told to discard). */
  readonly hasDeadLetter: boolean;
  /** The backends, once opened (engines such as `backfill` and `trainingSet` run over them). */
  backends(): Promise<StoreBackends>;
  /**
   * The aggregation state store, for a group with aggregations; a `ConfigurationError` naming
   * `aggregationState` when the store has none.
   */
  aggregationState(group: AnyFeatureGroup): Promise<AggregationStateStore>;
  /** Where engines keep working files by default. */
  readonly dir: string;
  /** The store's clock (epoch ms): what its offline rows' `write_time` is taken from, and the present of `featureVectors` and `audit`. */
  readonly now: () => number;
  close(): Promise<void>;
}

/** Each store's write clock (see `writeClock`): its own writes and the backfills over it share one. */
const clocks = new WeakMap<FeatureStore, WriteClock>();

/** The write clock of a store `createFeatureStore` made; for another object standing in for one, a clock of its own from its `now`. */
export function writeClockOf(store: FeatureStore): WriteClock {
  let clock = clocks.get(store);
  if (!clock) {
    clock = writeClock(store.now);
    clocks.set(store, clock);
  }
  return clock;
}

/** Where a store's engines, the embedded stores and the CLI keep their files when given no `dir`: relative to the working directory. */
export const DEFAULT_DIR = '.skewless';

function idText(group: AnyFeatureGroup, id: RecordId): string {
  const text = String(id);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes === 0 || bytes > MAX_RECORD_IDENTIFIER_BYTES) {
    throw new FeatureValidationError(`group "${group.name}": record identifier must be 1..${MAX_RECORD_IDENTIFIER_BYTES} bytes, got ${bytes}`, {
      issues: [{ code: bytes === 0 ? 'too_small' : 'too_big', path: [group.recordIdentifier], message: 'record identifier length' }],
    });
  }
  return text;
}

/** An online store, an offline store, a state store: objects with their methods, or promises of them. */
const promiseOr = (methods: readonly string[], what: string) =>
  z.custom<object>(
    (value) => (typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function') || (typeof value === 'object' && value !== null && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function')),
    { error: expected(`${what} (an object with ${methods.join(', ')}, or a promise of one)`) },
  );
const storeOptions = /* @__PURE__ */ lazySchema(() => z.strictObject(
  {
    online: promiseOr(['put', 'get', 'getMany', 'delete', 'close'], 'an online store such as sageMakerOnline(), dynamoDbOnline() or localStores().online'),
    offline: z.union([z.literal(false), promiseOr(['append', 'scan', 'close'], 'an offline store')], {
      error: expected('an offline store such as s3Offline(), athenaOffline() or localStores().offline, or false for none'),
    }),
    deadLetter: z.optional(deadLetterSinkSchema()),
    dir: z.optional(z.string({ error: expected('a directory path') })),
    now: z.optional(functionSchema('a function returning epoch milliseconds')),
    aggregationState: z.optional(promiseOr(['load', 'save', 'settle', 'close'], 'an aggregation state store such as dynamoDbAggregationState()')),
  },
  { error: expected('an object with online and offline backends, e.g. localStores() or { online: sageMakerOnline(), offline: false }') },
));
const ttlSchema = /* @__PURE__ */ lazySchema(() => z.strictObject({ Unit: z.enum(['Seconds', 'Minutes', 'Hours', 'Days', 'Weeks']), Value: positiveInteger() }, { error: expected("{ Unit: 'Seconds' | 'Minutes' | 'Hours' | 'Days' | 'Weeks', Value: a positive whole number }") }));
const ingestOptionsSchema = /* @__PURE__ */ lazySchema(() => z.strictObject({
  position: z.optional(functionSchema('a function of the record index')),
  payload: z.optional(functionSchema('a function of the record index')),
  payloadEncoding: z.optional(z.literal('base64', { error: expected("'base64'") })),
  ttl: z.optional(ttlSchema()),
  deadline: z.optional(z.number({ error: expected('epoch milliseconds') })),
  onRetry: z.optional(functionSchema('a function')),
}));
// Checked as a whole, not element by element: a call is checked once, never per record.
const eventsSchema = /* @__PURE__ */ lazySchema(() => z.custom<readonly unknown[]>((value) => Array.isArray(value), { error: expected('an array') }));
const recordId = /* @__PURE__ */ lazySchema(() => z.union([z.string(), z.number(), z.bigint()], { error: expected('a record identifier: a string or an integer') }));
const idsSchema = /* @__PURE__ */ lazySchema(() => z.array(recordId(), { error: expected('an array of record identifiers') }));
const getOptionsSchema = /* @__PURE__ */ lazySchema(() => z.optional(z.strictObject({ features: z.optional(z.array(z.string(), { error: expected('a list of feature names') })) }, { error: expected('{ features: [names] }') })));
const deleteSchema = /* @__PURE__ */ lazySchema(() => z.object({
  eventTime: z.date({ error: expected('the Date of the delete') }).check(z.refine((d) => !Number.isNaN(d.getTime()), { error: 'expected a valid Date' })),
  mode: z.enum(['SoftDelete', 'HardDelete'], { error: expected("'SoftDelete' or 'HardDelete'") }),
}));

/** Where a write's records came from, and what becomes of those the online backend cannot store. */
interface Refused {
  position(index: number): SourcePosition;
  /** Dead-letters them (ingest) or reports them (put); the outcomes say which the sink took. */
  poison(unstorable: readonly { index: number; error: RecordError }[]): Promise<RecordOutcome[]>;
}

/** The TTL a write uses: the call's, else the group's. */
function ttlOf(group: AnyFeatureGroup, options: OnlinePutOptions): OnlinePutOptions {
  const ttl = options.ttl ?? group.ttl;
  return ttl ? { ttl } : {};
}

/**
 * The backends of `store`, where a call (`where`) takes a store: anything but one `createFeatureStore`
 * made is refused, naming the call, before any backend is reached.
 */
export function backendsOf(store: FeatureStore, where: string): Promise<StoreBackends> {
  if (typeof (store as Partial<FeatureStore> | null)?.backends !== 'function') {
    // localStores() or { online, offline } where the store they make was meant.
    const backends = typeof store === 'object' && store !== null && 'online' in store ? ': pass these backends to createFeatureStore and give its store' : '';
    throw new ConfigurationError('INVALID_CONFIG', `${where}: expected a feature store made by createFeatureStore, got ${describeValue(store)}${backends}`);
  }
  return store.backends();
}

/**
 * Creates the typed feature store client over the backends you choose: the embedded stores
 * (`localStores()` from `skewless/local`), AWS (`sageMakerOnline()`, `dynamoDbOnline()`,
 * `s3Offline()`, `athenaOffline()` from `skewless/aws`), or your own. Backends open on first use.
 *
 * ### Example
 * ```ts
 * import { createFeatureStore } from 'skewless';
 * import { localStores } from 'skewless/local';
 * const store = createFeatureStore(localStores());
 * await store.ingest(cardActivity, rawEvents);
 * const row = await store.get(cardActivity, 'card-1');
 * ```
 */
export function createFeatureStore(options: FeatureStoreOptions): FeatureStore {
  checkOptions(storeOptions, options, 'createFeatureStore options');
  const dir = options.dir ?? DEFAULT_DIR;
  const now = options.now ?? Date.now;
  const clock = writeClock(now);
  let opened: Promise<StoreBackends> | undefined;

  const backends = () => {
    opened ??= (async () => ({ online: await options.online, offline: options.offline === false ? undefined : await options.offline }))();
    return opened;
  };

  let stateOpened: Promise<AggregationStateStore> | undefined;
  const aggregationState = async (group: AnyFeatureGroup) => {
    if (options.aggregationState === undefined) {
      throw new ConfigurationError(
        'INVALID_CONFIG',
        `group "${group.name}" has aggregations, so the store needs somewhere to keep their state: ` +
          'pass aggregationState: dynamoDbAggregationState({ tableName }) (skewless/aws), or localStores() (skewless/local), to createFeatureStore',
      );
    }
    stateOpened ??= Promise.resolve(options.aggregationState);
    return stateOpened;
  };

  /** Dead-letters pipeline failures; a failure the sink did not take is reported for redelivery instead. */
  const poisonOutcomes = async (
    group: AnyFeatureGroup,
    failures: readonly { index: number; error: RecordError }[],
    raw: readonly unknown[],
    ingestOptions: IngestOptions,
  ): Promise<RecordOutcome[]> => {
    const entries = failures.map((f) => {
      const entry: DeadLetterEntry = { group: group.name, raw: ingestOptions.payload ? ingestOptions.payload(f.index) : raw[f.index], error: f.error, position: f.error.position };
      return ingestOptions.payloadEncoding ? { ...entry, rawEncoding: ingestOptions.payloadEncoding } : entry;
    });
    try {
      await sendToDeadLetter(options.deadLetter, entries);
      return failures.map((f) => ({ index: f.index, status: 'poison', error: f.error }));
    } catch (cause) {
      // A poison record the sink did not take is not handled: report it for redelivery, never drop it.
      const error = deadLetterFailed(group.name, cause);
      const notWritten = notWrittenBy(cause, entries);
      return failures.map((f, i) => (notWritten && !notWritten.has(entries[i] as DeadLetterEntry) ? { index: f.index, status: 'poison', error: f.error } : { index: f.index, status: 'failed', error }));
    }
  };

  const putOptionsOf = (group: AnyFeatureGroup, given: IngestOptions): OnlinePutOptions => ({
    ...ttlOf(group, given),
    ...(given.deadline !== undefined ? { deadline: given.deadline } : {}),
    ...(given.onRetry ? { onRetry: given.onRetry } : {}),
  });

  /**
   * Writes encoded records online, then offline unless the online backend already delivers there;
   * one outcome per record, in input order (a record whose offline write failed is failed too).
   */
  const writeRecords = async (
    group: AnyFeatureGroup,
    records: readonly SageMakerRecord[],
    putOptions: OnlinePutOptions,
  ): Promise<{ outcomes: OnlineWriteOutcome[]; retried: number }> => {
    if (records.length === 0) return { outcomes: [], retried: 0 };
    const { online, offline } = await backends();
    let retried = 0;
    const onRetry = () => {
      retried++;
      putOptions.onRetry?.();
    };
    const outcomes = await online.put(group, records, { ...putOptions, onRetry });
    if (offline && !online.writesOffline) {
      const toOffline = records.filter((_, i) => typeof outcomes[i] === 'string');
      if (toOffline.length > 0) {
        try {
          await offline.append(group, offlineWritesAt(group, toOffline, clock));
        } catch (cause) {
          // A backend's own error says what failed and whether retrying can help (a missing bucket stays missing).
          const error =
            cause instanceof BackendError
              ? cause
              : new BackendError('WRITE_FAILED', `group "${group.name}": offline write failed: ${cause instanceof Error ? cause.message : describeValue(cause)}`, { cause, retryable: true, group: group.name });
          for (let i = 0; i < outcomes.length; i++) if (typeof outcomes[i] === 'string') outcomes[i] = error;
        }
      }
    }
    return { outcomes, retried };
  };

  /**
   * Writes encoded records (with their input indices) and summarizes them with the outcomes decided
   * already. A record the online backend refuses to store (`INVALID_VALUE`) is poison like any record
   * the pipeline refused: trying again cannot store it, so it is never reported for redelivery.
   */
  const write = async (
    group: AnyFeatureGroup,
    encoded: { index: number; record: SageMakerRecord }[],
    poison: RecordOutcome[],
    putOptions: OnlinePutOptions,
    refused: Refused,
  ): Promise<WriteSummary> => {
    const { outcomes: results, retried } = await writeRecords(
      group,
      encoded.map((e) => e.record),
      putOptions,
    );
    const outcomes: RecordOutcome[] = [...poison];
    const unstorable: { index: number; error: RecordError }[] = [];
    results.forEach((result, i) => {
      const { index } = encoded[i] as (typeof encoded)[number];
      // Anything but a status is a failure: a BackendError from another copy of the package is one too.
      if (typeof result === 'string') outcomes.push({ index, status: result });
      else if (result.code === 'INVALID_VALUE') {
        unstorable.push({ index, error: unstorableRecord(result, refused.position(index)) });
      } else outcomes.push({ index, status: 'failed', error: result });
    });
    if (unstorable.length > 0) outcomes.push(...(await refused.poison(unstorable)));
    // Poison came first and writes after; input order is what callers index by.
    if (poison.length > 0 || unstorable.length > 0) outcomes.sort((a, b) => a.index - b.index);
    return summarize(outcomes, { retried });
  };

  const decode = <G extends AnyFeatureGroup>(group: G, record: SageMakerRecord, partial: boolean): InferFeatures<G> =>
    group.codec.fromRecord(record, { partial }) as InferFeatures<G>;

  const store = {
    async ingest(group, raw, ingestOptions = {}) {
      requireGroup(group, 'ingest');
      checkOptions(eventsSchema, raw, 'ingest events');
      checkOptions(ingestOptionsSchema, ingestOptions, 'ingest options');
      if (ingestOptions.payloadEncoding !== undefined && ingestOptions.payload === undefined) {
        throw new ConfigurationError('INVALID_CONFIG', 'ingest options.payloadEncoding: it says what payload gives, and there is no payload option');
      }
      // Brought by the group's aggregates, so a store whose groups have none does not carry it.
      const withState = statefulIngestOf(group);
      if (withState) {
        const { online } = await backends();
        return withState(raw, ingestOptions, {
          states: await aggregationState(group),
          poison: (failures) => poisonOutcomes(group, failures, raw, ingestOptions),
          write: (records) => writeRecords(group, records, putOptionsOf(group, ingestOptions)),
          unstorable: (record) => online.unstorable?.(group, record),
        });
      }
      const { records, failures } = group.processBatch(raw, ingestOptions.position ? { position: ingestOptions.position } : {});
      const poison = await poisonOutcomes(group, failures, raw, ingestOptions);
      return write(group, records.map((r) => ({ index: r.index, record: r.encoded })), poison, putOptionsOf(group, ingestOptions), {
        position: (index) => ingestOptions.position?.(index) ?? { index },
        poison: (unstorable) => poisonOutcomes(group, unstorable, raw, ingestOptions),
      });
    },

    deadLetter: (entries) =>
      sendToDeadLetter(options.deadLetter, [...entries]).catch((cause: unknown) => {
        throw deadLetterFailed((entries[0] as DeadLetterEntry).group, cause);
      }),
    hasDeadLetter: options.deadLetter !== undefined,

    async put(group, records, putOptions = {}) {
      requireGroup(group, 'put');
      checkOptions(eventsSchema, records, 'put records');
      checkOptions(ingestOptionsSchema, putOptions, 'put options');
      const encoded: { index: number; record: SageMakerRecord }[] = [];
      const poison: RecordOutcome[] = [];
      const position = (index: number): SourcePosition => putOptions.position?.(index) ?? { source: 'put', index };
      records.forEach((record, index) => {
        const result = group.processRecord(record, position(index));
        if (result.ok) encoded.push({ index, record: result.encoded });
        else poison.push({ index, status: 'poison', error: result.error });
      });
      // The caller holds the records it put: poison is reported, as the pipeline's is.
      return write(group, encoded, poison, putOptionsOf(group, putOptions), {
        position,
        poison: async (unstorable) => unstorable.map((u) => ({ index: u.index, status: 'poison', error: u.error })),
      });
    },

    async get(group: AnyFeatureGroup, id: RecordId, getOptions?: { readonly features: readonly string[] }) {
      requireGroup(group, 'get');
      checkOptions(recordId, id, 'get identifier');
      checkOptions(getOptionsSchema, getOptions, 'get options');
      const features = getOptions?.features;
      const unknown = (features ?? []).filter((f) => !group.featureNames.includes(f));
      if (unknown.length > 0) {
        throw new DefinitionError('UNKNOWN_FEATURE', `group "${group.name}" has no feature ${unknown.map((f) => `"${f}"`).join(', ')}`, {
          group: group.name,
          feature: unknown[0],
        });
      }
      const { online } = await backends();
      const found = await online.get(group, idText(group, id), features ? { features } : {});
      return found && decode(group, found.record, features !== undefined);
    },

    async getMany(group, ids, ...rest: unknown[]) {
      requireGroup(group, 'getMany');
      checkOptions(idsSchema, ids, 'getMany identifiers');
      // From JavaScript, get's options would otherwise be ignored here and whole records returned.
      // An explicit undefined is what a wrapper passing its own arguments on sends: no options.
      if (rest.some((given) => given !== undefined)) throw new ConfigurationError('INVALID_CONFIG', `getMany takes no options: it reads whole records, got ${describeValue(rest.find((given) => given !== undefined))}; to read some features, call get(group, id, { features })`);
      const { online } = await backends();
      const texts = ids.map((id) => idText(group, id));
      const found = await online.getMany(group, texts);
      const out = new Map<string, InferFeatures<typeof group>>();
      for (const [id, { record }] of found) out.set(id, decode(group, record, false));
      return out;
    },

    async delete(group, id, eventTime, mode = 'SoftDelete') {
      requireGroup(group, 'delete');
      checkOptions(recordId, id, 'delete identifier');
      checkOptions(deleteSchema, { eventTime, mode }, 'delete');
      const { online, offline } = await backends();
      const ms = eventTime.getTime();
      const time = group.eventTimeFormat === 'epoch-seconds' ? String(ms / 1000) : formatIsoInstant(ms);
      const key = idText(group, id);
      const status = await online.delete(group, key, time, mode);
      // As DeleteRecord documents: a stale HardDelete writes no marker; a stale SoftDelete still does.
      if (offline && !online.writesOffline && !(status === 'stale' && mode === 'HardDelete')) {
        const at = clock(new Set([rowKey(key, time)]));
        const marker: SageMakerRecord = [
          { FeatureName: group.recordIdentifier, ValueAsString: key },
          { FeatureName: group.eventTime, ValueAsString: time },
        ];
        await offline.append(group, [{ record: marker, writeTime: at, apiInvocationTime: at, isDeleted: true }]);
      }
      return status;
    },

    backends,
    aggregationState,
    dir,
    now,

    async close() {
      // Every backend given, used or not (localStores opens its files when called), and each one that
      // opened even where another did not: a backend left open keeps its files.
      const given = [options.aggregationState, options.online, options.offline === false ? undefined : options.offline];
      const live = (await Promise.allSettled(given)).flatMap((backend) => (backend.status === 'fulfilled' && backend.value ? [backend.value] : []));
      const closed = await Promise.allSettled(live.map((backend) => backend.close()));
      const failed = closed.find((c) => c.status === 'rejected');
      if (failed) throw failed.reason;
    },
  } as FeatureStore;
  clocks.set(store, clock);
  return store;
}
