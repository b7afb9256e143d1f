import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type AggregationsOf,
  avg,
  count,
  DefinitionError,
  defineFeatureGroup,
  distinctCount,
  last,
  max,
  min,
  type StateCompaction,
  sum,
} from '../src/index.js';
import { pipelineOf } from '../src/feature-group.js';
import { memorySession } from '../src/pipeline/pipeline.js';
import { exactSum } from '../src/util/exact-sum.js';

const source = z.object({ card_id: z.string(), amount: z.number(), merchant: z.string().optional(), ts: z.string() });
const features = z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), merchant: z.string().optional() });
const transform = (e: z.output<typeof source>) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount, merchant: e.merchant });

/** A card group with these aggregates (and options): the tests differ only in those. */
function cardGroup<const A extends AggregationsOf<z.output<typeof features>>>(name: string, aggregations: A, options: { allowedLateness?: string; stateCompaction?: StateCompaction; onlineStorageType?: 'InMemory' } = {}) {
  return defineFeatureGroup({ name, recordIdentifier: 'card_id', eventTime: 'event_time', source, features, transform, aggregations, ...options });
}

const velocity = cardGroup(
  'card-velocity',
  {
    n_1h: count({ window: '1h' }),
    sum_1h: sum('amount', { window: '1h' }),
    avg_1h: avg('amount', { window: '1h' }),
    min_1h: min('amount', { window: '1h' }),
    max_1h: max('amount', { window: '1h' }),
    last_merchant: last('merchant', { window: '1h' }),
    merchants_1h: distinctCount('merchant', { window: '1h', limit: 3 }),
  },
  { allowedLateness: '10m' },
);

const at = (hhmm: string) => `2024-05-01T${hhmm}:00.000Z`;
const txn = (card: string, hhmm: string, amount: number, merchant?: string) => ({ card_id: card, ts: at(hhmm), amount, ...(merchant ? { merchant } : {}) });

function aggregates(events: readonly unknown[]) {
  const result = velocity.processBatch(events);
  expect(result.failures).toEqual([]);
  return result.records.map(({ record }) => {
    const { card_id, event_time, amount, merchant, ...values } = record;
    return values;
  });
}

