import { BackendError, ConfigurationError, FeatureValidationError, isSkewlessError, type RecordError, SourceValidationError, type SourcePosition } from '../errors.js';
import type { AnyFeatureGroup, Simplify } from '../schema/types.js';
import { requireGroup } from '../feature-group.js';
import { booleanSchema, checkOptions, countSchema, expected, lazySchema, objectWith } from '../util/options.js';
import * as z from 'zod/mini';
import { type DeadLetterEntry, notWrittenBy } from '../store/dead-letter.js';
import type { FeatureStore } from '../store/feature-store.js';
import type { DeletionMode } from '../store/types.js';
import { deleteRoundedDown } from '../store/rounded-delete.js';
import { type ArrivedPayload, decodeItem, type PayloadDecoder, UNDECODED } from './decode.js';
import { decodeOption, logOption, metricsOption } from './options.js';
import type { LambdaContext } from './events.js';

export interface HandlerOptions {
  /** Where records go: `createFeatureStore({ online: sageMakerOnline(), ... })`. */
  readonly store: FeatureStore;
  /** Turns a record's payload bytes into the raw event; default UTF-8 JSON. Throw to refuse a record. */
  readonly decode?: PayloadDecoder;
  /** Stop starting writes when less than this much time is left in the invocation; default 3,000 ms. */
  readonly safetyMarginMs?: number;
  /** One JSON line per batch; default `console.log`, `false` for none. */
  readonly log?: false | ((line: string) => void);
  /** Also print CloudWatch metrics in Embedded Metric Format under this namespace. */
  readonly metrics?: { readonly namespace: string };
  /**
   * Drop poison records when the store has no dead-letter sink (the batch log line counts them as
   * `discarded`). Without a sink and without this, the handler is not built: poison would be lost.
   */
  readonly discardPoison?: boolean;
}

/** The options every handler takes; only DynamoDB Streams' deletes take `deleteMode` too. */
const handlerSchema = (deletes: boolean) =>
  z.strictObject(
    {
      store: objectWith(['ingest', 'deadLetter', 'delete'], 'a feature store made by createFeatureStore'),
      decode: decodeOption(),
      safetyMarginMs: z.optional(countSchema('a whole number of milliseconds')),
      log: logOption(),
      metrics: metricsOption(),
      discardPoison: z.optional(booleanSchema()),
      ...(deletes ? { deleteMode: z.optional(z.enum(['SoftDelete', 'HardDelete'], { error: expected("'SoftDelete' or 'HardDelete'") })) } : {}),
    },
    { error: expected('handler options: { store, ... }') },
  );
const handlerOptions = /* @__PURE__ */ lazySchema(() => handlerSchema(false));
const streamHandlerOptions = /* @__PURE__ */ lazySchema(() => handlerSchema(true));
/** Checks a handler's group and options when it is built, and refuses one whose poison records would have nowhere to go. */
export function checkHandler(source: 'Kinesis' | 'SQS' | 'Kafka' | 'DynamoDB Streams', group: AnyFeatureGroup, options: HandlerOptions): void {
  requireGroup(group, `${source} handler`);
  // The store itself where its options go: every one of its methods would be an unknown option.
  const given = options as unknown as Record<string, unknown> | undefined;
  if (typeof given?.['ingest'] === 'function' && typeof given['deadLetter'] === 'function' && !('store' in given)) {
    throw new ConfigurationError('INVALID_CONFIG', `${source} handler options: expected { store, ... }, got the store itself: pass { store }`);
  }
  checkOptions(source === 'DynamoDB Streams' ? streamHandlerOptions : handlerOptions, options, `${source} handler options`);
  if (options.store.hasDeadLetter || options.discardPoison === true) return;
  throw new ConfigurationError(
    'INVALID_CONFIG',
    `${source} handler of group "${group?.name}": the store has no dead-letter sink, so poison records would be lost. ` +
      'Pass deadLetter: sqsDeadLetter({ queueUrl }) (or s3DeadLetter, or a function) to createFeatureStore, or discardPoison: true to drop them on purpose',
  );
}

