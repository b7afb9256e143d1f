import { DecodeError } from '../errors.js';
import { eventTimeTypeOf, parseEventTime } from '../schema/sagemaker-record.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { FeatureStore } from './feature-store.js';
import type { DeleteStatus, DeletionMode, OnlineStore } from './types.js';

/**
 * Deletes a record whose delete time the source gave rounded down to `from` (the truth lies up to
 * `latest`), as DynamoDB Streams gives a REMOVE's time in whole seconds. The delete is stamped a
 * millisecond after the stored record's event time when that falls between them, so an item written
 * earlier in the same second is deleted and one written again after the delete is not; else at
 * `from`. One read of the record's event time: a source that keeps each item's changes in order
 * makes it the change before this one.
 */
export async function deleteRoundedDown(
  store: FeatureStore,
  group: AnyFeatureGroup,
  id: string,
  span: { readonly from: Date; readonly latest: Date },
  mode: DeletionMode,
): Promise<DeleteStatus> {
  return store.delete(group, id, await timeWithin(store, group, id, span.from, span.latest), mode);
}

async function timeWithin(store: FeatureStore, group: AnyFeatureGroup, id: string, from: Date, latest: Date): Promise<Date> {
  let found: Awaited<ReturnType<OnlineStore['get']>>;
  try {
    found = await (await store.backends()).online.get(group, id, { features: [group.eventTime] });
  } catch (error) {
    // A stored item its definition can no longer read is deleted all the same, at the span's end;
    // a failed read fails the delete, to be redelivered.
    if (error instanceof DecodeError) return latest;
    throw error;
  }
  const text = found?.record.find((f) => f.FeatureName === group.eventTime)?.ValueAsString;
  const storedMs = text === undefined ? undefined : parseEventTime(eventTimeTypeOf(group), text);
  if (storedMs === undefined || storedMs < from.getTime()) return from;
  return new Date(Math.min(storedMs + 1, latest.getTime()));
}
