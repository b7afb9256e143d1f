import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { retryStrategy, sageMakerOnline } from '../src/aws/index.js';
import { BackendError, ConfigurationError, createFeatureStore, type DeadLetterEntry, defineFeatureGroup, type FeatureStore } from '../src/index.js';
import { decodeBase64, dynamoDbStreamHandler, firehoseTransform, jsonPayload, kafkaHandler, kinesisHandler, sqsHandler } from '../src/lambda/index.js';
import { type LocalStack, localOffline, localOnline, startLocalStack } from '../src/local/index.js';
import { dynamoDbStreamEvent, firehoseEvent, kafkaEvent, kinesisEvent, memoryOnline, sqsEvent } from '../src/testing/index.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { cardActivity, validCardEvent } from './fixtures/groups.js';

const card = (i: number, extra: Record<string, unknown> = {}) => ({
  ...validCardEvent,
  card_id: `card-${i % 7}`,
  amount_cents: i,
  ts: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(),
  ...extra,
});

let dead: DeadLetterEntry[] = [];
const logs: string[] = [];
function memoryStore(): FeatureStore {
  dead = [];
  return createFeatureStore({
    online: localOnline({ memory: true }),
    offline: localOffline({ memory: true }),
    deadLetter: (entries) => {
      dead.push(...entries);
    },
  });
}
const quiet = { log: (line: string) => logs.push(line) };

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  await createGroupOnStack(stack.clientConfig, cardActivity);
});
afterAll(async () => {
  await stack.close();
});

/** A store on SageMaker (the local stack) whose writes fail as the stack's faults say, without client retries. */
function flakyStore(): FeatureStore {
  dead = [];
  return createFeatureStore({
    // One PutRecord per record, so a fault the stack injects fails exactly one record.
    online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, maxAttempts: 1 }), retry: { attempts: 1 }, batchWrite: false }),
    offline: false,
    deadLetter: (entries) => {
      dead.push(...entries);
    },
  });
}

