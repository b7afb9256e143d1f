import type {
  BatchGetRecordCommandOutput,
  BatchGetRecordIdentifier,
  SageMakerFeatureStoreRuntimeClient,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { BackendError, ConfigurationError } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { DeleteStatus, DeletionMode, OfflineStore, OnlinePutOptions, OnlineRecord, OnlineStore, OnlineWriteOutcome } from '../store/types.js';
import { beforeDeadline, inOrderPerKey, mapConcurrent } from '../util/concurrency.js';
import { type AwsClient, lazyClient, sdkClient } from './clients.js';
import { backendError, deadlineError, haltAfterFailure } from './errors.js';
import { loadFeatureStoreRuntime } from './sdk.js';
import { callWaves, collapseToNewest, identifierOf, roundsPerIdentifier, type WriteStages, type WriteTarget } from './collapse.js';
import { clientConfig, countAttempts, drainWithRetry, isGroupNotFound, resendGroupNotFound, type RetryOptions } from './retry.js';
import * as z from 'zod/mini';
import { booleanSchema, checkOptions, lazySchema, positiveInteger } from '../util/options.js';
import { awsClient, concurrency, retryOptions } from './options.js';

type RuntimeModule = typeof import('@aws-sdk/client-sagemaker-featurestore-runtime');

/** BatchGetRecord: at most 100 records per call (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html). */
const BATCH_GET_LIMIT = 100;
/** BatchWriteRecord: 1 to 25 entries (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_BatchWriteRecord.html). */
const BATCH_WRITE_LIMIT = 25;

const SAGEMAKER_ONLINE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  client: z.optional(awsClient()),
  concurrency: concurrency(),
  targetStores: z.optional(z.array(z.enum(['OnlineStore', 'OfflineStore']))),
  batchWrite: z.optional(booleanSchema()),
  collapse: z.optional(booleanSchema()),
  batchSize: z.optional(
    positiveInteger().check(z.refine((n) => n <= BATCH_WRITE_LIMIT, { error: (issue) => `BatchWriteRecord takes 1 to ${BATCH_WRITE_LIMIT} entries, got ${String(issue.input)}` })),
  ),
  retry: z.optional(retryOptions()),
}));

export interface SageMakerOnlineOptions {
  /** Your client; default one built from the environment (region, credentials, AWS_ENDPOINT_URL). */
  readonly client?: AwsClient;
  /** Write calls (PutRecord or BatchWriteRecord) in flight at once; default 16. */
  readonly concurrency?: number;
  /** Stores each PutRecord writes; default both of the group's. */
  readonly targetStores?: readonly ('OnlineStore' | 'OfflineStore')[];
  /**
   * Write with BatchWriteRecord (up to `batchSize` records a call, at most and by default 25) rather
   * than one PutRecord per record. Default: BatchWriteRecord when the AWS SDK loaded has it (the
   * Lambda runtime's copy may be older), else PutRecord; `true` requires it, `false` never uses it.
   */
  readonly batchWrite?: boolean;
  readonly batchSize?: number;
  /**
   * Of an identifier's records in one put, write only the newest (the one the write rule keeps) to the
   * online store and the others to the offline store alone (`TargetStores: ['OfflineStore']`): the
   * online result is the same, every record still reaches the offline store and gets its own outcome,
   * and a hot identifier costs one online write per batch instead of one per record. Default: on
   * when writing with BatchWriteRecord.
   */
  readonly collapse?: boolean;
  readonly retry?: RetryOptions;
}

type Store = 'OnlineStore' | 'OfflineStore';

type EchoedRecord = readonly { FeatureName?: string | undefined; ValueAsString?: string | undefined }[] | undefined;

/**
 * A BatchWriteRecord entry as the service echoes it in Errors and UnprocessedEntries, as a lookup key:
 * its identifier, event time and stores (two entries alike in these are alike in what a failure means).
 */
function entryKey(group: GroupSchema, record: EchoedRecord, stores: readonly string[] | undefined): string {
  const value = (name: string) => record?.find((f) => f.FeatureName === name)?.ValueAsString ?? '';
  return `${value(group.recordIdentifier)}\u0000${value(group.eventTime)}\u0000${(stores ?? []).join(',')}`;
}

/**
 * Whether writes go out with BatchWriteRecord: as asked, or by default when the SDK module has it
 * (SDK releases before the API have only PutRecord). Asked for and missing is a ConfigurationError.
 */
