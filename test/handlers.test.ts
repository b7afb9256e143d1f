import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BackendError, ConfigurationError, createFeatureStore, type DeadLetterEntry, defineFeatureGroup, type FeatureStore, isoTimestamp } from '../src/index.js';
import { dynamoDbStreamHandler, firehoseTransform, kafkaHandler, kinesisHandler, sqsHandler } from '../src/lambda/index.js';
import { failureReason } from '../src/lambda/batch.js';
import type { KinesisStreamEvent, SqsEvent } from '../src/lambda/events.js';
import { dynamoDbStreamEvent, firehoseEvent, kafkaEvent, kinesisEvent, memoryOnline, sqsEvent } from '../src/testing/index.js';
import { cardActivity, cardVelocity } from './fixtures/groups.js';
import { onlineRefusing, storeWithBrokenSink } from './fixtures/stores.js';

// What each event source's face (src/lambda/handlers.ts) hands on: where a record came from (the
// position a dead letter carries), the source named in errors and log lines, the records reported
// for redelivery, and what it does with an event or a record of the wrong shape. Memory stores
// only, so these run under each mutant of `npm run mutation`.

const NOON = Date.UTC(2024, 4, 1, 12);
const txn = (card: string, second = 0) => ({ card_id: card, amount_cents: 100 + second, country: 'FR', ts: new Date(NOON + second * 1000).toISOString() });
/** A record the pipeline refuses: it lacks most of the source's fields. */
const POISON = { card_id: 'broken' };

interface Harness {
  readonly store: FeatureStore;
  readonly dead: DeadLetterEntry[];
  readonly lines: Record<string, unknown>[];
  readonly log: (line: string) => void;
}

