import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SageMakerRecord } from '../../src/index.js';
import type { GroupSchema } from '../../src/schema/sagemaker-record.js';
import type { OnlineStore } from '../../src/store/types.js';

/** A group as CreateFeatureGroup knows it, with every SageMaker type. */
export const contractGroup: GroupSchema = {
  name: 'contract-group',
  recordIdentifier: 'id',
  eventTime: 'event_time',
  featureDefinitions: [
    { FeatureName: 'id', FeatureType: 'String' },
    { FeatureName: 'event_time', FeatureType: 'String' },
    { FeatureName: 'amount', FeatureType: 'Fractional' },
    { FeatureName: 'count', FeatureType: 'Integral' },
  ],
};

export function contractRecord(id: string, eventTime: string, amount = 1, count = '1'): SageMakerRecord {
  return [
    { FeatureName: 'id', ValueAsString: id },
    { FeatureName: 'event_time', ValueAsString: eventTime },
    { FeatureName: 'amount', ValueAsString: String(amount) },
    { FeatureName: 'count', ValueAsString: count },
  ];
}

/** SageMaker applies the write rule without saying which way it went: `accepted` stands for either. */
const applied = (outcomes: readonly unknown[]) => expect(outcomes.map((o) => (o === 'accepted' ? 'applied' : o)));
const stale = (outcomes: readonly unknown[]) => expect(outcomes.map((o) => (o === 'accepted' ? 'stale' : o)));
const deleted = (status: string) => expect(status === 'accepted' ? 'deleted' : status);

const value = (record: SageMakerRecord | undefined, name: string) => record?.find((f) => f.FeatureName === name)?.ValueAsString;

/**
 * The OnlineStore contract, run against every backend: the write rule, reads,
 * deletes and TTL behave the same whatever stores the records.
 */
