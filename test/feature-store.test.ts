import { afterEach, describe, expect, it } from 'vitest';
import { BackendError, createFeatureStore, DefinitionError, type DeadLetterEntry, type FeatureStore, FeatureValidationError, type OnlineStore } from '../src/index.js';
import { localOffline, localOnline, localStores } from '../src/local/index.js';
import { memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';
import { velocity } from './contracts/aggregation-state.js';
import { payments } from './contracts/dynamodb.js';
import { cardActivity, everyType, validCardEvent } from './fixtures/groups.js';

let store: FeatureStore;
const deadLetters: DeadLetterEntry[] = [];

function memoryStore(): FeatureStore {
  deadLetters.length = 0;
  store = createFeatureStore({
    online: localOnline({ memory: true }),
    offline: localOffline({ memory: true }),
    deadLetter: (entries) => {
      deadLetters.push(...entries);
    },
    now: () => Date.parse('2024-06-01T00:00:00Z'),
  });
  return store;
}

afterEach(async () => {
  await store?.close();
});

describe('createFeatureStore on the embedded stores', () => {
  it('ingests raw events: valid ones online and offline, poison to the dead-letter sink', async () => {
    const s = memoryStore();
    const summary = await s.ingest(cardActivity, [validCardEvent, { ...validCardEvent, amount_cents: 'x' }, { ...validCardEvent, card_id: 'card-2' }], {
      position: (index) => ({ source: 'test', index }),
    });
    expect(summary).toMatchObject({ applied: 2, stale: 0, poison: 1, failed: 0 });
    expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'poison', 'applied']);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ group: 'card-activity', raw: { amount_cents: 'x' }, position: { source: 'test', index: 1 } });
    expect(deadLetters[0]?.error.code).toBe('SOURCE_VALIDATION');
    const { offline } = await s.backends();
    expect(await offline?.scan(cardActivity)).toHaveLength(2);
  });

  it('reads records back decoded to the group\'s types', async () => {
    const s = memoryStore();
    await s.ingest(cardActivity, [validCardEvent]);
    expect(await s.get(cardActivity, 'card-1')).toEqual({
      card_id: 'card-1',
      event_time: new Date('2024-05-01T12:00:00.250Z'),
      amount: 12.5,
      is_foreign: true,
    });
    expect(await s.get(cardActivity, 'card-1', { features: ['amount'] })).toEqual({ amount: 12.5 });
    expect(await s.get(cardActivity, 'nobody')).toBeUndefined();
  });

  it('keeps the newest record online and every record offline', async () => {
    const s = memoryStore();
    const older = { ...validCardEvent, amount_cents: 100, ts: '2024-05-01T11:00:00Z' };
    const summary = await s.ingest(cardActivity, [validCardEvent, older]);
    expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'stale']);
    expect((await s.get(cardActivity, 'card-1'))?.amount).toBe(12.5);
    const { offline } = await s.backends();
    const rows = await offline?.scan(cardActivity);
    expect(rows?.map((r) => r['amount']).sort()).toEqual([1, 12.5]);
    expect(rows?.every((r) => r.write_time.getTime() === Date.parse('2024-06-01T00:00:00Z'))).toBe(true);
  });

  it('puts typed records and reports records of another shape as poison', async () => {
    const s = memoryStore();
    const summary = await s.put(cardActivity, [
      { card_id: 'card-9', event_time: new Date('2024-05-01T00:00:00Z'), amount: 3, is_foreign: false },
      { id: 1n } as never,
    ]);
    expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'poison']);
    expect((await s.get(cardActivity, 'card-9'))?.amount).toBe(3);
  });

  it('round-trips every supported type through the store', async () => {
    const s = memoryStore();
    const record = {
      id: 2n ** 62n,
      at: new Date('2024-05-01T12:00:00.001Z'),
      text: 'ünïcødé',
      level: 'low' as const,
      count: -1,
      ratio: 0.1,
      big: -(2n ** 63n),
      flag: false,
      seen: new Date(0),
      score: null,
      tags: ['a'],
      weights: [1.5],
    };
    expect((await s.put(everyType, [record])).applied).toBe(1);
    expect(await s.get(everyType, 2n ** 62n)).toStrictEqual(record);
  });

  it('reads many identifiers, leaving missing ones out', async () => {
    const s = memoryStore();
    await s.ingest(cardActivity, [validCardEvent, { ...validCardEvent, card_id: 'card-2' }]);
    const found = await s.getMany(cardActivity, ['card-1', 'card-2', 'card-3']);
    expect([...found.keys()].sort()).toEqual(['card-1', 'card-2']);
    expect(found.get('card-2')?.is_foreign).toBe(true);
  });

  it('deletes and appends a delete marker offline', async () => {
    const s = memoryStore();
    await s.ingest(cardActivity, [validCardEvent]);
    expect(await s.delete(cardActivity, 'card-1', new Date('2024-05-02T00:00:00Z'))).toBe('deleted');
    expect(await s.get(cardActivity, 'card-1')).toBeUndefined();
    expect(await s.delete(cardActivity, 'card-1', new Date('2024-05-01T00:00:00Z'), 'HardDelete')).toBe('stale');
    const { offline } = await s.backends();
    const rows = (await offline?.scan(cardActivity)) ?? [];
    expect(rows.map((r) => [r['event_time'], r.is_deleted])).toContainEqual(['2024-05-02T00:00:00.000Z', true]);
    expect(rows.filter((r) => r.is_deleted)).toHaveLength(1);
  });

  it('refuses empty and over-long identifiers and unknown feature names', async () => {
    const s = memoryStore();
    await expect(s.get(cardActivity, '')).rejects.toBeInstanceOf(FeatureValidationError);
    await expect(s.get(cardActivity, 'x'.repeat(2049))).rejects.toBeInstanceOf(FeatureValidationError);
    await expect(s.get(cardActivity, 'card-1', { features: ['nope' as 'amount'] })).rejects.toBeInstanceOf(DefinitionError);
  });
});

