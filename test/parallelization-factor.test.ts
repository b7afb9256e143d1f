import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { athenaOffline, dynamoDbAggregationState, retryStrategy, sageMakerOnline } from '../src/aws/index.js';
import { backfill, count, createFeatureStore, type DeadLetterEntry, defineFeatureGroup, distinctCount, max, sum } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { type FaultConfig, type LocalStack, startLocalStack } from '../src/local/index.js';
import { type KinesisEventSourceOptions, type KinesisEventSourceReport, memoryAggregationState, memoryOffline, memoryOnline, runKinesisEventSource } from '../src/testing/index.js';
import { seededRandom } from '../src/util/random.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { createFeatureTable } from './setup/tables.js';

// Lambda's Kinesis event source mapping with ParallelizationFactor 3 over a 2-shard kinesalite stream,
// into kinesisHandler of a group with velocity windows (state in DynamoDB on dynalite), writing with
// BatchWriteRecord to the local stack. Fixed cases: the backfill of the same events is the reference
// for every value, and the stream's own order (sequence numbers) is the reference for every order.

const BASE_MS = Date.UTC(2026, 0, 5, 9);
let groups = 0;

/** A card-velocity group under a name of its own (the stack and the state tables outlive a test). */
function cardVelocity() {
  return defineFeatureGroup({
    name: `pf-cards-${++groups}`,
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source: z.object({ txn: z.number().int(), card_id: z.string(), cents: z.number().int(), merchant: z.string(), second: z.number().int() }),
    features: z.object({ txn: z.number().int(), card_id: z.string(), event_time: z.date(), cents: z.number().int(), merchant: z.string() }),
    transform: (e) => ({ txn: e.txn, card_id: e.card_id, event_time: new Date(BASE_MS + e.second * 1000), cents: e.cents, merchant: e.merchant }),
    aggregations: {
      txns_1h: count({ window: '1h' }),
      cents_10m: sum('cents', { window: '10m' }),
      largest_1h: max('cents', { window: '1h' }),
      merchants_1h: distinctCount('merchant', { window: '1h' }),
    },
    allowedLateness: '5m',
  });
}
type CardVelocity = ReturnType<typeof cardVelocity>;
const AGGREGATES = ['txns_1h', 'cents_10m', 'largest_1h', 'merchants_1h'] as const;

interface Txn {
  txn: number;
  card_id: string;
  cents: number;
  merchant: string;
  second: number;
}

// Kinesis puts a partition key on a shard by the MD5 of the key; these two land on different shards
// of a 2-shard stream (the test checks where they went).
const HOT_CARDS = ['card-hot-1', 'card-hot-2'] as const;

/**
 * Card transactions in the order a producer sends them: the two hot cards carry half of them. A card's
 * clock moves on 0 to 40 s per transaction, a third of the time not at all (ties on event time), now
 * and then back within the allowed lateness, rarely back beyond it (late); every fourth card ends on a
 * tie with its newest event time, so the write rule's "first on equal event times" decides online.
 */
function transactions(total: number, seed: number): Txn[] {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const cold = Array.from({ length: 40 }, (_, i) => `card-${String(i).padStart(2, '0')}`);
  const clock = new Map<string, number>();
  const newest = new Map<string, number>();
  const txns: Txn[] = [];
  const add = (card: string, second: number) => {
    txns.push({ txn: txns.length, card_id: card, cents: 100 + pick(9_900), merchant: `m${pick(6)}`, second });
    newest.set(card, Math.max(newest.get(card) ?? second, second));
  };
  while (txns.length < total - cold.length / 4) {
    const card = random() < 0.5 ? (HOT_CARDS[pick(2)] as string) : (cold[pick(cold.length)] as string);
    const at = (clock.get(card) ?? 0) + (random() < 0.33 ? 0 : pick(41));
    clock.set(card, at);
    const roll = random();
    add(card, roll < 0.08 ? Math.max(0, at - pick(240)) : roll < 0.1 ? Math.max(0, at - 600 - pick(600)) : at);
  }
  for (const card of cold.filter((_, i) => i % 4 === 0)) if (newest.has(card)) add(card, newest.get(card) as number);
  return txns;
}

/** Each card's transactions in stream order, by the sequence numbers Kinesis gave them. */
type StreamOrder = Map<string, Txn[]>;

