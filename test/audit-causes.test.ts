import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { audit, count, createFeatureStore, defineFeatureGroup, type FeatureStore, type OfflineStore, type OfflineStoredRow, sum } from '../src/index.js';
import { memoryOffline, memoryOnline } from '../src/testing/index.js';

// README's "Audit": an inconsistent identifier gets the first cause that explains it. These fixed
// cases sit on the edges of two of them: `delete-pending` (deleted online; the offline delete marker
// is not visible yet) and `late-events` (only aggregate features differ), and on which offline row the
// audit expects online: the one the training rule takes.

const MINUTE = 60_000;
const DAY = Date.UTC(2024, 4, 1);

const source = z.object({ card_id: z.string(), amount_cents: z.number().int(), ts: z.string() });
const cardFields = {
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source,
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e: z.output<typeof source>) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount_cents / 100 }),
} as const;
const cards = defineFeatureGroup({ name: 'audit-edge-cards', ...cardFields });

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

  /**
   * A record at RECORD_AT and a delete marker at its very event time, stamped later (visible from
   * DELETED_AT + DELAY). Built on the backends directly: the point is the audit's reading of the
   * offline rows, whatever wrote them. Online, the record as given.
   */
  async function markerAtRecordTime(online: ReturnType<typeof memoryOnline>): Promise<FeatureStore> {
    const offline = memoryOffline();
    const record = cards.codec.toRecord({ card_id: 'same-time', event_time: new Date(RECORD_AT), amount: 5 });
    const marker = record.filter((f) => f.FeatureName === 'card_id' || f.FeatureName === 'event_time');
    const written = new Date(RECORD_AT + MINUTE);
    await offline.append(cards, [
      { record, writeTime: written, apiInvocationTime: written, isDeleted: false },
      { record: marker, writeTime: new Date(DELETED_AT), apiInvocationTime: new Date(DELETED_AT), isDeleted: true },
    ]);
    return createFeatureStore({ online, offline });
  }

  it("finds a record kept online consistent with a later delete marker at its own event time, pending or visible: the marker loses the tie to the record written first, as online such a delete does not apply", async () => {
    const online = memoryOnline();
    await online.put(cards, [cards.codec.toRecord({ card_id: 'same-time', event_time: new Date(RECORD_AT), amount: 5 })]);
    const store = await markerAtRecordTime(online);
    for (const at of [DELETED_AT + DELAY - 1, DELETED_AT + DELAY]) {
      expect(await audit(store, cards, { sample: ['same-time'], at: new Date(at) })).toMatchObject({ consistent: 1, examples: [] });
    }
    await store.close();
  });

  it("does not call a record missing online delete-pending for a later marker at the record's own event time: once visible the marker still loses the tie", async () => {
    const store = await markerAtRecordTime(memoryOnline());
    for (const at of [DELETED_AT + DELAY - 1, DELETED_AT + DELAY]) {
      const report = await audit(store, cards, { sample: ['same-time'], at: new Date(at) });
      expect(report.examples).toMatchObject([{ id: 'same-time', cause: 'unexplained' }]);
    }
    await store.close();
  });
});

describe('audit and the group TTL, at the edge of expiry', () => {
  // Records live an hour online after their event time; the training rule gives null from then on.
  const expiring = defineFeatureGroup({ name: 'audit-edge-expiring', ...cardFields, ttl: { Unit: 'Hours', Value: 1 } });
  const EXPIRES = DAY + 3_600_000;

  /** A card at midnight, ingested a minute later; the online store's clock is the audit's instant. */
  async function ingested(clock: { now: number }): Promise<FeatureStore> {
    const store = createFeatureStore({ online: memoryOnline({ now: () => clock.now }), offline: memoryOffline(), now: () => clock.now });
    clock.now = DAY + MINUTE;
    await store.ingest(expiring, [{ card_id: 'c', amount_cents: 500, ts: new Date(DAY).toISOString() }]);
    return store;
  }

  it('finds a record consistent a millisecond before it expires, and consistent again from the instant it expires (gone online, null by the rule)', async () => {
    const clock = { now: 0 };
    const store = await ingested(clock);
    for (const at of [EXPIRES - 1, EXPIRES]) {
      clock.now = at;
      const report = await audit(store, expiring, { sample: ['c'], at: new Date(at) });
      expect(report).toMatchObject({ sampled: 1, consistent: 1, examples: [] });
      expect(Object.values(report.causes).every((n) => n === 0)).toBe(true);
    }
    clock.now = EXPIRES - 1;
    expect(await store.get(expiring, 'c')).toMatchObject({ amount: 5 });
    clock.now = EXPIRES;
    expect(await store.get(expiring, 'c')).toBeUndefined();
    await store.close();
  });

  it('calls a record the online store serves past the group TTL ttl-expired, from the instant it expires', async () => {
    // Written online with no TTL (as before the group had one), and offline as usual.
    const online = memoryOnline();
    const offline = memoryOffline();
    const record = expiring.codec.toRecord({ card_id: 'c', event_time: new Date(DAY), amount: 5 });
    await online.put(expiring, [record]);
    await offline.append(expiring, [{ record, writeTime: new Date(DAY + MINUTE), apiInvocationTime: new Date(DAY + MINUTE), isDeleted: false }]);
    const store = createFeatureStore({ online, offline });
    expect(await audit(store, expiring, { sample: ['c'], at: new Date(EXPIRES - 1) })).toMatchObject({ consistent: 1, examples: [] });
    const report = await audit(store, expiring, { sample: ['c'], at: new Date(EXPIRES) });
    expect(report.examples).toMatchObject([{ id: 'c', cause: 'ttl-expired', offline: undefined, online: { amount: 5 } }]);
    await store.close();
  });
});

