import type {
  DynamoDbStreamEvent,
  FirehoseEvent,
  KafkaEvent,
  KinesisStreamEvent,
  SqsEvent,
} from '../lambda/events.js';
import * as z from 'zod/mini';
import { checkOptions, countSchema, describeValue, expected, functionSchema } from '../util/options.js';

// Test helpers check their arguments like everything else: a wrong call fails here, not as a
// confusing handler error three layers down.

/** Why a payload cannot travel on a stream, which carries bytes; undefined when it can (bytes, text, a value with JSON text). */
function unsendable(payload: unknown): string | undefined {
  if (typeof payload === 'string' || payload instanceof Uint8Array) return undefined;
  try {
    return JSON.stringify(payload) === undefined ? `${describeValue(payload)}, which has no JSON text` : undefined;
  } catch (error) {
    return `a value JSON cannot write (${(error as Error).message})`;
  }
}

/** An array of events as a stream carries them: each bytes, text, or a value written as JSON. */
export const streamPayloads = (what: string) =>
  z.array(
    z.unknown().check(z.refine((payload) => unsendable(payload) === undefined, { error: (issue) => `expected bytes, text or a value JSON can write (a stream carries bytes), got ${unsendable(issue.input)}` })),
    { error: expected(what) },
  );
const payloadList = streamPayloads('an array of payloads');
const text = z.optional(z.string({ error: expected('text') }));
const date = z.optional(z.date({ error: expected('a valid Date') }));
const callback = z.optional(functionSchema('a function'));

/** A payload as a producer sends it: bytes as they are, anything else as JSON. */
function bytesOf(payload: unknown): Buffer {
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload);
  return Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8');
}

let sequence = 49_590_338_271_490_256_608_559_692_538_361_571_095_921_575_989_136_588_898n;
/** Increasing across events, as a stream's are: a later event never repeats an earlier one's numbers. */
function nextSequence(): string {
  sequence += 1_000_000n;
  return sequence.toString();
}

export interface KinesisEventOptions {
  readonly shardId?: string;
  readonly streamArn?: string;
  /** Arrival time of the first record; later records arrive a millisecond apart. Default now. */
  readonly arrival?: Date;
  /**
   * Each record's partition key. Default `'pk'` for every record: the event is one sequence in order,
   * as from a stream partitioned by a single key.
   */
  readonly partitionKey?: (payload: unknown, index: number) => string;
}

/**
 * A Kinesis Data Streams Lambda event, shaped like AWS's documented sample.
 *
 * ### Example
 * ```ts
 * const response = await handler(kinesisEvent([{ card_id: 'c1', amount_cents: 100, country: 'FR', ts: '2024-05-01T00:00:00Z' }]));
 * ```
 */
export function kinesisEvent(payloads: readonly unknown[], options: KinesisEventOptions = {}): KinesisStreamEvent {
  checkOptions(z.tuple([payloadList, z.strictObject({ shardId: text, streamArn: text, arrival: date, partitionKey: callback })]), [payloads, options], 'kinesisEvent');
  const shardId = options.shardId ?? 'shardId-000000000000';
  const arrival = (options.arrival ?? new Date()).getTime();
  return {
    Records: payloads.map((payload, i) => {
      const sequenceNumber = nextSequence();
      return {
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: options.partitionKey?.(payload, i) ?? 'pk',
          sequenceNumber,
          data: bytesOf(payload).toString('base64'),
          approximateArrivalTimestamp: (arrival + i) / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shardId}:${sequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
        awsRegion: 'us-east-1',
        eventSourceARN: options.streamArn ?? 'arn:aws:kinesis:us-east-1:123456789012:stream/events',
      };
    }),
  };
}

export interface SqsEventOptions {
  readonly queueArn?: string;
  /** Make it a FIFO queue event; each message's group comes from `groupOf`. */
  readonly fifo?: boolean;
  readonly groupOf?: (payload: unknown, index: number) => string;
  readonly sent?: Date;
}

