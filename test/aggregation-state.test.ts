import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { dynamoDbAggregationState, dynamoDbTableDefinition } from '../src/aws/index.js';
import { BackendError, count, createFeatureStore, defineFeatureGroup, type OnlineStore, sum } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { localAggregationState } from '../src/local/index.js';
import { emptyState } from '../src/pipeline/reducer.js';
import type { AggregationStateStore } from '../src/pipeline/state.js';
import { kinesisEvent, memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';

const velocity = defineFeatureGroup({
  name: 'card-velocity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount: z.number(), ts: z.string() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount }),
  aggregations: { n_1h: count({ window: '1h' }), sum_1h: sum('amount', { window: '1h' }) },
});

const txn = (card: string, minute: number, amount: number) => ({ card_id: card, ts: new Date(Date.UTC(2024, 4, 1, 10, minute)).toISOString(), amount });

let ddb: DynamoDBClient;
const tableName = 'skewless-state';
const dir = mkdtempSync(join(tmpdir(), 'skewless-state-'));

beforeAll(async () => {
  ddb = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  await ddb.send(new CreateTableCommand(dynamoDbTableDefinition(tableName)));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const backends: [string, () => Promise<AggregationStateStore>][] = [
  ['memory', async () => memoryAggregationState()],
  ['local (DuckDB)', () => localAggregationState({ dir })],
  ['DynamoDB (dynalite)', async () => dynamoDbAggregationState({ client: ddb, tableName, cacheEntities: 0 })],
];

describe.each(backends)('aggregation state on %s', (_name, open) => {
  it('writes an entity only over the version it read', async () => {
    const states = await open();
    const id = `card-${Math.random()}`;
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
});

it('keeps the local state across reopening', async () => {
  const local = join(dir, 'reopen');
  const first = await localAggregationState({ dir: local });
  await first.save(velocity, [{ id: 'c1', state: { ...emptyState(), t: 5 }, expected: undefined }]);
  await first.save(velocity, [{ id: 'c1', state: { ...emptyState(), t: 6 }, expected: 1 }]);
  await first.close();
  const again = await localAggregationState({ dir: local });
  expect((await again.load(velocity, ['c1'])).get('c1')).toEqual({ state: { ...emptyState(), t: 6 }, version: 2 });
  await again.close();
});

/** An online store that fails the first write of records whose amount is 999, as throttling would. */
function flakyOnline(): OnlineStore {
  const inner = memoryOnline();
  const failedOnce = new Set<string>();
  return {
    ...inner,
    async put(group, records, options) {
      const outcomes = await inner.put(
        group,
        records.filter((r) => !isFlaky(r)),
        options,
      );
      let k = 0;
      return records.map((r) => {
        if (isFlaky(r)) {
          const key = JSON.stringify(r);
          if (!failedOnce.has(key)) {
            failedOnce.add(key);
            return new BackendError('THROTTLED', 'injected throttling', { retryable: true });
          }
        }
        return outcomes[k++] as never;
      });
    },
  };
  function isFlaky(record: readonly { FeatureName: string; ValueAsString?: string }[]) {
    return record.some((f) => f.FeatureName === 'amount' && f.ValueAsString === '999');
  }
}

function lastValues(rows: readonly Record<string, unknown>[]) {
  const latest = new Map<string, Record<string, unknown>>();
  for (const row of rows) latest.set(`${row['card_id']}@${(row['event_time'] as Date).toISOString?.() ?? row['event_time']}`, row);
  return [...latest.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => ({ id: row['card_id'], n: Number(row['n_1h']), sum: row['sum_1h'] }));
}

describe('the Kinesis handler with DynamoDB aggregation state (dynalite)', () => {
  it('counts a batch reported for retry and redelivered exactly once', async () => {
    const events = [txn('c1', 0, 1), txn('c2', 1, 2), txn('c1', 2, 999), txn('c1', 3, 4), txn('c2', 4, 5)];
    const event = kinesisEvent(events);

    const clean = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState() });
    await kinesisHandler(velocity, { discardPoison: true, store: clean, log: false })(event);
    const expected = lastValues(((await (await clean.backends()).offline?.scan(velocity)) ?? []) as Record<string, unknown>[]);

    const state = dynamoDbAggregationState({ client: ddb, tableName });
    const offline = memoryOffline();
    const store = createFeatureStore({ online: flakyOnline(), offline, aggregationState: state });
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

  it('reports the records of an entity whose state another writer changed meanwhile', async () => {
    const shared = memoryAggregationState();
    const racing: AggregationStateStore = {
      ...shared,
      async save(group, updates) {
        // Another writer gets there first.
        await shared.save(group, updates.map((u) => ({ ...u, state: emptyState() })));
        return shared.save(group, updates);
      },
    };
    const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: racing });
    const summary = await store.ingest(velocity, [txn('c9', 0, 1)]);
    expect(summary.failed).toBe(1);
    expect(summary.outcomes[0]).toMatchObject({ status: 'failed', error: { code: 'STATE_CONFLICT' } });
  });

  it('reads state once per 100 entities, saves and settles once per entity, and reads nothing when warm', async () => {
    const state = dynamoDbAggregationState({ client: ddb, tableName });
    const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: state });
    const batch = Array.from({ length: 500 }, (_, i) => txn(`rt-${i % 150}`, i % 60, i));
    await store.ingest(velocity, batch);
    expect(state.calls()).toEqual({ batchGets: 2, puts: 150, settles: 150 });
    await store.ingest(velocity, batch.map((e) => ({ ...e, ts: new Date(Date.parse(e.ts) + 3_600_000).toISOString() })));
    expect(state.calls()).toEqual({ batchGets: 2, puts: 300, settles: 300 });
    await store.close();
  });

  it('asks for a state store when the online store is not the embedded one', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    await expect(store.ingest(velocity, [txn('c1', 0, 1)])).rejects.toThrow(/dynamoDbAggregationState/);
  });
});
