import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sageMakerOnline } from '../src/aws/index.js';
import { BackendError, coalesceReads, ConfigurationError, createFeatureStore, defineFeatureGroup, type FeatureStore, featureVectors } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { createGroupOnStack } from './fixtures/stack.js';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const row = z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), country: z.string() });
const cards = defineFeatureGroup({ name: 'coalesce-cards', recordIdentifier: 'card_id', eventTime: 'event_time', source: row, features: row, transform: (e) => e });
const missing = defineFeatureGroup({ name: 'coalesce-missing', recordIdentifier: 'card_id', eventTime: 'event_time', source: row, features: row, transform: (e) => e });

describe('coalesceReads (SageMaker on the local stack)', () => {
  let stack: LocalStack;
  let plain: FeatureStore;
  const calls = (operation: string) => stack.faultCounts[operation]?.calls ?? 0;

  beforeAll(async () => {
    stack = await startLocalStack({ memory: true });
    await createGroupOnStack(stack.clientConfig, cards);
    plain = createFeatureStore({ online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }), offline: false, now: () => NOW });
    await plain.ingest(cards, Array.from({ length: 30 }, (_, i) => ({ card_id: `c${i}`, event_time: new Date(NOW - 60_000), amount: i, country: i % 2 ? 'FR' : 'US' })));
    // Counts from here: only the reads below.
    stack.setFaults({});
  });
  afterAll(async () => {
    await plain.close();
    await stack.close();
  });

  const coalescing = (options = {}) =>
    createFeatureStore({ online: coalesceReads(sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }), options), offline: false, now: () => NOW });

  it('sends concurrent single-entity reads as one BatchGetRecord, each caller getting its own vector', async () => {
    const store = coalescing({ windowMs: 20 });
    const before = { get: calls('GetRecord'), batch: calls('BatchGetRecord') };
    const ids = Array.from({ length: 25 }, (_, i) => `c${i}`).concat(['c3', 'nobody']);
    const served = await Promise.all(ids.map((card_id) => featureVectors(store, { entities: [{ card_id }], entityKey: 'card_id', features: [cards.select('amount')] })));
    expect(calls('GetRecord') - before.get).toBe(0);
    expect(calls('BatchGetRecord') - before.batch).toBe(1);
    const alone = await Promise.all(ids.map((card_id) => featureVectors(plain, { entities: [{ card_id }], entityKey: 'card_id', features: [cards.select('amount')] })));
    expect(served.map((s) => s.rows[0])).toEqual(alone.map((s) => s.rows[0]));
    expect(served.at(-1)?.rows[0]?.['coalesce-cards__amount']).toBeNull();
    await store.close();
  });

  it('gives each caller only the features it asked for, and splits batches at maxBatch', async () => {
    const online = coalesceReads(sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }), { windowMs: 20, maxBatch: 2 });
    const before = calls('BatchGetRecord');
    const [a, b, c] = await Promise.all([online.get(cards, 'c1', { features: ['amount'] }), online.get(cards, 'c2', { features: ['country'] }), online.get(cards, 'c4')]);
    expect(a?.record).toEqual([{ FeatureName: 'amount', ValueAsString: '1' }]);
    expect(b?.record).toEqual([{ FeatureName: 'country', ValueAsString: 'US' }]);
    expect(c?.record.map((f: { FeatureName: string }) => f.FeatureName)).toContain('event_time');
    expect(calls('BatchGetRecord') - before).toBe(2);
    await online.close();
  });

  it('hands every waiting caller the batch error, never a silent miss', async () => {
    const online = coalesceReads(sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }), { windowMs: 20 });
    const results = await Promise.allSettled([online.get(missing, 'c1'), online.get(missing, 'c2')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect((results[0] as PromiseRejectedResult).reason).toBeInstanceOf(BackendError);
    await online.close();
  });

  it('refuses, when built, a store that is not an online store: a read on its timer could not be caught', () => {
    // The factory itself rather than its result, and the pair localStores() returns.
    const refusal = (online: unknown) => {
      try {
        coalesceReads(online as never);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refusal(sageMakerOnline)).toMatchObject({
      name: 'ConfigurationError',
      code: 'INVALID_CONFIG',
      message: 'coalesceReads online store: expected an online store such as sageMakerOnline() or dynamoDbOnline() (an object with put, get, getMany, delete, close), got a function',
    });
    expect(refusal({ online: {}, offline: {} })).toBeInstanceOf(ConfigurationError);
  });

  it('hands every caller of a batch the error of a wrapped store that throws instead of rejecting, or answers what is not a Map', async () => {
    const thrown = new Error('getMany threw');
    const storeWith = (getMany: () => unknown) => coalesceReads({ put: async () => ({}), get: async () => undefined, getMany, delete: async () => 'Deleted', close: async () => {} } as never, { windowMs: 5 });
    const throwing = storeWith(() => {
      throw thrown;
    });
    expect(await Promise.allSettled([throwing.get(cards, 'c1'), throwing.get(cards, 'c2')])).toEqual([{ status: 'rejected', reason: thrown }, { status: 'rejected', reason: thrown }]);
    // Not a Map: reading it fails while handing out the records, and that error reaches the callers too.
    const odd = storeWith(async () => [['c1', {}]]);
    const results = await Promise.allSettled([odd.get(cards, 'c1'), odd.get(cards, 'c2')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('refuses options it cannot honour', () => {
    expect(() => coalesceReads(sageMakerOnline(), { maxBatch: 101 })).toThrow(ConfigurationError);
    expect(() => coalesceReads(sageMakerOnline(), { windowMs: '2ms' } as never)).toThrow(ConfigurationError);
  });
});