/** One record of an event, as the shared batch logic sees it. */
export type BatchItem =
  | Simplify<{ readonly kind: 'put' } & ArrivedPayload>
  | {
      readonly kind: 'delete';
      readonly id: string | undefined;
      readonly eventTime: Date;
      /**
       * When the source gives the delete's time rounded down (a DynamoDB stream's whole second), the
       * last instant it may have been: the delete then takes a millisecond after the stored record's
       * time when that lies between the two, since a delete must be newer than the record it removes.
       */
      readonly latest?: Date;
      readonly mode: DeletionMode;
      readonly raw: unknown;
      readonly position: SourcePosition;
    };

type PutItem = Extract<BatchItem, { kind: 'put' }>;
type DeleteItem = Extract<BatchItem, { kind: 'delete' }>;

/** What became of an item: written (or refused as stale by the write rule), handled as poison, or to redeliver. */
export type ItemStatus = 'written' | 'poison' | 'failed';

export interface BatchReport {
  readonly statuses: ItemStatus[];
  readonly written: number;
  readonly poison: number;
  /**
   * Records reported for redelivery (`batchItemFailures`): the failed ones, and on an ordered source
   * (a shard, a FIFO message group, a Kafka partition) every record after a failed one in it too.
   */
  readonly reported: number;
  /** Calls the online backend retried (throttling, 5xx) while writing the batch. */
  readonly retried: number;
  /** Records left out of their entity's aggregates for arriving later than the allowed lateness. */
  readonly late: number;
  /** Poison records dropped because the store has no dead-letter sink and the handler was told to discard (`discardPoison`). */
  readonly discarded: number;
  /** Redelivered records the aggregation state had already applied (so not written again). */
  readonly duplicate: number;
  /** Aggregation state saves that met another writer's newer version and were redone. */
  readonly conflicts: number;
  /** Records written again from an entity's outbox (an earlier commit whose writes were not confirmed). */
  readonly reemitted: number;
  /**
   * Why records failed, by `failureReason`: how many for each. The log line shows it beside
   * `reported`, so a batch redelivered for a table that does not exist says so.
   */
  readonly reasons: Readonly<Record<string, number>>;
}

/**
 * What the log says of a record that failed: its error's code and, beneath any skewless errors
 * wrapping it, the AWS error's name (`WRITE_FAILED ResourceNotFoundException`). Never a message:
 * a message may hold record identifiers, and no payload value reaches the log.
 */
export function failureReason(error: unknown): string {
  let cause = (error as { cause?: unknown } | undefined)?.cause;
  while (isSkewlessError(cause)) cause = cause.cause;
  const code = (error as { code?: unknown } | undefined)?.code;
  const name = (cause as { name?: unknown } | undefined)?.name;
  const reason = typeof code === 'string' ? code : ((error as { name?: unknown } | undefined)?.name as string | undefined) ?? 'unknown';
  return typeof name === 'string' && name !== 'Error' ? `${reason} ${name}` : reason;
}

/** Records decoded and written together; a larger batch goes through in slices of this size, in order. */
const SLICE_RECORDS = 500;

function defaultLog(line: string): void {
  console.log(line);
}

/**
 * The one batch flow every handler shares: decode payloads, run the group's pipeline through
 * `store.ingest`, dead-letter poison, and say per record what Lambda must redeliver. Handlers only
 * translate each of their event's records into an item (`toItem`, called once per record, as the
 * batch reaches it) and the statuses into their response.
 */
