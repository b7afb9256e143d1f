import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { audit, count, createFeatureStore, defineFeatureGroup, type FeatureStore, type OfflineStore, type OfflineStoredRow, sum } from '../src/index.js';
import { localOffline } from '../src/local/index.js';
import { memoryOffline, memoryOnline } from '../src/testing/index.js';
import { equalValues, sampleIds } from '../src/audit/audit.js';
import { FINGERPRINT_FEATURE } from '../src/schema/names.js';

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

// First in the file: the options schema is built by the first audit a file runs, so this test is the
// one that sees a change to its messages.
describe('audit refuses what it cannot audit', () => {
  it('refuses a store without an offline tier, a value that is not a group, and options it does not know, naming audit', async () => {
    const onlineOnly = createFeatureStore({ online: memoryOnline(), offline: false });
    await expect(audit(onlineOnly, cards)).rejects.toThrow('group "audit-edge-cards": an audit compares online with offline, and the store has no offline tier');
    await expect(audit(onlineOnly, cards)).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    await expect(audit(onlineOnly, undefined as never)).rejects.toThrow(/^audit: expected a feature group/);
    await expect(audit(onlineOnly, cards, { sample: 'lots' as never })).rejects.toThrow(
      'audit options.sample: expected how many identifiers to sample (a positive whole number) or a non-empty list of identifiers, got "lots"',
    );
    await expect(audit(onlineOnly, cards, { sample: [] })).rejects.toThrow('audit options.sample: expected a non-empty list of identifiers, got an empty array');
    await expect(audit(onlineOnly, cards, { sample: ['c', ''] })).rejects.toThrow('audit options.sample[1]: expected a non-empty record identifier, got ""');
    await expect(audit(onlineOnly, cards, { sample: [{}] as never })).rejects.toThrow(
      'audit options.sample: expected how many identifiers to sample (a positive whole number) or a non-empty list of identifiers, got an array',
    );
    await expect(audit(onlineOnly, cards, { seed: 1.5 })).rejects.toThrow('audit options.seed: expected a whole number, got 1.5');
    await expect(audit(onlineOnly, cards, { at: '2024-05-01' as never })).rejects.toThrow('audit options.at: expected a valid Date, got "2024-05-01"');
    await expect(audit(onlineOnly, cards, { tolerance: '0.1' as never })).rejects.toThrow('audit options.tolerance: expected a number, 0 or more, got "0.1"');
  });
});

describe("audit's availabilityDelay by default: the offline store's own, else SageMaker's 15 minutes", () => {
  const at = new Date(DAY + 3_600_000);
  async function visibleUntil(offline: OfflineStore): Promise<Date> {
    const store = createFeatureStore({ online: memoryOnline({ now: () => at.getTime() }), offline, now: () => at.getTime() });
    await store.ingest(cards, [{ card_id: 'c', amount_cents: 500, ts: new Date(DAY).toISOString() }]);
    const report = await audit(store, cards, { sample: ['c'], at });
    // Written at `at` itself: visible only with no delay.
    expect(report.consistent, `${offline.availabilityDelay}`).toBe(offline.availabilityDelay === '0s' ? 1 : 0);
    await store.close();
    return report.visibleUntil;
  }

  it("reads back at once from a store that says '0s' (the embedded store, memoryOffline)", async () => {
    expect(await visibleUntil(memoryOffline())).toEqual(at);
    const local = await localOffline({ memory: true });
    expect(local.availabilityDelay).toBe('0s');
    await local.close();
  });

  it('assumes 15 minutes of a store that does not say (one SageMaker or Firehose delivers to)', async () => {
    const { availabilityDelay: _, ...silent } = memoryOffline();
    expect(await visibleUntil(silent)).toEqual(new Date(at.getTime() - 15 * MINUTE));
  });

  it("names the store's own delay when it is no duration", async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: { ...memoryOffline(), availabilityDelay: 900 as never } });
    await expect(audit(store, cards, { sample: ['c'], at })).rejects.toThrow(/^the offline store's availabilityDelay: /);
  });
});