describe('kinesisHandler', () => {
  it('writes a batch and reports nothing', async () => {
    const store = memoryStore();
    const handler = kinesisHandler(cardActivity, { store, ...quiet });
    expect(await handler(kinesisEvent([card(1), card(2)]))).toEqual({ batchItemFailures: [] });
    expect((await store.get(cardActivity, 'card-1'))?.amount).toBe(0.01);
    await store.close();
  });

  it('dead-letters poison with its raw payload, error and position, and does not report it', async () => {
    const store = memoryStore();
    const event = kinesisEvent([card(1), 'not json', card(2, { amount_cents: 'x' })]);
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
    expect(response.batchItemFailures).toEqual([]);
    expect(dead.map((d) => d.error.code)).toEqual(['SOURCE_VALIDATION', 'SOURCE_VALIDATION']);
    expect(dead[0]?.raw).toBe(event.Records[1]?.kinesis.data);
    expect(dead[0]?.position).toMatchObject({ source: 'kinesis', shardId: 'shardId-000000000000', sequenceNumber: event.Records[1]?.kinesis.sequenceNumber });
    expect(dead[0]?.position?.arrivalTimeMs).toBe(Math.round(event.Records[1]!.kinesis.approximateArrivalTimestamp * 1000));
    await store.close();
  });

  it('reports the first failed record of a shard and every record after it', async () => {
    stack.setFaults({ PutRecord: { errorRate: 0.3 }, seed: 5 });
    const store = flakyStore();
    const event = kinesisEvent(Array.from({ length: 30 }, (_, i) => card(i)));
    const summary: string[] = [];
    const response = await kinesisHandler(cardActivity, { store, log: (l) => summary.push(l) })(event);
    stack.setFaults({});
    const reported = response.batchItemFailures.map((f) => f.itemIdentifier);
    const sequences = event.Records.map((r) => r.kinesis.sequenceNumber);
    const first = sequences.indexOf(reported[0] as string);
    expect(reported.length).toBeGreaterThan(0);
    expect(reported).toEqual(sequences.slice(first));
    expect(JSON.parse(summary[0] as string)).toMatchObject({ level: 'warn', source: 'kinesis', records: 30 });
    await store.close();
  });

  it('takes a batch larger than a slice in order: poison at slice edges dead-lettered, the latest record per card online', async () => {
    const store = memoryStore();
    const sizes: number[] = [];
    const ingest = store.ingest.bind(store);
    const observed = { ...store, ingest: (group, raw, options) => (sizes.push(raw.length), ingest(group, raw, options)) } as FeatureStore;
    const bad = new Set([0, 499, 500, 501, 1000, 1233]);
    const events = Array.from({ length: 1234 }, (_, i) => (bad.has(i) ? card(i, { amount_cents: 'x' }) : card(i)));
    const response = await kinesisHandler(cardActivity, { store: observed, ...quiet })(kinesisEvent(events));
    expect(response.batchItemFailures).toEqual([]);
    expect(sizes.every((n) => n <= 500) && sizes.length >= 3).toBe(true);
    expect(dead.map((d) => d.position?.index)).toEqual([...bad]);
    // Cards repeat every 7 events: each card's online record is its last good event of the batch.
    for (let c = 0; c < 7; c++) {
      let last = 1233;
      while (last % 7 !== c || bad.has(last)) last--;
      expect((await store.get(cardActivity, `card-${c}`))?.amount).toBe(last / 100);
    }
    const { offline } = await store.backends();
    expect((await offline!.scan(cardActivity)).length).toBe(1234 - bad.size);
    await store.close();
  });

  it('reports from the first failure on, when the failure falls in a later slice', async () => {
    // A real embedded store whose backend refuses one card, as a throttled call out of retries would.
    const online = await localOnline({ memory: true });
    const put = online.put.bind(online);
    online.put = async (group, records, options) => {
      const outcomes = await put(group, records, options);
      return outcomes.map((o, i) =>
        records[i]?.[0]?.ValueAsString === 'slice-777' ? new BackendError('THROTTLED', 'slow down', { retryable: true }) : o,
      );
    };
    const store = createFeatureStore({ online, offline: false });
    const event = kinesisEvent(Array.from({ length: 1500 }, (_, i) => card(i, { card_id: `slice-${i}` })));
    const response = await kinesisHandler(cardActivity, { discardPoison: true, store, ...quiet })(event);
    const sequences = event.Records.map((r) => r.kinesis.sequenceNumber);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(sequences.slice(777));
    expect(await store.get(cardActivity, 'slice-776')).toBeDefined();
    await store.close();
  });

  it.each([
    ['PutRecord', 40],
    ['BatchWriteRecord', 400],
  ] as const)('counts the retries the backend made in the batch log (%s)', async (api, records) => {
    stack.setFaults({ [api]: { throttleRate: 0.3 }, seed: 17 });
    const before = stack.faultCounts[api]?.throttled ?? 0;
    const store = createFeatureStore({
      online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, retryStrategy: retryStrategy({ attempts: 10, baseDelayMs: 1 }) }), batchWrite: api === 'BatchWriteRecord' }),
      offline: false,
    });
    const lines: string[] = [];
    const event = kinesisEvent(Array.from({ length: records }, (_, i) => card(i, { card_id: `retry-${api}-${i}` })));
    const response = await kinesisHandler(cardActivity, { discardPoison: true, store, log: (l) => lines.push(l) })(event);
    stack.setFaults({});
    const throttled = (stack.faultCounts[api]?.throttled ?? 0) - before;
    expect(response.batchItemFailures).toEqual([]);
    expect(throttled).toBeGreaterThan(0);
    // Every throttled call was retried once, and nothing else was.
    expect(JSON.parse(lines[0] as string)).toMatchObject({ records, written: records, retried: throttled, reported: 0 });
    await store.close();
  });

  it.each([
    ['PutRecord', 20, 4],
    ['BatchWriteRecord', 100, 1],
  ] as const)('stops starting writes when the invocation runs out of time, reporting what it did not do (%s)', async (api, records, concurrency) => {
    stack.setFaults({ [api]: { latencyMs: 40 } });
    const store = createFeatureStore({
      online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig), concurrency, batchWrite: api === 'BatchWriteRecord' }),
      offline: false,
    });
    const event = kinesisEvent(Array.from({ length: records }, (_, i) => card(i, { card_id: `deadline-${api}-${i}` })));
    // 20 ms past the safety margin: the first calls start (4 PutRecords, or one BatchWriteRecord of 25),
    // the rest would start after the deadline.
    const budget = Date.now() + 3000 + 20;
    const response = await kinesisHandler(cardActivity, { discardPoison: true, store, ...quiet })(event, { getRemainingTimeInMillis: () => budget - Date.now() });
    stack.setFaults({});
    expect(response.batchItemFailures.length).toBeGreaterThan(0);
    expect(response.batchItemFailures.length).toBeLessThan(records);
    await store.close();
  });

  it('reports records whose dead-letter write failed, instead of dropping them', async () => {
    const store = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: false,
      deadLetter: () => {
        throw new Error('DLQ down');
      },
    });
    const event = kinesisEvent([card(1), 'garbage']);
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
    await store.close();
  });

  it('logs one JSON line of counts, with no payload values', async () => {
    const store = memoryStore();
    const lines: string[] = [];
    await kinesisHandler(cardActivity, { store, log: (l) => lines.push(l), metrics: { namespace: 'Skewless' } })(kinesisEvent([card(1, { card_id: 'secret-card-9999' })]));
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ message: 'skewless batch', group: 'card-activity', records: 1, written: 1, poison: 0, reported: 0 });
    // Embedded Metric Format: every metric named with its unit, and its value at the top level.
    const emf = JSON.parse(lines[1] as string);
    expect(emf._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'Skewless',
        Dimensions: [['Group', 'Source']],
        Metrics: ['Records', 'Written', 'Poison', 'Retried', 'Reported'].map((Name) => ({ Name, Unit: 'Count' })).concat({ Name: 'DurationMs', Unit: 'Milliseconds' }),
      },
    ]);
    expect(emf).toMatchObject({ Group: 'card-activity', Source: 'kinesis', Records: 1, Written: 1, Poison: 0, Retried: 0, Reported: 0 });
    expect(typeof emf._aws.Timestamp === 'number' && typeof emf.DurationMs === 'number').toBe(true);
    expect(lines.join('\n')).not.toContain('secret-card-9999');
    await store.close();
  });
});