export async function processItems<T>(
  source: string,
  group: AnyFeatureGroup,
  records: readonly T[],
  toItem: (record: T, index: number) => BatchItem,
  options: HandlerOptions,
  context: LambdaContext | undefined,
  orderOf?: (record: T) => string,
): Promise<BatchReport & { readonly redeliver: T[] }> {
  const started = Date.now();
  // A context without the method (`{}` in a unit test) has no time budget to keep.
  const remaining = typeof context?.getRemainingTimeInMillis === 'function' ? context.getRemainingTimeInMillis() : undefined;
  const deadline = typeof remaining === 'number' && Number.isFinite(remaining) ? started + remaining - (options.safetyMarginMs ?? 3000) : undefined;
  const statuses = new Array<ItemStatus>(records.length);
  const decode = options.decode;
  let retried = 0;
  let late = 0;
  let duplicate = 0;
  let conflicts = 0;
  let reemitted = 0;
  const reasons: Record<string, number> = {};
  const failed = (error: unknown): 'failed' => {
    const reason = failureReason(error);
    reasons[reason] = (reasons[reason] ?? 0) + 1;
    return 'failed';
  };
  const onRetry = () => {
    retried++;
  };

  // A group with aggregations takes the whole batch in one go: each slice would be its own commit of
  // every entity's state (a save and a settle per entity per slice, instead of per batch).
  const sliceLimit = Object.keys(group.aggregations).length > 0 ? Number.POSITIVE_INFINITY : SLICE_RECORDS;
  let i = 0;
  let next: BatchItem | undefined;
  while (i < records.length) {
    const first = next ?? toItem(records[i] as T, i);
    next = undefined;
    if (first.kind === 'delete') {
      statuses[i] = await deleteItem(group, first, options.store, deadline, failed);
      i++;
      continue;
    }
    // A run of puts goes to the store together; a delete ends the run, so order per identifier holds.
    // Runs are cut into slices, each decoded and written before the next is decoded: a slice's
    // items, payloads and intermediate records then die young instead of living through the whole
    // batch, which V8 would copy and promote (a 10,000-record batch measured ~25% faster in slices of 500).
    const start = i;
    const run: PutItem[] = [first];
    for (i++; i < records.length && run.length < sliceLimit; i++) {
      const item = toItem(records[i] as T, i);
      if (item.kind === 'delete') {
        next = item;
        break;
      }
      run.push(item);
    }
    const raws: unknown[] = [];
    const indexOf: number[] = [];
    const poison: DeadLetterEntry[] = [];
    const poisonIndex: number[] = [];
    for (let k = 0; k < run.length; k++) {
      const raw = decodeItem(group, run[k] as PutItem, decode, poison);
      if (raw === UNDECODED) poisonIndex.push(start + k);
      else {
        raws.push(raw);
        indexOf.push(start + k);
      }
    }
    try {
      await options.store.deadLetter(poison);
      for (const index of poisonIndex) statuses[index] = 'poison';
    } catch (error) {
      const notWritten = notWrittenBy(error, poison);
      poisonIndex.forEach((index, k) => {
        statuses[index] = notWritten && !notWritten.has(poison[k] as DeadLetterEntry) ? 'poison' : failed(error);
      });
    }
    if (raws.length === 0) continue;
    const summary = await options.store.ingest(group, raws, {
      position: (k) => run[(indexOf[k] as number) - start]?.position ?? { source, index: k },
      payload: (k) => run[(indexOf[k] as number) - start]?.raw,
      ...(first.rawEncoding ? { payloadEncoding: first.rawEncoding } : {}),
      ...(deadline !== undefined ? { deadline } : {}),
      onRetry,
    });
    late += summary.late;
    duplicate += summary.duplicate;
    conflicts += summary.conflicts;
    reemitted += summary.reemitted;
    for (const outcome of summary.outcomes) {
      const index = indexOf[outcome.index] as number;
      statuses[index] = outcome.status === 'poison' ? 'poison' : outcome.status === 'failed' ? failed(outcome.error) : 'written';
    }
  }

  const counts = { written: 0, poison: 0, failed: 0 };
  for (const status of statuses) counts[status]++;
  const discarded = options.store.hasDeadLetter ? 0 : counts.poison;
  const redeliver = orderOf ? fromFirstFailure(records, statuses, orderOf) : records.filter((_, i) => statuses[i] === 'failed');
  const report: BatchReport = { statuses, written: counts.written, poison: counts.poison, reported: redeliver.length, retried, late, duplicate, conflicts, reemitted, discarded, reasons };
  logBatch(source, group, { ...report, records: records.length }, Date.now() - started, options);
  return { ...report, redeliver };
}

/**
 * Ordered sources: Lambda resumes a shard (a FIFO message group, a Kafka partition) from the lowest
 * reported position, so the first failure of each and everything after it in it are redelivered.
 */