describe('audit cause delete-pending, at the edge of what is visible offline', () => {
  // Offline rows written up to `at - availabilityDelay` count as visible: 15 minutes, SageMaker's delay.
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
    const report = await audit(store, cards, { sample: ['c'], at: new Date(DELETED_AT + DELAY), availabilityDelay: '15m' });
    expect(report.visibleUntil).toEqual(new Date(DELETED_AT));
    expect(report).toMatchObject({ sampled: 1, consistent: 1, examples: [] });
    expect(Object.values(report.causes).every((n) => n === 0)).toBe(true);
    await store.close();
  });

  it('calls a delete marker written a millisecond after the cut-off delete-pending', async () => {
    const store = await deletedCard();
    const report = await audit(store, cards, { sample: ['c'], at: new Date(DELETED_AT + DELAY - 1), availabilityDelay: '15m' });
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

  it('calls aggregates differing at another event time than the offline row unexplained, as it does a record only online', async () => {
    const online = memoryOnline();
    const offline = memoryOffline();
    await offline.append(velocity, [{ record: velocity.codec.toRecord({ card_id: 'moved', event_time: EVENT, amount: 4, n_1h: 4, sum_1h: 10 }), writeTime: WRITTEN, apiInvocationTime: WRITTEN, isDeleted: false }]);
    await online.put(velocity, [
      velocity.codec.toRecord({ card_id: 'moved', event_time: new Date(EVENT.getTime() + MINUTE), amount: 4, n_1h: 3, sum_1h: 4 }),
      velocity.codec.toRecord({ card_id: 'online-only', event_time: EVENT, amount: 4, n_1h: 3, sum_1h: 4 }),
    ]);
    const store = createFeatureStore({ online, offline });
    const report = await audit(store, velocity, { sample: ['moved', 'online-only'], at });
    expect(report.examples.map((e) => [e.id, e.cause])).toEqual([
      ['moved', 'unexplained'],
      ['online-only', 'unexplained'],
    ]);
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

describe('equalValues: how the audit compares an online and an offline value', () => {
  it('takes a missing value (undefined or null) as equal only to another missing one', () => {
    expect(equalValues(undefined, null, 0)).toBe(true);
    expect(equalValues(null, undefined, 0)).toBe(true);
    for (const [a, b] of [[null, 0], [0, null], [undefined, 0], [0, undefined], ['', null], [null, ''], [false, undefined]] as const) expect(equalValues(a, b, 0)).toBe(false);
  });

  it('compares dates by instant, numbers within the tolerance (bound included) and lists item by item', () => {
    expect(equalValues(new Date(5), new Date(5), 0)).toBe(true);
    expect(equalValues(new Date(5), new Date(6), 0)).toBe(false);
    expect(equalValues(new Date(5), 5, 0)).toBe(false);
    expect(equalValues(1, 1.25, 0.5)).toBe(true);
    expect(equalValues(1, 1.5, 0.5)).toBe(true);
    expect(equalValues(1, 1.75, 0.5)).toBe(false);
    expect(equalValues(-1, 1, 1.5)).toBe(false);
    expect(equalValues(Number.NaN, Number.NaN, 0)).toBe(true);
    expect(equalValues(Number.NaN, 1, 0)).toBe(false);
    expect(equalValues(1, Number.NaN, 0)).toBe(false);
    expect(equalValues(1, '1', 0)).toBe(false);
    expect(equalValues('1', 1, 0)).toBe(false);
    expect(equalValues(['a', 'b'], ['a', 'b'], 0)).toBe(true);
    expect(equalValues([1, 2], [1.25, 2], 0.5)).toBe(true);
    expect(equalValues(['a'], ['a', 'b'], 0)).toBe(false);
    expect(equalValues(['a', 'b'], ['a', 'c'], 0)).toBe(false);
    expect(equalValues(['a'], 'a', 0)).toBe(false);
    expect(equalValues('a', 'b', 0)).toBe(false);
    expect(equalValues(1n, 2n, 0)).toBe(false);
    expect(equalValues(2n, 2n, 0)).toBe(true);
  });
});

describe('sampleIds', () => {
  it('picks the same identifiers whatever order the store returned them in, once each, and other ones for another seed', () => {
    const ids = Array.from({ length: 20 }, (_, i) => `id-${i}`);
    const picked = sampleIds(ids, 5, 1);
    expect(picked).toHaveLength(5);
    expect(sampleIds([...ids].reverse(), 5, 1)).toEqual(picked);
    expect(sampleIds([...ids, ...ids], 20, 1)).toHaveLength(20);
    expect(sampleIds(ids, 5, 2)).not.toEqual(picked);
  });
});

describe("audit's report, feature by feature", () => {
  const typedConfig = {
    name: 'audit-cells',
    ...cardFields,
    features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), n: z.number().int(), big: z.bigint(), seen: z.date(), note: z.string().optional() }),
    transform: (e: z.output<typeof source>) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount_cents / 100, n: 1, big: 1n, seen: new Date(DAY), note: undefined }),
  };
  const typed = defineFeatureGroup(typedConfig);
  type Values = { amount: number; n: number; big: bigint; seen: Date; note?: string };
  const base: Values = { amount: 1, n: 1, big: 1n, seen: new Date(DAY) };
  const EVENT = new Date(DAY);
  const WRITTEN = new Date(DAY + MINUTE);

  async function storeWith(cards: Record<string, { online?: Values; offline?: Values }>): Promise<FeatureStore> {
    const online = memoryOnline();
    const offline = memoryOffline();
    for (const [card_id, sides] of Object.entries(cards)) {
      if (sides.online) await online.put(typed, [typed.codec.toRecord({ card_id, event_time: EVENT, ...sides.online })]);
      if (sides.offline) {
        await offline.append(typed, [{ record: typed.codec.toRecord({ card_id, event_time: EVENT, ...sides.offline }), writeTime: WRITTEN, apiInvocationTime: WRITTEN, isDeleted: false }]);
      }
    }
    return createFeatureStore({ online, offline });
  }

  it('counts matches, mismatches and missing values per feature, with the spread of number differences, and names the inconsistent identifiers up to `examples`', async () => {
    const store = await storeWith({
      agrees: { online: base, offline: base },
      differs: { online: { amount: 10.5, n: 3, big: 10n, seen: new Date(DAY + 1), note: 'x' }, offline: { amount: 10, n: 5, big: 7n, seen: new Date(DAY) } },
      // Within the tolerance of 0.3: the same.
      close: { online: { ...base, amount: 3.25 }, offline: { ...base, amount: 3.5 } },
      'online-only': { online: base },
      'offline-only': { offline: base },
    });
    const report = await audit(store, typed, { sample: ['agrees', 'differs', 'close', 'nowhere', 'online-only', 'offline-only'], tolerance: 0.3, examples: 2, at: new Date(DAY + 86_400_000) });
    // 'nowhere' is in neither store: named, and left out of the counts.
    expect(report).toMatchObject({ sampled: 5, consistent: 2, consistencyRate: 0.4, unknown: ['nowhere'] });
    // An elapsed time, not an instant.
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    expect(report.durationMs).toBeLessThan(3_600_000);
    expect(Object.keys(report.features)).toEqual(['event_time', 'amount', 'n', 'big', 'seen', 'note']);
    // Two identifiers agree, one differs, one is only online, one only offline.
    const tallies = { match: 2, mismatch: 1, missingOnline: 1, missingOffline: 1, matchRate: 0.4, mismatchRate: 0.2 };
    // Differences online - offline: 0 (agrees), 0.5 (differs, over the tolerance), -0.25 (close).
    expect(report.features['amount']).toStrictEqual({ ...tallies, differences: { count: 3, min: -0.25, p50: 0, p95: 0.5, max: 0.5, meanAbs: 0.25 } });
    expect(report.features['n']).toStrictEqual({ ...tallies, differences: { count: 3, min: -2, p50: 0, p95: 0, max: 0, meanAbs: 2 / 3 } });
    // Big integers differ as numbers; equal ones add no difference.
    expect(report.features['big']?.differences).toStrictEqual({ count: 1, min: 3, p50: 3, p95: 3, max: 3, meanAbs: 3 });
    expect(report.features['seen']).toStrictEqual(tallies);
    // A missing note is no difference, whichever side has no record.
    expect(report.features['note']).toStrictEqual({ match: 4, mismatch: 1, missingOnline: 0, missingOffline: 0, matchRate: 4 / 5, mismatchRate: 1 / 5 });
    expect(report.features['event_time']).toMatchObject({ match: 3, mismatch: 0, missingOnline: 1, missingOffline: 1 });
    expect(report.causes).toMatchObject({ unexplained: 3 });
    expect(report.examples.map((e) => [e.id, e.cause, e.features])).toEqual([
      ['differs', 'unexplained', ['amount', 'n', 'big', 'seen', 'note']],
      ['online-only', 'unexplained', ['event_time', 'amount', 'n', 'big', 'seen']],
    ]);
    await store.close();
  });

  it('counts a feature that one side leaves out as a mismatch, without a number difference', async () => {
    const online = memoryOnline();
    const offline = memoryOffline();
    const without = (values: Values, feature: string) => typed.codec.toRecord({ card_id: 'c', event_time: EVENT, ...values }).filter((f) => f.FeatureName !== feature);
    // Online lacks `n`, offline lacks `amount` (it reads as null); `big` differs on both sides.
    await online.put(typed, [without({ ...base, big: 5n }, 'n')]);
    await offline.append(typed, [{ record: without(base, 'amount'), writeTime: WRITTEN, apiInvocationTime: WRITTEN, isDeleted: false }]);
    const store = createFeatureStore({ online, offline });
    const report = await audit(store, typed, { sample: ['c'], at: new Date(DAY + 86_400_000) });
    expect(report.examples.map((e) => e.features)).toEqual([['amount', 'n', 'big']]);
    const mismatch = { match: 0, mismatch: 1, missingOnline: 0, missingOffline: 0, matchRate: 0, mismatchRate: 1 };
    expect(report.features['amount']).toStrictEqual(mismatch);
    expect(report.features['n']).toStrictEqual(mismatch);
    expect(report.features['big']).toStrictEqual({ ...mismatch, differences: { count: 1, min: 4, p50: 4, p95: 4, max: 4, meanAbs: 4 } });
    // Equal dates and strings are matches without a number difference.
    expect(report.features['seen']).toStrictEqual({ ...mismatch, match: 1, mismatch: 0, matchRate: 1, mismatchRate: 0 });
    expect(report.features['event_time']).toStrictEqual({ ...mismatch, match: 1, mismatch: 0, matchRate: 1, mismatchRate: 0 });
    await store.close();
  });

  it('gives no consistency or match rate, not 100% or 0% of nothing, when the offline store has no rows to sample', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline() });
    const report = await audit(store, typed, { at: new Date(DAY) });
    expect(report).toMatchObject({ sampled: 0, consistent: 0, examples: [] });
    expect(report.consistencyRate).toBeUndefined();
    const none = { match: 0, mismatch: 0, missingOnline: 0, missingOffline: 0, matchRate: undefined, mismatchRate: undefined };
    expect(report.features).toStrictEqual(Object.fromEntries(['event_time', 'amount', 'n', 'big', 'seen', 'note'].map((name) => [name, none])));
    await store.close();
  });

  it('calls a record written online by other code (another fingerprint) fingerprint, whatever else differs', async () => {
    const changed = defineFeatureGroup({ ...typedConfig, version: 2 });
    expect(changed.fingerprint).not.toBe(typed.fingerprint);
    const online = memoryOnline();
    const offline = memoryOffline();
    await online.put(typed, [changed.codec.toRecord({ card_id: 'c', event_time: EVENT, ...base, amount: 2 }), typed.codec.toRecord({ card_id: 'd', event_time: EVENT, ...base, amount: 2 })]);
    await offline.append(typed, ['c', 'd'].map((card_id) => ({ record: typed.codec.toRecord({ card_id, event_time: EVENT, ...base }), writeTime: WRITTEN, apiInvocationTime: WRITTEN, isDeleted: false })));
    const store = createFeatureStore({ online, offline });
    const report = await audit(store, typed, { sample: ['c', 'd'], at: new Date(DAY + 86_400_000) });
    expect(report.examples.map((e) => [e.id, e.cause])).toEqual([
      ['c', 'fingerprint'],
      ['d', 'unexplained'],
    ]);
    expect(report.causes).toMatchObject({ fingerprint: 1, unexplained: 1 });
    await store.close();
  });

  it('calls no fingerprint cause when the online record carries no fingerprint (written by code that sets none)', async () => {
    const online = memoryOnline();
    const offline = memoryOffline();
    const record = typed.codec.toRecord({ card_id: 'c', event_time: EVENT, ...base, amount: 2 });
    await online.put(typed, [record.filter((f) => f.FeatureName !== FINGERPRINT_FEATURE)]);
    await offline.append(typed, [{ record: typed.codec.toRecord({ card_id: 'c', event_time: EVENT, ...base }), writeTime: WRITTEN, apiInvocationTime: WRITTEN, isDeleted: false }]);
    const store = createFeatureStore({ online, offline });
    const report = await audit(store, typed, { sample: ['c'], at: new Date(DAY + 86_400_000) });
    expect(report.examples.map((e) => e.cause)).toEqual(['unexplained']);
    await store.close();
  });

  it('calls no fingerprint cause when the offline row carries no fingerprint (it reads as null)', async () => {
    const online = memoryOnline();
    const offline = memoryOffline();
    await online.put(typed, [typed.codec.toRecord({ card_id: 'c', event_time: EVENT, ...base, amount: 2 })]);
    const record = typed.codec.toRecord({ card_id: 'c', event_time: EVENT, ...base }).filter((f) => f.FeatureName !== FINGERPRINT_FEATURE);
    await offline.append(typed, [{ record, writeTime: WRITTEN, apiInvocationTime: WRITTEN, isDeleted: false }]);
    const store = createFeatureStore({ online, offline });
    expect((await offline.scan(typed))[0]?.[FINGERPRINT_FEATURE]).toBeNull();
    const report = await audit(store, typed, { sample: ['c'], at: new Date(DAY + 86_400_000) });
    expect(report.examples.map((e) => e.cause)).toEqual(['unexplained']);
    await store.close();
  });

  it('samples by its seed (1 by default) among the identifiers the offline store has, leaving out rows without one', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `card-${String(i).padStart(2, '0')}`);
    // Every identifier differs online, so the examples name the whole sample.
    const store = await storeWith(Object.fromEntries(ids.map((id) => [id, { online: { ...base, amount: 2 }, offline: base }])));
    const { offline } = await store.backends();
    const rows = offline as OfflineStore;
    // An offline store of your own that also holds a row without an identifier.
    const withKeyless: OfflineStore = {
      ...rows,
      scan: async (group) => {
        const scanned = await rows.scan(group);
        return [...scanned, { ...scanned[0], card_id: null } as unknown as OfflineStoredRow];
      },
    };
    const sampled = createFeatureStore({ online: (await store.backends()).online, offline: withKeyless });
    const examples = async (seed?: number) =>
      (await audit(sampled, typed, { sample: 4, at: new Date(DAY + 86_400_000), ...(seed === undefined ? {} : { seed }) })).examples.map((e) => e.id).sort();
    expect(await examples()).toEqual([...sampleIds(ids, 4, 1)].sort());
    expect(await examples(7)).toEqual([...sampleIds(ids, 4, 7)].sort());
    expect(await examples(7)).not.toEqual(await examples(1));
    expect((await audit(sampled, typed, { sample: 100, at: new Date(DAY + 86_400_000) })).sampled).toBe(12);
  });
});

