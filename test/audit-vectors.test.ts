import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { auditVectors, ConfigurationError, createFeatureStore, defineFeatureGroup, defineRequestFeatures, type OfflineStore, type OfflineStoredRow } from '../src/index.js';
import { memoryOnline } from '../src/testing/index.js';
import { sampleIds } from '../src/audit/audit.js';
import { localStores } from '../src/local/index.js';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const row = z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), country: z.string() });
const cards = defineFeatureGroup({ name: 'vector-audit-cards', recordIdentifier: 'card_id', eventTime: 'event_time', source: row, features: row, transform: (e) => e });
const merchantRow = z.object({ merchant_id: z.string(), event_time: z.date(), risk: z.number() });
const merchants = defineFeatureGroup({ name: 'vector-audit-merchants', recordIdentifier: 'merchant_id', eventTime: 'event_time', source: merchantRow, features: merchantRow, transform: (e) => e });

const card = (id: string, minutesAgo: number, amount: number) => ({ card_id: id, event_time: new Date(NOW - minutesAgo * 60_000), amount, country: 'FR' });

async function seeded() {
  const backends = localStores({ memory: true });
  const store = createFeatureStore({ ...backends, now: () => NOW });
  await store.ingest(cards, [card('c1', 20, 10), card('c1', 5, 11), card('c2', 3, 20), card('c3', 50, 30)]);
  await store.delete(cards, 'c3', new Date(NOW - 10 * 60_000), 'SoftDelete');
  return { store, backends };
}

