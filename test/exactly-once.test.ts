import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import fc from 'fast-check';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { athenaOffline, dynamoDbAggregationState, dynamoDbOnline, sageMakerOnline } from '../src/aws/index.js';
import { backfill, count, createFeatureStore, defineFeatureGroup, distinctCount, last, max, type OfflineStore, type OnlineStore, sum } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { type LocalStack, localAggregationState, startLocalStack } from '../src/local/index.js';
import type { OnlineWriteOutcome } from '../src/store/types.js';
import type { AggregationSaveOutcome, AggregationStateStore } from '../src/pipeline/state.js';
import { kinesisEvent, memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';
import type { KinesisStreamEvent } from '../src/lambda/events.js';
import { seededRandom } from '../src/util/random.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createFeatureTable } from './setup/tables.js';

// Exactly once per entity: the online record and every offline row of a group with aggregations
// carry the values of one in-order replay of each entity's events (what a backfill computes),
// whatever the interleaving of Lambda instances, redeliveries and crashes.

let groupCount = 0;
/** A velocity group under a name of its own, so each run starts from nothing in shared tables. */
function velocityGroup() {
  return defineFeatureGroup({
    name: `velocity-${++groupCount}`,
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source: z.object({ txn: z.number().int(), card_id: z.string(), amount: z.number().int(), merchant: z.string(), minute: z.number(), note: z.string().optional() }),
    features: z.object({ txn: z.number().int(), card_id: z.string(), event_time: z.date(), amount: z.number().int(), merchant: z.string(), note: z.string().optional() }),
    transform: (e) => ({ txn: e.txn, card_id: e.card_id, event_time: new Date(Date.UTC(2026, 10, 30) + e.minute * 60_000), amount: e.amount, merchant: e.merchant, note: e.note }),
    aggregations: {
      n_1h: count({ window: '1h' }),
      amount_1h: sum('amount', { window: '1h' }),
      largest_1h: max('amount', { window: '1h' }),
      merchants_1h: distinctCount('merchant', { window: '1h' }),
      last_merchant: last('merchant', { window: '1h' }),
    },
    allowedLateness: '10m',
  });
}
type Velocity = ReturnType<typeof velocityGroup>;
type KinesisRecord = KinesisStreamEvent['Records'][number];

const AGGREGATES = ['n_1h', 'amount_1h', 'largest_1h', 'merchants_1h', 'last_merchant'] as const;

let ddb: DynamoDBClient;
let tables = 0;
// Named afresh each time the file starts: the mutation run starts it many times against one dynalite.
const run = Math.random().toString(36).slice(2, 8);
async function newTable(): Promise<string> {
  const tableName = `exactly-once-${run}-${++tables}`;
  await createFeatureTable(ddb, tableName);
  return tableName;
}

beforeAll(() => {
  ddb = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
});

/** Thrown at an injected crash; the instance that threw it is gone (nothing it does afterwards lands). */
class Crash extends Error {}

/** Counts the step boundaries an instance passes (before and after each backend call) and dies at the armed one. */
class Fuse {
  steps = 0;
  dead = false;
  constructor(readonly armed: number | undefined) {}
  boundary(): void {
    if (this.dead) throw new Crash('this instance is gone');
    this.steps++;
    if (this.armed !== undefined && this.steps >= this.armed) {
      this.dead = true;
      throw new Crash(`crashed at step boundary ${this.steps}`);
    }
  }
  async around<T>(call: () => Promise<T>): Promise<T> {
    this.boundary();
    const result = await call();
    this.boundary();
    return result;
  }
}

/** One record at a time, so a crash can fall between any two records of a batch. */
function crashingOnline(inner: OnlineStore, fuse: () => Fuse): OnlineStore {
  return {
    ...inner,
    async put(group, records, options) {
      const outcomes: OnlineWriteOutcome[] = [];
      for (const record of records) outcomes.push(...(await fuse().around(() => inner.put(group, [record], options))));
      return outcomes;
    },
    close: async () => {},
  };
}

function crashingOffline(inner: OfflineStore, fuse: () => Fuse): OfflineStore {
  return { ...inner, append: (group, writes, options) => fuse().around(() => inner.append(group, writes, options)), close: async () => {} };
}

function crashingState(inner: AggregationStateStore, fuse: () => Fuse): AggregationStateStore {
  return {
    load: (group, ids) => fuse().around(() => inner.load(group, ids)),
    async save(group, updates) {
      const outcomes: AggregationSaveOutcome[] = [];
      for (const update of updates) outcomes.push(...(await fuse().around(() => inner.save(group, [update]))));
      return outcomes;
    },
    async settle(group, settled) {
      for (const s of settled) await fuse().around(() => inner.settle(group, [s]));
    },
    // Shared by the instances where the test says so; closed by the test.
    close: async () => {},
  };
}

/** The backends one Lambda instance would build at cold start (its own clients and state cache). */
interface Backends {
  online(): OnlineStore;
  state(): AggregationStateStore;
  /** The shared offline store as this instance writes to it; undefined when the online store writes offline itself. */
  offline(): OfflineStore | undefined;
}

interface Instance {
  fuse: Fuse;
  handler: ReturnType<typeof kinesisHandler>;
  close(): Promise<void>;
}

function coldInstance(group: Velocity, backends: Backends): Instance {
  const instance = { fuse: new Fuse(undefined) } as Instance;
  const fuse = () => instance.fuse;
  const offline = backends.offline();
  const store = createFeatureStore({
    online: crashingOnline(backends.online(), fuse),
    offline: offline ? crashingOffline(offline, fuse) : false,
    aggregationState: crashingState(backends.state(), fuse),
  });
  instance.handler = kinesisHandler(group, { discardPoison: true, store, log: false });
  instance.close = () => store.close();
  return instance;
}

interface Txn {
  txn: number;
  card_id: string;
  amount: number;
  merchant: string;
  minute: number;
  note?: string;
}

/**
 * Events per card in arrival order: mostly forward in time, some at the same minute as the one
 * before (ties), some late (beyond the allowed lateness).
 */
const histories = fc
  .array(
    fc.record({
      card: fc.constantFrom('c1', 'c1', 'c2', 'c3'),
      step: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 25 })),
      back: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 30 })),
      amount: fc.integer({ min: 1, max: 500 }),
      merchant: fc.constantFrom('m1', 'm2', 'm3'),
    }),
    { minLength: 6, maxLength: 45 },
  )
  .map((rows) => {
    const clock = new Map<string, number>();
    return rows.map((r, txn): Txn => {
      const minute = (clock.get(r.card) ?? 0) + r.step;
      clock.set(r.card, minute);
      return { txn, card_id: r.card, amount: r.amount, merchant: r.merchant, minute: minute - r.back };
    });
  });

