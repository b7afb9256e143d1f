import type { SageMakerRecord } from '../schema/codec.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { OfflineWrite } from './types.js';

/**
 * The offline rows of records written together at `at`, in their order. Of records with one
 * identifier and one event time, the online store keeps the first written; offline, the rule breaks
 * that tie by the earliest write time, so each later one is dated a millisecond after the one before
 * it (`at` alone would leave the tie to the feature values).
 *
 * ### Example
 * ```ts
 * await offline.append(group, offlineWritesAt(group, records, new Date()));
 * ```
 */
export function offlineWritesAt(group: GroupSchema, records: readonly SageMakerRecord[], at: Date): OfflineWrite[] {
  const earlier = new Map<string, number>();
  return records.map((record) => {
    let id: string | undefined;
    let eventTime: string | undefined;
    for (const feature of record) {
      if (feature.FeatureName === group.recordIdentifier) id = feature.ValueAsString;
      else if (feature.FeatureName === group.eventTime) eventTime = feature.ValueAsString;
    }
    const key = `${id}\u0000${eventTime}`;
    const before = earlier.get(key) ?? 0;
    earlier.set(key, before + 1);
    return { record, writeTime: before === 0 ? at : new Date(at.getTime() + before), apiInvocationTime: at, isDeleted: false };
  });
}