/** A store on memory backends whose online write refuses the given cards, with a dead-letter sink and a log kept. */
function harness(...refused: string[]): Harness {
  const dead: DeadLetterEntry[] = [];
  const lines: Record<string, unknown>[] = [];
  const store = createFeatureStore({ online: onlineRefusing(...refused), offline: false, deadLetter: (entries) => void dead.push(...entries) });
  return { store, dead, lines, log: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
}

const reported = (response: { batchItemFailures: { itemIdentifier: unknown }[] }) => response.batchItemFailures.map((f) => f.itemIdentifier);

describe('the position a dead letter carries says where the record came from', () => {
  it('Kinesis: shard, sequence number, partition key and arrival; no arrival when the record has none', async () => {
    const { store, dead } = harness();
    const event = kinesisEvent([POISON, POISON], { shardId: 'shardId-000000000007', arrival: new Date(NOON), partitionKey: (_, i) => `card-${i}` });
    const [first, second] = event.Records as [KinesisStreamEvent['Records'][number], KinesisStreamEvent['Records'][number]];
    delete (second.kinesis as { approximateArrivalTimestamp?: number }).approximateArrivalTimestamp;
    expect(await kinesisHandler(cardActivity, { store, log: false })(event)).toEqual({ batchItemFailures: [] });
    expect(dead.map((d) => d.position)).toStrictEqual([
      { source: 'kinesis', index: 0, shardId: 'shardId-000000000007', sequenceNumber: first.kinesis.sequenceNumber, arrivalTimeMs: NOON, partitionKey: 'card-0' },
      { source: 'kinesis', index: 1, shardId: 'shardId-000000000007', sequenceNumber: second.kinesis.sequenceNumber, partitionKey: 'card-1' },
    ]);
    expect(dead.map((d) => d.raw)).toEqual([first.kinesis.data, second.kinesis.data]);
    // The data as it arrived, said to be base64, so a reader of the dead letter decodes it.
    expect(dead.map((d) => d.rawEncoding)).toEqual(['base64', 'base64']);
  });

  it('SQS: message id and sent time; a FIFO message its group and sequence number, only when it has both', async () => {
    const { store, dead } = harness();
    const standard = sqsEvent([POISON], { sent: new Date(NOON) });
    const fifo = sqsEvent([POISON, POISON, POISON], { fifo: true, groupOf: () => 'card-7', sent: new Date(NOON) });
    const [whole, noGroup, noSequence] = fifo.Records as [SqsEvent['Records'][number], SqsEvent['Records'][number], SqsEvent['Records'][number]];
    delete (noGroup.attributes as { MessageGroupId?: string }).MessageGroupId;
    delete (noSequence.attributes as { SequenceNumber?: string }).SequenceNumber;
    const bare = { ...(sqsEvent([POISON]).Records[0] as SqsEvent['Records'][number]), attributes: undefined };
    const handler = sqsHandler(cardActivity, { store, log: false });
    await handler(standard);
    await handler(fifo);
    await handler({ Records: [bare as unknown as SqsEvent['Records'][number]] });
    const id = (event: SqsEvent, i: number) => event.Records[i]?.messageId;
    expect(dead.map((d) => d.position)).toStrictEqual([
      { source: 'sqs', index: 0, messageId: id(standard, 0), arrivalTimeMs: NOON },
      { source: 'sqs', index: 0, messageId: whole.messageId, arrivalTimeMs: NOON, messageGroupId: 'card-7', sequenceNumber: whole.attributes.SequenceNumber },
      { source: 'sqs', index: 1, messageId: noGroup.messageId, arrivalTimeMs: NOON + 1 },
      { source: 'sqs', index: 2, messageId: noSequence.messageId, arrivalTimeMs: NOON + 2 },
      { source: 'sqs', index: 0, messageId: bare.messageId },
    ]);
  });

  it('Kafka: topic, partition, offset as text, key and timestamp; no arrival without a timestamp, no key without one', async () => {
    const { store, dead } = harness();
    const event = kafkaEvent([POISON, POISON], { topic: 'cards', partition: 2, firstOffset: 40, timestamp: new Date(NOON) });
    const records = event.records['cards-2'] ?? [];
    delete (records[1] as { timestamp?: number }).timestamp;
    delete (records[1] as { key?: string }).key;
    expect(await kafkaHandler(cardActivity, { store, log: false })(event)).toEqual({ batchItemFailures: [] });
    expect(dead.map((d) => d.position)).toStrictEqual([
      { source: 'kafka', index: 0, topic: 'cards', partition: 2, offset: '40', key: Buffer.from('key-0').toString('base64'), arrivalTimeMs: NOON },
      { source: 'kafka', index: 1, topic: 'cards', partition: 2, offset: '41' },
    ]);
  });

  it("DynamoDB Streams: sequence number, the item's key (its attributes by name) and the change time", async () => {
    const { store, dead } = harness();
    const event = dynamoDbStreamEvent([{ eventName: 'INSERT', keys: { txn: 't1', card_id: 'broken' }, newImage: POISON, at: new Date(NOON) }]);
    await dynamoDbStreamHandler(cardActivity, { store, log: false })(event);
    expect(dead.map((d) => d.position)).toStrictEqual([
      { source: 'dynamodb-stream', index: 0, sequenceNumber: event.Records[0]?.dynamodb?.SequenceNumber, partitionKey: '{"card_id":{"S":"broken"},"txn":{"S":"t1"}}', arrivalTimeMs: NOON },
    ]);
    // The same item's key given in the other order is the same text.
    const swapped = dynamoDbStreamEvent([{ eventName: 'INSERT', keys: { card_id: 'broken', txn: 't1' }, newImage: POISON, at: new Date(NOON) }]);
    await dynamoDbStreamHandler(cardActivity, { store, log: false })(swapped);
    expect(dead[1]?.position?.partitionKey).toBe('{"card_id":{"S":"broken"},"txn":{"S":"t1"}}');
  });

  it('Firehose: record id and arrival', async () => {
    const dead: DeadLetterEntry[] = [];
    const event = firehoseEvent([POISON], new Date(NOON));
    await firehoseTransform(cardActivity, { deadLetter: (entries) => void dead.push(...entries), log: false })(event);
    expect(dead.map((d) => d.position)).toStrictEqual([{ source: 'firehose', index: 0, recordId: event.records[0]?.recordId, arrivalTimeMs: NOON }]);
  });

  it('Firehose: the payload exactly as it arrived (base64), for a record the schema refuses as for one that cannot be decoded', async () => {
    const dead: DeadLetterEntry[] = [];
    // JSON.parse would round the number and keep only the last "x": the bytes keep both.
    const refused = '{"card_id":"c1","amount_cents":12345678901234567890,"x":1.50,"x":2}';
    const event = { records: [refused, '{garbage'].map((text, i) => ({ recordId: `r${i}`, approximateArrivalTimestamp: NOON, data: Buffer.from(text).toString('base64') })) };
    await firehoseTransform(cardActivity, { deadLetter: (entries) => void dead.push(...entries), log: false })(event);
    expect(dead.map((d) => Buffer.from(d.raw as string, 'base64').toString())).toEqual([refused, '{garbage']);
  });

  it('Kinesis: a record without its kinesis field or its data is poison saying so, not a TypeError, and the batch goes on', async () => {
    const { store, dead } = harness();
    const good = kinesisEvent([txn('c1')]).Records[0] as KinesisStreamEvent['Records'][number];
    const { kinesis: _, ...noKinesis } = good;
    const event = { Records: [{ ...noKinesis, eventID: 'shardId-000000000000:1' }, { ...good, kinesis: { ...good.kinesis, data: undefined } }, good] } as unknown as KinesisStreamEvent;
    expect((await kinesisHandler(cardActivity, { store, log: false })(event)).batchItemFailures).toEqual([]);
    expect(dead.map((d) => d.error.message)).toEqual([0, 1].map(() => 'payload cannot be decoded: there is no payload: expected base64 text, got undefined'));
    expect(await store.get(cardActivity, 'c1')).toBeDefined();
  });
});

describe('each handler names its source', () => {
  it('in the log line of a batch', async () => {
    const { store, lines, log } = harness();
    await kinesisHandler(cardActivity, { store, log })(kinesisEvent([txn('c1')]));
    await sqsHandler(cardActivity, { store, log })(sqsEvent([txn('c1')]));
    await kafkaHandler(cardActivity, { store, log })(kafkaEvent([txn('c1')]));
    await dynamoDbStreamHandler(cardActivity, { store, log })(dynamoDbStreamEvent([{ eventName: 'INSERT', keys: { card_id: 'c1' }, newImage: txn('c1') }]));
    await firehoseTransform(cardActivity, { log })(firehoseEvent([txn('c1')]));
    expect(lines.map((l) => l['source'])).toEqual(['kinesis', 'sqs', 'kafka', 'dynamodb-stream', 'firehose']);
  });

  it('when it is built over a store without a dead-letter sink', () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    expect(() => sqsHandler(cardActivity, { store })).toThrow(/^SQS handler of group "card-activity": the store has no dead-letter sink/);
    expect(() => kafkaHandler(cardActivity, { store })).toThrow(/^Kafka handler of group "card-activity": the store has no dead-letter sink/);
    expect(() => dynamoDbStreamHandler(cardActivity, { store })).toThrow(/^DynamoDB Streams handler of group "card-activity": the store has no dead-letter sink/);
  });

  it('when the event is not one of its events, even no event at all', async () => {
    const { store } = harness();
    const options = { store, log: false } as const;
    const cases: [string, (event: unknown) => Promise<unknown>, RegExp][] = [
      ['Kinesis', kinesisHandler(cardActivity, options) as (event: unknown) => Promise<unknown>, /^this is not a Kinesis event: it has no Records array/],
      ['SQS', sqsHandler(cardActivity, options) as (event: unknown) => Promise<unknown>, /^this is not a SQS event: it has no Records array/],
      ['DynamoDB Streams', dynamoDbStreamHandler(cardActivity, options) as (event: unknown) => Promise<unknown>, /^this is not a DynamoDB Streams event: it has no Records array/],
      ['Firehose', firehoseTransform(cardActivity, { log: false }) as (event: unknown) => Promise<unknown>, /^this is not a Firehose event: it has no records array/],
      ['Kafka', kafkaHandler(cardActivity, options) as (event: unknown) => Promise<unknown>, /^this is not a Kafka event: it has no records map/],
    ];
    for (const [name, handler, message] of cases) {
      for (const event of [undefined, {}]) {
        const error = await handler(event).catch((e: unknown) => e);
        expect(error, `${name}: ${JSON.stringify(event)}`).toBeInstanceOf(ConfigurationError);
        expect((error as ConfigurationError).code).toBe('INVALID_CONFIG');
        expect((error as Error).message).toMatch(message);
      }
    }
    const kafka = cases[4]?.[1] as (event: unknown) => Promise<unknown>;
    for (const records of [null, [], 'cards']) await expect(kafka({ eventSource: 'aws:kafka', records })).rejects.toThrow(/^this is not a Kafka event: it has no records map/);
    // Records that are not record objects: the whole batch is refused, naming the first.
    const kinesis = kinesisEvent([txn('c1')]);
    const error = await cases[0]?.[1]({ Records: [...kinesis.Records, 'c2'] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: 'this is not a Kinesis event: Records[1] is not a record object' });
  });

  it("when the event is another source's, by its eventSource: refused whole, nothing written or dead-lettered, not acknowledged", async () => {
    const { store, dead } = harness();
    const options = { store, log: false } as const;
    const kinesis = kinesisEvent([txn('k1')]);
    const sqs = sqsEvent([txn('s1')]);
    const wiring = '(is the handler wired to the right event source?)';
    await expect(kinesisHandler(cardActivity, options)(sqs as never)).rejects.toThrow(`this is not a Kinesis event: Records[0].eventSource is "aws:sqs", not "aws:kinesis" ${wiring}`);
    await expect(kinesisHandler(cardActivity, options)(sqs as never)).rejects.toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG' }));
    await expect(kafkaHandler(cardActivity, options)({ ...kafkaEvent([txn('f1')]), eventSource: 'aws:sqs' })).rejects.toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG' }));
    await expect(sqsHandler(cardActivity, options)(kinesis as never)).rejects.toThrow(`this is not a SQS event: Records[0].eventSource is "aws:kinesis", not "aws:sqs" ${wiring}`);
    await expect(dynamoDbStreamHandler(cardActivity, options)(kinesis as never)).rejects.toThrow(`this is not a DynamoDB Streams event: Records[0].eventSource is "aws:kinesis", not "aws:dynamodb" ${wiring}`);
    await expect(kafkaHandler(cardActivity, options)({ ...kafkaEvent([txn('f1')]), eventSource: 'aws:sqs' })).rejects.toThrow(
      `this is not a Kafka event: its eventSource is "aws:sqs", not "aws:kafka" or "SelfManagedKafka" ${wiring}`,
    );
    // One stray record refuses the batch before any other is written.
    const mixed = { Records: [...kinesis.Records, { ...(sqs.Records[0] as object), eventSource: 'aws:sqs' }] };
    await expect(kinesisHandler(cardActivity, options)(mixed as never)).rejects.toThrow(/^this is not a Kinesis event: Records\[1\]\.eventSource is "aws:sqs"/);
    expect(dead).toEqual([]);
    expect(await store.get(cardActivity, 'k1')).toBeUndefined();
    // Events built by hand without eventSource are still taken.
    const { eventSource: _, ...bare } = kinesis.Records[0] as KinesisStreamEvent['Records'][number];
    expect(await kinesisHandler(cardActivity, options)({ Records: [bare] } as never)).toEqual({ batchItemFailures: [] });
    expect(await store.get(cardActivity, 'k1')).toBeDefined();
    const { eventSource: __, ...bareKafka } = kafkaEvent([txn('f1')]);
    expect(await kafkaHandler(cardActivity, options)(bareKafka as never)).toEqual({ batchItemFailures: [] });
    expect(await store.get(cardActivity, 'f1')).toBeDefined();
  });
});