/**
 * An SQS Lambda event (standard, or FIFO with message groups), shaped like AWS's documented sample.
 *
 * ### Example
 * ```ts
 * await handler(sqsEvent(events, { fifo: true, groupOf: (e) => e.card_id }));
 * ```
 */
export function sqsEvent(payloads: readonly unknown[], options: SqsEventOptions = {}): SqsEvent {
  checkOptions(z.tuple([payloadList, z.strictObject({ queueArn: text, fifo: z.optional(z.boolean()), groupOf: callback, sent: date })]), [payloads, options], 'sqsEvent');
  const sent = (options.sent ?? new Date()).getTime();
  const arn = options.queueArn ?? `arn:aws:sqs:us-east-1:123456789012:events${options.fifo ? '.fifo' : ''}`;
  return {
    Records: payloads.map((payload, i) => ({
      messageId: `059f36b4-87a3-44ab-83d2-${String(i).padStart(12, '0')}`,
      receiptHandle: `AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a${i}`,
      body: bytesOf(payload).toString('utf8'),
      attributes: {
        ApproximateReceiveCount: '1',
        SentTimestamp: String(sent + i),
        SenderId: 'AIDAIENQZJOLO23YVJ4VO',
        ApproximateFirstReceiveTimestamp: String(sent + i + 5),
        ...(options.fifo ? { MessageGroupId: options.groupOf?.(payload, i) ?? 'default', SequenceNumber: nextSequence(), MessageDeduplicationId: `dedup-${i}` } : {}),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: arn,
      awsRegion: 'us-east-1',
    })),
  };
}

const nextOffsets = new Map<string, number>();

export interface KafkaEventOptions {
  readonly topic?: string;
  readonly partition?: number;
  /** Offset of the first record; default the offset after the previous event's last record of this topic-partition. */
  readonly firstOffset?: number;
  /** `aws:kafka` (MSK, default) or `SelfManagedKafka`. */
  readonly eventSource?: 'aws:kafka' | 'SelfManagedKafka';
  readonly timestamp?: Date;
  /** Headers per record; values as strings are sent as byte arrays, as MSK does. */
  readonly headers?: (payload: unknown, index: number) => Record<string, string> | undefined;
}

/**
 * An MSK or self-managed Kafka Lambda event, shaped like AWS's documented sample.
 *
 * ### Example
 * ```ts
 * await handler(kafkaEvent(pings, { topic: 'gps-pings', partition: 3 }));
 * ```
 */
export function kafkaEvent(payloads: readonly unknown[], options: KafkaEventOptions = {}): KafkaEvent {
  checkOptions(
    z.tuple([
      payloadList,
      z.strictObject({ topic: text, partition: z.optional(countSchema()), firstOffset: z.optional(countSchema()), eventSource: z.optional(z.enum(['aws:kafka', 'SelfManagedKafka'])), timestamp: date, headers: callback }),
    ]),
    [payloads, options],
    'kafkaEvent',
  );
  const topic = options.topic ?? 'events';
  const partition = options.partition ?? 0;
  // A partition's offsets only grow: the next event continues where this one ends, as a consumer sees.
  const first = options.firstOffset ?? nextOffsets.get(`${topic}-${partition}`) ?? 15;
  nextOffsets.set(`${topic}-${partition}`, first + payloads.length);
  const timestamp = (options.timestamp ?? new Date()).getTime();
  return {
    eventSource: options.eventSource ?? 'aws:kafka',
    ...(options.eventSource === 'SelfManagedKafka'
      ? { bootstrapServers: 'b-1.kafka.example.com:9092' }
      : { eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/events/a2b3c4d5', bootstrapServers: 'b-2.events.kafka.us-east-1.amazonaws.com:9098' }),
    records: {
      [`${topic}-${partition}`]: payloads.map((payload, i) => ({
        topic,
        partition,
        offset: first + i,
        timestamp: timestamp + i,
        timestampType: 'CREATE_TIME',
        key: Buffer.from(`key-${i}`).toString('base64'),
        value: bytesOf(payload).toString('base64'),
        headers: Object.entries(options.headers?.(payload, i) ?? {}).map(([k, v]) => ({ [k]: [...Buffer.from(v, 'utf8')] })),
      })),
    },
  };
}

/**
 * A plain value -> DynamoDB AttributeValue JSON, as a stream record carries it.
 *
 * ### Example
 * ```ts
 * marshallValue({ id: 'c1', tags: ['a'] });   // { M: { id: { S: 'c1' }, tags: { L: [{ S: 'a' }] } } }
 * ```
 */
export function marshallValue(value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number' || typeof value === 'bigint') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (value instanceof Date) return { S: value.toISOString() };
  if (Array.isArray(value)) return { L: value.map(marshallValue) };
  return { M: Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, marshallValue(v)])) };
}

