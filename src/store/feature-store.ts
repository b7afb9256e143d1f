import { BackendError, ConfigurationError, DefinitionError, FeatureValidationError, type RecordError, type SourcePosition } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import { MAX_RECORD_IDENTIFIER_BYTES } from '../schema/codec.js';
import { formatIsoInstant } from '../schema/time.js';
import type { AnyFeatureGroup, InferFeatures, Simplify } from '../schema/types.js';
import type { BackfillOptions, BackfillSummary } from '../backfill/backfill.js';
import type { TrainingSet, TrainingSetOptions } from '../training/training-set.js';
import type { AnyFeatureSelection, InferTrainingRow } from '../schema/types.js';
import type { AuditOptions, AuditReport } from '../audit/audit.js';
import { pipelineOf } from '../define.js';
import type { AggregatedIngest } from './aggregated-ingest.js';
import { summarize } from './summary.js';
import type { LineageOptions, LineageReport } from '../audit/lineage.js';
import type {
  AggregationStateStore,
  DeleteStatus,
  DeletionMode,
  OfflineStore,
  OnlinePutOptions,
  OnlineStore,
  OnlineWriteOutcome,
} from './types.js';

/** A record the pipeline refused, as a dead-letter sink receives it. */
export interface DeadLetterEntry {
  readonly group: string;
  /** The raw event exactly as it arrived. */
  readonly raw: unknown;
  readonly error: RecordError;
  readonly position: SourcePosition | undefined;
}

/** Where poison records go: an object with `write`, or a function. */
export type DeadLetterSink =
  | { write(entries: readonly DeadLetterEntry[]): Promise<void> | void }
  | ((entries: readonly DeadLetterEntry[]) => Promise<void> | void);

export interface FeatureStoreOptions {
  /** The online tier; default the embedded DuckDB store under `dir`. */
  readonly online?: OnlineStore | Promise<OnlineStore>;
  /** The offline tier; default the embedded Parquet store under `<dir>/offline`; `false` for none. */
  readonly offline?: OfflineStore | Promise<OfflineStore> | false;
  /** Where poison records go (they are always reported in the outcomes too). */
  readonly deadLetter?: DeadLetterSink;
  /** Directory of the embedded default stores; default `./.skewless`. */
  readonly dir?: string;
  /** The clock for `write_time` and `api_invocation_time`; default `Date.now`. */
  readonly now?: () => number;
  /**
   * Where groups with aggregations keep each entity's window state between batches:
   * `dynamoDbAggregationState({ tableName })` on AWS. Default the embedded store under `dir` when the
   * online store is the embedded one too; required otherwise.
   */
  readonly aggregationState?: AggregationStateStore | Promise<AggregationStateStore>;
}

/** What became of one input record. */
export type RecordOutcome =
  /** `duplicate`: a redelivered record its entity's aggregation state had already applied; not written again. */
  | { readonly index: number; readonly status: 'applied' | 'stale' | 'accepted' | 'duplicate' }
  | { readonly index: number; readonly status: 'poison'; readonly error: RecordError }
  | { readonly index: number; readonly status: 'failed'; readonly error: BackendError };

