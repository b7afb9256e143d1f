import { ConfigurationError, type SourcePosition } from '../errors.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { deadLetterFailed, sendToDeadLetter } from '../store/dead-letter.js';
import type { DeletionMode } from '../store/types.js';
import { describeValue } from '../util/options.js';
import { type BatchItem, type HandlerOptions, logBatch, processItems, checkHandler } from './batch.js';
import { decodeBase64, unmarshallItem } from './decode.js';
import { checkFirehoseOptions, firehoseRecords, type FirehoseTransformOptions } from './firehose.js';
import type {
  BatchResponse,
  DynamoDbStreamEvent,
  FirehoseEvent,
  FirehoseResponse,
  KafkaBatchResponse,
  KafkaEvent,
  KafkaRecord,
  KinesisStreamEvent,
  LambdaContext,
  SqsEvent,
} from './events.js';

const WIRING = '(is the handler wired to the right event source?)';

/**
 * Refuses an event that is not the handler's source, for the whole batch, before anything is
 * written: the batch goes through in slices, and an event refused halfway would have Lambda retry
 * records already written. A record whose `eventSource` names another source (`aws:sqs` reaching
 * kinesisHandler) is refused too: decoded as this source it would find no payload, and its content
 * would reach no dead letter.
 */
function requireRecords(source: string, records: unknown, field: string, eventSource?: string): void {
  if (!Array.isArray(records)) throw new ConfigurationError('INVALID_CONFIG', `this is not a ${source} event: it has no ${field} array ${WIRING}`);
  const bad = records.findIndex((record) => record === null || typeof record !== 'object');
  if (bad >= 0) throw new ConfigurationError('INVALID_CONFIG', `this is not a ${source} event: ${field}[${bad}] is not a record object`);
  if (eventSource === undefined) return;
  const other = records.findIndex((record: { eventSource?: unknown }) => record.eventSource !== undefined && record.eventSource !== eventSource);
  if (other >= 0) {
    const given = describeValue((records[other] as { eventSource: unknown }).eventSource);
    throw new ConfigurationError('INVALID_CONFIG', `this is not a ${source} event: ${field}[${other}].eventSource is ${given}, not "${eventSource}" ${WIRING}`);
  }
}

/** The shard of a Kinesis record: its eventID is `<shardId>:<sequenceNumber>`. */
function shardOf(record: KinesisStreamEvent['Records'][number]): string {
  const id = String(record.eventID ?? '');
  const colon = id.indexOf(':');
  return colon < 0 ? id : id.slice(0, colon);
}

/**
 * The ingestion Lambda for Kinesis Data Streams. Configure the event source mapping with
 * `FunctionResponseTypes: ['ReportBatchItemFailures']`.
 *
 * ### Example
 * ```ts
 * import { kinesisHandler } from 'skewless/lambda';
 * export const handler = kinesisHandler(cardActivity, { store });
 * ```
 */
export function kinesisHandler(group: AnyFeatureGroup, options: HandlerOptions) {
  checkHandler('Kinesis', group, options);
  return async (event: KinesisStreamEvent, context?: LambdaContext): Promise<BatchResponse> => {
    requireRecords('Kinesis', event?.Records, 'Records', 'aws:kinesis');
    const toItem = (record: KinesisStreamEvent['Records'][number], index: number): BatchItem => {
      const arrival = record.kinesis?.approximateArrivalTimestamp;
      const position: SourcePosition = {
        source: 'kinesis',
        index,
        shardId: shardOf(record),
        sequenceNumber: record.kinesis?.sequenceNumber,
      };
      if (typeof record.kinesis?.partitionKey === 'string') (position as { partitionKey?: string }).partitionKey = record.kinesis.partitionKey;
      // Kinesis gives epoch seconds with a fraction.
      if (typeof arrival === 'number') (position as { arrivalTimeMs?: number }).arrivalTimeMs = Math.round(arrival * 1000);
      return { kind: 'put', payload: () => decodeBase64(record.kinesis?.data), raw: record.kinesis?.data, rawEncoding: 'base64', position };
    };
    const { redeliver } = await processItems('kinesis', group, event.Records, toItem, options, context, shardOf);
    return { batchItemFailures: redeliver.map((r) => ({ itemIdentifier: r.kinesis?.sequenceNumber ?? '' })) };
  };
}

/**
 * Refuses, for the whole batch and before anything is written, messages of a standard queue for a
 * group with aggregations: a standard queue may deliver a message twice and numbers nothing, so the
 * state could not tell a copy from a new event and would count it again. A FIFO queue numbers each
 * message group's messages (SequenceNumber), which the state's redelivery guard keeps.
 */
function requireFifo(group: string, records: SqsEvent['Records']): void {
  const unordered = records.findIndex((r) => r.attributes?.SequenceNumber === undefined || r.attributes?.MessageGroupId === undefined);
  if (unordered < 0) return;
  const missing = (records[unordered] as SqsEvent['Records'][number]).attributes?.SequenceNumber === undefined ? 'SequenceNumber' : 'MessageGroupId';
  throw new ConfigurationError(
    'INVALID_CONFIG',
    `SQS handler of group "${group}": the group has aggregations, and Records[${unordered}] comes from a standard queue (it has no ${missing}): ` +
      'a standard queue may deliver a message twice with nothing to tell the copies apart, so its event could be counted twice; ' +
      'feed a group with aggregations from an SQS FIFO queue, Kinesis, Kafka or DynamoDB Streams',
  );
}