describe('the group\'s TTL', () => {
  it('applies to every write of the group unless the call gives its own', async () => {
    const { defineFeatureGroup } = await import('../src/index.js');
    const { z } = await import('zod');
    const shortLived = defineFeatureGroup({
      name: 'short-lived',
      recordIdentifier: 'id',
      eventTime: 't',
      ttl: { Unit: 'Hours', Value: 2 },
      source: z.object({ id: z.string(), t: z.number() }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => ({ id: e.id, t: new Date(e.t) }),
    });
    const s = memoryStore();
    const t = Date.now();
    await s.ingest(shortLived, [{ id: 'a', t }]);
    await s.ingest(shortLived, [{ id: 'b', t }], { ttl: { Unit: 'Minutes', Value: 5 } });
    const { online } = await s.backends();
    expect((await online.get(shortLived, 'a'))?.expiresAt?.getTime()).toBe(t + 2 * 3_600_000);
    expect((await online.get(shortLived, 'b'))?.expiresAt?.getTime()).toBe(t + 5 * 60_000);
  });
});

describe('the default store', () => {
  it('opens the embedded DuckDB stores under the directory given', async () => {
    const { mkdtempSync, readdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'skewless-default-'));
    store = createFeatureStore(localStores({ dir }));
    await store.ingest(cardActivity, [validCardEvent]);
    expect((await store.get(cardActivity, 'card-1'))?.amount).toBe(12.5);
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['offline', 'online.duckdb']));
  });
});

/** An online store that refuses, as `dynamoDbOnline` refuses a number DynamoDB cannot hold, records with an amount of 1e+300. */
function refusingOnline(error = (group: string) => new BackendError('INVALID_VALUE', `group "${group}": feature amount: 1e+300 is too large`, { group, issues: [{ code: 'invalid_value', path: ['amount'], message: 'too large' }] })): OnlineStore {
  const inner = memoryOnline();
  const refuses = (record: readonly { FeatureName: string; ValueAsString?: string }[]) => record.some((f) => f.FeatureName === 'amount' && f.ValueAsString === '1e+300');
  return {
    ...inner,
    async put(group, records, options) {
      const outcomes = await inner.put(group, records.filter((r) => !refuses(r)), options);
      let k = 0;
      return records.map((r) => (refuses(r) ? error(group.name) : (outcomes[k++] as never)));
    },
  };
}