/** The outcome of `ingest` or `put`: one entry per input record, and the counts. */
export interface WriteSummary {
  readonly outcomes: RecordOutcome[];
  /** Records that became the online record of their identifier. */
  readonly applied: number;
  /** Records older than the online record: written offline only. */
  readonly stale: number;
  /** Records a service took without saying which way the write rule went (SageMaker). */
  readonly accepted: number;
  readonly poison: number;
  readonly failed: number;
  /** Calls the online backend retried (throttling, 5xx, unprocessed leftovers) on the way. */
  readonly retried: number;
  /** Redelivered records the aggregation state had already applied (groups with aggregations). */
  readonly duplicate: number;
  /** Records older than the allowed lateness: written, but left out of their entity's aggregates. */
  readonly late: number;
  /**
   * Saves of an entity's aggregation state that found another writer's newer version (another
   * Lambda instance, or a stale cache): the state was read again and the records aggregated again.
   */
  readonly conflicts: number;
  /**
   * Records written again from an entity's outbox: produced by an earlier commit whose writes were
   * not confirmed (a crash, a timeout, a failed write). Online they change nothing; offline they may
   * add a row with the same values.
   */
  readonly reemitted: number;
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
   * Runs history through the group's pipeline (the one the Lambda handlers run) into the offline
   * store, and with `to: 'online' | 'both'` the latest record per identifier online. Streams the
   * source; deterministic file names make a rerun replace its output; a checkpoint resumes it.
   *
   * ### Example
   * ```ts
   * const summary = await store.backfill(cardActivity, { from: ndjsonFile('history.ndjson'), checkpoint: 'history.ckpt' });
   * console.log(summary.written, summary.poison, summary.rejectsFile);
   * ```
   */
  backfill(group: AnyFeatureGroup, options: BackfillOptions): Promise<BackfillSummary>;
  /**
   * A point-in-time training set: one row per spine row, in spine order, each selected feature as of
   * the row's time (never later; ties, deletes and maxAge by the rule in DESIGN.md).
   *
   * ### Example
   * ```ts
   * const { rows, summary } = await store.trainingSet({
   *   spine: labels, entityKey: 'card_id', timestamp: 'label_time',
   *   features: [cardActivity.select('amount', 'is_foreign').with({ maxAge: '30d' })],
   * });
   * rows[0]['card-activity__amount'];   // number | null
   * ```
   */
  trainingSet<S extends object, const F extends readonly AnyFeatureSelection[]>(
    options: TrainingSetOptions<S, F>,
  ): Promise<TrainingSet<InferTrainingRow<S, F>>>;
  /**
   * Measures online/offline consistency on a sample of identifiers: per feature match and mismatch
   * rates, missing records, number differences, and a cause for each difference it can explain
   * (`fingerprint`, `offline-lag`, `ttl-expired`, `delete-pending`, `late-events`, else `unexplained`).
   *
   * ### Example
   * ```ts
   * const report = await store.audit(cardActivity, { sample: 500 });
   * console.log(report.consistencyRate, report.causes);
   * ```
   */
  audit(group: AnyFeatureGroup, options?: AuditOptions): Promise<AuditReport>;
  /**
   * Which fingerprints (versions of the code) wrote the group's records, offline (every row) and
   * online (a sample), with counts and time ranges.
   *
   * ### Example
   * ```ts
   * const { offline, online } = await store.lineage(cardActivity);
   * ```
   */
  lineage(group: AnyFeatureGroup, options?: LineageOptions): Promise<LineageReport>;
  /**
   * Sends entries to the configured dead-letter sink (a no-op without one); throws if the sink
   * fails, so the caller can report the records instead of dropping them.
   */
  deadLetter(entries: readonly DeadLetterEntry[]): Promise<void>;
  /** The backends, once opened. */
  backends(): Promise<{ readonly online: OnlineStore; readonly offline: OfflineStore | undefined }>;
  close(): Promise<void>;
}

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

/** The TTL a write uses: the call's, else the group's. */
function ttlOf(group: AnyFeatureGroup, options: OnlinePutOptions): OnlinePutOptions {
  const ttl = options.ttl ?? group.ttl;
  return ttl ? { ttl } : {};
}

async function sendToDeadLetter(sink: DeadLetterSink | undefined, entries: DeadLetterEntry[]): Promise<void> {
  if (sink === undefined || entries.length === 0) return;
  await (typeof sink === 'function' ? sink(entries) : sink.write(entries));
}

type LocalModule = typeof import('../local/index.js');

/**
 * The embedded stores, by a specifier bundlers do not follow: a Lambda bundle that passes its own
 * backends then carries neither the local stores nor a reference to DuckDB.
 */
function loadLocal(): Promise<LocalModule> {
  const specifier = ['skewless', 'local'].join('/');
  return import(/* @vite-ignore */ specifier) as Promise<LocalModule>;
}

type EnginesModule = typeof import('../engines.js');

/**
 * The backfill and training-set engines, loaded on first use by a specifier bundlers do not follow,
 * like the local stores: an ingestion Lambda's bundle does not carry them or the Parquet code.
 */
function loadEngines(): Promise<EnginesModule> {
  const specifier = ['skewless', 'engines'].join('/');
  return import(/* @vite-ignore */ specifier) as Promise<EnginesModule>;
}

/**
 * Creates the typed feature store client. With no options it runs on the embedded local stores
 * (DuckDB under `./.skewless`); on AWS pass `sageMakerOnline()` / `dynamoDbOnline()` and
 * `s3Offline()` / `athenaOffline()` from `skewless/aws`.
 *
 * ### Example
 * ```ts
 * const store = createFeatureStore();
 * await store.ingest(cardActivity, rawEvents);
 * const row = await store.get(cardActivity, 'card-1');
 * ```
 */
