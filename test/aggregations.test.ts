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

/** The aggregate values of each written record: the record without the card's own features. */
function valuesOf(result: { readonly records: readonly { readonly record: Record<string, unknown> }[] }) {
  return result.records.map(({ record }) => {
    const { card_id, event_time, amount, merchant, ...values } = record;
    return values;
  });
}

function aggregates(events: readonly unknown[]) {
  const result = velocity.processBatch(events);
  expect(result.failures).toEqual([]);
  return valuesOf(result);
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

describe('window aggregates over compacted state, at the edges of windows, lateness and expiry', () => {
  // Two raw events at most, then 1-minute buckets: merged events count as happening at their bucket's start.
  const compacted = cardGroup(
    'compacted',
    {
      n: count({ window: '10m' }),
      total: sum('amount', { window: '10m' }),
      mean: avg('amount', { window: '10m' }),
      lo: min('amount', { window: '10m' }),
      hi: max('amount', { window: '10m' }),
      merchants: distinctCount('merchant', { window: '10m', limit: 3 }),
      pair: distinctCount('merchant', { window: '10m', limit: 2 }),
      latest: last('merchant', { window: '10m' }),
      recent: last('merchant', { window: '10m', n: 2 }),
    },
    { allowedLateness: '1m', stateCompaction: { maxEntries: 2, resolution: '1m' }, onlineStorageType: 'InMemory' },
  );
  const time = (hhmmss: string) => `2024-05-01T${hhmmss}.000Z`;
  const ms = (hhmmss: string) => Date.parse(time(hhmmss));
  const event = (hhmmss: string, amount: number, merchant?: string) => ({ card_id: 'c1', ts: time(hhmmss), amount, ...(merchant ? { merchant } : {}) });

  it('give each event the values a hand count gives, through compaction, a late event, one exactly at the lateness bound and expiry', () => {
    const pipeline = pipelineOf(compacted);
    const session = memorySession();
    const first = pipeline.processBatch(
      [
        event('10:00:10', 4, 'A'),
        event('10:00:40', 1, 'B'),
        // A third raw event: the state compacts into the buckets 10:00 (A, B) and 10:01.
        event('10:01:30', 6),
        // (09:59:59, 10:09:59] holds the 10:00 bucket: its start is in the window.
        event('10:09:59', 2, 'C'),
        // (10:00:00, 10:10:00] does not: merged events count at their bucket's start, and the window's start is open.
        event('10:10:00', 3),
        // Newest is 10:10:00 and lateness 1m: 10:08:59 is late, written with the values of its window without itself.
        event('10:08:59', 100, 'D'),
        // Exactly at the lateness bound: not late.
        event('10:09:00', 0.5, 'E'),
      ],
      { aggregation: session },
    );
    expect(first.late).toEqual([5]);
    expect(valuesOf(first)).toEqual([
      { n: 1, total: 4, mean: 4, lo: 4, hi: 4, merchants: 1, pair: 1, latest: 'A', recent: ['A'] },
      { n: 2, total: 5, mean: 2.5, lo: 1, hi: 4, merchants: 2, pair: 2, latest: 'B', recent: ['B', 'A'] },
      { n: 3, total: 11, mean: 11 / 3, lo: 1, hi: 6, merchants: 2, pair: 2, latest: 'B', recent: ['B', 'A'] },
      { n: 4, total: 13, mean: 3.25, lo: 1, hi: 6, merchants: 3, pair: 2, latest: 'C', recent: ['C', 'B'] },
      { n: 3, total: 11, mean: 11 / 3, lo: 2, hi: 6, merchants: 1, pair: 1, latest: 'C', recent: ['C'] },
      { n: 3, total: 11, mean: 11 / 3, lo: 1, hi: 6, merchants: 2, pair: 2, latest: 'B', recent: ['B', 'A'] },
      { n: 4, total: 11.5, mean: 2.875, lo: 0.5, hi: 6, merchants: 3, pair: 2, latest: 'E', recent: ['E', 'B'] },
    ]);
    // The late event is not in the state; the one at the bound is, and compacted the raw events again.
    const state = session.states.get('c1');
    expect(state?.t).toBe(ms('10:10:00'));
    expect(state?.e).toEqual([]);
    expect(state?.b.map((b) => [b.s, b.c])).toEqual([
      [ms('10:00:00'), 2],
      [ms('10:01:00'), 1],
      [ms('10:09:00'), 2],
      [ms('10:10:00'), 1],
    ]);
    // A bucket keeps per input the count of values, their range, the distinct ones and the latest, oldest first.
    expect(state?.b[2]?.f).toStrictEqual([
      { n: 2, s: [2.5], lo: 0.5, hi: 2 },
      { n: 2, d: ['C', 'E'], l: [[ms('10:09:00'), 'E'], [ms('10:09:59'), 'C']] },
    ]);
    expect(state?.b[1]?.f[1]).toEqual({ n: 0, d: [], l: [] });

    const second = pipeline.processBatch(
      [
        // At the newest time: the buckets 10:01, 10:09 and 10:10 are in its window, 10:00 is not.
        event('10:10:00', 7, 'A'),
        // The cut-off becomes 10:21:00 - 10m - 1m = 10:10:00: what starts at or before it is dropped.
        event('10:21:00', 9, 'F'),
        // Equal event times: the later processed is the latest.
        event('10:21:00', 1, 'G'),
      ],
      { aggregation: session },
    );
    expect(second.late).toEqual([]);
    expect(valuesOf(second)).toEqual([
      { n: 5, total: 18.5, mean: 3.7, lo: 0.5, hi: 7, merchants: 3, pair: 2, latest: 'A', recent: ['A', 'C'] },
      { n: 1, total: 9, mean: 9, lo: 9, hi: 9, merchants: 1, pair: 1, latest: 'F', recent: ['F'] },
      { n: 2, total: 10, mean: 5, lo: 1, hi: 9, merchants: 2, pair: 2, latest: 'G', recent: ['G', 'F'] },
    ]);
    const after = session.states.get('c1');
    expect(after?.b).toEqual([]);
    expect(after?.e).toEqual([
      [ms('10:21:00'), 9, 'F'],
      [ms('10:21:00'), 1, 'G'],
    ]);
  });
});

describe('window aggregates over buckets that cap what they keep, with missing values and a bucket older than the others', () => {
  const optionalSource = z.object({ card_id: z.string(), ts: z.string(), amount: z.number().optional(), merchant: z.string().optional() });
  const optionalFeatures = z.object({ card_id: z.string(), event_time: z.date(), amount: z.number().optional(), merchant: z.string().optional() });
  const capped = defineFeatureGroup({
    name: 'capped',
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source: optionalSource,
    features: optionalFeatures,
    transform: (e: z.output<typeof optionalSource>) => ({ card_id: e.card_id, event_time: new Date(e.ts), amount: e.amount, merchant: e.merchant }),
    aggregations: {
      amounts: distinctCount('amount', { window: '1h', limit: 5 }),
      low: min('amount', { window: '1h' }),
      high: max('amount', { window: '1h' }),
      mean: avg('amount', { window: '1h' }),
      total: sum('amount', { window: '1h' }),
      n: count({ window: '1h' }),
      merchants: distinctCount('merchant', { window: '1h', limit: 2 }),
      latest: last('merchant', { window: '1h' }),
      recent: last('merchant', { window: '1h', n: 2 }),
    },
    allowedLateness: '5m',
    stateCompaction: { maxEntries: 3, resolution: '5m' },
    onlineStorageType: 'InMemory',
  });
  const ms = (hhmm: string) => Date.parse(`2024-05-01T${hhmm}:00.000Z`);
  const event = (card: string, hhmm: string, amount?: number, merchant?: string) => ({
    card_id: card,
    ts: new Date(ms(hhmm)).toISOString(),
    ...(amount === undefined ? {} : { amount }),
    ...(merchant ? { merchant } : {}),
  });

  it('give each event the values a hand count gives, and keep in each bucket at most the distinct and latest values asked for', () => {
    const pipeline = pipelineOf(capped);
    const session = memorySession();
    const first = pipeline.processBatch(
      [
        event('c1', '10:05', 1, 'A'),
        event('c1', '10:07', 2, 'B'),
        // No amount: counted by count(), left out of the amount aggregates.
        event('c1', '10:07', undefined, 'A'),
        // The fourth raw event: compaction merges all four into the bucket 10:05.
        event('c1', '10:06', 3, 'C'),
        // Another card with no value at all: no latest, no average, no range.
        event('c2', '10:00'),
      ],
      { aggregation: session },
    );
    expect(valuesOf(first)).toStrictEqual([
      { amounts: 1, low: 1, high: 1, mean: 1, total: 1, n: 1, merchants: 1, latest: 'A', recent: ['A'] },
      { amounts: 2, low: 1, high: 2, mean: 1.5, total: 3, n: 2, merchants: 2, latest: 'B', recent: ['B', 'A'] },
      // Of the two values at 10:07 the later processed is the latest.
      { amounts: 2, low: 1, high: 2, mean: 1.5, total: 3, n: 3, merchants: 2, latest: 'A', recent: ['A', 'B'] },
      // 10:06 arrives last: the two at 10:07 are after it, outside its window.
      { amounts: 2, low: 1, high: 3, mean: 2, total: 4, n: 2, merchants: 2, latest: 'C', recent: ['C', 'A'] },
      { amounts: 0, total: 0, n: 1, merchants: 0 },
    ]);
    const bucket = session.states.get('c1')?.b;
    expect(bucket).toStrictEqual([
      {
        s: ms('10:05'),
        c: 4,
        f: [
          // Distinct values are kept as text; an input no last() reads keeps no latest values.
          { n: 3, s: [6], lo: 1, hi: 3, d: ['1', '2', '3'] },
          // Two distinct values (the largest bound) and the two latest, oldest first, the later processed of equal times last.
          { n: 4, d: ['A', 'B'], l: [[ms('10:07'), 'B'], [ms('10:07'), 'A']] },
        ],
      },
    ]);

    const second = pipeline.processBatch(
      [
        // 10:04:30 is within the lateness of 10:07, and before the bucket's start: its own window holds only itself.
        { card_id: 'c1', ts: '2024-05-01T10:04:30.000Z', amount: 3, merchant: 'Z' },
        // The bucket (merged values count at 10:05) is later than the raw 10:04:30 value: the latest is the bucket's.
        event('c1', '10:20'),
        event('c1', '10:21', 5),
        // The fourth raw event again: 10:04:30 makes a bucket older than the one there.
        event('c1', '10:22', 0.5),
        // No value of its own: its merchants come from buckets alone, three distinct ones for a bound of two.
        event('c1', '10:23'),
      ],
      { aggregation: session },
    );
    expect(second.late).toEqual([]);
    expect(valuesOf(second)).toStrictEqual([
      { amounts: 1, low: 3, high: 3, mean: 3, total: 3, n: 1, merchants: 1, latest: 'Z', recent: ['Z'] },
      { amounts: 3, low: 1, high: 3, mean: 2.25, total: 9, n: 6, merchants: 2, latest: 'A', recent: ['A', 'B'] },
      { amounts: 4, low: 1, high: 5, mean: 2.8, total: 14, n: 7, merchants: 2, latest: 'A', recent: ['A', 'B'] },
      { amounts: 5, low: 0.5, high: 5, mean: 14.5 / 6, total: 14.5, n: 8, merchants: 2, latest: 'A', recent: ['A', 'B'] },
      { amounts: 5, low: 0.5, high: 5, mean: 14.5 / 6, total: 14.5, n: 9, merchants: 2, latest: 'A', recent: ['A', 'B'] },
    ]);
    const state = session.states.get('c1');
    expect(state?.b.map((b) => [b.s, b.c])).toEqual([
      [ms('10:00'), 1],
      [ms('10:05'), 4],
      [ms('10:20'), 3],
    ]);
    expect(state?.b[2]?.f).toStrictEqual([
      { n: 2, s: [5.5], lo: 0.5, hi: 5, d: ['5', '0.5'] },
      { n: 0, d: [], l: [] },
    ]);
  });
});

describe("an entity's first event", () => {
  it('is never late and sets the newest time, whenever it happened: before 1970, or at epoch 0', () => {
    const session = memorySession();
    const result = pipelineOf(velocity).processBatch([txn('before', '10:00', 1), txn('epoch', '10:00', 1)].map((e, i) => ({ ...e, ts: ['1969-12-31T00:00:00.000Z', '1970-01-01T00:00:00.000Z'][i] })), {
      aggregation: session,
    });
    expect(result.late).toEqual([]);
    expect(result.records.map((r) => r.record.n_1h)).toEqual([1, 1]);
    expect(session.states.get('before')?.t).toBe(-86_400_000);
    expect(session.states.get('epoch')?.t).toBe(0);
  });
});

describe('window aggregates of big integers and dates', () => {
  const typedSource = z.object({ card_id: z.string(), ts: z.string(), seq: z.string(), seen: z.string() });
  const typedFeatures = z.object({ card_id: z.string(), event_time: z.date(), seq: z.bigint(), seen: z.date() });
  const typed = defineFeatureGroup({
    name: 'typed-last',
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source: typedSource,
    features: typedFeatures,
    transform: (e: z.output<typeof typedSource>) => ({ card_id: e.card_id, event_time: new Date(e.ts), seq: BigInt(e.seq), seen: new Date(e.seen) }),
    aggregations: { last_seq: last('seq', { window: '1h' }), last_seen: last('seen', { window: '1h' }), seqs: distinctCount('seq', { window: '1h', limit: 10 }) },
  });

  it('keep them in the state as JSON (big integers as text, dates as epoch ms) and give them back typed', () => {
    const session = memorySession();
    // 2^53 + 1: a double would read it as 2^53.
    const result = pipelineOf(typed).processBatch([{ card_id: 'c1', ts: '2024-05-01T10:00:00.000Z', seq: '9007199254740993', seen: '2024-04-30T00:00:00.000Z' }], {
      aggregation: session,
    });
    expect(result.records[0]?.record).toMatchObject({ last_seq: 9007199254740993n, last_seen: new Date('2024-04-30T00:00:00.000Z'), seqs: 1 });
    const state = session.states.get('c1');
    expect(state?.e).toStrictEqual([[Date.parse('2024-05-01T10:00:00.000Z'), '9007199254740993', Date.parse('2024-04-30T00:00:00.000Z')]]);
    expect(JSON.parse(JSON.stringify(state))).toStrictEqual(state);
  });
});
