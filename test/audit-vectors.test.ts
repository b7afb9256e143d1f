import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { auditVectors, ConfigurationError, createFeatureStore, defineFeatureGroup } from '../src/index.js';
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
  it('finds every sampled served vector equal to its training row when online and offline agree', async () => {
    const { store } = await seeded();
    const report = await auditVectors(store, { entityKey: 'card_id', sample: 10, features: [cards.select('amount', 'country')] });
    expect(report).toMatchObject({ at: new Date(NOW), sampled: 3, consistent: 3, consistencyRate: 1, mismatches: { 'vector-audit-cards__amount': 0, 'vector-audit-cards__country': 0 }, examples: [] });
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
    await store.close();
  });
});