/** Cards to shards, as a stream partitioned by the record identifier puts them. */
const shardOf = (card: string) => (card === 'c2' ? 'shardId-000000000001' : 'shardId-000000000000');

/**
 * Lambda's Kinesis event source mapping with several instances: each invocation goes to a random
 * instance, some crash at a random step boundary (the whole batch comes back), some successful
 * batches are delivered again from a random record (a response Lambda never saw). Returns when every
 * shard is read to its end.
 */
async function runInterleaved(group: Velocity, txns: readonly Txn[], backends: Backends, seed: number, instances: number): Promise<{ invocations: number; crashes: number }> {
  const random = seededRandom(seed);
  const pick = (n: number) => Math.floor(random() * n);
  const shards = new Map<string, KinesisStreamEvent['Records']>();
  for (const shardId of ['shardId-000000000000', 'shardId-000000000001']) {
    const mine = txns.filter((t) => shardOf(t.card_id) === shardId);
    if (mine.length > 0) shards.set(shardId, kinesisEvent(mine, { shardId, partitionKey: (t) => (t as Txn).card_id }).Records);
  }
  const checkpoint = new Map([...shards.keys()].map((s) => [s, 0]));
  const pool = Array.from({ length: instances }, () => coldInstance(group, backends));
  let invocations = 0;
  let crashes = 0;
  let lastResponse: unknown;
  for (;;) {
    const open = [...shards.keys()].filter((s) => (checkpoint.get(s) as number) < (shards.get(s) as unknown[]).length);
    if (open.length === 0) break;
    const shardId = open[pick(open.length)] as string;
    const records = shards.get(shardId) as KinesisStreamEvent['Records'];
    const from = checkpoint.get(shardId) as number;
    const batch = records.slice(from, from + 1 + pick(6));
    const slot = pick(pool.length);
    const instance = pool[slot] as Instance;
    // Faults for the first 60 invocations, then the stream drains.
    const faulty = invocations < 60;
    // A stream that stops advancing once faults stop is a bug, not a long test.
    if (invocations > 1000) throw new Error(`no progress: checkpoints ${JSON.stringify([...checkpoint])}, last response ${JSON.stringify(lastResponse)}`);
    instance.fuse = new Fuse(faulty && random() < 0.5 ? 1 + pick(24) : undefined);
    invocations++;
    let response: Awaited<ReturnType<Instance['handler']>> | undefined;
    try {
      response = await instance.handler({ Records: batch });
    } catch (error) {
      if (!(error instanceof Crash)) throw error;
    }
    if (instance.fuse.dead || response === undefined) {
      // The instance is gone; Lambda starts a cold one and redelivers the whole batch.
      crashes++;
      await instance.close();
      pool[slot] = coldInstance(group, backends);
      continue;
    }
    lastResponse = response;
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    const firstFailed = batch.findIndex((r) => failed.has(r.kinesis.sequenceNumber));
    let next = from + (firstFailed < 0 ? batch.length : firstFailed);
    // A response Lambda did not see: the batch comes back from a random record.
    if (faulty && firstFailed < 0 && random() < 0.2) next = from + pick(batch.length);
    checkpoint.set(shardId, next);
  }
  for (const instance of pool) await instance.close();
  return { invocations, crashes };
}