function writesInBatches(m: RuntimeModule, asked: boolean | undefined): boolean {
  const available = 'BatchWriteRecordCommand' in m;
  if (asked === true && !available) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      'sageMakerOnline({ batchWrite: true }): the @aws-sdk/client-sagemaker-featurestore-runtime loaded has no BatchWriteRecordCommand; bundle a newer release, or leave batchWrite unset to fall back to PutRecord',
    );
  }
  return asked ?? available;
}

/**
 * SageMaker Feature Store as the online store. The service applies the write rule and delivers the
 * offline store itself, so outcomes are `accepted` (the service does not say whether a record was
 * newer) and the store writes nothing offline on top. Writes go out with BatchWriteRecord, 25
 * records a call, collapsed: of an identifier's records in one put only the newest goes online, the
 * others offline alone (to nowhere for a group without an offline store, learned from its refusal or
 * said with `targetStores: ['OnlineStore']`). With an SDK that predates BatchWriteRecord, or
 * `batchWrite: false`, it writes one PutRecord per record.
 *
 * ### Example
 * ```ts
 * import { createFeatureStore } from 'skewless';
 * import { sageMakerOnline } from 'skewless/aws';
 * const store = createFeatureStore({ online: sageMakerOnline({ concurrency: 32 }), offline: false });
 * ```
 */