describe('records of the wrong shape are poison, never a crash', () => {
  it('a Kinesis record without its kinesis field (or its eventID): dead-lettered; reported by an empty identifier when the sink is down', async () => {
    const record = { eventID: 'shardId-000000000000:1', eventSource: 'aws:kinesis' } as unknown as KinesisStreamEvent['Records'][number];
    const anonymous = { eventSource: 'aws:kinesis' } as unknown as KinesisStreamEvent['Records'][number];
    const { store, dead } = harness();
    expect(await kinesisHandler(cardActivity, { store, log: false })({ Records: [record, anonymous] })).toEqual({ batchItemFailures: [] });
    expect(dead.map((d) => [d.raw, d.position])).toStrictEqual([
      [undefined, { source: 'kinesis', index: 0, shardId: 'shardId-000000000000', sequenceNumber: undefined }],
      [undefined, { source: 'kinesis', index: 1, shardId: '', sequenceNumber: undefined }],
    ]);
    expect(reported(await kinesisHandler(cardActivity, { store: storeWithBrokenSink(), log: false })({ Records: [record] }))).toEqual(['']);
  });

  it('a DynamoDB Streams record without its dynamodb field, or with keys that do not unmarshal: dead-lettered', async () => {
    const { store, dead } = harness();
    const at = NOON / 1000;
    const bare = { eventID: '1', eventName: 'REMOVE', eventSource: 'aws:dynamodb' };
    const badKeys = { eventID: '2', eventName: 'REMOVE', eventSource: 'aws:dynamodb', dynamodb: { ApproximateCreationDateTime: at, Keys: { card_id: { Z: 'no such type' } }, SequenceNumber: '200' } };
    const response = await dynamoDbStreamHandler(cardActivity, { store, log: false })({ Records: [bare, badKeys] } as never);
    expect(response).toEqual({ batchItemFailures: [] });
    expect(dead.map((d) => [d.raw, d.position?.sequenceNumber])).toEqual([
      [undefined, undefined],
      [badKeys.dynamodb.Keys, '200'],
    ]);
    // A record without a creation time has no arrival: the position says none, not NaN.
    expect(dead.map((d) => d.position)).toStrictEqual([
      { source: 'dynamodb-stream', index: 0, sequenceNumber: undefined },
      { source: 'dynamodb-stream', index: 1, sequenceNumber: '200', partitionKey: '{"card_id":{"Z":"no such type"}}', arrivalTimeMs: NOON },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store: storeWithBrokenSink(), log: false })({ Records: [bare] } as never))).toEqual(['']);
  });

  it('a Kafka record without a value: dead-lettered naming what is missing; a partition without records: nothing to do', async () => {
    const { store, dead } = harness();
    const event = kafkaEvent([txn('c1')], { topic: 'cards' });
    const records = Object.values(event.records)[0] ?? [];
    delete (records[0] as { value?: string }).value;
    const handler = kafkaHandler(cardActivity, { store, log: false });
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
    expect(dead.map((d) => d.error.message)).toEqual(['payload cannot be decoded: Kafka record has no value']);
    // A tombstone's key is all it says: the dead letter keeps it.
    expect(dead[0]?.position?.key).toBe(Buffer.from('key-0').toString('base64'));
    expect(await handler({ ...event, records: { 'cards-0': null } } as never)).toEqual({ batchItemFailures: [] });
    expect(dead).toHaveLength(1);
  });

  it('an SQS message without a body: dead-lettered naming what is missing', async () => {
    const { store, dead } = harness();
    const message = { ...(sqsEvent([txn('c1')]).Records[0] as SqsEvent['Records'][number]), body: undefined };
    await sqsHandler(cardActivity, { store, log: false })({ Records: [message as unknown as SqsEvent['Records'][number]] });
    expect(dead.map((d) => d.error.message)).toEqual(['payload cannot be decoded: SQS message has no body']);
  });
});