describe('sqsHandler', () => {
  it('reports failed messages by messageId on a standard queue', async () => {
    stack.setFaults({ PutRecord: { errorRate: 0.4 }, seed: 9 });
    const store = flakyStore();
    const event = sqsEvent(Array.from({ length: 20 }, (_, i) => card(i, { card_id: `sqs-${i}` })));
    const response = await sqsHandler(cardActivity, { store, ...quiet })(event);
    stack.setFaults({});
    const reported = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    expect(reported.size).toBeGreaterThan(0);
    expect(reported.size).toBeLessThan(20);
    // Standard queues: exactly the failed ones, no order to keep.
    const online = await store.getMany(cardActivity, event.Records.map((_, i) => `sqs-${i}`));
    event.Records.forEach((r, i) => expect(online.has(`sqs-${i}`)).toBe(!reported.has(r.messageId)));
    await store.close();
  });

  it('on a FIFO queue reports the first failure and every later message of its group', async () => {
    stack.setFaults({ PutRecord: { errorRate: 0.3 }, seed: 21 });
    const store = flakyStore();
    const payloads = Array.from({ length: 24 }, (_, i) => card(i, { card_id: `fifo-${i % 3}` }));
    const event = sqsEvent(payloads, { fifo: true, groupOf: (p) => (p as { card_id: string }).card_id });
    const response = await sqsHandler(cardActivity, { store, ...quiet })(event);
    stack.setFaults({});
    const reported = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    expect(reported.size).toBeGreaterThan(0);
    for (const group of ['fifo-0', 'fifo-1', 'fifo-2']) {
      const ids = event.Records.filter((r) => r.attributes.MessageGroupId === group).map((r) => reported.has(r.messageId));
      const first = ids.indexOf(true);
      if (first >= 0) expect(ids.slice(first).every(Boolean)).toBe(true);
    }
    await store.close();
  });
});

