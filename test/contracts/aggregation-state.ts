import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { dynamoDbAggregationState } from '../../src/aws/index.js';
import { count, createFeatureStore, defineFeatureGroup, type OnlineStore, type SageMakerRecord, sum } from '../../src/index.js';
import { kinesisHandler } from '../../src/lambda/index.js';
import { failsOnce } from '../fixtures/fails-once.js';
import { emptyState } from '../../src/pipeline/reducer.js';
import type { AggregationStateStore } from '../../src/pipeline/state.js';
import { kinesisEvent, memoryAggregationState, memoryOffline, memoryOnline } from '../../src/testing/index.js';
import { createFeatureTable } from '../setup/tables.js';

export const velocity = defineFeatureGroup({
  name: 'card-velocity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount: z.number(), ts: z.string() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount }),
  aggregations: { n_1h: count({ window: '1h' }), sum_1h: sum('amount', { window: '1h' }) },
});

/** velocity as a later deployment defines it: amount first, and a new feature. */
const velocityReordered = defineFeatureGroup({
  name: 'card-velocity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: velocity.source,
  features: z.object({ amount: z.number(), card_id: z.string(), merchant: z.string().optional(), event_time: z.date() }),
  transform: (e) => ({ amount: e.amount, card_id: e.card_id, event_time: new Date(e.ts) }),
  aggregations: velocity.aggregations,
});

export const txn = (card: string, minute: number, amount: number) => ({ card_id: card, ts: new Date(Date.UTC(2024, 4, 1, 10, minute)).toISOString(), amount });

const freshId = () => `card-${Math.random().toString(36).slice(2, 10)}`;

/** A record of `velocity` as a commit saves it in its outbox, padded to a size (no state store reads the values). */
const produced = (id: string, minute: number, padding = 0): SageMakerRecord => [
  { FeatureName: 'card_id', ValueAsString: id },
  { FeatureName: 'event_time', ValueAsString: new Date(Date.UTC(2024, 4, 1, 10, minute)).toISOString() },
  { FeatureName: 'amount', ValueAsString: 'x'.repeat(padding) || '1' },
];

/**
 * What every aggregation state store must do (the ingest's commit protocol relies on it): a save is
 * written only over the version it read, and its outbox stays until settled at that version.
 */
export function aggregationStateContract(name: string, open: () => Promise<AggregationStateStore>): void {
  describe(`aggregation state on ${name}`, () => {
    it('writes an entity only over the version it read', async () => {
      const states = await open();
      const id = freshId();
      expect((await states.load(velocity, [id])).size).toBe(0);
      const state = { ...emptyState(), t: 1 };
      expect(await states.save(velocity, [{ id, state, expected: undefined }])).toEqual(['saved']);
      // A second writer that also saw no item loses.
      expect(await states.save(velocity, [{ id, state, expected: undefined }])).toEqual(['conflict']);
      expect(await states.save(velocity, [{ id, state: { ...state, t: 2 }, expected: 1 }])).toEqual(['saved']);
      expect(await states.save(velocity, [{ id, state, expected: 1 }])).toEqual(['conflict']);
      const loaded = (await states.load(velocity, [id, 'nobody'])).get(id);
      expect(loaded).toEqual({ state: { ...state, t: 2 }, version: 2 });
      await states.close();
    });

    it('keeps the records of a save as its outbox until they are settled at that version', async () => {
      const states = await open();
      const id = freshId();
      const records = [produced(id, 1), produced(id, 2)];
      expect(await states.save(velocity, [{ id, state: emptyState(), expected: undefined, pending: records }])).toEqual(['saved']);
      expect((await states.load(velocity, [id])).get(id)).toEqual({ state: emptyState(), version: 1, pending: records });
      // A settle of another version changes nothing: those may not be the records that were written.
      await states.settle(velocity, [{ id, version: 2 }]);
      expect((await states.load(velocity, [id])).get(id)?.pending).toEqual(records);
      await states.settle(velocity, [{ id, version: 1 }]);
      expect((await states.load(velocity, [id])).get(id)).toEqual({ state: emptyState(), version: 1 });
      await states.close();
    });

    it('reads an outbox by feature name after a deployment reorders or adds features', async () => {
      const states = await open();
      const id = freshId();
      const records = [produced(id, 1), produced(id, 2)];
      expect(await states.save(velocity, [{ id, state: emptyState(), expected: undefined, pending: records }])).toEqual(['saved']);
      // amount first, and a new feature: each value still lands under its own name.
      expect((await states.load(velocityReordered, [id])).get(id)?.pending).toEqual(records);
      await states.close();
    });
  });
}