describe('a Kafka record reaches a custom decoder with its key and headers', () => {
  it('the key decoded from base64, and no headers as an empty map', async () => {
    const { store } = harness();
    const seen: { key?: string; headers: Record<string, string> }[] = [];
    const decode = (bytes: Buffer, _position: unknown, meta: { key?: Buffer; headers?: Record<string, Buffer> }) => {
      seen.push({ ...(meta.key ? { key: meta.key.toString('utf8') } : {}), headers: Object.fromEntries(Object.entries(meta.headers ?? {}).map(([k, v]) => [k, v.toString('utf8')])) });
      return JSON.parse(bytes.toString('utf8')) as unknown;
    };
    const event = kafkaEvent([txn('c1'), txn('c2')], { topic: 'cards', headers: (_p, i) => (i === 0 ? { trace: 't-1' } : undefined) });
    const records = Object.values(event.records)[0] ?? [];
    delete (records[1] as { headers?: unknown }).headers;
    delete (records[1] as { key?: string }).key;
    await kafkaHandler(cardActivity, { store, log: false, decode: decode as never })(event);
    expect(seen).toStrictEqual([{ key: 'key-0', headers: { trace: 't-1' } }, { headers: {} }]);
  });
});

describe('redelivery reports', () => {
  it('Kinesis: a shard is what comes before the first colon of the eventID, the whole eventID without one', async () => {
    const records = (ids: string[]) => {
      const event = kinesisEvent(ids.map((card) => txn(card)));
      return { Records: event.Records.map((r, i) => ({ ...r, eventID: ids[i] === 'a' || ids[i] === 'b' ? `shard${ids[i]}` : `:${ids[i]}` })) };
    };
    // Without a colon, shardA and shardB are two shards: a failure in one holds back nothing of the other.
    const apart = records(['a', 'b']);
    const { store } = harness('a', 'x');
    expect(reported(await kinesisHandler(cardActivity, { store, log: false })(apart))).toEqual([apart.Records[0]?.kinesis.sequenceNumber]);
    // ':x' and ':y' both name the shard '' (nothing before the colon): the failure holds back the later record.
    const together = records(['x', 'y']);
    expect(reported(await kinesisHandler(cardActivity, { store, log: false })(together))).toEqual(together.Records.map((r) => r.kinesis.sequenceNumber));
  });

  it('SQS FIFO: a failure holds back the later messages of its group only; a standard queue reports the failure alone', async () => {
    const payloads = [txn('a'), txn('b'), txn('c')];
    const groups = ['g1', 'g2', 'g1'];
    const { store } = harness('a');
    const fifo = sqsEvent(payloads, { fifo: true, groupOf: (_p, i) => groups[i] as string });
    expect(reported(await sqsHandler(cardActivity, { store, log: false })(fifo))).toEqual([fifo.Records[0]?.messageId, fifo.Records[2]?.messageId]);
    const standard = sqsEvent(payloads);
    expect(reported(await sqsHandler(cardActivity, { store, log: false })(standard))).toEqual([standard.Records[0]?.messageId]);
  });
});