describe('kafkaHandler', () => {
  it('writes MSK and self-managed events and names failures by topic-partition and offset', async () => {
    const store = memoryStore();
    expect(await kafkaHandler(cardActivity, { store, ...quiet })(kafkaEvent([card(1)], { topic: 'cards', partition: 2 }))).toEqual({ batchItemFailures: [] });
    expect(await kafkaHandler(cardActivity, { store, ...quiet })(kafkaEvent([card(2)], { eventSource: 'SelfManagedKafka' }))).toEqual({ batchItemFailures: [] });
    await store.close();
    stack.setFaults({ PutRecord: { errorRate: 1 } });
    const flaky = flakyStore();
    const response = await kafkaHandler(cardActivity, { store: flaky, ...quiet })(kafkaEvent([card(3), card(4)], { topic: 'cards', partition: 2, firstOffset: 100 }));
    stack.setFaults({});
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'cards-2', offset: 100 } },
      { itemIdentifier: { partition: 'cards-2', offset: 101 } },
    ]);
    await flaky.close();
  });

  it('hands headers to a custom decoder whether they arrive as byte arrays or base64', async () => {
    const store = memoryStore();
    const seen: string[] = [];
    const handler = kafkaHandler(cardActivity, {
      store,
      ...quiet,
      decode: (payload, _position, meta) => {
        seen.push(meta.headers?.['schema']?.toString('utf8') ?? '');
        return JSON.parse(payload.toString('utf8'));
      },
    });
    const event = kafkaEvent([card(1), card(2)], { headers: () => ({ schema: 'v2' }) });
    const records = Object.values(event.records)[0]!;
    const asBase64 = { ...event, records: { 'events-0': [records[0]!, { ...records[1]!, headers: [{ schema: Buffer.from('v2').toString('base64') }] }] } };
    expect(await handler(asBase64)).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual(['v2', 'v2']);
    await store.close();
  });
});