describe('auditVectors', () => {
  // First in the file: the options schema is built by the first call a file makes, and the mutation run
  // sees a change to its messages only in that call.
  it('names a wrong option with what it got and what it takes', async () => {
    const { store } = await seeded();
    const base = { entityKey: 'card_id', features: [cards.select('amount')] };
    const refused = (options: object, message: string) => expect(auditVectors(store, { ...base, ...options } as never)).rejects.toThrow(message);
    await refused({ entities: [5] }, 'auditVectors options.entities[0]: expected an entity row object, got 5');
    await refused({ entities: [null] }, 'auditVectors options.entities[0]: expected an entity row object, got null');
    await refused({ seed: 1.5 }, 'auditVectors options.seed: expected a whole number, got 1.5');
    await refused({ entityKey: 5 }, 'auditVectors options.entityKey: expected the entity column with the record identifier, got 5');
    await refused({ features: [] }, 'auditVectors options.features: a vector audit needs at least one feature selection');
    await refused({ tolerance: -1 }, 'auditVectors options.tolerance: expected a number, 0 or more, got -1');
    await refused({ tolerance: '0' }, 'auditVectors options.tolerance: expected a number, 0 or more, got "0"');
    await refused({ sample: 0 }, 'auditVectors options.sample: expected a positive whole number, got 0');
    await store.close();
  });

  it('finds every sampled served vector equal to its training row when online and offline agree', async () => {
    const { store } = await seeded();
    const report = await auditVectors(store, { entityKey: 'card_id', sample: 10, features: [cards.select('amount', 'country')] });
    // c3 is deleted: its row is nulls on both sides, so two rows of three have values.
    expect(report).toMatchObject({ at: new Date(NOW), sampled: 3, consistent: 3, consistencyRate: 1, rowsWithValues: 2, mismatches: { 'vector-audit-cards__amount': 0, 'vector-audit-cards__country': 0 }, examples: [] });
    await store.close();
  });

  it('counts and shows each cell that differs: an online-only write is skew a model would meet', async () => {
    const { store, backends } = await seeded();
    await (await backends.online).put(cards, [cards.codec.toRecord(card('c2', 1, 99))]);
    const report = await auditVectors(store, { entityKey: 'card_id', entities: [{ card_id: 'c1' }, { card_id: 'c2' }, { card_id: 'c2' }], features: [cards.select('amount', 'country')] });
    expect(report).toMatchObject({ sampled: 3, consistent: 1, consistencyRate: 1 / 3, mismatches: { 'vector-audit-cards__amount': 2, 'vector-audit-cards__country': 0 } });
    expect(report.examples).toEqual([
      { row: 1, entity: { card_id: 'c2' }, column: 'vector-audit-cards__amount', served: 99, trained: 20 },
      { row: 2, entity: { card_id: 'c2' }, column: 'vector-audit-cards__amount', served: 99, trained: 20 },
    ]);
    const within = await auditVectors(store, { entityKey: 'card_id', entities: [{ card_id: 'c2' }], features: [cards.select('amount')], tolerance: 80 });
    expect(within.consistencyRate).toBe(1);
    await store.close();
  });

  it('says nothing was audited instead of 100% of nothing, and refuses a sample it cannot key', async () => {
    const { store } = await seeded();
    const empty = await auditVectors(store, { entityKey: 'card_id', entities: [], features: [cards.select('amount')] });
    expect(empty).toMatchObject({ sampled: 0, consistent: 0, consistencyRate: undefined });
    await expect(auditVectors(store, { entityKey: 'card_id', features: [cards.select('amount'), merchants.select('risk').with({ key: 'merchant_id' })] })).rejects.toThrow(
      /reads its identifier from "merchant_id".*pass entities/,
    );
    await expect(auditVectors(store, { entityKey: 'card_id', sample: 'lots', features: [cards.select('amount')] } as never)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(auditVectors(store, { entityKey: 'card_id', features: [merchants.select('risk').with({ key: 'merchant_id' })] })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    // A selection keyed by the entity column itself samples as any other.
    expect((await auditVectors(store, { entityKey: 'card_id', features: [cards.select('amount').with({ key: 'card_id' })] })).sampled).toBe(3);
    await store.close();
    const noOffline = createFeatureStore({ online: memoryOnline(), offline: false });
    await expect(auditVectors(noOffline, { entityKey: 'card_id', features: [cards.select('amount')] })).rejects.toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: 'a vector audit compares with the offline store, and the store has none' }),
    );
  });

  it('samples `sample` identifiers by `seed` (1 by default) among the offline rows that have one', async () => {
    const { store, backends } = await seeded();
    // c2 is written online only: it differs wherever it is sampled.
    await (await backends.online).put(cards, [cards.codec.toRecord(card('c2', 1, 99))]);
    const rows = await backends.offline;
    // An offline store of your own that also holds a row without an identifier.
    const scan = async (group: Parameters<OfflineStore['scan']>[0]) => [...(await rows.scan(group)), { ...(await rows.scan(group))[0], card_id: null } as unknown as OfflineStoredRow];
    const keyless = new Proxy(rows, { get: (target, property) => (property === 'scan' ? scan : Reflect.get(target, property, target)) });
    const sampled = createFeatureStore({ online: await backends.online, offline: keyless, now: () => NOW });
    const audited = (options: { sample?: number; seed?: number }) => auditVectors(sampled, { entityKey: 'card_id', features: [cards.select('amount')], ...options });
    expect((await audited({})).sampled).toBe(3);
    const picks = (seed: number) => sampleIds(['c1', 'c2', 'c3'], 2, seed);
    const other = Array.from({ length: 50 }, (_, i) => i + 2).find((seed) => picks(seed).includes('c2') !== picks(1).includes('c2')) as number;
    for (const seed of [undefined, 1, other]) {
      const report = await audited({ sample: 2, ...(seed === undefined ? {} : { seed }) });
      expect(report.sampled).toBe(2);
      expect(report.consistent, `seed ${seed}`).toBe(picks(seed ?? 1).includes('c2') ? 1 : 2);
    }
    await store.close();
  });

  it('applies maxAge to both sides, and lists at most `examples` differing cells (all counted)', async () => {
    const { store, backends } = await seeded();
    // c2 is written online only, a minute ago: skew, unless maxAge hides both sides' values.
    await (await backends.online).put(cards, [cards.codec.toRecord(card('c2', 1, 99))]);
    const entities = [{ card_id: 'c2' }, { card_id: 'c2' }];
    const skewed = await auditVectors(store, { entityKey: 'card_id', entities, features: [cards.select('amount', 'country')], examples: 1 });
    expect(skewed).toMatchObject({ consistent: 0, mismatches: { 'vector-audit-cards__amount': 2 } });
    expect(skewed.examples).toEqual([{ row: 0, entity: { card_id: 'c2' }, column: 'vector-audit-cards__amount', served: 99, trained: 20 }]);
    // Within 30 seconds neither side has a value for c2 (its records are a minute and three minutes old).
    const bounded = await auditVectors(store, { entityKey: 'card_id', entities, features: [cards.select('amount')], maxAge: '30s' });
    expect(bounded).toMatchObject({ consistent: 2, consistencyRate: 1, examples: [] });
    await store.close();
  });

  it('compares request features by their outputs, not the columns they read', async () => {
    const { store, backends } = await seeded();
    const versusAmount = defineRequestFeatures({
      name: 'vector-audit-request',
      request: z.object({ spend: z.number() }),
      reads: { card: cards.select('amount', 'country') },
      features: z.object({ over: z.boolean() }),
      transform: (request, { card }) => ({ over: card.amount !== null && request.spend > card.amount }),
    });
    const entities = [{ card_id: 'c1', spend: 10.5 }, { card_id: 'c2', spend: 25 }];
    const agreeing = await auditVectors(store, { entityKey: 'card_id', entities, features: [cards.select('amount'), versusAmount] });
    expect(agreeing).toMatchObject({ sampled: 2, consistent: 2, examples: [] });
    expect(agreeing.mismatches).toStrictEqual({ 'vector-audit-cards__amount': 0, 'vector-audit-request__over': 0 });
    // Online only, c2 spends 99: its amount and the request feature read from it both differ.
    await (await backends.online).put(cards, [cards.codec.toRecord(card('c2', 1, 99))]);
    const skewed = await auditVectors(store, { entityKey: 'card_id', entities, features: [cards.select('amount'), versusAmount] });
    expect(skewed.mismatches).toStrictEqual({ 'vector-audit-cards__amount': 1, 'vector-audit-request__over': 1 });
    await store.close();
  });
});