/**
 * The ingestion Lambda for SQS, standard or FIFO (FIFO only for a group with aggregations). For FIFO queues a failure also reports every later
 * message of its message group, so the group's order survives redelivery.
 *
 * ### Example
 * ```ts
 * export const handler = sqsHandler(cardActivity, { store });
 * ```
 */
export function sqsHandler(group: AnyFeatureGroup, options: HandlerOptions) {
  checkHandler('SQS', group, options);
  return async (event: SqsEvent, context?: LambdaContext): Promise<BatchResponse> => {
    requireRecords('SQS', event?.Records, 'Records', 'aws:sqs');
    if (Object.keys(group.aggregations).length > 0) requireFifo(group.name, event.Records);
    const toItem = (record: SqsEvent['Records'][number], index: number): BatchItem => {
      const sent = Number(record.attributes?.SentTimestamp);
      return {
        kind: 'put',
        // SQS bodies are text, not base64.
        payload: () => {
          if (typeof record.body !== 'string') throw new SyntaxError('SQS message has no body');
          return Buffer.from(record.body, 'utf8');
        },
        raw: record.body,
        position: {
          source: 'sqs',
          index,
          messageId: record.messageId,
          ...(Number.isFinite(sent) ? { arrivalTimeMs: sent } : {}),
          // FIFO queues number each message group's messages in order: the aggregation state's redelivery guard uses it.
          ...(record.attributes?.SequenceNumber !== undefined && record.attributes?.MessageGroupId !== undefined
            ? { messageGroupId: record.attributes.MessageGroupId, sequenceNumber: record.attributes.SequenceNumber }
            : {}),
        },
      };
    };
    const fifo = event.Records.some((r) => String(r.eventSourceARN ?? '').endsWith('.fifo'));
    const { redeliver } = await processItems('sqs', group, event.Records, toItem, options, context, fifo ? (r) => r.attributes?.MessageGroupId ?? '' : undefined);
    return { batchItemFailures: redeliver.map((r) => ({ itemIdentifier: r.messageId })) };
  };
}

/** A Kafka header value arrives as a byte array or as base64 text, depending on the path it took. */
function headerBytes(value: readonly number[] | string): Buffer {
  return typeof value === 'string' ? decodeBase64(value) : Buffer.from(value);
}

/**
 * The ingestion Lambda for Amazon MSK (`aws:kafka`) and self-managed Kafka. A failure is reported as
 * `{ partition: '<topic>-<partition>', offset }`, with every later record of that partition.
 *
 * ### Example
 * ```ts
 * export const handler = kafkaHandler(ridePings, { store });
 * ```
 */
export function kafkaHandler(group: AnyFeatureGroup, options: HandlerOptions) {
  checkHandler('Kafka', group, options);
  return async (event: KafkaEvent, context?: LambdaContext): Promise<KafkaBatchResponse> => {
    if (typeof event?.records !== 'object' || event.records === null || Array.isArray(event.records)) {
      throw new ConfigurationError('INVALID_CONFIG', 'this is not a Kafka event: it has no records map (is the handler wired to an MSK or self-managed Kafka source?)');
    }
    const { eventSource } = event as { eventSource?: unknown };
    if (eventSource !== undefined && eventSource !== 'aws:kafka' && eventSource !== 'SelfManagedKafka') {
      throw new ConfigurationError('INVALID_CONFIG', `this is not a Kafka event: its eventSource is ${describeValue(eventSource)}, not "aws:kafka" or "SelfManagedKafka" ${WIRING}`);
    }
    const flat: { key: string; record: KafkaRecord }[] = [];
    for (const [key, records] of Object.entries(event.records)) {
      requireRecords('Kafka', records ?? [], `records["${key}"]`);
      for (const record of records ?? []) flat.push({ key, record });
    }
    const toItem = ({ record }: (typeof flat)[number], index: number): BatchItem => ({
      kind: 'put',
      payload: () => {
        if (typeof record.value !== 'string') throw new SyntaxError('Kafka record has no value');
        return decodeBase64(record.value);
      },
      meta: () => ({
        ...(typeof record.key === 'string' ? { key: decodeBase64(record.key) } : {}),
        headers: Object.fromEntries((record.headers ?? []).flatMap((h) => Object.entries(h).map(([k, v]) => [k, headerBytes(v)]))),
      }),
      raw: record.value,
      rawEncoding: 'base64',
      position: {
        source: 'kafka',
        index,
        topic: record.topic,
        partition: record.partition,
        offset: String(record.offset),
        ...(typeof record.key === 'string' ? { key: record.key } : {}),
        ...(typeof record.timestamp === 'number' ? { arrivalTimeMs: record.timestamp } : {}),
      },
    });
    const { redeliver } = await processItems('kafka', group, flat, toItem, options, context, (f) => f.key);
    return { batchItemFailures: redeliver.map((f) => ({ itemIdentifier: { partition: f.key, offset: f.record.offset } })) };
  };
}