describe('window aggregates', () => {
  it('are features of the group, typed and in its SageMaker definitions', () => {
    expect(velocity.featureNames).toContain('n_1h');
    expect(velocity.featureDefinitions).toContainEqual({ FeatureName: 'n_1h', FeatureType: 'Integral' });
    expect(velocity.featureDefinitions).toContainEqual({ FeatureName: 'sum_1h', FeatureType: 'Fractional' });
    expect(velocity.featureDefinitions).toContainEqual({ FeatureName: 'last_merchant', FeatureType: 'String' });
    expect(velocity.select('amount', 'n_1h').features).toEqual(['amount', 'n_1h']);
  });

  it('cover (t - window, t] of the events processed no later than each event', () => {
    const values = aggregates([
      txn('c1', '10:00', 10, 'A'),
      txn('c1', '10:30', 5, 'B'),
      // Arrives after 10:30 but happened at 10:20: 10:30 is not in its window.
      txn('c1', '10:20', 1, 'C'),
      txn('c2', '10:40', 7),
      // 10:00 is exactly one hour before: the window's start is open.
      txn('c1', '11:00', 2, 'A'),
    ]);
    expect(values).toEqual([
      { n_1h: 1, sum_1h: 10, avg_1h: 10, min_1h: 10, max_1h: 10, last_merchant: 'A', merchants_1h: 1 },
      { n_1h: 2, sum_1h: 15, avg_1h: 7.5, min_1h: 5, max_1h: 10, last_merchant: 'B', merchants_1h: 2 },
      { n_1h: 2, sum_1h: 11, avg_1h: 5.5, min_1h: 1, max_1h: 10, last_merchant: 'C', merchants_1h: 2 },
      { n_1h: 1, sum_1h: 7, avg_1h: 7, min_1h: 7, max_1h: 7, merchants_1h: 0 },
      { n_1h: 3, sum_1h: 8, avg_1h: 8 / 3, min_1h: 1, max_1h: 5, last_merchant: 'A', merchants_1h: 3 },
    ]);
  });

  it('leave out events later than the allowed lateness, and count them', () => {
    const result = velocity.processBatch([txn('c1', '10:30', 5, 'B'), txn('c1', '10:19', 1, 'C'), txn('c1', '10:31', 1, 'D')]);
    expect(result.late).toEqual([1]);
    const [, lateOne, after] = result.records.map((r) => r.record);
    // The late event is written, with the aggregates of the window it would have had, without itself.
    expect(lateOne).toMatchObject({ n_1h: 0, sum_1h: 0, merchants_1h: 0 });
    expect(lateOne?.avg_1h).toBeUndefined();
    expect(after).toMatchObject({ n_1h: 2, sum_1h: 6, merchants_1h: 2 });
  });

  it('report distinct counts past the bound as the bound', () => {
    const values = aggregates(['A', 'B', 'C', 'D', 'A'].map((m, i) => txn('c1', `10:0${i}`, 1, m)));
    expect(values.map((v) => v.merchants_1h)).toEqual([1, 2, 3, 3, 3]);
  });

  it('give the latest n values newest first', () => {
    const group = cardGroup('last-n', { last_2: last('amount', { window: '1h', n: 2 }) }, { onlineStorageType: 'InMemory' });
    const result = group.processBatch([txn('c1', '10:00', 1), txn('c1', '10:10', 2), txn('c1', '10:05', 3)]);
    expect(result.records.map((r) => r.record.last_2)).toEqual([[1], [2, 1], [3, 1]]);
    expect(group.featureDefinitions).toContainEqual({ FeatureName: 'last_2', FeatureType: 'Fractional', CollectionType: 'List' });
  });

  it('sum floats exactly, whatever the order', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }), { maxLength: 40 }), (xs) => {
        const sorted = [...xs].sort((a, b) => a - b);
        expect(Object.is(exactSum(xs), exactSum(sorted.reverse()))).toBe(true);
      }),
    );
    expect(exactSum([0.1, 0.2, 0.3])).toBe(0.6);
    expect(exactSum([1e100, 1, -1e100])).toBe(1);
  });

  it('do not depend on where batches split the stream', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ card: fc.constantFrom('c1', 'c2'), minute: fc.integer({ min: 0, max: 300 }), amount: fc.double({ min: -100, max: 100, noNaN: true }) }), {
          maxLength: 60,
        }),
        fc.array(fc.integer({ min: 1, max: 60 }), { maxLength: 5 }),
        (rows, cuts) => {
          const events = rows.map((r) => ({ card_id: r.card, ts: new Date(Date.UTC(2024, 4, 1) + r.minute * 60_000).toISOString(), amount: r.amount }));
          const whole = velocity.processBatch(events).records.map((r) => r.encoded);
          const pipeline = pipelineOf(velocity);
          const session = memorySession();
          const pieces: unknown[] = [];
          let from = 0;
          for (const cut of [...cuts.sort((a, b) => a - b), events.length]) {
            const to = Math.min(cut, events.length);
            if (to <= from) continue;
            pieces.push(...pipeline.processBatch(events.slice(from, to), { aggregation: session }).records.map((r) => r.encoded));
            from = to;
          }
          expect(pieces).toEqual(whole);
        },
      ),
    );
  });

  it('apply a redelivered stream position once', () => {
    const pipeline = pipelineOf(velocity);
    const session = memorySession();
    const events = [txn('c1', '10:00', 1), txn('c1', '10:01', 2), txn('c1', '10:02', 3)];
    const position = (first: number) => (i: number) => ({ source: 'kinesis', shardId: 's-0', sequenceNumber: String(first + i) });
    pipeline.processBatch(events.slice(0, 2), { aggregation: session, position: position(100) });
    const again = pipeline.processBatch(events.slice(1), { aggregation: session, position: position(101) });
    expect(again.duplicates).toEqual([0]);
    expect(again.records.map((r) => r.record.n_1h)).toEqual([3]);
  });

  it('compact a hot entity the same way however it is batched', () => {
    const hot = cardGroup(
      'hot',
      { n_5m: count({ window: '5m' }), sum_5m: sum('amount', { window: '5m' }), top: max('amount', { window: '5m' }) },
      { stateCompaction: { maxEntries: 20, resolution: '1m' } },
    );
    const events = Array.from({ length: 500 }, (_, i) => ({ card_id: 'hot', ts: new Date(Date.UTC(2024, 4, 1) + i * 1500).toISOString(), amount: (i % 7) + 0.1 }));
    const whole = hot.processBatch(events).records.map((r) => r.record);
    const session = memorySession();
    const split = [0, 37, 38, 200, 499, 500].flatMap((from, k, cuts) =>
      k + 1 < cuts.length ? pipelineOf(hot).processBatch(events.slice(from, cuts[k + 1]), { aggregation: session }).records.map((r) => r.record) : [],
    );
    expect(split).toEqual(whole);
    const state = session.states.get('hot');
    expect((state?.e.length ?? 0) + (state?.b.length ?? 0)).toBeLessThanOrEqual(30);
    // The last event's 5-minute window holds 200 events; compaction counts whole 1-minute buckets.
    const n = whole[whole.length - 1]?.n_5m as number;
    expect(Math.abs(n - 200)).toBeLessThanOrEqual(40);
  });

  it('keep a hot entity\'s state within one DynamoDB item with the default compaction', () => {
    const busy = cardGroup('busy', {
      n_24h: count({ window: '24h' }),
      sum_24h: sum('amount', { window: '24h' }),
      top_24h: max('amount', { window: '24h' }),
      merchants_24h: distinctCount('merchant', { window: '24h', limit: 100 }),
      last_merchant: last('merchant', { window: '1h' }),
    });
    const session = memorySession();
    // 6,000 events over 30 hours from 5,000 merchants: a hot card, past compaction many times.
    const events = Array.from({ length: 6000 }, (_, i) => ({
      card_id: 'hot',
      ts: new Date(Date.UTC(2024, 4, 1) + i * 18_000).toISOString(),
      amount: (i % 97) / 3,
      merchant: `merchant-${String((i * 7919) % 5000).padStart(6, '0')}`,
    }));
    pipelineOf(busy).processBatch(events, { aggregation: session });
    const bytes = Buffer.byteLength(JSON.stringify(session.states.get('hot')));
    expect(bytes).toBeLessThan(400 * 1024);
  });

  it('are refused at definition time when they cannot work', () => {
    const define = (aggregations: object, extra: object = {}) => () =>
      defineFeatureGroup({ name: 'bad', recordIdentifier: 'card_id', eventTime: 'event_time', source, features, transform, aggregations: aggregations as never, ...extra });
    expect(define({ s: sum('nope' as 'amount', { window: '1h' }) })).toThrow(/reads "nope"/);
    expect(define({ s: sum('merchant' as 'amount', { window: '1h' }) })).toThrow(/needs a number feature/);
    expect(define({ amount: count({ window: '1h' }) })).toThrow(/name of a feature/);
    expect(define({ l: last('merchant', { window: '1h', n: 3 }) })).toThrow(/InMemory/);
    expect(() => count({ window: '1 hour' })).toThrow(DefinitionError);
    expect(() => defineFeatureGroup({ name: 'bad', recordIdentifier: 'card_id', eventTime: 'event_time', source, features, transform, allowedLateness: '1m' })).toThrow(/has none/);
  });

  it('change the fingerprint when a window changes', () => {
    const other = cardGroup('card-velocity', { ...velocity.aggregations, n_1h: count({ window: '2h' }) }, { allowedLateness: '10m' });
    expect(other.fingerprint).not.toBe(velocity.fingerprint);
  });
});
