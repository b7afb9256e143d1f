import type { SageMakerRecord } from '../schema/codec.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { OfflineWrite } from './types.js';

/**
 * The time of a store's next offline write, given the keys (identifier and event time, see
 * `rowKey`) of the rows it holds.
 */
export type WriteClock = (keys: ReadonlySet<string>) => Date;

/** What names the records the training-set rule breaks ties among: one identifier, one event time. */
export function rowKey(id: string | undefined, eventTime: string | undefined): string {
  return `${id}\u0000${eventTime}`;
}

/**
 * The write times of one store, in the order it writes: the clock's time, except that a write
 * holding a record of an identifier and event time the store already wrote at that very time (a
 * clock held still in tests, two writes within one millisecond, chunks of a backfill started
 * together) is dated the millisecond after. Of two writes of such a record the first is then dated
 * earlier, as the training-set rule needs to find the one the online store kept; writes of other
 * records keep the clock's time, so the times never run ahead of the clock for volume alone.
 *
 * ### Example
 * ```ts
 * const clock = writeClock(Date.now);
 * await offline.append(group, offlineWritesAt(group, records, clock));
 * ```
 */
export function writeClock(now: () => number): WriteClock {
  let last = Number.NEGATIVE_INFINITY;
  // The keys written at `last`: only a write sharing one of them needs a later time.
  let written = new Set<string>();
  return (keys) => {
    let at = Math.max(now(), last);
    if (at === last && [...keys].some((key) => written.has(key))) at = last + 1;
    if (at !== last) {
      last = at;
      written = new Set();
    }
    for (const key of keys) written.add(key);
    return new Date(at);
  };
}

/**
 * The offline rows of records written together, in their order, dated by `clock`. Of records with
 * one identifier and one event time, the online store keeps the first written; offline, the rule
 * breaks that tie by the earliest write time, so each later one is dated a millisecond after the one
 * before it (one time for all would leave the tie to the feature values).
 */
export function offlineWritesAt(group: GroupSchema, records: readonly SageMakerRecord[], clock: WriteClock): OfflineWrite[] {
  const earlier = new Map<string, number>();
  const offsets = records.map((record) => {
    let id: string | undefined;
    let eventTime: string | undefined;
    for (const feature of record) {
      if (feature.FeatureName === group.recordIdentifier) id = feature.ValueAsString;
      else if (feature.FeatureName === group.eventTime) eventTime = feature.ValueAsString;
    }
    const key = rowKey(id, eventTime);
    const before = earlier.get(key) ?? 0;
    earlier.set(key, before + 1);
    return before;
  });
  const at = clock(new Set(earlier.keys()));
  return records.map((record, i) => {
    const offset = offsets[i] as number;
    return { record, writeTime: offset === 0 ? at : new Date(at.getTime() + offset), apiInvocationTime: at, isDeleted: false };
  });
}
