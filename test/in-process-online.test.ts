import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError, ConfigurationError, FeatureValidationError } from '../src/index.js';
import { localOnline } from '../src/local/index.js';
import type { GroupSchema } from '../src/schema/sagemaker-record.js';
import type { OnlineStore } from '../src/store/types.js';
import { memoryOnline } from '../src/testing/index.js';
import { contractGroup, contractRecord } from './contracts/online-store.js';

// The write rule at its edges in the two online stores that run in-process (plain memory and the
// embedded DuckDB): ties, deletes at exactly the stored event time, and the instant a TTL ends.
// The contract (test/contracts/online-store.ts) holds the rule for every backend; these are the
// cases a remote backend cannot pin (a clock set to the millisecond) and the embedded store's log.

const NOON = Date.parse('2024-05-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();
const amount = (found: { record: readonly { FeatureName: string; ValueAsString?: string }[] } | undefined) => found?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString;
const ONE_MINUTE = { Unit: 'Minutes', Value: 1 } as const;

afterEach(() => {
  vi.useRealTimers();
});

/** Each in-process store, on a clock the test sets. */
const stores: [string, (now: () => number) => Promise<OnlineStore>][] = [
  ['memoryOnline', async (now) => memoryOnline({ now })],
  ['localOnline', (now) => localOnline({ memory: true, now })],
];

describe.each(stores)('the write rule of %s', (_name, open) => {
  let clock = NOON;
  const at = (ms: number) => {
    clock = ms;
  };
  const fresh = async () => {
    clock = NOON;
    return open(() => clock);
  };

  it('serves a record until the millisecond before its TTL ends, and not at that millisecond', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON))], { ttl: ONE_MINUTE });
    at(NOON + 59_999);
    expect((await store.get(contractGroup, 'a'))?.expiresAt).toEqual(new Date(NOON + 60_000));
    expect((await store.getMany(contractGroup, ['a'])).get('a')?.expiresAt).toEqual(new Date(NOON + 60_000));
    at(NOON + 60_000);
    expect(await store.get(contractGroup, 'a')).toBeUndefined();
    expect((await store.getMany(contractGroup, ['a'])).size).toBe(0);
    await store.close();
  });

  it('serves a record without a TTL with no expiry time', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON))]);
    expect(await store.get(contractGroup, 'a')).toEqual({ record: contractRecord('a', iso(NOON)) });
    expect((await store.getMany(contractGroup, ['a'])).get('a')).toEqual({ record: contractRecord('a', iso(NOON)) });
    await store.close();
  });

  it('lets an expired record hold back nothing: an older write applies', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON), 1)], { ttl: ONE_MINUTE });
    at(NOON + 60_000);
    expect(await store.put(contractGroup, [contractRecord('a', iso(NOON - 1000), 2)])).toEqual(['applied']);
    expect(amount(await store.get(contractGroup, 'a'))).toBe('2');
    await store.close();
  });

  it('lets an expired record hold back nothing: an older delete deletes', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON), 1)], { ttl: ONE_MINUTE });
    at(NOON + 60_000);
    expect(await store.delete(contractGroup, 'a', iso(NOON - 1000), 'SoftDelete')).toBe('deleted');
    // The marker holds the delete's time: a write at that time is a tie, and stale.
    expect(await store.put(contractGroup, [contractRecord('a', iso(NOON - 1000), 3)])).toEqual(['stale']);
    await store.close();
  });

  it('keeps a record until the millisecond its TTL ends, for the write rule too', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON), 1)], { ttl: ONE_MINUTE });
    at(NOON + 59_999);
    expect(await store.put(contractGroup, [contractRecord('a', iso(NOON - 1000), 2)])).toEqual(['stale']);
    expect(await store.delete(contractGroup, 'a', iso(NOON - 1000), 'HardDelete')).toBe('stale');
    expect(amount(await store.get(contractGroup, 'a'))).toBe('1');
    await store.close();
  });

  it('counts the TTL from the event time of the newest write, not the first', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON), 1), contractRecord('a', iso(NOON + 30_000), 2)], { ttl: ONE_MINUTE });
    at(NOON + 60_000);
    expect(amount(await store.get(contractGroup, 'a'))).toBe('2');
    await store.close();
  });

  it('treats a write at exactly a soft delete\'s event time as a tie: stale, and the identifier stays deleted', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON), 1)]);
    expect(await store.delete(contractGroup, 'a', iso(NOON + 1000), 'SoftDelete')).toBe('deleted');
    expect(await store.put(contractGroup, [contractRecord('a', iso(NOON + 1000), 2)])).toEqual(['stale']);
    expect(await store.delete(contractGroup, 'a', iso(NOON + 1000), 'SoftDelete')).toBe('stale');
    expect(await store.get(contractGroup, 'a')).toBeUndefined();
    expect(await store.put(contractGroup, [contractRecord('a', iso(NOON + 1001), 3)])).toEqual(['applied']);
    expect(amount(await store.get(contractGroup, 'a'))).toBe('3');
    await store.close();
  });

  it('deletes an identifier never written, and then keeps older writes out', async () => {
    const store = await fresh();
    expect(await store.delete(contractGroup, 'never', iso(NOON), 'SoftDelete')).toBe('deleted');
    expect(await store.put(contractGroup, [contractRecord('never', iso(NOON - 1))])).toEqual(['stale']);
    await store.close();
  });

  it('forgets a hard-deleted identifier: an older delete deletes again', async () => {
    const store = await fresh();
    await store.put(contractGroup, [contractRecord('a', iso(NOON))]);
    expect(await store.delete(contractGroup, 'a', iso(NOON + 1000), 'HardDelete')).toBe('deleted');
    expect(await store.delete(contractGroup, 'a', iso(NOON - 1000), 'HardDelete')).toBe('deleted');
    await store.close();
  });

  it('keeps the identifiers of two groups apart', async () => {
    const store = await fresh();
    const other: GroupSchema = { ...contractGroup, name: 'other-group' };
    await store.put(contractGroup, [contractRecord('a', iso(NOON), 1)]);
    expect(await store.put(other, [contractRecord('a', iso(NOON - 1000), 2)])).toEqual(['applied']);
    expect(amount(await store.get(contractGroup, 'a'))).toBe('1');
    expect(amount(await store.get(other, 'a'))).toBe('2');
    await store.close();
  });
});