export function sageMakerOnline(options: SageMakerOnlineOptions = {}): OnlineStore {
  checkOptions(SAGEMAKER_ONLINE_OPTIONS, options, 'sageMakerOnline options');
  const concurrency = options.concurrency ?? 16;
  const retry = options.retry ?? {};
  const client = lazyClient(sdkClient<SageMakerFeatureStoreRuntimeClient>(options.client), () => loadFeatureStoreRuntime().then((m) => new m.SageMakerFeatureStoreRuntimeClient(clientConfig(retry))));
  const targetStores = options.targetStores ? [...options.targetStores] : undefined;
  const retryFor = (putOptions: OnlinePutOptions): RetryOptions => (putOptions.onRetry ? { ...retry, onRetry: putOptions.onRetry } : retry);

  const storesFor = (target: WriteTarget): Store[] | undefined => (target === 'offline' ? ['OfflineStore'] : targetStores);
  /** Groups found to have no offline store: their superseded records need no write. */
  const onlineOnly = new Set<string>();

  const putOne = async (m: RuntimeModule, group: GroupSchema, record: SageMakerRecord, putOptions: OnlinePutOptions, stores = targetStores): Promise<OnlineWriteOutcome> => {
    const c = await client();
    try {
      await countAttempts(
        () =>
          c.send(
            new m.PutRecordCommand({
              FeatureGroupName: group.name,
              Record: record,
              ...(stores ? { TargetStores: stores } : {}),
              ...(putOptions.ttl ? { TtlDuration: putOptions.ttl } : {}),
            }),
          ),
        retryFor(putOptions),
      );
      return 'accepted';
    } catch (error) {
      return backendError(error, group.name, 'write');
    }
  };

  /** BatchWriteRecord, stage after stage; within a stage, calls of up to `batchSize` entries go out together, wave after wave (see `callWaves`). */
  const putBatched = async (m: RuntimeModule, group: GroupSchema, records: readonly SageMakerRecord[], stages: WriteStages, putOptions: OnlinePutOptions) => {
    const outcomes = new Array<OnlineWriteOutcome>(records.length);
    const size = Math.min(options.batchSize ?? BATCH_WRITE_LIMIT, BATCH_WRITE_LIMIT);
    const c = await client();
    const halt = haltAfterFailure<OnlineWriteOutcome>(group.name);
    const halted = new Map<string, OnlineWriteOutcome>();
    for (const stage of stages) {
      // Records that go nowhere more are done, unless their identifier already failed.
      const sent = stage.filter(({ index, target }) => {
        if (target !== 'none') return true;
        outcomes[index] = halted.get(identifierOf(group, records[index] as SageMakerRecord)) ?? 'accepted';
        return false;
      });
      // Wave after wave: an identifier's records never go in two calls at once, so they arrive in order.
      for (const wave of callWaves(group, records, sent, size)) {
        // An identifier whose record failed sends nothing later in this call (it would overtake that record).
        const chunks = wave
          .map((call) =>
            call.filter(({ index }) => {
              const stop = halted.get(identifierOf(group, records[index] as SageMakerRecord));
              if (stop !== undefined) outcomes[index] = stop;
              return stop === undefined;
            }),
          )
          .filter((call) => call.length > 0);
        await mapConcurrent(chunks, concurrency, async (chunk) => {
          if (!beforeDeadline(putOptions.deadline)) {
            for (const { index } of chunk) outcomes[index] = deadlineError(group.name);
            return;
          }
          try {
            let calls = 0;
            const left = await drainWithRetry(
              chunk,
              async (pending, send) => {
                calls++;
                const entries = pending.map(({ index, target }) => {
                  const stores = storesFor(target);
                  return {
                    FeatureGroupName: group.name,
                    Record: records[index],
                    ...(stores ? { TargetStores: stores } : {}),
                    ...(putOptions.ttl ? { TtlDuration: putOptions.ttl } : {}),
                  };
                });
                const result = await send(() => c.send(new m.BatchWriteRecordCommand({ Entries: entries })));
                if ((result.Errors?.length ?? 0) === 0 && (result.UnprocessedEntries?.length ?? 0) === 0) return [];
                // The service echoes the failed entries; an identifier may be in a call more than once, so
                // each echo takes the first pending write with the same record and stores.
                const byKey = new Map<string, (typeof pending)[number][]>();
                pending.forEach((write, i) => {
                  const key = entryKey(group, entries[i]?.Record, entries[i]?.TargetStores);
                  const same = byKey.get(key);
                  if (same) same.push(write);
                  else byKey.set(key, [write]);
                });
                const take = (entry: { Record?: EchoedRecord; TargetStores?: readonly string[] | undefined } | undefined) =>
                  byKey.get(entryKey(group, entry?.Record, entry?.TargetStores))?.shift();
                const again: (typeof pending)[number][] = [];
                for (const failure of result.Errors ?? []) {
                  const write = take(failure.Entry);
                  if (write === undefined) continue;
                  if (write.target === 'offline' && /validation/i.test(failure.ErrorCode ?? '')) {
                    // A group without an offline store refuses an offline-only write; the superseded record
                    // then goes where the group's writes go (online it loses to the newer one, by the write rule).
                    onlineOnly.add(group.name);
                    again.push({ ...write, target: 'configured' });
                  } else if (resendGroupNotFound({ name: failure.ErrorCode ?? '', message: failure.ErrorMessage ?? '' }, calls, retryFor(putOptions))) again.push(write);
                  else outcomes[write.index] = backendError({ name: failure.ErrorCode, message: failure.ErrorMessage }, group.name, 'write');
                }
                return [...again, ...(result.UnprocessedEntries ?? []).flatMap((entry) => take(entry) ?? [])];
              },
              retryFor(putOptions),
            );
            for (const { index } of chunk) outcomes[index] ??= 'accepted';
            for (const { index } of left) {
              outcomes[index] = new BackendError('THROTTLED', `group "${group.name}": BatchWriteRecord left the record unprocessed after retries`, {
                retryable: true,
                group: group.name,
              });
            }
          } catch (error) {
            for (const { index } of chunk) outcomes[index] ??= backendError(error, group.name, 'write');
          }
        });
        for (const { index } of chunks.flat()) {
          const id = identifierOf(group, records[index] as SageMakerRecord);
          const stop = halted.has(id) ? undefined : halt(outcomes[index] as OnlineWriteOutcome);
          if (stop !== undefined) halted.set(id, stop);
        }
      }
    }
    return outcomes;
  };

  /** PutRecord with collapsing: a stage's writes run together (one online write per identifier among them). */
  const putStaged = async (m: RuntimeModule, group: GroupSchema, records: readonly SageMakerRecord[], stages: WriteStages, putOptions: OnlinePutOptions) => {
    const outcomes = new Array<OnlineWriteOutcome>(records.length);
    const halt = haltAfterFailure<OnlineWriteOutcome>(group.name);
    const halted = new Map<string, OnlineWriteOutcome>();
    for (const stage of stages) {
      // Within a stage an identifier's records still go one after another, so they reach the store in order.
      const results = await inOrderPerKey(
        stage,
        ({ index }) => identifierOf(group, records[index] as SageMakerRecord),
        concurrency,
        async ({ index, target }): Promise<OnlineWriteOutcome> => {
          const record = records[index] as SageMakerRecord;
          const stop = halted.get(identifierOf(group, record));
          if (stop !== undefined) return stop;
          if (target === 'none') return 'accepted';
          return beforeDeadline(putOptions.deadline) ? putOne(m, group, record, putOptions, storesFor(target)) : deadlineError(group.name);
        },
        halt,
      );
      stage.forEach(({ index }, i) => {
        outcomes[index] = results[i] as OnlineWriteOutcome;
      });
      for (const { index } of stage) {
        const id = identifierOf(group, records[index] as SageMakerRecord);
        const stop = halted.has(id) ? undefined : halt(outcomes[index] as OnlineWriteOutcome);
        if (stop !== undefined) halted.set(id, stop);
      }
    }
    return outcomes;
  };

  return {
    writesOffline: targetStores === undefined || targetStores.includes('OfflineStore'),

    async put(group, records, putOptions = {}) {
      const m = await loadFeatureStoreRuntime();
      const offline = (targetStores === undefined || targetStores.includes('OfflineStore')) && !onlineOnly.has(group.name);
      const batchWrite = writesInBatches(m, options.batchWrite);
      if (options.collapse ?? batchWrite) {
        const stages = collapseToNewest(group, records, offline);
        return batchWrite ? putBatched(m, group, records, stages, putOptions) : putStaged(m, group, records, stages, putOptions);
      }
      if (batchWrite) return putBatched(m, group, records, roundsPerIdentifier(group, records), putOptions);
      return inOrderPerKey(
        records,
        (r) => identifierOf(group, r),
        concurrency,
        (record) => (beforeDeadline(putOptions.deadline) ? putOne(m, group, record, putOptions) : Promise.resolve(deadlineError(group.name))),
        haltAfterFailure(group.name),
      );
    },

    async get(group, id, getOptions = {}): Promise<OnlineRecord | undefined> {
      const [m, c] = await Promise.all([loadFeatureStoreRuntime(), client()]);
      try {
        const result = await countAttempts(
          () =>
            c.send(
              new m.GetRecordCommand({
                FeatureGroupName: group.name,
                RecordIdentifierValueAsString: id,
                ExpirationTimeResponse: 'Enabled',
                ...(getOptions.features?.length ? { FeatureNames: [...getOptions.features] } : {}),
              }),
            ),
          retry,
        );
        if (!result.Record || result.Record.length === 0) return undefined;
        const record = result.Record as SageMakerRecord;
        return result.ExpiresAt ? { record, expiresAt: new Date(result.ExpiresAt) } : { record };
      } catch (error) {
        throw backendError(error, group.name, 'read');
      }
    },

    async getMany(group, ids, getOptions = {}) {
      const [m, c] = await Promise.all([loadFeatureStoreRuntime(), client()]);
      const unique = [...new Set(ids)];
      const chunks: string[][] = [];
      for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) chunks.push(unique.slice(i, i + BATCH_GET_LIMIT));
      const found = new Map<string, OnlineRecord>();
      const errors: string[] = [];
      let unprocessed = 0;
      // BatchGetRecord answers a group that does not exist per identifier, in Errors, not as the call's error.
      let groupNotFound: { name: string; message: string } | undefined;
      // Chunks go out together: one round trip's latency for the whole read, not one per 100 ids.
      await mapConcurrent(chunks, chunks.length, async (chunk) => {
        try {
          let calls = 0;
          const left = await drainWithRetry(
            chunk,
            async (pending, send) => {
              calls++;
              const identifiers: BatchGetRecordIdentifier[] = [{
                FeatureGroupName: group.name,
                RecordIdentifiersValueAsString: [...pending],
                ...(getOptions.features?.length ? { FeatureNames: [...getOptions.features] } : {}),
              }];
              const result: BatchGetRecordCommandOutput = await send(() => c.send(new m.BatchGetRecordCommand({ Identifiers: identifiers, ExpirationTimeResponse: 'Enabled' })));
              for (const hit of result.Records ?? []) {
                const record = hit.Record as SageMakerRecord;
                found.set(hit.RecordIdentifierValueAsString as string, hit.ExpiresAt ? { record, expiresAt: new Date(hit.ExpiresAt) } : { record });
              }
              const again: string[] = [];
              for (const e of result.Errors ?? []) {
                const said = { name: e.ErrorCode ?? '', message: e.ErrorMessage ?? '' };
                // Sent again as GetRecord's "Resource Not Found" is retried: AWS has said it of a group that exists.
                if (resendGroupNotFound(said, calls, retry)) again.push(e.RecordIdentifierValueAsString as string);
                else {
                  if (isGroupNotFound(said)) groupNotFound ??= said;
                  errors.push(`${e.RecordIdentifierValueAsString}: ${e.ErrorCode} ${e.ErrorMessage}`);
                }
              }
              return [...again, ...(result.UnprocessedIdentifiers ?? []).flatMap((u) => u.RecordIdentifiersValueAsString ?? [])];
            },
            retry,
          );
          unprocessed += left.length;
        } catch (error) {
          throw backendError(error, group.name, 'read');
        }
      });
      // As GetRecord's answer is: GROUP_NOT_FOUND, whether one entity was read or many.
      if (groupNotFound) throw backendError(groupNotFound, group.name, 'read');
      const stillUnprocessed = `${unprocessed} identifiers still unprocessed after retries`;
      if (errors.length > 0) {
        const said = `${errors.slice(0, 3).join('; ')}${errors.length > 3 ? '; …' : ''}${unprocessed > 0 ? `; ${stillUnprocessed}` : ''}`;
        throw new BackendError('READ_FAILED', `group "${group.name}": BatchGetRecord failed for ${errors.length + unprocessed} identifiers: ${said}`, { group: group.name, retryable: unprocessed > 0 });
      }
      // Only throttling left some unread, as dynamoDbOnline says it: THROTTLED, worth retrying.
      if (unprocessed > 0) throw new BackendError('THROTTLED', `group "${group.name}": ${stillUnprocessed}`, { group: group.name, retryable: true });
      return found;
    },

    async delete(group, id, eventTime, mode: DeletionMode): Promise<DeleteStatus> {
      const [m, c] = await Promise.all([loadFeatureStoreRuntime(), client()]);
      try {
        await countAttempts(
          () =>
            c.send(
              new m.DeleteRecordCommand({
                FeatureGroupName: group.name,
                RecordIdentifierValueAsString: id,
                EventTime: eventTime,
                DeletionMode: mode,
                ...(targetStores ? { TargetStores: targetStores } : {}),
              }),
            ),
          retry,
        );
        return 'accepted';
      } catch (error) {
        // DeleteRecord refuses a HardDelete older than the stored record with a ValidationError.
        if (mode === 'HardDelete' && (error as { name?: string }).name === 'ValidationError' && /EventTime/i.test((error as Error).message)) return 'stale';
        throw backendError(error, group.name, 'write');
      }
    },

    async close() {
      await client.close();
    },
  };
}