let stack: LocalStack;
let kinesis: KinesisClient;
let ddb: DynamoDBClient;

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  // kinesalite speaks HTTP/1.1 only.
  kinesis = new KinesisClient({ endpoint: inject('kinesisEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, requestHandler: new NodeHttpHandler() });
  ddb = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
});
afterAll(async () => {
  kinesis.destroy();
  ddb.destroy();
  await stack.close();
});

/** Produces the transactions into a new 2-shard stream, partitioned by card, and returns the stream's order. */
async function produce(streamName: string, txns: readonly Txn[]): Promise<{ order: StreamOrder; shards: Map<string, string> }> {
  await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 2 }));
  // A stream takes records once ACTIVE (kinesalite too: CREATING for a moment).
  await waitUntilStreamExists({ client: kinesis, maxWaitTime: 10, minDelay: 1, maxDelay: 1 }, { StreamName: streamName });
  const placed: { txn: Txn; sequence: bigint }[] = [];
  const shards = new Map<string, string>();
  for (let i = 0; i < txns.length; i += 500) {
    const chunk = txns.slice(i, i + 500);
    const result = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: chunk.map((t) => ({ PartitionKey: t.card_id, Data: Buffer.from(JSON.stringify(t)) })) }));
    expect(result.FailedRecordCount ?? 0).toBe(0);
    chunk.forEach((txn, k) => {
      const entry = result.Records?.[k];
      placed.push({ txn, sequence: BigInt(entry?.SequenceNumber as string) });
      shards.set(txn.card_id, entry?.ShardId as string);
    });
  }
  // PutRecords does not promise the request's order; the sequence numbers are the stream's order
  // (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html).
  placed.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
  const order: StreamOrder = new Map();
  for (const { txn } of placed) order.set(txn.card_id, [...(order.get(txn.card_id) ?? []), txn]);
  return { order, shards };
}

type Handler = KinesisEventSourceOptions['handler'];

/**
 * Lambda as the mapping drives it: each concurrent batch runs in an execution environment of its own
 * (its own clients and state cache); a free environment takes the next batch warm, and a new one starts
 * cold when every one is busy.
 */
function executionEnvironments(coldStart: () => { handler: Handler; close(): Promise<void> }) {
  const all: ReturnType<typeof coldStart>[] = [];
  const idle: ReturnType<typeof coldStart>[] = [];
  const start = () => {
    const environment = coldStart();
    all.push(environment);
    return environment;
  };
  const handler: Handler = async (event, context) => {
    const environment = idle.pop() ?? start();
    try {
      return await environment.handler(event, context);
    } finally {
      idle.push(environment);
    }
  };
  return { handler, started: () => all.length, close: () => Promise.all(all.map((e) => e.close())) };
}

/**
 * Watches the handler's invocations: the transactions of each card per invocation, in invocation order,
 * and any card that was in two invocations at once.
 */
function watchDeliveries(inner: Handler) {
  const runs = new Map<string, number[][]>();
  const inFlight = new Set<string>();
  const overlapping = new Set<string>();
  const handler: Handler = async (event, context) => {
    const mine = new Map<string, number[]>();
    for (const { kinesis: record } of event.Records) {
      const txn = JSON.parse(Buffer.from(record.data, 'base64').toString('utf8')) as Txn;
      mine.set(record.partitionKey, [...(mine.get(record.partitionKey) ?? []), txn.txn]);
    }
    for (const [card, txns] of mine) {
      if (inFlight.has(card)) overlapping.add(card);
      inFlight.add(card);
      runs.set(card, [...(runs.get(card) ?? []), txns]);
    }
    try {
      return await inner(event, context);
    } finally {
      for (const card of mine.keys()) inFlight.delete(card);
    }
  };
  return { handler, runs, overlapping };
}

interface StreamRun {
  readonly group: CardVelocity;
  readonly report: KinesisEventSourceReport;
  readonly order: StreamOrder;
  readonly shards: Map<string, string>;
  readonly deliveries: ReturnType<typeof watchDeliveries>;
  readonly dead: DeadLetterEntry[];
  readonly environments: number;
  /** BatchWriteRecord calls the stack answered with ThrottlingException during the run. */
  readonly throttled: number;
  readonly ms: number;
}

