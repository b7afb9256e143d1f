import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { audit, count, createFeatureStore, defineFeatureGroup, type FeatureStore, sum } from '../src/index.js';
import { memoryOffline, memoryOnline } from '../src/testing/index.js';

// README's "Audit": an inconsistent identifier gets the first cause that explains it. These fixed
// cases sit on the edges of two of them: `delete-pending` (deleted online; the offline delete marker
// is not visible yet) and `late-events` (only aggregate features differ).

const MINUTE = 60_000;
const DAY = Date.UTC(2024, 4, 1);

const source = z.object({ card_id: z.string(), amount_cents: z.number().int(), ts: z.string() });
const cards = defineFeatureGroup({
  name: 'audit-edge-cards',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source,
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount_cents / 100 }),
});

describe('audit cause delete-pending, at the edge of what is visible offline', () => {
  // Offline rows written up to `at - availabilityDelay` (15 minutes by default) count as visible.
  const DELAY = 15 * MINUTE;
  const RECORD_AT = DAY;
  const DELETED_AT = DAY + 2 * 3_600_000;

  /** A card written at midnight, then soft-deleted two hours later: its delete marker is written offline then. */
  async function deletedCard(): Promise<FeatureStore> {
    let clock = DAY + MINUTE;
    const store = createFeatureStore({ online: memoryOnline({ now: () => clock }), offline: memoryOffline(), now: () => clock });
    await store.ingest(cards, [{ card_id: 'c', amount_cents: 500, ts: new Date(RECORD_AT).toISOString() }]);
    clock = DELETED_AT;
    await store.delete(cards, 'c', new Date(RECORD_AT + MINUTE), 'SoftDelete');
    return store;
  }

  it('counts a delete marker written exactly at the cut-off as visible: online and offline agree, no cause', async () => {
    const store = await deletedCard();
    const report = await audit(store, cards, { sample: ['c'], at: new Date(DELETED_AT + DELAY) });
    expect(report.visibleUntil).toEqual(new Date(DELETED_AT));
    expect(report).toMatchObject({ sampled: 1, consistent: 1, examples: [] });
    expect(Object.values(report.causes).every((n) => n === 0)).toBe(true);
    await store.close();
  });

  it('calls a delete marker written a millisecond after the cut-off delete-pending', async () => {
    const store = await deletedCard();
    const report = await audit(store, cards, { sample: ['c'], at: new Date(DELETED_AT + DELAY - 1) });
    expect(report).toMatchObject({ sampled: 1, consistent: 0 });
    expect(report.causes).toMatchObject({ 'delete-pending': 1, unexplained: 0 });
    expect(report.examples).toMatchObject([{ id: 'c', cause: 'delete-pending', online: undefined, offline: { amount: 5 } }]);
    await store.close();
  });

  it("calls a pending delete marker at the record's own event time delete-pending: once visible it wins the tie by its later invocation time", async () => {
    // Online the identifier is gone; offline the record is visible, and a marker at its very
    // event time, stamped later, is not yet. Built on the backends directly: the point is the audit's
    // reading of the offline rows, whatever wrote them.
    const online = memoryOnline();
    const offline = memoryOffline();
    const store = createFeatureStore({ online, offline });
    const record = cards.codec.toRecord({ card_id: 'same-time', event_time: new Date(RECORD_AT), amount: 5 });
    const marker = record.filter((f) => f.FeatureName === 'card_id' || f.FeatureName === 'event_time');
    const written = new Date(RECORD_AT + MINUTE);
    await offline.append(cards, [
      { record, writeTime: written, apiInvocationTime: written, isDeleted: false },
      { record: marker, writeTime: new Date(DELETED_AT), apiInvocationTime: new Date(DELETED_AT), isDeleted: true },
    ]);
    const pending = await audit(store, cards, { sample: ['same-time'], at: new Date(DELETED_AT + DELAY - 1) });
    expect(pending.examples).toMatchObject([{ id: 'same-time', cause: 'delete-pending' }]);
    const settled = await audit(store, cards, { sample: ['same-time'], at: new Date(DELETED_AT + DELAY) });
    expect(settled).toMatchObject({ consistent: 1, examples: [] });
    await store.close();
  });
});