/**
 * SageMaker's own offline store as a backfill sink: every record goes through PutRecord (or
 * BatchWriteRecord with `batchWrite`) with `TargetStores: ['OfflineStore']`, so SageMaker writes the
 * files and `api_invocation_time` itself. SageMaker names the files, so unlike `s3Offline` a rerun
 * appends instead of replacing; reading goes through `athenaOffline`.
 *
 * ### Example
 * ```ts
 * const store = createFeatureStore({ online: sageMakerOnline(), offline: sageMakerOfflineWriter({ batchWrite: true }) });
 * await backfill(store, cardActivity, { from: ndjsonFile('history.ndjson') });
 * ```
 */
export function sageMakerOfflineWriter(options: Omit<SageMakerOnlineOptions, 'targetStores'> = {}): OfflineStore {
  const writer = sageMakerOnline({ ...options, targetStores: ['OfflineStore'] });
  return {
    async append(group, writes) {
      if (writes.some((w) => w.isDeleted)) {
        throw new ConfigurationError('INVALID_CONFIG', `group "${group.name}": PutRecord cannot write a delete marker; SageMaker's DeleteRecord (sageMakerOnline) writes its own`);
      }
      const outcomes = await writer.put(
        group,
        writes.map((w) => w.record),
      );
      const failed = outcomes.filter((o): o is BackendError => o instanceof BackendError);
      if (failed.length > 0) {
        throw new BackendError('WRITE_FAILED', `group "${group.name}": ${failed.length} of ${outcomes.length} offline writes failed; first: ${failed[0]?.message}`, {
          retryable: true,
          group: group.name,
          cause: failed[0],
        });
      }
    },
    async scan(group) {
      throw new ConfigurationError('INVALID_CONFIG', `sageMakerOfflineWriter only writes; read group "${group.name}" with athenaOffline`);
    },
    close: () => writer.close(),
  };
}