describe('dynamoDbStreamHandler', () => {
  const profiles = defineFeatureGroup({
    name: 'customer-profile',
    recordIdentifier: 'customer_id',
    eventTime: 'updated_at',
    source: z.object({ customer_id: z.bigint(), plan: z.string(), updated_at: z.string().datetime() }),
    features: z.object({ customer_id: z.bigint(), plan: z.string(), updated_at: z.date() }),
    transform: (e) => ({ customer_id: e.customer_id, plan: e.plan, updated_at: new Date(e.updated_at) }),
  });

  it('runs the pipeline on the unmarshalled NewImage and deletes on REMOVE', async () => {
    const store = memoryStore();
    const id = 2n ** 60n + 1n;
    const handler = dynamoDbStreamHandler(profiles, { store, ...quiet });
    const insert = dynamoDbStreamEvent([{ eventName: 'INSERT', keys: { customer_id: id }, newImage: { customer_id: id, plan: 'pro', updated_at: '2024-05-01T00:00:00.000Z' } }]);
    expect(await handler(insert)).toEqual({ batchItemFailures: [] });
    expect(await store.get(profiles, id)).toEqual({ customer_id: id, plan: 'pro', updated_at: new Date('2024-05-01T00:00:00.000Z') });
    const remove = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { customer_id: id }, at: new Date('2024-06-01T00:00:00Z') }]);
    expect(await handler(remove)).toEqual({ batchItemFailures: [] });
    expect(await store.get(profiles, id)).toBeUndefined();
    await store.close();
  });

  it('keeps a REMOVE in its place within a batch of many slices', async () => {
    const store = memoryStore();
    const idOf = (i: number) => 2n ** 60n + BigInt(i % 3);
    const image = (i: number) => ({ customer_id: idOf(i), plan: `plan-${i}`, updated_at: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString() });
    const records = Array.from({ length: 1100 }, (_, i) =>
      i === 1099 || i === 700
        ? { eventName: 'REMOVE' as const, keys: { customer_id: idOf(i) }, at: new Date(Date.UTC(2024, 4, 1) + i * 1000 + 500) }
        : { eventName: 'MODIFY' as const, keys: { customer_id: idOf(i) }, newImage: image(i) },
    );
    expect(await dynamoDbStreamHandler(profiles, { store, ...quiet })(dynamoDbStreamEvent(records))).toEqual({ batchItemFailures: [] });
    // 1099 % 3 = 1: deleted last; 700 % 3 = 1 too, and written again after it. The others keep their last image.
    expect(dead).toEqual([]);
    expect(await store.get(profiles, idOf(1))).toBeUndefined();
    expect((await store.get(profiles, idOf(0)))?.plan).toBe('plan-1098');
    expect((await store.get(profiles, idOf(2)))?.plan).toBe('plan-1097');
    await store.close();
  });

  it('treats a stream without images as poison with a clear reason', async () => {
    const store = memoryStore();
    const event = dynamoDbStreamEvent([{ eventName: 'MODIFY', keys: { customer_id: 1 } }]);
    // A record without its `dynamodb` part at all, as a hand-made test event may be.
    const bare = { eventName: 'INSERT', eventSource: 'aws:dynamodb' } as unknown as (typeof event.Records)[number];
    expect(await dynamoDbStreamHandler(profiles, { store, ...quiet })({ Records: [...event.Records, bare] })).toEqual({ batchItemFailures: [] });
    const reason = 'the stream record has no NewImage (use the NEW_IMAGE or NEW_AND_OLD_IMAGES view)';
    expect(dead.map((entry) => entry.error.message)).toEqual([expect.stringContaining(reason), expect.stringContaining(reason)]);
    await store.close();
  });
});