describe("audit and the offline row the training rule takes of an identifier's rows", () => {
  /** An offline row of card `c`: event time, API invocation time = write time (minutes after DAY), amount. */
  interface Offline {
    readonly et: number;
    readonly written: number;
    readonly amount: number;
  }

  /** Card `c` with these offline rows, in this order, and online the record with amount `served`. */
  async function storeWith(rows: readonly Offline[], served: Offline): Promise<FeatureStore> {
    const online = memoryOnline();
    const offline = memoryOffline();
    const recordOf = (row: Offline) => cards.codec.toRecord({ card_id: 'c', event_time: new Date(DAY + row.et * MINUTE), amount: row.amount });
    await online.put(cards, [recordOf(served)]);
    await offline.append(
      cards,
      rows.map((row) => ({ record: recordOf(row), writeTime: new Date(DAY + row.written * MINUTE), apiInvocationTime: new Date(DAY + row.written * MINUTE), isDeleted: false })),
    );
    return createFeatureStore({ online, offline });
  }

  const AT = new Date(DAY + 3_600_000);

  it('expects the latest event time, and of equal ones the first written, neither the first nor the last offline row', async () => {
    const older = { et: 0, written: 1, amount: 1 };
    const first = { et: 5, written: 6, amount: 5 };
    const second = { et: 5, written: 7, amount: 6 };
    const store = await storeWith([second, first, older], first);
    expect(await audit(store, cards, { sample: ['c'], at: AT })).toMatchObject({ consistent: 1, examples: [] });
    await store.close();
  });

  it('expects, of rows equal in every time column, the one with the least value, stored first or last', async () => {
    const least = { et: 5, written: 6, amount: 5 };
    const more = { et: 5, written: 6, amount: 7 };
    for (const rows of [[least, more], [more, least]]) {
      const store = await storeWith(rows, least);
      expect(await audit(store, cards, { sample: ['c'], at: AT })).toMatchObject({ consistent: 1, examples: [] });
      await store.close();
    }
  });

  it('ranks a value the offline store leaves out before any other, as one it gives as null', async () => {
    const noted = defineFeatureGroup({ name: 'audit-edge-noted', ...cardFields, features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), note: z.string().optional() }) });
    // An offline store of your own that omits a missing value from its rows rather than giving null.
    const rows = memoryOffline();
    const offline: OfflineStore = { ...rows, scan: async (group) => (await rows.scan(group)).map((row) => Object.fromEntries(Object.entries(row).filter(([, v]) => v !== null)) as OfflineStoredRow) };
    const withNote = noted.codec.toRecord({ card_id: 'c', event_time: new Date(DAY), amount: 5, note: 'x' });
    const without = noted.codec.toRecord({ card_id: 'c', event_time: new Date(DAY), amount: 5 });
    const written = new Date(DAY + MINUTE);
    await offline.append(noted, [withNote, without].map((record) => ({ record, writeTime: written, apiInvocationTime: written, isDeleted: false })));
    const online = memoryOnline();
    await online.put(noted, [without]);
    const store = createFeatureStore({ online, offline });
    expect(await audit(store, noted, { sample: ['c'], at: new Date(DAY + 3_600_000) })).toMatchObject({ consistent: 1, examples: [] });
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