describe('audit cause late-events against unexplained', () => {
  const velocity = defineFeatureGroup({
    name: 'audit-edge-velocity',
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source,
    features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
    transform: (e) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount_cents / 100 }),
    aggregations: { n_1h: count({ window: '1h' }), sum_1h: sum('amount', { window: '1h' }) },
  });
  const EVENT = new Date(DAY + 30 * MINUTE);
  const WRITTEN = new Date(DAY + 31 * MINUTE);

  /**
   * Offline, what a backfill computed for each card: 4 events in the hour, 10.00 in all, the last
   * one 4.00. Online, the record at the same event time as given here.
   */
  async function storeWith(onlineValues: Record<string, { amount: number; n_1h: number; sum_1h: number }>): Promise<FeatureStore> {
    const online = memoryOnline();
    const offline = memoryOffline();
    const ids = Object.keys(onlineValues);
    await offline.append(
      velocity,
      ids.map((card_id) => ({ record: velocity.codec.toRecord({ card_id, event_time: EVENT, amount: 4, n_1h: 4, sum_1h: 10 }), writeTime: WRITTEN, apiInvocationTime: WRITTEN, isDeleted: false })),
    );
    await online.put(velocity, ids.map((card_id) => velocity.codec.toRecord({ card_id, event_time: EVENT, ...(onlineValues[card_id] as { amount: number; n_1h: number; sum_1h: number }) })));
    return createFeatureStore({ online, offline });
  }

  const at = new Date(DAY + 86_400_000);

  it('calls a difference in aggregates alone late-events', async () => {
    // The stream left one late event (6.00) out of the windows that the backfill counted.
    const store = await storeWith({ 'aggregates-only': { amount: 4, n_1h: 3, sum_1h: 4 } });
    const report = await audit(store, velocity, { at });
    expect(report.examples).toMatchObject([{ id: 'aggregates-only', cause: 'late-events', features: ['n_1h', 'sum_1h'] }]);
    await store.close();
  });

  it('calls an aggregate and a plain feature differing together unexplained: late events change no plain feature', async () => {
    const store = await storeWith({ 'aggregate-and-plain': { amount: 4.5, n_1h: 3, sum_1h: 4.5 } });
    const report = await audit(store, velocity, { at });
    expect(report.examples).toMatchObject([{ id: 'aggregate-and-plain', cause: 'unexplained', features: ['amount', 'n_1h', 'sum_1h'] }]);
    expect(report.causes).toMatchObject({ 'late-events': 0, unexplained: 1 });
    await store.close();
  });

  it('calls a plain feature differing alone unexplained', async () => {
    const store = await storeWith({ 'plain-only': { amount: 4.5, n_1h: 4, sum_1h: 10 } });
    const report = await audit(store, velocity, { at });
    expect(report.examples).toMatchObject([{ id: 'plain-only', cause: 'unexplained', features: ['amount'] }]);
    await store.close();
  });

  it('counts each identifier under its own cause when both kinds are audited together', async () => {
    const store = await storeWith({
      'aggregates-only': { amount: 4, n_1h: 3, sum_1h: 4 },
      'aggregate-and-plain': { amount: 4.5, n_1h: 3, sum_1h: 4.5 },
      agrees: { amount: 4, n_1h: 4, sum_1h: 10 },
    });
    const report = await audit(store, velocity, { at });
    expect(report).toMatchObject({ sampled: 3, consistent: 1 });
    expect(report.causes).toMatchObject({ 'late-events': 1, unexplained: 1, fingerprint: 0, 'offline-lag': 0, 'ttl-expired': 0, 'delete-pending': 0 });
    await store.close();
  });
});