export interface DynamoDbChange {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly keys: Record<string, unknown>;
  readonly newImage?: Record<string, unknown>;
  readonly oldImage?: Record<string, unknown>;
  /** When the change happened; default now. */
  readonly at?: Date;
}

/**
 * A DynamoDB Streams Lambda event (NEW_AND_OLD_IMAGES), with plain values marshalled to AttributeValues.
 *
 * ### Example
 * ```ts
 * await handler(dynamoDbStreamEvent([{ eventName: 'INSERT', keys: { id: 'u1' }, newImage: { id: 'u1', plan: 'pro', updated_at: '...' } }]));
 * ```
 */
export function dynamoDbStreamEvent(changes: readonly DynamoDbChange[]): DynamoDbStreamEvent {
  checkOptions(
    z.array(z.strictObject({ eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']), keys: z.record(z.string(), z.unknown()), newImage: z.optional(z.record(z.string(), z.unknown())), oldImage: z.optional(z.record(z.string(), z.unknown())), at: date }), { error: expected('an array of changes') }),
    changes,
    'dynamoDbStreamEvent changes',
  );
  const marshall = (item: Record<string, unknown>) => Object.fromEntries(Object.entries(item).map(([k, v]) => [k, marshallValue(v)]));
  return {
    Records: changes.map((change, i) => ({
      eventID: `c4ca4238a0b923820dcc509a6f75849${i}`,
      eventName: change.eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: 'arn:aws:dynamodb:us-east-1:123456789012:table/profiles/stream/2024-05-01T00:00:00.000',
      dynamodb: {
        ApproximateCreationDateTime: Math.floor((change.at ?? new Date()).getTime() / 1000),
        Keys: marshall(change.keys),
        ...(change.newImage ? { NewImage: marshall(change.newImage) } : {}),
        ...(change.oldImage ? { OldImage: marshall(change.oldImage) } : {}),
        SequenceNumber: nextSequence(),
        SizeBytes: 26,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    })),
  };
}

/**
 * A Firehose data-transformation event, shaped like AWS's documented sample.
 *
 * ### Example
 * ```ts
 * const { records } = await transform(firehoseEvent(events));
 * ```
 */
export function firehoseEvent(payloads: readonly unknown[], arrival: Date = new Date()): FirehoseEvent {
  checkOptions(z.tuple([payloadList, z.date({ error: expected('a valid Date') })]), [payloads, arrival], 'firehoseEvent');
  return {
    invocationId: 'invocation-0001',
    deliveryStreamArn: 'arn:aws:firehose:us-east-1:123456789012:deliverystream/offline-store',
    region: 'us-east-1',
    records: payloads.map((payload, i) => ({
      recordId: `49546986683135544286507457936321625675700192471156785154${String(i).padStart(4, '0')}`,
      approximateArrivalTimestamp: arrival.getTime() + i,
      data: bytesOf(payload).toString('base64'),
    })),
  };
}
