import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createFeatureStore, defineFeatureGroup, lineage, type OfflineStore, type OfflineStoredRow, type OnlineStore, type SageMakerRecord } from '../src/index.js';
import { sampleIds } from '../src/audit/audit.js';
import { FINGERPRINT_FEATURE } from '../src/schema/names.js';
import { memoryOffline, memoryOnline } from '../src/testing/index.js';

// README's "Fingerprint and lineage": which versions of the code (fingerprints) wrote a group's records, offline
// (every row) and online (a sample), with counts and time ranges. Fixed histories with two versions,
// rows without a fingerprint and delete markers.

const row = z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() });
const cards = (version: number) =>
  defineFeatureGroup({ name: 'lineage-cards', recordIdentifier: 'card_id', eventTime: 'event_time', source: row, features: row, transform: (e) => e, version });
const v1 = cards(1);
const v2 = cards(2);
const DAY = Date.UTC(2024, 5, 1);
const HOUR = 3_600_000;

const at = (hours: number) => new Date(DAY + hours * HOUR);
const recordOf = (group: typeof v1, card_id: string, hours: number): SageMakerRecord => group.codec.toRecord({ card_id, event_time: at(hours), amount: hours });
const unsigned = (record: SageMakerRecord) => record.filter((f) => f.FeatureName !== FINGERPRINT_FEATURE);
const written = (record: SageMakerRecord, hours: number, isDeleted = false) => ({ record, writeTime: at(hours), apiInvocationTime: at(hours), isDeleted });

// First in the file: the options schema is built by the first call a file makes, and the mutation run
// sees a change to its messages only in that call.
describe('lineage refuses what it cannot read', () => {
  it('names a wrong option, and a value that is not a group', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline() });
    await expect(lineage(store, v2, { sample: 0 })).rejects.toThrow('lineage options.sample: expected a positive whole number, got 0');
    await expect(lineage(store, v2, { seed: 0.5 })).rejects.toThrow('lineage options.seed: expected a whole number, got 0.5');
    await expect(lineage(store, v2, { samples: 3 } as never)).rejects.toThrow(/unknown option lineage options\.samples \(did you mean "sample"\?\)/);
    await expect(lineage(store, {} as never)).rejects.toThrow(/^lineage: expected a feature group/);
  });
});