export function onlineStoreContract(
  name: string,
  open: () => Promise<{ store: OnlineStore; group?: GroupSchema; advanceClock?: (ms: number) => void }>,
): void {
  describe(`OnlineStore contract: ${name}`, () => {
    let store: OnlineStore;
    let group: GroupSchema;
    let advanceClock: ((ms: number) => void) | undefined;
    let n = 0;
    const freshId = () => `id-${++n}-${Math.random().toString(36).slice(2, 8)}`;

    beforeAll(async () => {
      const opened = await open();
      store = opened.store;
      group = opened.group ?? contractGroup;
      advanceClock = opened.advanceClock;
    });
    afterAll(async () => {
      await store.close();
    });

    it('stores a record and reads it back unchanged', async () => {
      const id = freshId();
      const record = contractRecord(id, '2024-05-01T12:00:00.000Z', 12.5, '9223372036854775807');
      applied(await store.put(group, [record])).toEqual(['applied']);
      expect((await store.get(group, id))?.record).toEqual(record);
    });

    it('keeps its own copy: changing the written objects afterwards changes nothing stored', async () => {
      const id = freshId();
      const record = contractRecord(id, '2024-05-01T12:00:00.000Z', 3);
      applied(await store.put(group, [record])).toEqual(['applied']);
      (record[2] as { ValueAsString: string }).ValueAsString = '999';
      record.pop();
      expect((await store.get(group, id))?.record).toEqual(contractRecord(id, '2024-05-01T12:00:00.000Z', 3));
      // Nor does changing what a read returned.
      const read = (await store.get(group, id))?.record as SageMakerRecord;
      (read[2] as { ValueAsString: string }).ValueAsString = '7';
      expect(value((await store.get(group, id))?.record, 'amount')).toBe('3');
    });

    it('returns undefined for an identifier never written', async () => {
      expect(await store.get(group, freshId())).toBeUndefined();
    });

    it('replaces a record only with a strictly newer event time', async () => {
      const id = freshId();
      applied(await store.put(group, [contractRecord(id, '2024-05-01T12:00:00.000Z', 1)])).toEqual(['applied']);
      stale(await store.put(group, [contractRecord(id, '2024-05-01T11:00:00.000Z', 2)])).toEqual(['stale']);
      stale(await store.put(group, [contractRecord(id, '2024-05-01T12:00:00.000Z', 3)])).toEqual(['stale']);
      expect(value((await store.get(group, id))?.record, 'amount')).toBe('1');
      applied(await store.put(group, [contractRecord(id, '2024-05-01T12:00:00.001Z', 4)])).toEqual(['applied']);
      expect(value((await store.get(group, id))?.record, 'amount')).toBe('4');
    });

    it('applies the rule in order within one batch', async () => {
      const id = freshId();
      const statuses = (await store.put(group, [
        contractRecord(id, '2024-05-01T10:00:00Z', 1),
        contractRecord(id, '2024-05-01T12:00:00Z', 2),
        contractRecord(id, '2024-05-01T11:00:00Z', 3),
        contractRecord(id, '2024-05-01T12:00:00Z', 4),
      ])).filter((s) => s !== 'accepted');
      if (statuses.length > 0) expect(statuses).toEqual(['applied', 'applied', 'stale', 'stale']);
      expect(value((await store.get(group, id))?.record, 'amount')).toBe('2');
    });

    it('reads only the named features when asked', async () => {
      const id = freshId();
      await store.put(group, [contractRecord(id, '2024-05-01T12:00:00Z', 7)]);
      expect((await store.get(group, id, { features: ['amount'] }))?.record).toEqual([{ FeatureName: 'amount', ValueAsString: '7' }]);
    });

    it('reads only the named features of many identifiers when asked (BatchGetRecord FeatureNames)', async () => {
      const ids = [freshId(), freshId()];
      await store.put(group, ids.map((id, i) => contractRecord(id, '2024-05-01T12:00:00Z', 8 + i)));
      const found = await store.getMany(group, ids, { features: ['amount'] });
      expect(ids.map((id) => found.get(id)?.record)).toEqual([[{ FeatureName: 'amount', ValueAsString: '8' }], [{ FeatureName: 'amount', ValueAsString: '9' }]]);
    });

    it('reads many identifiers at once, leaving missing ones out', async () => {
      const ids = Array.from({ length: 250 }, () => freshId());
      await store.put(group, ids.map((id, i) => contractRecord(id, '2024-05-01T12:00:00Z', i)));
      const missing = freshId();
      const found = await store.getMany(group, [...ids, missing]);
      expect(found.size).toBe(250);
      expect(found.has(missing)).toBe(false);
      expect(value(found.get(ids[249] as string)?.record, 'amount')).toBe('249');
    });

    it('soft-deletes: the record is gone, and older writes stay out', async () => {
      const id = freshId();
      await store.put(group, [contractRecord(id, '2024-05-01T12:00:00Z')]);
      deleted(await store.delete(group, id, '2024-05-01T13:00:00Z', 'SoftDelete')).toBe('deleted');
      expect(await store.get(group, id)).toBeUndefined();
      stale(await store.put(group, [contractRecord(id, '2024-05-01T12:30:00Z')])).toEqual(['stale']);
      expect(await store.get(group, id)).toBeUndefined();
      applied(await store.put(group, [contractRecord(id, '2024-05-01T14:00:00Z', 5)])).toEqual(['applied']);
      expect(value((await store.get(group, id))?.record, 'amount')).toBe('5');
    });

    it('hard-deletes: the identifier is forgotten, so any later write applies', async () => {
      const id = freshId();
      await store.put(group, [contractRecord(id, '2024-05-01T12:00:00Z')]);
      deleted(await store.delete(group, id, '2024-05-01T13:00:00Z', 'HardDelete')).toBe('deleted');
      expect(await store.get(group, id)).toBeUndefined();
      applied(await store.put(group, [contractRecord(id, '2024-05-01T00:00:00Z')])).toEqual(['applied']);
      expect(value((await store.get(group, id))?.record, 'event_time')).toBe('2024-05-01T00:00:00Z');
    });

    it('refuses a delete older than the stored record', async () => {
      const id = freshId();
      await store.put(group, [contractRecord(id, '2024-05-01T12:00:00Z')]);
      expect(['stale', 'accepted']).toContain(await store.delete(group, id, '2024-05-01T11:00:00Z', 'SoftDelete'));
      expect(await store.delete(group, id, '2024-05-01T11:00:00Z', 'HardDelete')).toBe('stale');
      expect(await store.get(group, id)).toBeDefined();
    });

    // DeleteRecord (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_DeleteRecord.html):
    // "the EventTime specified in DeleteRecord should be set later than the EventTime of the existing
    // record ... If it is not, the deletion does not occur": a SoftDelete leaves the record, a HardDelete
    // fails with a ValidationException. Equal is not later, as for puts (README: "strictly newer").
    it('does not delete on a SoftDelete at exactly the stored event time: the record stays as it was (DeleteRecord: EventTime must be later)', async () => {
      const id = freshId();
      const record = contractRecord(id, '2024-05-01T12:00:00.000Z', 6);
      applied(await store.put(group, [record])).toEqual(['applied']);
      expect(['stale', 'accepted']).toContain(await store.delete(group, id, '2024-05-01T12:00:00.000Z', 'SoftDelete'));
      expect((await store.get(group, id))?.record).toEqual(record);
      expect((await store.getMany(group, [id])).get(id)?.record).toEqual(record);
    });

    it('refuses a HardDelete at exactly the stored event time as stale: the record stays as it was (DeleteRecord: EventTime must be later, else 400)', async () => {
      const id = freshId();
      const record = contractRecord(id, '2024-05-01T12:00:00.000Z', 8);
      applied(await store.put(group, [record])).toEqual(['applied']);
      expect(await store.delete(group, id, '2024-05-01T12:00:00.000Z', 'HardDelete')).toBe('stale');
      expect((await store.get(group, id))?.record).toEqual(record);
      // Not forgotten either: an older write is still stale.
      stale(await store.put(group, [contractRecord(id, '2024-05-01T11:00:00.000Z', 9)])).toEqual(['stale']);
      expect(value((await store.get(group, id))?.record, 'amount')).toBe('8');
    });

    it('compares a delete\'s event time with the stored one as an instant, whatever its spelling', async () => {
      // The same instant written without milliseconds and deleted with them: still not later.
      const id = freshId();
      const record = contractRecord(id, '2024-05-01T12:00:00Z', 4);
      applied(await store.put(group, [record])).toEqual(['applied']);
      expect(await store.delete(group, id, '2024-05-01T12:00:00.000Z', 'HardDelete')).toBe('stale');
      expect(['stale', 'accepted']).toContain(await store.delete(group, id, '2024-05-01T12:00:00.000Z', 'SoftDelete'));
      expect((await store.get(group, id))?.record).toEqual(record);
      // One millisecond later is later.
      deleted(await store.delete(group, id, '2024-05-01T12:00:00.001Z', 'HardDelete')).toBe('deleted');
      expect(await store.get(group, id)).toBeUndefined();
    });

    it('expires records after their TTL, counted from the event time', async () => {
      const id = freshId();
      const eventTime = new Date(Date.now() - 30_000).toISOString();
      await store.put(group, [contractRecord(id, eventTime)], { ttl: { Unit: 'Minutes', Value: 1 } });
      const stored = await store.get(group, id);
      expect(stored?.expiresAt?.getTime()).toBe(Date.parse(eventTime) + 60_000);
      if (advanceClock) {
        advanceClock(31_000);
        expect(await store.get(group, id)).toBeUndefined();
        expect((await store.getMany(group, [id])).size).toBe(0);
      }
    });
  });
}