describe('firehoseTransform', () => {
  it('returns offline rows with partition keys, and ProcessingFailed or Dropped for the rest', async () => {
    const poison: DeadLetterEntry[] = [];
    const transform = firehoseTransform(cardActivity, {
      filter: (raw) => (raw as { country?: string }).country !== 'XX',
      deadLetter: (entries) => {
        poison.push(...entries);
      },
      log: false,
    });
    const event = firehoseEvent([card(1), 'nope', card(2, { country: 'XX' })], new Date('2024-06-01T00:00:00Z'));
    const { records } = await transform(event);
    expect(records.map((r) => r.result)).toEqual(['Ok', 'ProcessingFailed', 'Dropped']);
    expect(records[0]?.metadata?.partitionKeys).toEqual({ year: '2024', month: '05', day: '01', hour: '00' });
    const row = JSON.parse(Buffer.from(records[0]!.data, 'base64').toString('utf8'));
    expect(row).toMatchObject({ card_id: 'card-1', amount: 0.01, is_foreign: 1, is_deleted: false, api_invocation_time: '2024-06-01T00:00:00.000Z' });
    expect(row.skewless_fingerprint).toBe(cardActivity.fingerprint);
    expect(records[1]?.data).toBe(event.records[1]?.data);
    expect(poison).toHaveLength(1);
  });

  it('logs the records its filter dropped apart from written and poison', async () => {
    const lines: string[] = [];
    const transform = firehoseTransform(cardActivity, { filter: (raw) => (raw as { country?: string }).country !== 'XX', deadLetter: () => {}, log: (line) => void lines.push(line) });
    await transform(firehoseEvent([card(1), 'nope', card(2, { country: 'XX' }), card(3, { country: 'XX' })], new Date('2024-06-01T00:00:00Z')));
    expect(JSON.parse(lines[0] as string)).toMatchObject({ source: 'firehose', records: 4, written: 1, poison: 1, dropped: 2 });
    // Nothing dropped, nothing said of it.
    await transform(firehoseEvent([card(1)], new Date('2024-06-01T00:00:00Z')));
    expect(JSON.parse(lines[1] as string)).not.toHaveProperty('dropped');
  });

  it('drops only on false: a filter without its return fails the buffer, one that throws makes its event poison', async () => {
    const at = new Date('2024-06-01T00:00:00Z');
    const poison: DeadLetterEntry[] = [];
    const options = { deadLetter: (entries: readonly DeadLetterEntry[]) => void poison.push(...entries), log: false as const };
    for (const [returned, described] of [
      // A function that forgot its `return` would drop every event; an async one would keep every one.
      [undefined, 'undefined: is its return missing?'],
      [Promise.resolve(false), 'a Promise: a filter is synchronous'],
      ['FR', '"FR": return a boolean (Boolean(value) for a truthy one)'],
      [0, '0: return a boolean (Boolean(value) for a truthy one)'],
      [null, 'null: return a boolean (Boolean(value) for a truthy one)'],
    ] as const) {
      const wrong = firehoseTransform(cardActivity, { ...options, filter: () => returned as unknown as boolean });
      await expect(wrong(firehoseEvent([card(1), card(2)], at))).rejects.toMatchObject({
        name: 'ConfigurationError',
        message: `Firehose transform options.filter must return true (keep the event) or false (drop it), got ${described}`,
      });
    }
    expect(poison).toEqual([]);
    const throwing = firehoseTransform(cardActivity, {
      ...options,
      filter: (raw) => {
        if ((raw as { country?: string }).country === 'XX') throw new Error('no country XX here');
        return true;
      },
    });
    const event = firehoseEvent([card(1), card(2, { country: 'XX' })], at);
    expect((await throwing(event)).records.map((r) => r.result)).toEqual(['Ok', 'ProcessingFailed']);
    expect(poison).toMatchObject([
      { raw: event.records[1]?.data, rawEncoding: 'base64', error: { name: 'TransformError', code: 'TRANSFORM_FAILED', message: 'group "card-activity": filter threw: no country XX here', position: { index: 1 } } },
    ]);
  });

  it('fails the invocation with a BackendError when its dead-letter sink fails: Firehose retries the buffer', async () => {
    const transform = firehoseTransform(cardActivity, {
      deadLetter: () => {
        throw new Error('sink down');
      },
      log: false,
    });
    await expect(transform(firehoseEvent([card(1), 'nope'], new Date('2024-06-01T00:00:00Z')))).rejects.toMatchObject({
      name: 'BackendError',
      code: 'WRITE_FAILED',
      retryable: true,
      message: 'group "card-activity": dead-letter sink failed: sink down',
    });
  });

  it('prints CloudWatch metrics in Embedded Metric Format when given a namespace, as the other handlers do', async () => {
    const lines: string[] = [];
    const transform = firehoseTransform(cardActivity, { deadLetter: () => {}, log: (line) => void lines.push(line), metrics: { namespace: 'Clicks' } });
    await transform(firehoseEvent([card(1), 'nope'], new Date('2024-06-01T00:00:00Z')));
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1] as string)).toMatchObject({ _aws: { CloudWatchMetrics: [{ Namespace: 'Clicks' }] }, Source: 'firehose', Records: 2, Written: 1, Poison: 1 });
  });
});