describe('memoryOnline', () => {
  it('refuses a record the group does not define, naming the group', async () => {
    const store = memoryOnline();
    await expect(store.put(contractGroup, [[{ FeatureName: 'id', ValueAsString: 'a' }]])).rejects.toThrow(new TypeError('group "contract-group": event time event_time is missing'));
  });

  it('refuses a delete whose event time is not a time, naming the group', async () => {
    const store = memoryOnline();
    await expect(store.delete(contractGroup, 'a', 'noon', 'SoftDelete')).rejects.toThrow(/^group "contract-group": event time "noon" is not a valid time/);
  });

  it('reports a write not started by the deadline as retryable, and stores nothing', async () => {
    const store = memoryOnline();
    const [outcome] = await store.put(contractGroup, [contractRecord('a', iso(NOON))], { deadline: Date.now() - 1 });
    expect(outcome).toBeInstanceOf(BackendError);
    expect(outcome).toMatchObject({ code: 'DEADLINE_EXCEEDED', retryable: true, message: 'group "contract-group": not written, the invocation ran out of time' });
    expect(await store.get(contractGroup, 'a')).toBeUndefined();
  });

  it('reports a write that would start exactly at the deadline', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOON });
    const store = memoryOnline();
    const outcomes = await store.put(contractGroup, [contractRecord('a', iso(NOON))], { deadline: NOON });
    expect(outcomes[0]).toBeInstanceOf(BackendError);
    expect(await store.put(contractGroup, [contractRecord('a', iso(NOON))], { deadline: NOON + 1 })).toEqual(['applied']);
  });

  it('expires records by the wall clock when given no clock', async () => {
    const store = memoryOnline();
    await store.put(contractGroup, [contractRecord('old', '2024-05-01T12:00:00Z')], { ttl: ONE_MINUTE });
    expect(await store.get(contractGroup, 'old')).toBeUndefined();
  });

  it('refuses a clock that is not a function, and unknown options', () => {
    expect(() => memoryOnline({ now: 5 } as unknown as { now: () => number })).toThrow(ConfigurationError);
    expect(() => memoryOnline({ now: 5 } as unknown as { now: () => number })).toThrow('memoryOnline options.now: expected a clock function, got 5');
    expect(() => memoryOnline({ clock: Date.now } as unknown as { now: () => number })).toThrow(/unknown option memoryOnline options\.clock/);
  });

  it('forgets everything when closed: it is not durable', async () => {
    const store = memoryOnline();
    await store.put(contractGroup, [contractRecord('a', iso(NOON))]);
    await store.close();
    expect(await store.get(contractGroup, 'a')).toBeUndefined();
  });
});