describe('a record the online backend cannot store', () => {
  const ts = '2024-05-01T12:00:00Z';
  const huge = { payment_id: 'p-huge', amount: 1e300, ts };

  it('is poison: dead-lettered with the backend\'s reason at its position, never reported for redelivery or written offline', async () => {
    const dead: DeadLetterEntry[] = [];
    const offline = memoryOffline();
    store = createFeatureStore({ online: refusingOnline(), offline, deadLetter: (entries) => void dead.push(...entries) });
    const summary = await store.ingest(payments, [{ payment_id: 'p-1', amount: 1, ts }, huge, { payment_id: 'p-2', amount: 2, ts }], { position: (index) => ({ source: 'test', index }) });
    expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'poison', 'applied']);
    expect(summary).toMatchObject({ applied: 2, poison: 1, failed: 0 });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ group: 'payments', raw: huge, position: { source: 'test', index: 1 } });
    expect(dead[0]?.error).toBeInstanceOf(FeatureValidationError);
    expect(dead[0]?.error).toMatchObject({ message: expect.stringContaining('feature amount: 1e+300 is too large'), issues: [{ path: ['amount'] }] });
    expect(dead[0]?.error.cause).toMatchObject({ code: 'INVALID_VALUE' });
    expect((await offline.scan(payments)).map((r) => r['payment_id']).sort()).toEqual(['p-1', 'p-2']);
  });

  it('is reported for redelivery when the dead-letter sink fails, never dropped', async () => {
    store = createFeatureStore({ online: refusingOnline(), offline: false, deadLetter: () => Promise.reject(new Error('queue gone')) });
    const summary = await store.ingest(payments, [huge, { payment_id: 'p-1', amount: 1, ts }]);
    expect(summary.outcomes.map((o) => o.status)).toEqual(['failed', 'applied']);
    expect(summary.outcomes[0]).toMatchObject({ error: { retryable: true, message: expect.stringContaining('queue gone') } });
  });

  it('is poison in a put too, reported with its position', async () => {
    store = createFeatureStore({ online: refusingOnline(), offline: false });
    const summary = await store.put(payments, [{ payment_id: 'p', event_time: new Date(ts), amount: 1e300 }]);
    expect(summary.outcomes).toEqual([{ index: 0, status: 'poison', error: expect.objectContaining({ code: 'FEATURE_VALIDATION', position: { source: 'put', index: 0 } }) }]);
  });

  it('is told apart from other failures that retrying will not cure, which stay failed (a missing table is no reason to dead-letter)', async () => {
    const missingTable = (group: string) => new BackendError('WRITE_FAILED', `group "${group}": DynamoDB table "t" does not exist`, { group, retryable: false });
    const dead: DeadLetterEntry[] = [];
    store = createFeatureStore({ online: refusingOnline(missingTable), offline: false, deadLetter: (entries) => void dead.push(...entries) });
    const summary = await store.ingest(payments, [huge]);
    expect(summary.outcomes[0]).toMatchObject({ status: 'failed', error: { code: 'WRITE_FAILED' } });
    expect(dead).toEqual([]);
  });
});

describe('an online store from another copy of the package', () => {
  /** Fails every write with an error shaped like a BackendError that is not this copy's (CommonJS beside ESM). */
  const foreign = (inner: OnlineStore): OnlineStore => ({
    ...inner,
    async put(_group, records) {
      return records.map(() => Object.assign(new Error('throttled'), { name: 'BackendError', code: 'THROTTLED', retryable: true, issues: [] }) as unknown as BackendError);
    },
  });

  it('has its failures counted as failures: nothing is written offline, nothing reported as written', async () => {
    const offline = memoryOffline();
    const store = createFeatureStore({ online: foreign(memoryOnline()), offline });
    const summary = await store.ingest(cardActivity, [validCardEvent]);
    expect(summary).toMatchObject({ accepted: 0, failed: 1 });
    expect(await offline.scan(cardActivity)).toEqual([]);
    await store.close();
  });

  it('keeps an aggregated entity\'s outbox when its records fail that way, and writes them on the next delivery', async () => {
    const states = memoryAggregationState();
    const online = memoryOnline();
    const event = { card_id: 'c1', amount: 5, ts: '2024-05-01T10:01:00.000Z' };
    const failing = createFeatureStore({ online: foreign(online), offline: false, aggregationState: states });
    expect(await failing.ingest(velocity, [event])).toMatchObject({ failed: 1 });
    expect([...states.items.values()][0]?.pending).toHaveLength(1);
    const healthy = createFeatureStore({ online, offline: false, aggregationState: states });
    // The saved records go out first, before the batch is aggregated again.
    expect(await healthy.ingest(velocity, [{ ...event, ts: '2024-05-01T10:02:00.000Z' }])).toMatchObject({ failed: 0, reemitted: 1 });
    expect(await healthy.get(velocity, 'c1')).toMatchObject({ amount: 5, n_1h: 2 });
    expect([...states.items.values()][0]?.pending).toBeUndefined();
  });
});