describe('audit cause offline-lag, only for a newer online record whose own row is not visible yet', () => {
  const T0 = DAY;
  const T1 = DAY + 10 * MINUTE;
  const T2 = DAY + 20 * MINUTE;
  const AT = new Date(DAY + 3 * 3_600_000);
  // Visible: written two hours before AT (the delay is 15 minutes); not yet: written a minute before AT.
  const VISIBLE = new Date(DAY + 3_600_000);
  const PENDING = new Date(AT.getTime() - MINUTE);

  async function storeWith(rows: { at: number; amount: number; written: Date; deleted?: boolean }[], served: { at: number; amount: number }): Promise<FeatureStore> {
    const online = memoryOnline();
    const offline = memoryOffline();
    const recordOf = (at: number, amount: number) => cards.codec.toRecord({ card_id: 'c', event_time: new Date(at), amount });
    await online.put(cards, [recordOf(served.at, served.amount)]);
    await offline.append(cards, rows.map((r) => ({ record: recordOf(r.at, r.amount), writeTime: r.written, apiInvocationTime: r.written, isDeleted: r.deleted ?? false })));
    return createFeatureStore({ online, offline });
  }
  const causeOf = async (store: FeatureStore) => (await audit(store, cards, { sample: ['c'], at: AT, availabilityDelay: '15m' })).examples.map((e) => e.cause);

  it('is offline-lag when a pending row has the online event time', async () => {
    expect(await causeOf(await storeWith([{ at: T0, amount: 1, written: VISIBLE }, { at: T1, amount: 2, written: PENDING }], { at: T1, amount: 2 }))).toEqual(['offline-lag']);
  });

  it('is not when the pending row has another event time, or is a delete marker', async () => {
    expect(await causeOf(await storeWith([{ at: T0, amount: 1, written: VISIBLE }, { at: T2, amount: 3, written: PENDING }], { at: T1, amount: 2 }))).toEqual(['unexplained']);
    expect(await causeOf(await storeWith([{ at: T0, amount: 1, written: VISIBLE }, { at: T1, amount: 2, written: PENDING, deleted: true }], { at: T1, amount: 2 }))).toEqual(['unexplained']);
  });

  it('is not when the online record is no newer than the visible row it differs from', async () => {
    expect(await causeOf(await storeWith([{ at: T1, amount: 1, written: VISIBLE }, { at: T1, amount: 2, written: PENDING }], { at: T1, amount: 2 }))).toEqual(['unexplained']);
  });
});
