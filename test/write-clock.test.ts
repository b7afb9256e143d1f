import { describe, expect, it } from 'vitest';
import { offlineWritesAt, rowKey, writeClock } from '../src/store/offline-writes.js';
import type { SageMakerRecord } from '../src/index.js';
import { cardActivity } from './fixtures/groups.js';

const T = Date.UTC(2024, 4, 1, 12);
const keys = (...list: string[]) => new Set(list.map((id) => rowKey(id, '2024-05-01T12:00:00.000Z')));
const record = (id: string, eventTime = '2024-05-01T12:00:00.000Z'): SageMakerRecord => [
  { FeatureName: 'card_id', ValueAsString: id },
  { FeatureName: 'event_time', ValueAsString: eventTime },
];

describe('a store\'s write clock', () => {
  it('dates a write of a record it wrote at that very millisecond the millisecond after, and others at the clock\'s time', () => {
    const clock = writeClock(() => T);
    expect(clock(keys('a')).getTime()).toBe(T);
    expect(clock(keys('b')).getTime()).toBe(T);
    expect(clock(keys('a')).getTime()).toBe(T + 1);
    // At T + 1 only a was written: b goes there too, and a again the millisecond after.
    expect(clock(keys('b')).getTime()).toBe(T + 1);
    expect(clock(keys('c', 'a')).getTime()).toBe(T + 2);
  });

  it('keeps the clock\'s time for writes of other records, however many, and never goes back when the clock does', () => {
    let now = T;
    const clock = writeClock(() => now);
    for (let i = 0; i < 1_000; i++) expect(clock(keys(`card-${i}`)).getTime()).toBe(T);
    now = T + 5;
    expect(clock(keys('card-0')).getTime()).toBe(T + 5);
    now = T;
    expect(clock(keys('card-1')).getTime()).toBe(T + 5);
    expect(clock(keys('card-0')).getTime()).toBe(T + 6);
  });

  it('dates the rows of one write a millisecond apart per repeat of a record, their invocation time the write\'s', () => {
    const clock = writeClock(() => T);
    const rows = offlineWritesAt(cardActivity, [record('a'), record('b'), record('a'), record('a', '2024-05-01T12:00:01.000Z'), record('a')], clock);
    expect(rows.map((r) => [r.writeTime.getTime() - T, r.apiInvocationTime.getTime() - T])).toEqual([
      [0, 0],
      [0, 0],
      [1, 0],
      [0, 0],
      [2, 0],
    ]);
    // The next write of one of them is invoked after: the rule compares invocation times first.
    expect(offlineWritesAt(cardActivity, [record('b')], clock)[0]?.apiInvocationTime.getTime()).toBe(T + 1);
  });
});