export function createFeatureStore(options: FeatureStoreOptions = {}): FeatureStore {
  const dir = options.dir ?? '.skewless';
  const now = options.now ?? Date.now;
  let opened: Promise<{ online: OnlineStore; offline: OfflineStore | undefined }> | undefined;

  const backends = () => {
    // Opened on first use: the local defaults load DuckDB, which an AWS-only user never installs.
    opened ??= (async () => {
      const local = options.online === undefined || options.offline === undefined ? await loadLocal() : undefined;
      const online = options.online !== undefined ? await options.online : await (local as LocalModule).localOnline({ dir });
      let offline: OfflineStore | undefined;
      if (options.offline === false) offline = undefined;
      else if (options.offline !== undefined) offline = await options.offline;
      else offline = await (local as LocalModule).localOffline({ dir: `${dir}/offline` });
      return { online, offline };
    })();
    return opened;
  };

  let stateOpened: Promise<AggregationStateStore> | undefined;
  const aggregationState = (group: AnyFeatureGroup) => {
    stateOpened ??= (async () => {
      if (options.aggregationState !== undefined) return options.aggregationState;
      if (options.online !== undefined) {
        throw new ConfigurationError(
          'INVALID_CONFIG',
          `group "${group.name}" has aggregations, so the store needs somewhere to keep their state: ` +
            'pass aggregationState: dynamoDbAggregationState({ tableName }) (skewless/aws) to createFeatureStore',
        );
      }
      return (await loadLocal()).localAggregationState({ dir });
    })();
    return stateOpened;
  };

  /** Dead-letters pipeline failures; a failure the sink did not take is reported for redelivery instead. */
  const poisonOutcomes = async (
    group: AnyFeatureGroup,
    failures: readonly { index: number; error: RecordError }[],
    raw: readonly unknown[],
    ingestOptions: IngestOptions,
  ): Promise<RecordOutcome[]> => {
    try {
      await sendToDeadLetter(
        options.deadLetter,
        failures.map((f) => ({ group: group.name, raw: ingestOptions.payload ? ingestOptions.payload(f.index) : raw[f.index], error: f.error, position: f.error.position })),
      );
      return failures.map((f) => ({ index: f.index, status: 'poison', error: f.error }));
    } catch (cause) {
      // A poison record the sink did not take is not handled: report it for redelivery, never drop it.
      const error = new BackendError('WRITE_FAILED', `group "${group.name}": dead-letter sink failed: ${(cause as Error).message}`, {
        cause,
        retryable: true,
        group: group.name,
      });
      return failures.map((f) => ({ index: f.index, status: 'failed', error }));
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
      const toOffline = records.filter((_, i) => !(outcomes[i] instanceof BackendError));
      if (toOffline.length > 0) {
        const at = new Date(now());
        try {
          await offline.append(group, toOffline.map((record) => ({ record, writeTime: at, apiInvocationTime: at, isDeleted: false })));
        } catch (cause) {
          const error = new BackendError('WRITE_FAILED', `group "${group.name}": offline write failed: ${(cause as Error).message}`, {
            cause,
            retryable: true,
            group: group.name,
          });
          for (let i = 0; i < outcomes.length; i++) if (!(outcomes[i] instanceof BackendError)) outcomes[i] = error;
        }
      }
    }
    return { outcomes, retried };
  };

  /** Writes encoded records (with their input indices) and summarizes them with the outcomes decided already. */
  const write = async (
    group: AnyFeatureGroup,
    encoded: { index: number; record: SageMakerRecord }[],
    poison: RecordOutcome[],
    putOptions: OnlinePutOptions,
  ): Promise<WriteSummary> => {
    const { outcomes: results, retried } = await writeRecords(
      group,
      encoded.map((e) => e.record),
      putOptions,
    );
    const outcomes: RecordOutcome[] = [...poison];
    results.forEach((result, i) => {
      const { index } = encoded[i] as (typeof encoded)[number];
      outcomes.push(result instanceof BackendError ? { index, status: 'failed', error: result } : { index, status: result });
    });
    // Poison came first and writes after; input order is what callers index by.
    if (poison.length > 0) outcomes.sort((a, b) => a.index - b.index);
    return summarize(outcomes, { retried });
  };

  const decode = <G extends AnyFeatureGroup>(group: G, record: SageMakerRecord, partial: boolean): InferFeatures<G> =>
    group.codec.fromRecord(record, { partial }) as InferFeatures<G>;

  return {
    async ingest(group, raw, ingestOptions = {}) {
      // Brought by the group's aggregates, so a store whose groups have none does not carry it.
      const aggregated = pipelineOf(group).aggregatedIngest as AggregatedIngest | undefined;
      if (aggregated) {
        return aggregated(group, raw, ingestOptions, {
          states: await aggregationState(group),
          poison: (failures) => poisonOutcomes(group, failures, raw, ingestOptions),
          write: (records) => writeRecords(group, records, putOptionsOf(group, ingestOptions)),
        });
      }
      const { records, failures } = group.processBatch(raw, ingestOptions.position ? { position: ingestOptions.position } : {});
      const poison = await poisonOutcomes(group, failures, raw, ingestOptions);
      return write(group, records.map((r) => ({ index: r.index, record: r.encoded })), poison, putOptionsOf(group, ingestOptions));
    },

    deadLetter: (entries) => sendToDeadLetter(options.deadLetter, [...entries]),

    async trainingSet(trainingOptions) {
      const [{ offline }, engines] = await Promise.all([backends(), loadEngines()]);
      return engines.buildTrainingSet(offline, trainingOptions as TrainingSetOptions) as never;
    },

    async audit(group, auditOptions) {
      const [{ online, offline }, engines] = await Promise.all([backends(), loadEngines()]);
      return engines.runAudit(group, online, offline, auditOptions);
    },

    async lineage(group, lineageOptions) {
      const [{ online, offline }, engines] = await Promise.all([backends(), loadEngines()]);
      return engines.runLineage(group, online, offline, lineageOptions);
    },

    async backfill(group, backfillOptions) {
      const [{ online, offline }, engines] = await Promise.all([backends(), loadEngines()]);
      return engines.runBackfill(group, backfillOptions, {
        online,
        offline,
        dir,
        now,
        // The state store, where the store has one (a backfill does not need it otherwise).
        aggregationState: () => aggregationState(group).catch((error: unknown) => (error instanceof ConfigurationError ? undefined : Promise.reject(error))),
      });
    },

    async put(group, records, putOptions = {}) {
      const encoded: { index: number; record: SageMakerRecord }[] = [];
      const poison: RecordOutcome[] = [];
      records.forEach((record, index) => {
        const result = group.processRecord(record, putOptions.position?.(index) ?? { source: 'put', index });
        if (result.ok) encoded.push({ index, record: result.encoded });
        else poison.push({ index, status: 'poison', error: result.error });
      });
      return write(group, encoded, poison, putOptionsOf(group, putOptions));
    },

    async get(group: AnyFeatureGroup, id: RecordId, getOptions?: { readonly features: readonly string[] }) {
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

    async getMany(group, ids) {
      const { online } = await backends();
      const texts = ids.map((id) => idText(group, id));
      const found = await online.getMany(group, texts);
      const out = new Map<string, InferFeatures<typeof group>>();
      for (const [id, { record }] of found) out.set(id, decode(group, record, false));
      return out;
    },

    async delete(group, id, eventTime, mode = 'SoftDelete') {
      const { online, offline } = await backends();
      const ms = eventTime.getTime();
      const time = group.eventTimeFormat === 'epoch-seconds' ? String(ms / 1000) : formatIsoInstant(ms);
      const key = idText(group, id);
      const status = await online.delete(group, key, time, mode);
      // As DeleteRecord documents: a stale HardDelete writes no marker; a stale SoftDelete still does.
      if (offline && !online.writesOffline && !(status === 'stale' && mode === 'HardDelete')) {
        const at = new Date(now());
        const marker: SageMakerRecord = [
          { FeatureName: group.recordIdentifier, ValueAsString: key },
          { FeatureName: group.eventTime, ValueAsString: time },
        ];
        await offline.append(group, [{ record: marker, writeTime: at, apiInvocationTime: at, isDeleted: true }]);
      }
      return status;
    },

    backends,

    async close() {
      if (stateOpened) await (await stateOpened.catch(() => undefined))?.close();
      if (!opened) return;
      const { online, offline } = await opened;
      await online.close();
      await offline?.close();
    },
  } as FeatureStore;
}