describe('bad input through every handler', () => {
  const invalid = [
    Buffer.from('!!!not base64!!!'),
    Buffer.from([0xff, 0xfe, 0x00]),
    Buffer.from('{"card_id":'),
    Buffer.from('null'),
    Buffer.from('[1,2]'),
    Buffer.from('42'),
    Buffer.from(JSON.stringify({ ...card(1), amount_cents: 1.5 })),
    Buffer.from(JSON.stringify({ ...card(1), card_id: 'x'.repeat(3000) })),
  ];

  it('dead-letters every malformed record through Kinesis, SQS, Kafka and Firehose, and crashes on none', async () => {
    const store = memoryStore();
    // Invalid base64 is a raw record property, not a payload, so it is written into the events directly.
    const kinesis = kinesisEvent(invalid);
    const brokenKinesis = { Records: [{ ...kinesis.Records[0]!, kinesis: { ...kinesis.Records[0]!.kinesis, data: '!!!not base64!!!' } }, ...kinesis.Records.slice(1)] };
    expect((await kinesisHandler(cardActivity, { store, ...quiet })(brokenKinesis)).batchItemFailures).toEqual([]);
    expect(dead).toHaveLength(invalid.length);
    dead = [];
    expect((await sqsHandler(cardActivity, { store: memoryStoreShared(store), ...quiet })(sqsEvent(invalid))).batchItemFailures).toEqual([]);
    expect((await kafkaHandler(cardActivity, { store, ...quiet })(kafkaEvent(invalid))).batchItemFailures).toEqual([]);
    const { records } = await firehoseTransform(cardActivity, { log: false })(firehoseEvent(invalid));
    expect(records.every((r) => r.result === 'ProcessingFailed')).toBe(true);
    await store.close();
  });

  it('answers an empty batch with no failures', async () => {
    const store = memoryStore();
    expect(await kinesisHandler(cardActivity, { store, ...quiet })({ Records: [] })).toEqual({ batchItemFailures: [] });
    expect(await sqsHandler(cardActivity, { store, ...quiet })({ Records: [] })).toEqual({ batchItemFailures: [] });
    expect(await kafkaHandler(cardActivity, { store, ...quiet })({ eventSource: 'aws:kafka', records: {} })).toEqual({ batchItemFailures: [] });
    expect(await firehoseTransform(cardActivity)({ records: [] })).toEqual({ records: [] });
    await store.close();
  });

  it('refuses an event of an unknown shape with a clear error', async () => {
    const store = memoryStore();
    await expect(kinesisHandler(cardActivity, { store, ...quiet })({} as never)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(sqsHandler(cardActivity, { store, ...quiet })({ records: [] } as never)).rejects.toThrow(/not a SQS event/);
    await expect(kafkaHandler(cardActivity, { store, ...quiet })({ Records: [] } as never)).rejects.toThrow(/not a Kafka event/);
    await store.close();
  });

  it('refuses an event with a record that is not an object before writing any of it', async () => {
    const store = memoryStore();
    const kinesis = kinesisEvent(Array.from({ length: 1200 }, (_, i) => card(i, { card_id: `whole-${i}` })));
    (kinesis.Records as unknown[])[900] = null;
    await expect(kinesisHandler(cardActivity, { store, ...quiet })(kinesis)).rejects.toThrow(/Records\[900\] is not a record object/);
    expect(await store.get(cardActivity, 'whole-0')).toBeUndefined();
    const sqs = sqsEvent([card(1)]);
    (sqs.Records as unknown[]).push('text');
    await expect(sqsHandler(cardActivity, { store, ...quiet })(sqs)).rejects.toBeInstanceOf(ConfigurationError);
    const kafka = kafkaEvent([card(2)]);
    for (const key of Object.keys(kafka.records)) (kafka.records[key] as unknown[]).push(7);
    await expect(kafkaHandler(cardActivity, { store, ...quiet })(kafka)).rejects.toThrow(/not a Kafka event: records\[".*"\]\[1\]/);
    const dynamo = dynamoDbStreamEvent([]);
    (dynamo.Records as unknown[]).push(null);
    await expect(dynamoDbStreamHandler(cardActivity, { store, ...quiet })(dynamo)).rejects.toBeInstanceOf(ConfigurationError);
    const firehose = firehoseEvent([card(3)]);
    (firehose.records as unknown[]).unshift(null);
    await expect(firehoseTransform(cardActivity)(firehose)).rejects.toThrow(/records\[0\]/);
    await store.close();
  });

  it('accounts for every record exactly once, whatever the payload bytes', async () => {
    const store = memoryStore();
    const handler = kinesisHandler(cardActivity, { store, ...quiet });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(Buffer.from(JSON.stringify(card(3))))), { maxLength: 20 }), async (payloads) => {
        dead = [];
        const event = kinesisEvent(payloads.map((p) => Buffer.from(p)));
        const lines: string[] = [];
        const response = await kinesisHandler(cardActivity, { store, log: (l) => lines.push(l) })(event);
        const counts = JSON.parse(lines[0] as string);
        expect(counts.written + counts.poison + counts.reported).toBe(payloads.length);
        expect(counts.poison).toBe(dead.length);
        expect(response.batchItemFailures).toHaveLength(counts.reported);
      }),
      { numRuns: 100 },
    );
    void handler;
    await store.close();
  });
});