/** The whole path for a new group: produce, run the mapping with ParallelizationFactor 3 into kinesisHandler, under the stack faults given. */
async function stream(txns: readonly Txn[], faults: FaultConfig = {}): Promise<StreamRun> {
  const group = cardVelocity();
  await createGroupOnStack(stack.clientConfig, group, `s3://pf-tests/${group.name}`);
  const tableName = `${group.name}-state`;
  await createFeatureTable(ddb, tableName);
  const { order, shards } = await produce(group.name, txns);
  const dead: DeadLetterEntry[] = [];
  const environments = executionEnvironments(() => {
    const store = createFeatureStore({
      online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, retryStrategy: retryStrategy() }), batchWrite: true }),
      offline: false,
      aggregationState: dynamoDbAggregationState({ client: ddb, tableName }),
      deadLetter: (entries) => {
        dead.push(...entries);
      },
    });
    return { handler: kinesisHandler(group, { store, log: false }), close: () => store.close() };
  });
  const deliveries = watchDeliveries(environments.handler);
  const throttledBefore = stack.faultCounts['BatchWriteRecord']?.throttled ?? 0;
  stack.setFaults(faults);
  const started = Date.now();
  try {
    const report = await runKinesisEventSource({ client: kinesis, streamName: group.name, handler: deliveries.handler, batchSize: 50, parallelizationFactor: 3, maxRetryAttempts: 50 });
    const throttled = (stack.faultCounts['BatchWriteRecord']?.throttled ?? 0) - throttledBefore;
    return { group, report, order, shards, deliveries, dead, environments: environments.started(), throttled, ms: Date.now() - started };
  } finally {
    stack.setFaults({});
    await environments.close();
  }
}

/** The offline rows SageMaker delivered for the group, read as a user would: Athena over its Glue table. */
async function offlineRows(group: CardVelocity): Promise<Record<string, unknown>[]> {
  await stack.flush();
  const reader = athenaOffline({ client: new AthenaClient(stack.clientConfig), s3: new S3Client(stack.clientConfig), sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://pf-tests/athena/' });
  try {
    return await reader.scan(group);
  } finally {
    await reader.close();
  }
}

async function onlineRecords(group: CardVelocity, cards: Iterable<string>): Promise<Map<string, unknown>> {
  const reader = createFeatureStore({ online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }), offline: false });
  const records = new Map<string, unknown>();
  for (const card of cards) records.set(card, await reader.get(group, card));
  await reader.close();
  return records;
}

/**
 * Where each card's deliveries break its stream order: a card may be in one invocation at a time, an
 * invocation must hold a stretch of the card's transactions in stream order that starts where the
 * delivered ones end (or, after a reported failure, earlier: a redelivery), and in the end every
 * transaction has been delivered.
 */
function deliveryBreaks({ order, deliveries: { runs, overlapping } }: StreamRun): string[] {
  const breaks = [...overlapping].map((card) => `${card}: in two invocations at once`);
  for (const [card, txns] of order) {
    const stream = txns.map((t) => t.txn);
    let delivered = 0;
    for (const run of runs.get(card) ?? []) {
      const start = stream.indexOf(run[0] as number);
      if (start < 0 || start > delivered || JSON.stringify(stream.slice(start, start + run.length)) !== JSON.stringify(run)) {
        breaks.push(`${card}: got [${run.join(',')}] after ${delivered} of [${stream.join(',')}]`);
      }
      delivered = Math.max(delivered, start + run.length);
    }
    if (delivered !== stream.length) breaks.push(`${card}: ${stream.length - delivered} transactions never delivered`);
  }
  return breaks;
}

/**
 * Where each card's offline rows break its stream order: by the API invocation time of each
 * transaction's first row (a redelivery may write a row again, later), no transaction may reach the
 * offline store before one the stream holds ahead of it.
 */
async function offlineOrderBreaks({ group, order }: StreamRun): Promise<string[]> {
  const firstWritten = new Map<number, number>();
  for (const row of await offlineRows(group)) {
    const txn = Number(row['txn']);
    const at = (row['api_invocation_time'] as Date).getTime();
    firstWritten.set(txn, Math.min(firstWritten.get(txn) ?? at, at));
  }
  const breaks: string[] = [];
  for (const [card, txns] of order) {
    txns.forEach((t, i) => {
      const before = txns[i - 1];
      if (before && (firstWritten.get(before.txn) as number) > (firstWritten.get(t.txn) as number)) breaks.push(`${card}: ${t.txn} written before ${before.txn}`);
    });
  }
  return breaks;
}

/** The newest transaction of each card under the online write rule: the greatest event time, on equal event times the first. */
function newestByWriteRule(order: StreamOrder): Map<string, number> {
  const newest = new Map<string, number>();
  for (const [card, txns] of order) {
    const kept = txns.reduce((best, t) => (t.second > best.second ? t : best));
    newest.set(card, kept.txn);
  }
  return newest;
}

/** The aggregates of an offline row, numbers whichever reader produced them. */
const aggregatesOf = (row: Record<string, unknown>) => Object.fromEntries(AGGREGATES.map((name) => [name, Number(row[name])]));