describe('the batch log says why records failed', () => {
  it('counts failures by error code and the AWS error beneath, never by message, and says nothing when none failed', async () => {
    const { store, log, lines } = harness('secret-card-1', 'secret-card-2');
    await kinesisHandler(cardActivity, { store, log })(kinesisEvent([txn('secret-card-1'), txn('ok'), txn('secret-card-2', 1)]));
    // One shard: the record after the first failure is reported too, but only the two that failed have a reason.
    expect(lines[0]).toMatchObject({ level: 'warn', written: 1, reported: 3, reasons: { THROTTLED: 2 } });
    // A dead-letter sink that is down: the poison records fail with the store's WRITE_FAILED.
    const broken: Record<string, unknown>[] = [];
    await sqsHandler(cardActivity, { store: storeWithBrokenSink(), log: (line) => void broken.push(JSON.parse(line) as Record<string, unknown>) })(sqsEvent([POISON, txn('ok')]));
    expect(broken[0]).toMatchObject({ reported: 1, reasons: { WRITE_FAILED: 1 } });
    // A payload that is no JSON goes to the sink before the pipeline: its failure says the same.
    await kinesisHandler(cardActivity, { store: storeWithBrokenSink(), log: (line) => void broken.push(JSON.parse(line) as Record<string, unknown>) })(kinesisEvent([Buffer.from('not json')]));
    expect(broken[1]).toMatchObject({ reported: 1, reasons: { WRITE_FAILED: 1 } });
    for (const line of [...lines, ...broken]) expect(JSON.stringify(line)).not.toMatch(/secret-card|Rate exceeded|unreachable/);
    lines.length = 0;
    await kinesisHandler(cardActivity, { store, log })(kinesisEvent([txn('ok')]));
    expect(lines[0]).not.toHaveProperty('reasons');
  });

  it('names the AWS error beneath the wrapping errors, and the code alone for an Error without a name of its own', () => {
    const aws = Object.assign(new Error('Requested resource not found'), { name: 'ResourceNotFoundException' });
    const written = new BackendError('WRITE_FAILED', 'group "g": write failed', { cause: aws });
    // A later record of the same identifier is held back by a BackendError wrapping the first one's.
    const held = new BackendError('WRITE_FAILED', 'not written, an earlier record failed', { cause: written });
    expect([written, held].map(failureReason)).toEqual(['WRITE_FAILED ResourceNotFoundException', 'WRITE_FAILED ResourceNotFoundException']);
    expect(failureReason(new BackendError('DEADLINE_EXCEEDED', 'out of time'))).toBe('DEADLINE_EXCEEDED');
    expect(failureReason(new BackendError('WRITE_FAILED', 'x', { cause: new Error('Region is missing') }))).toBe('WRITE_FAILED');
    expect(failureReason(new TypeError('a bug'))).toBe('TypeError');
  });
});