describe('lineage', () => {
  /** Offline: v1 wrote a..c at hours 10..12 (written at 20), v2 rewrote b later (event 30, written 40), a tool wrote d without a fingerprint (written 5); a delete marker of v2 at hour 50. Online: a (v1), b (v2), d (none). */
  async function history() {
    const online = memoryOnline();
    const offline = memoryOffline();
    await offline.append(v1, [written(recordOf(v1, 'a', 10), 20), written(recordOf(v1, 'b', 11), 21), written(recordOf(v1, 'c', 12), 22)]);
    await offline.append(v2, [written(recordOf(v2, 'b', 30), 40)]);
    await offline.append(v2, [written(unsigned(recordOf(v2, 'd', 2)), 5)]);
    await offline.append(v2, [written([{ FeatureName: 'card_id', ValueAsString: 'c' }, { FeatureName: 'event_time', ValueAsString: at(99).toISOString() }], 50, true)]);
    await online.put(v2, [recordOf(v1, 'a', 10), recordOf(v2, 'b', 30), unsigned(recordOf(v2, 'd', 2))]);
    return createFeatureStore({ online, offline });
  }

  it('counts every offline row by fingerprint with its event and write times, oldest written first, delete markers left out', async () => {
    const store = await history();
    const report = await lineage(store, v2);
    expect(report.group).toBe('lineage-cards');
    expect(report.fingerprint).toBe(v2.fingerprint);
    expect(report.offline).toStrictEqual([
      { fingerprint: '(none)', current: false, records: 1, firstEventTime: at(2), lastEventTime: at(2), firstWriteTime: at(5), lastWriteTime: at(5) },
      { fingerprint: v1.fingerprint, current: false, records: 3, firstEventTime: at(10), lastEventTime: at(12), firstWriteTime: at(20), lastWriteTime: at(22) },
      { fingerprint: v2.fingerprint, current: true, records: 1, firstEventTime: at(30), lastEventTime: at(30), firstWriteTime: at(40), lastWriteTime: at(40) },
    ]);
    await store.close();
  });

  it('reads online the identifiers the offline rows name, each record by its fingerprint, ordered by event time, without write times', async () => {
    const store = await history();
    const report = await lineage(store, v2);
    // a, b, c and d have offline rows (c only its v1 row and a marker, and nothing online).
    expect(report.onlineSampled).toBe(4);
    expect(report.online).toStrictEqual([
      { fingerprint: '(none)', current: false, records: 1, firstEventTime: at(2), lastEventTime: at(2) },
      { fingerprint: v1.fingerprint, current: false, records: 1, firstEventTime: at(10), lastEventTime: at(10) },
      { fingerprint: v2.fingerprint, current: true, records: 1, firstEventTime: at(30), lastEventTime: at(30) },
    ]);
    await store.close();
  });

  it('reads `sample` identifiers online, picked by `seed` (1 by default) as the audit picks them', async () => {
    const store = await history();
    // Each identifier online has a fingerprint of its own (c has none online): the entries name the identifiers read.
    const fingerprintOf: Record<string, string> = { a: v1.fingerprint, b: v2.fingerprint, d: '(none)' };
    const read = async (options: { sample: number; seed?: number }) => {
      const report = await lineage(store, v2, options);
      return { sampled: report.onlineSampled, fingerprints: report.online.map((e) => e.fingerprint).sort() };
    };
    const expected = (seed: number) => ({ sampled: 2, fingerprints: sampleIds(['a', 'b', 'c', 'd'], 2, seed).flatMap((id) => fingerprintOf[id] ?? []).sort() });
    expect(sampleIds(['a', 'b', 'c', 'd'], 2, 4)).not.toEqual(sampleIds(['a', 'b', 'c', 'd'], 2, 1));
    expect(await read({ sample: 2 })).toEqual(expected(1));
    expect(await read({ sample: 2, seed: 1 })).toEqual(expected(1));
    expect(await read({ sample: 2, seed: 4 })).toEqual(expected(4));
    await store.close();
  });

  it('gives a record whose event time does not parse no event times', async () => {
    // Stores of your own that hand back what another tool wrote (the embedded ones refuse it).
    const memory = memoryOnline();
    const rows = memoryOffline();
    await rows.append(v2, [written(recordOf(v2, 'x', 1), 3)]);
    const broken = (record: SageMakerRecord) => record.map((f) => (f.FeatureName === 'event_time' ? { ...f, ValueAsString: 'not a time' } : f));
    await memory.put(v2, [recordOf(v2, 'x', 1)]);
    const online: OnlineStore = { ...memory, getMany: async (group, ids) => new Map([...(await memory.getMany(group, ids))].map(([id, found]) => [id, { ...found, record: broken(found.record) }])) };
    const offline: OfflineStore = { ...rows, scan: async (group) => (await rows.scan(group)).map((row) => ({ ...row, event_time: 'not a time' })) };
    const store = createFeatureStore({ online, offline });
    const report = await lineage(store, v2);
    expect(report.offline).toStrictEqual([{ fingerprint: v2.fingerprint, current: true, records: 1, firstEventTime: undefined, lastEventTime: undefined, firstWriteTime: at(3), lastWriteTime: at(3) }]);
    expect(report.online).toStrictEqual([{ fingerprint: v2.fingerprint, current: true, records: 1, firstEventTime: undefined, lastEventTime: undefined }]);
    await store.close();
  });

  it('takes first and last times as the least and greatest, whatever order the rows come in', async () => {
    const rows = memoryOffline();
    // Neither event nor write times in order of the scan.
    await rows.append(v1, [written(recordOf(v1, 'a', 12), 22), written(recordOf(v1, 'b', 10), 20), written(recordOf(v1, 'c', 11), 21)]);
    const store = createFeatureStore({ online: memoryOnline(), offline: rows });
    expect((await lineage(store, v1)).offline).toStrictEqual([
      { fingerprint: v1.fingerprint, current: true, records: 3, firstEventTime: at(10), lastEventTime: at(12), firstWriteTime: at(20), lastWriteTime: at(22) },
    ]);
    await store.close();
  });

  it('samples no row without an identifier, and orders online versions without event times first', async () => {
    // What another tool may have written: an offline row without its identifier, online records without their event time.
    const memory = memoryOnline();
    const rows = memoryOffline();
    await rows.append(v1, [written(recordOf(v1, 'a', 5), 6)]);
    await rows.append(v2, [written(recordOf(v2, 'b', 1), 2), written(unsigned(recordOf(v2, 'd', 3)), 4)]);
    await memory.put(v2, [recordOf(v1, 'a', 5), recordOf(v2, 'b', 1), unsigned(recordOf(v2, 'd', 3))]);
    const timeless = (record: SageMakerRecord) => (record.some((f) => f.ValueAsString === v2.fingerprint) ? record : record.filter((f) => f.FeatureName !== 'event_time'));
    const online: OnlineStore = { ...memory, getMany: async (group, ids) => new Map([...(await memory.getMany(group, ids))].map(([id, found]) => [id, { ...found, record: timeless(found.record) }])) };
    const offline: OfflineStore = {
      ...rows,
      scan: async (group) => {
        const scanned = await rows.scan(group);
        return [...scanned, { ...(scanned[0] as OfflineStoredRow), card_id: undefined }];
      },
    };
    const store = createFeatureStore({ online, offline });
    const report = await lineage(store, v2);
    expect(report.onlineSampled).toBe(3);
    expect(report.online.slice(0, 2).map((e) => e.fingerprint).sort()).toEqual(['(none)', v1.fingerprint].sort());
    expect(report.online.slice(0, 2).map((e) => e.firstEventTime)).toEqual([undefined, undefined]);
    expect(report.online[2]).toStrictEqual({ fingerprint: v2.fingerprint, current: true, records: 1, firstEventTime: at(1), lastEventTime: at(1) });
    await store.close();
  });

  it('reads nothing online for a store without an offline tier: the offline rows name the identifiers', async () => {
    const onlineOnly = createFeatureStore({ online: memoryOnline(), offline: false });
    await onlineOnly.put(v2, [{ card_id: 'y', event_time: at(1), amount: 1 }]);
    expect(await lineage(onlineOnly, v2)).toStrictEqual({ group: 'lineage-cards', fingerprint: v2.fingerprint, offline: [], online: [], onlineSampled: 0 });
    await onlineOnly.close();
  });
});