/** An online store that fails the first write of records whose amount is 999, as throttling would. */
function flakyOnline(): OnlineStore {
  return failsOnce(memoryOnline(), (record) => record.some((f) => f.FeatureName === 'amount' && f.ValueAsString === '999'));
}

function lastValues(rows: readonly Record<string, unknown>[]) {
  const latest = new Map<string, Record<string, unknown>>();
  for (const row of rows) latest.set(`${row['card_id']}@${(row['event_time'] as Date).toISOString?.() ?? row['event_time']}`, row);
  return [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => ({ id: row['card_id'], n: Number(row['n_1h']), sum: row['sum_1h'] }));
}

/** `dynamoDbAggregationState` on a DynamoDB implementation: its item limit, its cache, its errors. */
export function dynamoDbAggregationStateContract(name: string, connect: () => DynamoDBClient): void {
  describe(`dynamoDbAggregationState on ${name}`, () => {
    let client: DynamoDBClient;
    let tableName: string;

    beforeAll(async () => {
      client = connect();
      tableName = `state-${Math.random().toString(36).slice(2, 10)}`;
      await createFeatureTable(client, tableName);
    });

    it('says too-large, and saves nothing, when a state and its records would not fit one item', async () => {
      const states = dynamoDbAggregationState({ client, tableName, cacheEntities: 0 });
      const id = freshId();
      const big = [produced(id, 1, 150_000), produced(id, 2, 150_000), produced(id, 3, 150_000)];
      expect(await states.save(velocity, [{ id, state: emptyState(), expected: undefined, pending: big }])).toEqual(['too-large']);
      expect((await states.load(velocity, [id])).size).toBe(0);
      // Fewer records at a time fit.
      expect(await states.save(velocity, [{ id, state: emptyState(), expected: undefined, pending: big.slice(0, 2) }])).toEqual(['saved']);
      expect((await states.load(velocity, [id])).get(id)?.pending).toEqual(big.slice(0, 2));
      await states.close();
    });

    // DynamoDB documents its item limit as "400 KB", names and values together; implementations read it
    // as 400,000 bytes (moto refuses from 405,000) or 409,600 (dynalite): the store keeps to 400,000.
    it('says too-large for a state and records over 400,000 bytes, which a DynamoDB may refuse', async () => {
      const states = dynamoDbAggregationState({ client, tableName, cacheEntities: 0 });
      const id = freshId();
      expect(await states.save(velocity, [{ id, state: emptyState(), expected: undefined, pending: [produced(id, 1, 401_000)] }])).toEqual(['too-large']);
      expect(states.calls().puts).toBe(0);
      await states.close();
    });

    it('saves a state and records of just under 400,000 bytes', async () => {
      const states = dynamoDbAggregationState({ client, tableName, cacheEntities: 0 });
      const id = freshId();
      const pending = [produced(id, 1, 399_500)];
      expect(await states.save(velocity, [{ id, state: emptyState(), expected: undefined, pending }])).toEqual(['saved']);
      expect((await states.load(velocity, [id])).get(id)?.pending).toEqual(pending);
      await states.close();
    });

    it('refuses, without sending it, a state that alone is over the item limit', async () => {
      const states = dynamoDbAggregationState({ client, tableName, cacheEntities: 0 });
      const [outcome] = await states.save(velocity, [{ id: freshId(), state: { ...emptyState(), p: { huge: 'x'.repeat(400_000) } } as never, expected: undefined }]);
      expect(outcome).toMatchObject({ code: 'WRITE_FAILED', retryable: false, message: expect.stringMatching(/over DynamoDB's 400 KB item limit: lower stateCompaction\.maxEntries, or the distinctCount limit$/) });
      expect(states.calls().puts).toBe(0);
      // Positions of many partition keys: the message names them and what keeps them few.
      const positions = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`kinesis:shardId-000000000000#card-${i}`, '4'.repeat(56)]));
      const [many] = await states.save(velocity, [{ id: freshId(), state: { ...emptyState(), p: positions }, expected: undefined }]);
      expect(many).toMatchObject({ code: 'WRITE_FAILED', message: expect.stringMatching(/; it also holds 5000 stream positions, one per partition key its records came from within the allowed lateness: partition the stream by the record identifier$/) });
      await states.close();
    });

    it('catches a stale cached state by its version and reads it again', async () => {
      const mine = dynamoDbAggregationState({ client, tableName });
      const theirs = dynamoDbAggregationState({ client, tableName, cacheEntities: 0 });
      const id = freshId();
      expect(await mine.save(velocity, [{ id, state: { ...emptyState(), t: 1 }, expected: undefined }])).toEqual(['saved']);
      expect(await theirs.save(velocity, [{ id, state: { ...emptyState(), t: 2 }, expected: 1 }])).toEqual(['saved']);
      // Mine still has version 1 cached: its save is refused by DynamoDB, not by the cache.
      expect((await mine.load(velocity, [id])).get(id)?.version).toBe(1);
      expect(await mine.save(velocity, [{ id, state: { ...emptyState(), t: 3 }, expected: 1 }])).toEqual(['conflict']);
      expect((await mine.load(velocity, [id])).get(id)).toEqual({ state: { ...emptyState(), t: 2 }, version: 2 });
      await mine.close();
      await theirs.close();
    });

    it('names a missing table as the table, not as a missing feature group', async () => {
      const missing = `no-such-state-${Math.random().toString(36).slice(2, 10)}`;
      const states = dynamoDbAggregationState({ client, tableName: missing, retry: { attempts: 1 } });
      const says = { message: expect.stringContaining(`DynamoDB table "${missing}" does not exist`) };
      await expect(states.load(velocity, ['c1'])).rejects.toMatchObject({ code: 'READ_FAILED', ...says });
      expect(await states.save(velocity, [{ id: 'c1', state: emptyState(), expected: undefined }])).toEqual([expect.objectContaining({ code: 'WRITE_FAILED', ...says })]);
      await states.close();
    });

    it('counts, with the Kinesis handler, a batch reported for retry and redelivered exactly once', async () => {
      const events = [txn('c1', 0, 1), txn('c2', 1, 2), txn('c1', 2, 999), txn('c1', 3, 4), txn('c2', 4, 5)];
      const event = kinesisEvent(events);

      const clean = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState() });
      await kinesisHandler(velocity, { discardPoison: true, store: clean, log: false })(event);
      const expected = lastValues(((await (await clean.backends()).offline?.scan(velocity)) ?? []) as Record<string, unknown>[]);

      const offline = memoryOffline();
      const store = createFeatureStore({ online: flakyOnline(), offline, aggregationState: dynamoDbAggregationState({ client, tableName }) });
      const handler = kinesisHandler(velocity, { discardPoison: true, store, log: false });
      const first = await handler(event);
      // The third record failed: it and everything after it in the shard come back.
      const reported = first.batchItemFailures.map((f) => f.itemIdentifier);
      expect(reported).toEqual(event.Records.slice(2).map((r) => r.kinesis.sequenceNumber));
      const again = await handler({ Records: event.Records.filter((r) => reported.includes(r.kinesis.sequenceNumber)) });
      expect(again.batchItemFailures).toEqual([]);
      // And once more, as if Lambda timed out after the state was saved: nothing is counted twice.
      expect((await handler(event)).batchItemFailures).toEqual([]);

      const rows = (await offline.scan(velocity)) as Record<string, unknown>[];
      expect(lastValues(rows)).toEqual(expected);
      expect(expected.find((r) => r.id === 'c1' && r.n === 3)).toEqual({ id: 'c1', n: 3, sum: 1004 });
      expect((await store.get(velocity, 'c1'))?.n_1h).toBe(3);
      await store.close();
      await clean.close();
    });

    it('reads state once per 50 entities, saves once per entity, marks outboxes written once per 25, and reads nothing when warm', async () => {
      const state = dynamoDbAggregationState({ client, tableName });
      const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: state });
      const prefix = freshId();
      const batch = Array.from({ length: 500 }, (_, i) => txn(`${prefix}-${i % 150}`, i % 60, i));
      await store.ingest(velocity, batch);
      expect(state.calls()).toEqual({ batchGets: 3, puts: 150, settles: 6 });
      await store.ingest(velocity, batch.map((e) => ({ ...e, ts: new Date(Date.parse(e.ts) + 3_600_000).toISOString() })));
      expect(state.calls()).toEqual({ batchGets: 3, puts: 300, settles: 12 });
      await store.close();
    });
  });
}