function fromFirstFailure<T>(items: readonly T[], statuses: readonly ItemStatus[], orderOf: (item: T) => string): T[] {
  if (!statuses.includes('failed')) return [];
  const failedKeys = new Set<string>();
  const reported: T[] = [];
  items.forEach((item, i) => {
    const key = orderOf(item);
    if (statuses[i] === 'failed') failedKeys.add(key);
    if (failedKeys.has(key)) reported.push(item);
  });
  return reported;
}

async function deleteItem(
  group: AnyFeatureGroup,
  item: DeleteItem,
  store: FeatureStore,
  deadline: number | undefined,
  failed: (error: unknown) => 'failed',
): Promise<ItemStatus> {
  const poison = async (error: RecordError): Promise<ItemStatus> => {
    try {
      await store.deadLetter([{ group: group.name, raw: item.raw, error, position: item.position }]);
      return 'poison';
    } catch (cause) {
      return failed(cause);
    }
  };
  // No time, no delete: redelivering the record would not give it one.
  if (Number.isNaN(item.eventTime.getTime())) return poison(new SourceValidationError('a delete without its time: a DynamoDB Streams REMOVE needs dynamodb.ApproximateCreationDateTime', { position: item.position }));
  if (item.id === undefined) return poison(new SourceValidationError(`a delete without its record identifier: the DynamoDB Streams REMOVE's dynamodb.Keys hold no "${group.recordIdentifier}"`, { position: item.position }));
  if (deadline !== undefined && Date.now() >= deadline) {
    return failed(new BackendError('DEADLINE_EXCEEDED', `group "${group.name}": not deleted, the invocation ran out of time`, { retryable: true, group: group.name }));
  }
  try {
    if (item.latest) await deleteRoundedDown(store, group, item.id, { from: item.eventTime, latest: item.latest }, item.mode);
    else await store.delete(group, item.id, item.eventTime, item.mode);
    return 'written';
  } catch (error) {
    // A backend failure is redelivered (Lambda's retry and on-failure destination take it from
    // there); only a delete that can never succeed, such as a malformed identifier, is poison.
    if (error instanceof BackendError || !(error instanceof FeatureValidationError)) return failed(error);
    return poison(error);
  }
}

/** What a batch's log line counts: its records, and what became of them. */
export type BatchCounts = Omit<BatchReport, 'statuses' | 'reasons'> & { readonly records: number; readonly dropped?: number; readonly reasons?: BatchReport['reasons'] };

export function logBatch(
  source: string,
  group: AnyFeatureGroup,
  report: BatchCounts,
  durationMs: number,
  options: Pick<HandlerOptions, 'log' | 'metrics'>,
): void {
  const log = options.log ?? defaultLog;
  if (log === false) return;
  const fields = {
    source,
    group: group.name,
    records: report.records,
    written: report.written,
    poison: report.poison,
    retried: report.retried,
    reported: report.reported,
    late: report.late,
    duplicate: report.duplicate,
    conflicts: report.conflicts,
    reemitted: report.reemitted,
    ...(report.discarded > 0 ? { discarded: report.discarded } : {}),
    // Why records failed, by error code and AWS error name: never a message, which may hold identifiers.
    ...(report.reasons && Object.keys(report.reasons).length > 0 ? { reasons: report.reasons } : {}),
    // Firehose: records its filter left out (result Dropped), neither written nor poison.
    ...(report.dropped ? { dropped: report.dropped } : {}),
    durationMs,
  };
  // Counts only: no payload values and no credentials ever reach the log.
  log(JSON.stringify({ level: report.reported > 0 ? 'warn' : 'info', message: 'skewless batch', ...fields }));
  if (options.metrics) {
    const metrics = {
      Records: fields.records,
      Written: fields.written,
      Poison: fields.poison,
      Retried: fields.retried,
      Reported: fields.reported,
      DurationMs: durationMs,
    };
    const units = Object.keys(metrics).map((Name) => ({ Name, Unit: Name === 'DurationMs' ? 'Milliseconds' : 'Count' }));
    log(
      JSON.stringify({
        _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: options.metrics.namespace, Dimensions: [['Group', 'Source']], Metrics: units }] },
        Group: group.name,
        Source: source,
        ...metrics,
      }),
    );
  }
}