/** What a backfill over the same events in arrival order writes: offline rows by txn, the online record per card. */
async function backfilled(group: Velocity, txns: readonly Txn[]) {
  const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState() });
  const inArrivalOrder = [...shards(txns)].flat();
  await backfill(store, group, { from: inArrivalOrder, to: 'both', order: 'source' });
  const rows = (await (await store.backends()).offline?.scan(group)) ?? [];
  const online = new Map<string, unknown>();
  for (const card of new Set(txns.map((t) => t.card_id))) online.set(card, await store.get(group, card));
  await store.close();
  return { byTxn: new Map(rows.map((row) => [Number(row['txn']), aggregatesOf(row)])), online };
}

function shards(txns: readonly Txn[]): Txn[][] {
  return ['shardId-000000000000', 'shardId-000000000001'].map((s) => txns.filter((t) => shardOf(t.card_id) === s));
}

function aggregatesOf(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(AGGREGATES.map((name) => [name, row[name] === undefined || row[name] === null ? null : typeof row[name] === 'bigint' ? Number(row[name]) : row[name]]));
}

/** Every offline row carries the backfill's values for its event; every event has a row; each card's online record is the backfill's. */
async function expectExactlyOnce(group: Velocity, txns: readonly Txn[], offlineRows: readonly Record<string, unknown>[], get: (card: string) => Promise<unknown>) {
  const expected = await backfilled(group, txns);
  for (const row of offlineRows) {
    expect({ txn: Number(row['txn']), ...aggregatesOf(row) }).toEqual({ txn: Number(row['txn']), ...expected.byTxn.get(Number(row['txn'])) });
  }
  expect(new Set(offlineRows.map((row) => Number(row['txn'])))).toEqual(new Set(txns.map((t) => t.txn)));
  for (const [card, record] of expected.online) expect(await get(card)).toEqual(record);
}