describe('firehoseTransform', () => {
  const wide = defineFeatureGroup({
    name: 'wide-ids',
    recordIdentifier: 'id',
    eventTime: 't',
    source: z.object({ id: z.string(), t: isoTimestamp(), big: z.string() }),
    features: z.object({ id: z.string(), t: z.date(), big: z.bigint() }),
    transform: (e) => ({ id: e.id, t: e.t, big: BigInt(e.big) }),
  });
  const line = (data: string) => Buffer.from(data, 'base64').toString('utf8');

  it('is refused for a group with aggregations, which need state it does not have', () => {
    expect(() => firehoseTransform(cardVelocity)).toThrow(ConfigurationError);
    expect(() => firehoseTransform(cardVelocity)).toThrow(/^group "card-velocity" has aggregations, which need per-entity state a Firehose transformation does not have: ingest it with kinesisHandler/);
  });

  it('checks its options when built, each message naming the option and what it takes', () => {
    const built = (group: unknown, options: unknown) => () => firehoseTransform(group as typeof cardActivity, options as never);
    expect(built(cardActivity, 5)).toThrow(/^Firehose transform options: expected Firehose transform options: \{ decode, filter, deadLetter, log, metrics \}, got 5$/);
    expect(built(cardActivity, { filter: 'country' })).toThrow(/^Firehose transform options\.filter: expected a function of the raw event \(false drops it\), got "country"$/);
    expect(built({ name: 'card-activity' }, {})).toThrow(/^Firehose transform: expected a feature group made by defineFeatureGroup, got an object$/);
  });

  it('writes 64-bit integers of every length as JSON numbers, exactly', async () => {
    const event = firehoseEvent([
      { id: 'a', t: new Date(NOON).toISOString(), big: '1234567890123456789' },
      { id: 'b', t: new Date(NOON).toISOString(), big: '-42' },
      { id: 'c', t: new Date(NOON).toISOString(), big: '7' },
    ]);
    const { records } = await firehoseTransform(wide, { log: false })(event);
    expect(records.map((r) => line(r.data))).toEqual([
      expect.stringContaining('"big":1234567890123456789,'),
      expect.stringContaining('"big":-42,'),
      expect.stringContaining('"big":7,'),
    ]);
  });

  it('takes the transformation time as the API invocation time of a record that has no arrival time', async () => {
    const event = firehoseEvent([txn('c1')], new Date(NOON));
    delete (event.records[0] as { approximateArrivalTimestamp?: number }).approximateArrivalTimestamp;
    const { records } = await firehoseTransform(cardActivity, { log: false })(event);
    const row = JSON.parse(line(records[0]?.data as string)) as Record<string, string>;
    expect(row['api_invocation_time']).toBe(row['write_time']);
  });

  it('sends nothing to the sink when nothing is poison, and logs what it wrote, refused and how long it took', async () => {
    let calls = 0;
    const lines: Record<string, unknown>[] = [];
    const transform = firehoseTransform(cardActivity, { deadLetter: () => void calls++, log: (l) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
    await transform(firehoseEvent([txn('c1'), txn('c2')]));
    expect(calls).toBe(0);
    await transform(firehoseEvent([txn('c1'), POISON, txn('c3'), POISON, POISON]));
    expect(calls).toBe(1);
    expect(lines.map(({ source, records, written, poison, reported: r }) => ({ source, records, written, poison, reported: r }))).toEqual([
      { source: 'firehose', records: 2, written: 2, poison: 0, reported: 0 },
      { source: 'firehose', records: 5, written: 2, poison: 3, reported: 0 },
    ]);
    for (const l of lines) expect(l['durationMs']).toBeGreaterThanOrEqual(0);
    for (const l of lines) expect(l['durationMs']).toBeLessThan(60_000);
  });
});