/** A REMOVE's time from the stream's creation time: a whole second is a span (up to `latest`), a fraction an instant. */
function removalTime(seconds: unknown): { eventTime: Date; latest?: Date } {
  if (typeof seconds !== 'number') return { eventTime: new Date(Number.NaN) };
  if (!Number.isInteger(seconds)) return { eventTime: new Date(Math.round(seconds * 1000)) };
  return { eventTime: new Date(seconds * 1000), latest: new Date(seconds * 1000 + 999) };
}

/** A stream record's item key as text: its attributes sorted by name, so one item always gives the same text. */
function itemKey(keys: Record<string, unknown>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(keys).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export interface DynamoDbStreamHandlerOptions extends HandlerOptions {
  /** How a REMOVE deletes the record; default SoftDelete. */
  readonly deleteMode?: DeletionMode;
}

/**
 * The ingestion Lambda for DynamoDB Streams: INSERT and MODIFY run the pipeline on the unmarshalled
 * NewImage (use the NEW_IMAGE or NEW_AND_OLD_IMAGES view); REMOVE deletes the record.
 *
 * ### Example
 * ```ts
 * export const handler = dynamoDbStreamHandler(customerProfile, { store });
 * ```
 */
export function dynamoDbStreamHandler(group: AnyFeatureGroup, options: DynamoDbStreamHandlerOptions) {
  checkHandler('DynamoDB Streams', group, options);
  return async (event: DynamoDbStreamEvent, context?: LambdaContext): Promise<BatchResponse> => {
    requireRecords('DynamoDB Streams', event?.Records, 'Records', 'aws:dynamodb');
    const toItem = (record: DynamoDbStreamEvent['Records'][number], index: number): BatchItem => {
      const seconds = record.dynamodb?.ApproximateCreationDateTime;
      const position: SourcePosition = {
        source: 'dynamodb-stream',
        index,
        sequenceNumber: record.dynamodb?.SequenceNumber,
        ...(record.dynamodb?.Keys ? { partitionKey: itemKey(record.dynamodb.Keys) } : {}),
        ...(typeof seconds === 'number' ? { arrivalTimeMs: Math.round(seconds * 1000) } : {}),
      };
      if (record.eventName === 'REMOVE') {
        let id: string | undefined;
        try {
          const key = unmarshallItem(record.dynamodb?.Keys ?? {})[group.recordIdentifier];
          if (key !== undefined && key !== null) id = String(key);
        } catch {
          // Keys that do not unmarshal leave the identifier unknown: the delete is poison, saying so.
        }
        return {
          kind: 'delete',
          id,
          // The stream's creation time is when the item was removed, in epoch seconds rounded down
          // (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_streams_StreamRecord.html):
          // the delete lies somewhere in that second.
          ...removalTime(seconds),
          mode: options.deleteMode ?? 'SoftDelete',
          raw: record.dynamodb?.Keys,
          position,
        };
      }
      return {
        kind: 'put',
        decoded: true,
        payload: () => {
          const image = record.dynamodb?.NewImage;
          if (!image) throw new SyntaxError('the stream record has no NewImage (use the NEW_IMAGE or NEW_AND_OLD_IMAGES view)');
          return unmarshallItem(image);
        },
        raw: record.dynamodb?.NewImage,
        position,
      };
    };
    const { redeliver } = await processItems('dynamodb-stream', group, event.Records, toItem, options, context, () => 'shard');
    return { batchItemFailures: redeliver.map((r) => ({ itemIdentifier: r.dynamodb?.SequenceNumber ?? '' })) };
  };
}

/**
 * A Firehose transformation that runs the group's pipeline and returns each record as its offline
 * row (JSON with `write_time`, `api_invocation_time`, `is_deleted`), with `partitionKeys`
 * year/month/day/hour of the event time for dynamic partitioning, so Firehose delivers Parquet in
 * hourly partitions with the offline store's columns.
 *
 * ### Example
 * ```ts
 * import { firehoseTransform } from 'skewless/lambda';
 * export const handler = firehoseTransform(cardActivity);
 * ```
 */
export function firehoseTransform(group: AnyFeatureGroup, options: FirehoseTransformOptions = {}) {
  checkFirehoseOptions(group, options);
  const transform = firehoseRecords(group, options);
  return async (event: FirehoseEvent): Promise<FirehoseResponse> => {
    requireRecords('Firehose', event?.records, 'records');
    const started = Date.now();
    const { records, poison, report } = transform(event.records, started);
    // Firehose keeps its poison under the processing-failed prefix too; a failed copy fails the invocation, which Firehose retries.
    await sendToDeadLetter(options.deadLetter, poison).catch((cause: unknown) => {
      throw deadLetterFailed(group.name, cause);
    });
    logBatch('firehose', group, report, Date.now() - started, options);
    return { records };
  };
}