describe('the reproduction: two Lambda instances take turns on one card (dynalite)', () => {
  it('leaves the right count online after a stale instance meets a newer state', async () => {
    const group = velocityGroup();
    const tableName = await newTable();
    const offline = memoryOffline();
    const build = () =>
      createFeatureStore({
        online: dynamoDbOnline({ client: ddb, tableName }),
        offline,
        aggregationState: dynamoDbAggregationState({ client: ddb, tableName }),
      });
    const a = build();
    const b = build();
    const txns: Txn[] = [0, 1, 2].map((minute) => ({ txn: minute, card_id: 'c1', amount: 10, merchant: 'm1', minute }));
    const [r0, r1, r2] = kinesisEvent(txns).Records as [KinesisRecord, KinesisRecord, KinesisRecord];
    const handlerA = kinesisHandler(group, { discardPoison: true, store: a, log: false });
    const handlerB = kinesisHandler(group, { discardPoison: true, store: b, log: false });
    const lines: string[] = [];
    const loggedA = kinesisHandler(group, { discardPoison: true, store: a, log: (line) => lines.push(line) });

    expect((await handlerA({ Records: [r0] })).batchItemFailures).toEqual([]);
    expect((await handlerB({ Records: [r1] })).batchItemFailures).toEqual([]);
    // A still caches version 1: its save meets B's version 2, so it reads again and counts 3.
    expect((await loggedA({ Records: [r2] })).batchItemFailures).toEqual([]);

    expect((await a.get(group, 'c1'))?.n_1h).toBe(3);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ written: 1, conflicts: 1, reemitted: 0, reported: 0 });
    const rows = await offline.scan(group);
    expect(rows.map((row) => [Number(row['txn']), Number(row['n_1h'])]).sort()).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    await a.close();
    await b.close();
  });
});

