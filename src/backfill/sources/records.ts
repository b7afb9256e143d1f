import { randomUUID } from 'node:crypto';
import * as z from 'zod/mini';
import { ConfigurationError } from '../../errors.js';
import { checkOptions, describeValue, expected } from '../../util/options.js';
import { BLOCK_ROWS, type BackfillItem, type BackfillSource, evenRanges, hash } from './source.js';

/**
 * The id of records given without one. The id names a backfill's output files and checkpoint, so it
 * must tell inputs apart: an array is named by its length and a digest of its content (a rerun over
 * the same events replaces its files; other events of the same length are another input); an
 * iterable cannot be read ahead, so each one is an input of its own (pass `id` to resume or replace).
 */
function anonymousId(array: readonly unknown[] | undefined): string {
  if (!array) return `records:${randomUUID()}`;
  const text = JSON.stringify(array, (_, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));
  return `records:${array.length}:${hash(text)}`;
}

/**
 * Raw events from memory: an array, an iterable or an async iterable (a generator reading a
 * database cursor, say). Arrays can be split into row ranges; iterables are read once, in order.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: fromRecords(history, { id: 'history-2024' }) });
 * ```
 */
export function fromRecords(records: readonly unknown[] | Iterable<unknown> | AsyncIterable<unknown>, options: { readonly id?: string } = {}): BackfillSource {
  checkOptions(z.strictObject({ id: z.optional(z.string({ error: expected('text') })) }), options, 'fromRecords options');
  if (typeof records === 'string' || typeof records !== 'object' || records === null || !(Symbol.iterator in records || Symbol.asyncIterator in records)) {
    throw new ConfigurationError('INVALID_CONFIG', `fromRecords: expected an array or an (async) iterable of raw events, got ${describeValue(records)}`);
  }
  const array = Array.isArray(records) ? (records as readonly unknown[]) : undefined;
  return {
    id: options.id ?? anonymousId(array),
    unit: 'rows',
    splittable: array !== undefined,
    replayable: array !== undefined,
    size: async () => array?.length,
    async split(count) {
      return evenRanges(array?.length ?? 0, count);
    },
    async *read(_group, range) {
      const start = range?.start ?? 0;
      const end = range?.end ?? Number.POSITIVE_INFINITY;
      let index = 0;
      let items: BackfillItem[] = [];
      // for await takes an iterable as well as an async one.
      for await (const raw of array ?? records) {
        if (index >= end) break;
        if (index >= start) items.push({ raw, position: { source: 'backfill', index } });
        index++;
        if (items.length === BLOCK_ROWS) {
          yield { items, at: index };
          items = [];
        }
      }
      if (items.length > 0) yield { items, at: index };
    },
  };
}