/** What a backfill of the same transactions in stream order writes: each transaction's aggregates offline, each card's record online. */
async function backfilled(group: CardVelocity, order: StreamOrder) {
  const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState() });
  await backfill(store, group, { from: [...order.values()].flat(), to: 'both', order: 'source' });
  const rows = (await (await store.backends()).offline?.scan(group)) ?? [];
  const online = new Map<string, unknown>();
  for (const card of order.keys()) online.set(card, await store.get(group, card));
  await store.close();
  return { byTxn: new Map(rows.map((row) => [Number(row['txn']), aggregatesOf(row)])), online };
}

/** The order each card keeps, with or without faults, checked on the run the describe's `beforeAll` makes. */
function itKeepsEachCardInStreamOrder(run: () => StreamRun) {
  // "If you increase the number of concurrent batches per shard, Lambda still ensures in-order
  // processing at the partition-key level" (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html,
  // Polling and batching streams); a record the handler reports comes again with everything after it
  // in its batch (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html).
  it('invokes the handler with each card\'s transactions in stream order, one batch of a card at a time', () => {
    expect(deliveryBreaks(run())).toEqual([]);
  });

  // Among rows of equal event time a training set takes the first written, as the online store keeps
  // the first (README, Training sets): a card's rows must reach the offline store in stream order.
  it('writes each card\'s transactions to the offline store in stream order', async () => {
    expect(await offlineOrderBreaks(run())).toEqual([]);
  });
}

describe('ParallelizationFactor 3, 2 shards, velocity state on dynalite, BatchWriteRecord to the local stack', () => {
  const txns = transactions(3_000, 24);
  let run: StreamRun;
  let expected: Awaited<ReturnType<typeof backfilled>>;
  beforeAll(async () => {
    run = await stream(txns);
    expected = await backfilled(run.group, run.order);
  }, 30_000);

  it('runs batches of one shard side by side, with a hot card on each shard', () => {
    expect(new Set(HOT_CARDS.map((card) => run.shards.get(card))).size).toBe(2);
    // More environments than shards: the mapping did run a shard's batches concurrently.
    expect(run.environments).toBeGreaterThan(2);
    expect(run.report).toMatchObject({ records: txns.length, redelivered: 0, discarded: [] });
    expect(run.dead).toEqual([]);
  });

  itKeepsEachCardInStreamOrder(() => run);

  it('leaves online exactly each card\'s newest transaction under the write rule, with the backfill\'s record', async () => {
    const online = await onlineRecords(run.group, run.order.keys());
    const newest = newestByWriteRule(run.order);
    for (const [card, txn] of newest) expect({ card, txn: (online.get(card) as { txn?: number } | undefined)?.txn }).toEqual({ card, txn });
    for (const [card, record] of expected.online) expect({ card, record: online.get(card) }).toEqual({ card, record });
  });

  it('delivers every transaction offline once, with the aggregates the backfill computes', async () => {
    const rows = await offlineRows(run.group);
    expect(rows.map((row) => Number(row['txn'])).sort((a, b) => a - b)).toEqual(txns.map((t) => t.txn));
    for (const row of rows) {
      const txn = Number(row['txn']);
      expect({ txn, ...aggregatesOf(row) }).toEqual({ txn, ...expected.byTxn.get(txn) });
    }
  });
});

describe('a SageMaker TPS limit below the offered rate (ParallelizationFactor 3, 2 shards)', () => {
  const txns = transactions(1_500, 25);
  let free: StreamRun;
  let limited: StreamRun;
  beforeAll(async () => {
    free = await stream(txns);
    limited = await stream(txns, { BatchWriteRecord: { tpsLimit: 20 } });
  }, 30_000);

  it('throttles calls and slows the pipeline, giving nothing up', () => {
    expect(limited.throttled).toBeGreaterThan(0);
    expect(limited.ms).toBeGreaterThan(free.ms);
    expect(limited.report).toMatchObject({ records: txns.length, discarded: [] });
    expect(limited.dead).toEqual([]);
  });

  itKeepsEachCardInStreamOrder(() => limited);

  it('leaves online the records it leaves without throttling', async () => {
    const cards = [...free.order.keys()];
    expect(await onlineRecords(limited.group, cards)).toEqual(await onlineRecords(free.group, cards));
  });

  it('delivers offline every transaction with the aggregates it has without throttling', async () => {
    const byTxn = (rows: Record<string, unknown>[]) => new Map(rows.map((row) => [Number(row['txn']), aggregatesOf(row)]));
    const [limitedRows, freeRows] = [await offlineRows(limited.group), await offlineRows(free.group)];
    // A redelivered batch may write some records again (at least once), each time with the same values.
    expect(new Set(limitedRows.map((row) => JSON.stringify({ txn: Number(row['txn']), ...aggregatesOf(row) }))).size).toBe(txns.length);
    expect(byTxn(limitedRows)).toEqual(byTxn(freeRows));
  });
});