/** The same store under another name, to read the bad-input test as one store through every handler. */
function memoryStoreShared(store: FeatureStore): FeatureStore {
  return store;
}

describe('payload decoding', () => {
  // The readings the decoders must keep: strict base64 by its grammar, UTF-8 by a fatal TextDecoder.
  const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
  const fatal = new TextDecoder('utf-8', { fatal: true });

  it('accepts exactly the strict base64 texts, and decodes them as Buffer does', () => {
    const chars = fc.constantFrom(...'ABCxyz019+/=-_ \n\u00e9*'.split(''));
    const mutated = fc
      .tuple(fc.uint8Array({ maxLength: 40 }), fc.nat(60), fc.string({ unit: chars, minLength: 0, maxLength: 2 }))
      .map(([bytes, at, insert]) => {
        const text = Buffer.from(bytes).toString('base64');
        const i = at % (text.length + 1);
        return `${text.slice(0, i)}${insert}${text.slice(i + insert.length)}`;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.string({ unit: chars, maxLength: 12 })), (text) => {
        const valid = text.length % 4 === 0 && BASE64.test(text);
        let decoded: Buffer | undefined;
        try {
          decoded = decodeBase64(text);
        } catch (error) {
          expect((error as Error).message).toBe('payload is not valid base64');
        }
        expect(decoded !== undefined).toBe(valid);
        if (decoded) expect(decoded.equals(Buffer.from(text, 'base64'))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('reads UTF-8 JSON as a fatal TextDecoder and JSON.parse do, byte-order mark included', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      fc.jsonValue().map((v) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(v))])),
    );
    fc.assert(
      fc.property(bytes, (payload) => {
        const expected = (() => {
          try {
            return { value: JSON.parse(fatal.decode(payload)) as unknown };
          } catch {
            return 'refused';
          }
        })();
        const got = (() => {
          try {
            return { value: jsonPayload(Buffer.from(payload), { source: 'kinesis', index: 0 }, {}) };
          } catch {
            return 'refused';
          }
        })();
        expect(got).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('a handler over a store without a dead-letter sink', () => {
  const store = () => createFeatureStore({ online: memoryOnline(), offline: false });

  it.each([
    ['kinesisHandler', () => kinesisHandler(cardActivity, { store: store() })],
    ['sqsHandler', () => sqsHandler(cardActivity, { store: store() })],
    ['kafkaHandler', () => kafkaHandler(cardActivity, { store: store() })],
    ['dynamoDbStreamHandler', () => dynamoDbStreamHandler(cardActivity, { store: store() })],
  ])('%s is refused when built: poison would have nowhere to go', (_name, build) => {
    expect(build).toThrow(ConfigurationError);
    expect(build).toThrow(/no dead-letter sink.*discardPoison: true/);
  });

  it('drops poison only when told to, and the log line counts what it dropped', async () => {
    const lines: string[] = [];
    const handler = kinesisHandler(cardActivity, { store: store(), discardPoison: true, log: (line) => lines.push(line) });
    const response = await handler(kinesisEvent([validCardEvent, { ...validCardEvent, amount_cents: 'lots' }]));
    expect(response.batchItemFailures).toEqual([]);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ written: 1, poison: 1, discarded: 1 });
  });
});