describe('localOnline', () => {
  const tempDir = () => mkdtempSync(join(tmpdir(), 'skewless-online-rule-'));

  it('refuses a record the group does not define with a validation error naming the feature', async () => {
    const store = await localOnline({ memory: true });
    const refused = store.put(contractGroup, [[...contractRecord('a', iso(NOON)), { FeatureName: 'colour', ValueAsString: 'red' }]]);
    await expect(refused).rejects.toThrow(FeatureValidationError);
    await expect(refused).rejects.toThrow('group "contract-group": feature colour is not defined in feature group contract-group');
    await expect(refused).rejects.toMatchObject({ issues: [{ code: 'invalid_value', path: ['colour'], message: 'feature colour is not defined in feature group contract-group' }] });
    await store.close();
  });

  it('refuses a record over the size limit with a validation error at no feature', async () => {
    const store = await localOnline({ memory: true });
    const group: GroupSchema = { ...contractGroup, name: 'wide', featureDefinitions: [...contractGroup.featureDefinitions, ...Array.from({ length: 400 }, (_, i) => ({ FeatureName: `f${i}`, FeatureType: 'String' as const }))] };
    const record = [...contractRecord('a', iso(NOON)), ...Array.from({ length: 400 }, (_, i) => ({ FeatureName: `f${i}`, ValueAsString: 'x'.repeat(1000) }))];
    await expect(store.put(group, [record])).rejects.toMatchObject({ name: 'FeatureValidationError', issues: [{ path: [] }] });
    await store.close();
  });

  it('refuses a delete whose event time is not a time', async () => {
    const store = await localOnline({ memory: true });
    await expect(store.delete(contractGroup, 'a', 'noon', 'HardDelete')).rejects.toThrow(FeatureValidationError);
    await store.close();
  });

  it('refuses a clock that is not a function', async () => {
    await expect(localOnline({ memory: true, now: 'noon' } as unknown as { now: () => number })).rejects.toThrow('localOnline options.now: expected a clock function');
  });

  it('keeps the newest write of an identifier across reopens, also after the log was compacted', async () => {
    const dir = tempDir();
    const first = await localOnline({ dir });
    await first.put(contractGroup, [contractRecord('b', iso(NOON)), contractRecord('c', iso(NOON)), contractRecord('a', iso(NOON), 1)]);
    await first.put(contractGroup, [contractRecord('a', iso(NOON + 1000), 2)]);
    await first.close();
    // Reopening compacts the log to one row per identifier; writes after it must still come out newest.
    const second = await localOnline({ dir });
    expect(amount(await second.get(contractGroup, 'a'))).toBe('2');
    await second.put(contractGroup, [contractRecord('a', iso(NOON + 2000), 3)]);
    await second.close();
    const third = await localOnline({ dir });
    expect(amount(await third.get(contractGroup, 'a'))).toBe('3');
    expect([...(await third.getMany(contractGroup, ['a', 'b', 'c'])).keys()]).toEqual(['a', 'b', 'c']);
    await third.close();
  });

  it('keeps a soft delete across a reopen: the record stays gone and older writes stay out', async () => {
    const dir = tempDir();
    const first = await localOnline({ dir });
    await first.put(contractGroup, [contractRecord('a', iso(NOON), 1)]);
    await first.delete(contractGroup, 'a', iso(NOON + 1000), 'SoftDelete');
    await first.close();
    const second = await localOnline({ dir });
    expect(await second.get(contractGroup, 'a')).toBeUndefined();
    expect(await second.put(contractGroup, [contractRecord('a', iso(NOON + 500), 2)])).toEqual(['stale']);
    expect(await second.put(contractGroup, [contractRecord('a', iso(NOON + 1000), 2)])).toEqual(['stale']);
    await second.close();
  });

  it('keeps a hard delete across a reopen: the identifier is forgotten', async () => {
    const dir = tempDir();
    const first = await localOnline({ dir });
    await first.put(contractGroup, [contractRecord('a', iso(NOON), 1)]);
    await first.delete(contractGroup, 'a', iso(NOON + 1000), 'HardDelete');
    await first.close();
    const second = await localOnline({ dir });
    expect(await second.get(contractGroup, 'a')).toBeUndefined();
    expect(await second.put(contractGroup, [contractRecord('a', iso(NOON - 1000), 2)])).toEqual(['applied']);
    await second.close();
  });

  it('keeps a TTL across a reopen', async () => {
    const dir = tempDir();
    const now = () => NOON + 30_000;
    const first = await localOnline({ dir, now });
    await first.put(contractGroup, [contractRecord('a', iso(NOON), 1)], { ttl: ONE_MINUTE });
    await first.close();
    const second = await localOnline({ dir, now });
    expect(await second.get(contractGroup, 'a')).toEqual({ record: contractRecord('a', iso(NOON), 1), expiresAt: new Date(NOON + 60_000) });
    await second.close();
  });

  it('commits writes made together, and a stale write changes nothing on disk', async () => {
    const dir = tempDir();
    const first = await localOnline({ dir });
    await Promise.all([first.put(contractGroup, [contractRecord('a', iso(NOON), 1)]), first.put(contractGroup, [contractRecord('b', iso(NOON), 1)])]);
    expect(await first.put(contractGroup, [contractRecord('a', iso(NOON - 1000), 2)])).toEqual(['stale']);
    await first.close();
    const second = await localOnline({ dir });
    expect(amount(await second.get(contractGroup, 'a'))).toBe('1');
    expect(amount(await second.get(contractGroup, 'b'))).toBe('1');
    await second.close();
  });

  it('forgets a dropped group, on disk too', async () => {
    const dir = tempDir();
    const first = await localOnline({ dir });
    await first.put(contractGroup, [contractRecord('a', iso(NOON))]);
    await first.drop(contractGroup.name);
    expect(await first.get(contractGroup, 'a')).toBeUndefined();
    expect(await first.put(contractGroup, [contractRecord('b', iso(NOON))])).toEqual(['applied']);
    await first.close();
    const second = await localOnline({ dir });
    expect(await second.get(contractGroup, 'a')).toBeUndefined();
    expect(amount(await second.get(contractGroup, 'b'))).toBe('1');
    await second.close();
  });
});