describe('crashes between any two steps, instances interleaved, tails redelivered', () => {
  it('dynamoDbOnline and dynamoDbAggregationState on one table (dynalite), a shared offline store', async () => {
    let crashes = 0;
    let invocations = 0;
    await fc.assert(
      fc.asyncProperty(histories, fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 2, max: 4 }), async (txns, seed, instances) => {
        const group = velocityGroup();
        const tableName = await newTable();
        const offline = memoryOffline();
        const backends: Backends = {
          online: () => dynamoDbOnline({ client: ddb, tableName }),
          state: () => dynamoDbAggregationState({ client: ddb, tableName }),
          offline: () => offline,
        };
        const run = await runInterleaved(group, txns, backends, seed, instances);
        crashes += run.crashes;
        invocations += run.invocations;
        const online = dynamoDbOnline({ client: ddb, tableName });
        const reader = createFeatureStore({ online, offline: false });
        await expectExactlyOnce(group, txns, await offline.scan(group), (card) => reader.get(group, card));
      }),
      { numRuns: 40, seed: 18 },
    );
    // The runs did crash (the property is about something).
    expect(crashes).toBeGreaterThan(50);
    // 40 runs against dynalite: 15 s alone, about 30 s beside the rest of the suite on two cores (a Node 24
    // CI pass crossed the default 30 s).
  }, 120_000);

  it('the embedded DuckDB state and an in-memory online store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-exactly-once-'));
    try {
      await fc.assert(
        fc.asyncProperty(histories, fc.integer({ min: 1, max: 1_000_000 }), async (txns, seed) => {
          const group = velocityGroup();
          const online = memoryOnline();
          const offline = memoryOffline();
          const state = await localAggregationState({ dir: join(dir, group.name) });
          const backends: Backends = { online: () => online, state: () => state, offline: () => offline };
          await runInterleaved(group, txns, backends, seed, 3);
          const reader = createFeatureStore({ online, offline: false });
          await expectExactlyOnce(group, txns, await offline.scan(group), (card) => reader.get(group, card));
          await state.close();
        }),
        { numRuns: 10, seed: 19 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sageMakerOnline on the local stack (it writes the offline store itself)', () => {
  let stack: LocalStack;
  let runtime: SageMakerFeatureStoreRuntimeClient;
  beforeAll(async () => {
    stack = await startLocalStack({ memory: true });
    runtime = new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, maxAttempts: 1 });
  });
  afterAll(async () => {
    runtime.destroy();
    await stack.close();
  });

  it.each([
    ['PutRecord', false],
    ['BatchWriteRecord', true],
  ])('with %s: the online record and every offline row are the backfill\'s', async (_name, batchWrite) => {
    const tableName = await newTable();
    await fc.assert(
      fc.asyncProperty(histories, fc.integer({ min: 1, max: 1_000_000 }), async (txns, seed) => {
        const group = velocityGroup();
        await createGroupOnStack(stack.clientConfig, group, `s3://exactly-once/${group.name}`);
        const backends: Backends = {
          online: () => sageMakerOnline({ client: runtime, batchWrite }),
          state: () => dynamoDbAggregationState({ client: ddb, tableName }),
          offline: () => undefined,
        };
        await runInterleaved(group, txns, backends, seed, 3);
        await stack.flush();
        // Read as a user would: Athena over the Glue table SageMaker made at the group's resolved location.
        const files = athenaOffline({ client: new AthenaClient(stack.clientConfig), s3: new S3Client(stack.clientConfig), sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://exactly-once/athena/' });
        const rows = await files.scan(group);
        await files.close();
        const reader = createFeatureStore({ online: sageMakerOnline({ client: runtime }), offline: false });
        await expectExactlyOnce(group, txns, rows, (card) => reader.get(group, card));
      }),
      { numRuns: 8, seed: 20 },
    );
  });
});

describe('a hot entity whose records do not fit one state item with its state', () => {
  it('commits them in slices, each its own conditional write, and writes every record with the backfill\'s values', async () => {
    const group = velocityGroup();
    const tableName = await newTable();
    const offline = memoryOffline();
    const state = dynamoDbAggregationState({ client: ddb, tableName });
    const store = createFeatureStore({ online: dynamoDbOnline({ client: ddb, tableName }), offline, aggregationState: state });
    const note = 'x'.repeat(3000);
    // 400 records of about 3 KB: 1.2 MB of records for one card, in one batch.
    const txns: Txn[] = Array.from({ length: 400 }, (_, txn) => ({ txn, card_id: 'hot', amount: txn % 50, merchant: `m${txn % 3}`, minute: Math.floor(txn / 10), note }));
    const response = await kinesisHandler(group, { discardPoison: true, store, log: false })(kinesisEvent(txns));
    expect(response.batchItemFailures).toEqual([]);
    // At least four commits of at most 400 KB each, and one settle for the last.
    expect(state.calls().puts).toBeGreaterThanOrEqual(4);
    expect(state.calls().settles).toBe(1);
    await expectExactlyOnce(group, txns, await offline.scan(group), (card) => store.get(group, card));
    await store.close();
  });

  it('stays exact when an instance crashes between two of those commits', async () => {
    const group = velocityGroup();
    const tableName = await newTable();
    const offline = memoryOffline();
    const note = 'y'.repeat(3000);
    const txns: Txn[] = Array.from({ length: 300 }, (_, txn) => ({ txn, card_id: 'hot', amount: txn % 50, merchant: `m${txn % 3}`, minute: Math.floor(txn / 10), note }));
    const event = kinesisEvent(txns);
    const backends: Backends = {
      online: () => dynamoDbOnline({ client: ddb, tableName }),
      state: () => dynamoDbAggregationState({ client: ddb, tableName }),
      offline: () => offline,
    };
    const first = coldInstance(group, backends);
    // load (2 boundaries), a too-large save (2), the first slice's save (2), then a crash in its writes.
    first.fuse = new Fuse(40);
    await expect(first.handler(event)).rejects.toThrow(Crash);
    const second = coldInstance(group, backends);
    expect((await second.handler(event)).batchItemFailures).toEqual([]);
    const reader = createFeatureStore({ online: dynamoDbOnline({ client: ddb, tableName }), offline: false });
    await expectExactlyOnce(group, txns, await offline.scan(group), (card) => reader.get(group, card));
    await first.close();
    await second.close();
  });
});

describe.each([
  ['memory', async () => memoryAggregationState()],
  ['DynamoDB (dynalite)', async () => dynamoDbAggregationState({ client: ddb, tableName: await newTable(), cacheEntities: 0 })],
])('the outbox of %s aggregation state', (_name, open) => {
  it('saves records with the state, returns them until settled, and settles only the version it names', async () => {
    const group = velocityGroup();
    const states = await open();
    const records = group.processBatch([{ txn: 1, card_id: 'c1', amount: 5, merchant: 'm1', minute: 0 }]).records.map((r) => r.encoded);
    const state = { v: 1 as const, t: 0, p: {}, q: {}, e: [], b: [] };
    expect(await states.save(group, [{ id: 'c1', state, expected: undefined, pending: records }])).toEqual(['saved']);
    expect((await states.load(group, ['c1'])).get('c1')).toEqual({ state, version: 1, pending: records });
    // A settle that names another version changes nothing.
    await states.settle(group, [{ id: 'c1', version: 2 }]);
    expect((await states.load(group, ['c1'])).get('c1')?.pending).toEqual(records);
    await states.settle(group, [{ id: 'c1', version: 1 }]);
    expect((await states.load(group, ['c1'])).get('c1')).toEqual({ state, version: 1 });
    await states.close();
  });
});

describe('the marks of outboxes written, in DynamoDB (dynalite)', () => {
  const txnRecords = (group: ReturnType<typeof velocityGroup>, txn: number) =>
    group.processBatch([{ txn, card_id: 'c1', amount: txn, merchant: 'm1', minute: txn }]).records.map((r) => r.encoded);
  const stateAt = (t: number) => ({ v: 1 as const, t, p: {}, q: {}, e: [], b: [] });

  /**
   * Three instances on one fresh table, none caching: `a` has saved version 1 of card c1 with the
   * outbox `first`; `b` and `reader` have read nothing yet. `moveOn` is b reading and saving
   * version 2 with the outbox `second`.
   */
  async function afterFirstCommit() {
    const group = velocityGroup();
    const tableName = await newTable();
    const open = () => dynamoDbAggregationState({ client: ddb, tableName, cacheEntities: 0 });
    const [a, b, reader] = [open(), open(), open()];
    const first = txnRecords(group, 1);
    const second = txnRecords(group, 2);
    expect(await a.save(group, [{ id: 'c1', state: stateAt(1), expected: undefined, pending: first }])).toEqual(['saved']);
    const moveOn = async () => {
      const found = (await b.load(group, ['c1'])).get('c1');
      expect(await b.save(group, [{ id: 'c1', state: stateAt(2), expected: 1, pending: second }])).toEqual(['saved']);
      return found;
    };
    const close = async () => {
      for (const s of [a, b, reader]) await s.close();
    };
    return { group, tableName, a, b, reader, first, second, moveOn, close };
  }

  it('a mark that lands after a newer commit makes the next reader write the newer outbox again, never skip it', async () => {
    const { group, a, b, reader, first, second, moveOn, close } = await afterFirstCommit();
    // Instance b finds a's outbox unmarked, commits over it and marks its own.
    expect((await moveOn())?.pending).toEqual(first);
    await b.settle(group, [{ id: 'c1', version: 2 }]);
    expect((await reader.load(group, ['c1'])).get('c1')).toEqual({ state: stateAt(2), version: 2 });
    // a's mark for version 1 lands last: it names an outbox that is no longer stored.
    await a.settle(group, [{ id: 'c1', version: 1 }]);
    expect((await reader.load(group, ['c1'])).get('c1')).toEqual({ state: stateAt(2), version: 2, pending: second });
    expect(a.calls().settles).toBe(1);
    await close();
  });

  it('never marks a newer outbox with the settle of an older version, even after reading the newer one', async () => {
    const { group, a, reader, second, moveOn, close } = await afterFirstCommit();
    await moveOn();
    // a now knows version 2's outbox, which nobody has written; its settle names version 1.
    expect((await a.load(group, ['c1'])).get('c1')?.pending).toEqual(second);
    await a.settle(group, [{ id: 'c1', version: 1 }]);
    expect((await reader.load(group, ['c1'])).get('c1')).toEqual({ state: stateAt(2), version: 2, pending: second });
    await close();
  });

  it('leaves a newer outbox alone when an outbox saved without a token is settled after another writer moved on', async () => {
    const { group, tableName, a, reader, second, moveOn, close } = await afterFirstCommit();
    // The item as 0.1 wrote it: no token.
    await ddb.send(new UpdateItemCommand({ TableName: tableName, Key: { pk: { S: `agg#${group.name}#c1` } }, UpdateExpression: 'REMOVE n' }));
    await a.load(group, ['c1']);
    await moveOn();
    // a empties the outbox of version 1 in place: the condition on the version refuses it.
    await a.settle(group, [{ id: 'c1', version: 1 }]);
    expect((await reader.load(group, ['c1'])).get('c1')).toEqual({ state: stateAt(2), version: 2, pending: second });
    await close();
  });

  it('marks an entity named twice in one settle once, and the others of the call with it', async () => {
    const group = velocityGroup();
    const tableName = await newTable();
    const states = dynamoDbAggregationState({ client: ddb, tableName, cacheEntities: 0 });
    const ids = ['c1', 'c2', 'c3'];
    await states.save(group, ids.map((id, i) => ({ id, state: stateAt(i), expected: undefined, pending: txnRecords(group, i) })));
    await states.settle(group, [{ id: 'c1', version: 1 }, { id: 'c2', version: 1 }, { id: 'c1', version: 1 }, { id: 'c3', version: 1 }]);
    const loaded = await states.load(group, ids);
    expect(ids.map((id) => loaded.get(id)?.pending)).toEqual([undefined, undefined, undefined]);
    await states.close();
  });

  it('empties in place an outbox saved without a token, as 0.1.0 saved them, only at the version it names', async () => {
    const group = velocityGroup();
    const tableName = await newTable();
    const states = dynamoDbAggregationState({ client: ddb, tableName, cacheEntities: 0 });
    const records = txnRecords(group, 1);
    expect(await states.save(group, [{ id: 'c1', state: stateAt(1), expected: undefined, pending: records }])).toEqual(['saved']);
    // The same item as an older version wrote it: no `n`.
    await ddb.send(new UpdateItemCommand({ TableName: tableName, Key: { pk: { S: `agg#${group.name}#c1` } }, UpdateExpression: 'REMOVE n' }));
    expect((await states.load(group, ['c1'])).get('c1')?.pending).toEqual(records);
    await states.settle(group, [{ id: 'c1', version: 2 }]);
    expect((await states.load(group, ['c1'])).get('c1')?.pending).toEqual(records);
    await states.settle(group, [{ id: 'c1', version: 1 }]);
    expect((await states.load(group, ['c1'])).get('c1')).toEqual({ state: stateAt(1), version: 1 });
    await states.close();
  });

  it('marks 60 outboxes with 3 BatchWriteItem calls, and a cold reader then finds none of them pending', async () => {
    const group = velocityGroup();
    const tableName = await newTable();
    const writer = dynamoDbAggregationState({ client: ddb, tableName });
    const ids = Array.from({ length: 60 }, (_, i) => `c${i}`);
    const saved = await writer.save(group, ids.map((id, i) => ({ id, state: stateAt(i), expected: undefined, pending: txnRecords(group, i) })));
    expect(saved).toEqual(ids.map(() => 'saved'));
    await writer.settle(group, ids.map((id) => ({ id, version: 1 })));
    expect(writer.calls()).toEqual({ batchGets: 0, puts: 60, settles: 3 });
    const cold = dynamoDbAggregationState({ client: ddb, tableName, cacheEntities: 0 });
    const loaded = await cold.load(group, ids);
    expect(ids.filter((id) => loaded.get(id)?.pending !== undefined)).toEqual([]);
    // Each entity's state item and mark, 100 keys a call.
    expect(cold.calls().batchGets).toBe(2);
    await writer.close();
    await cold.close();
  });
});
