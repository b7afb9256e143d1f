import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { dynamoDbAggregationState } from '../src/aws/index.js';
import { createFeatureStore } from '../src/index.js';
import { localAggregationState } from '../src/local/index.js';
import { emptyState } from '../src/pipeline/reducer.js';
import type { AggregationStateStore } from '../src/pipeline/state.js';
import { memoryAggregationState, memoryOnline } from '../src/testing/index.js';
import { aggregationStateContract, dynamoDbAggregationStateContract, txn, velocity } from './contracts/aggregation-state.js';
import { createFeatureTable } from './setup/tables.js';

const dir = mkdtempSync(join(tmpdir(), 'skewless-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dynalite = () => new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });

aggregationStateContract('memory', async () => memoryAggregationState());
aggregationStateContract('local (DuckDB)', () => localAggregationState({ dir }));
aggregationStateContract('DynamoDB (dynalite)', async () => {
  const client = dynalite();
  const tableName = `state-${Math.random().toString(36).slice(2, 10)}`;
  await createFeatureTable(client, tableName);
  return dynamoDbAggregationState({ client, tableName, cacheEntities: 0 });
});
dynamoDbAggregationStateContract('dynalite', dynalite);

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

describe('the ingest of a group with aggregations', () => {
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

  it('asks for a state store when the online store is not the embedded one', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    await expect(store.ingest(velocity, [txn('c1', 0, 1)])).rejects.toThrow(/dynamoDbAggregationState/);
  });
});
