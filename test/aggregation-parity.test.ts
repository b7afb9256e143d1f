import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { avg, backfill, count, createFeatureStore, defineFeatureGroup, distinctCount, last, max, min, ndjsonFile, sum } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { expectParity, kinesisEvent, memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';

const velocity = defineFeatureGroup({
  name: 'ride-demand',
  recordIdentifier: 'geohash',
  eventTime: 'event_time',
  source: z.object({ txn: z.number().int(), geohash: z.string(), fare: z.number().optional(), rider: z.string(), ts: z.string() }),
  features: z.object({ txn: z.number().int(), geohash: z.string(), event_time: z.date(), fare: z.number().optional(), rider: z.string() }),
  transform: (e) => ({ txn: e.txn, geohash: e.geohash, event_time: new Date(e.ts), fare: e.fare, rider: e.rider }),
  aggregations: {
    requests_5m: count({ window: '5m' }),
    requests_1h: count({ window: '1h' }),
    fare_sum_1h: sum('fare', { window: '1h' }),
    fare_avg_5m: avg('fare', { window: '5m' }),
    fare_min_1h: min('fare', { window: '1h' }),
    fare_max_1h: max('fare', { window: '1h' }),
    last_rider: last('rider', { window: '5m' }),
    riders_1h: distinctCount('rider', { window: '1h', limit: 4 }),
  },
  allowedLateness: '2m',
  // Small, so random streams push hot entities past it.
  stateCompaction: { maxEntries: 8, resolution: '1m' },
});

const base = Date.UTC(2024, 4, 1, 8);

/** Events in arrival order: mostly forward in time, some arriving late (a few beyond the lateness), some sent twice. */
const streams = fc
  .array(
    fc.record({
      geohash: fc.constantFrom('hot', 'hot', 'hot', 'u4pru', 'u4prv'),
      step: fc.integer({ min: 0, max: 40 }),
      back: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 300 })),
      fare: fc.option(fc.double({ min: 2, max: 80, noNaN: true }), { nil: undefined }),
      rider: fc.constantFrom('r1', 'r2', 'r3', 'r4', 'r5', 'r6'),
      twice: fc.boolean(),
    }),
    { minLength: 1, maxLength: 120 },
  )
  .map((rows) => {
    let clock = base;
    const events: Record<string, unknown>[] = [];
    rows.forEach((r, txn) => {
      clock += r.step * 1000;
      const event = { txn, geohash: r.geohash, rider: r.rider, ts: new Date(clock - r.back * 1000).toISOString(), ...(r.fare === undefined ? {} : { fare: r.fare }) };
      events.push(event);
      if (r.twice && txn % 7 === 0) events.push(event);
    });
    return events;
  });

const dir = mkdtempSync(join(tmpdir(), 'skewless-agg-parity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('aggregations: stream == backfill', () => {
  it('for random streams, batch boundaries and redeliveries', async () => {
    await fc.assert(
      fc.asyncProperty(streams, fc.integer({ min: 1, max: 1000 }), async (events, seed) => {
        await expectParity(velocity, events, { batchSize: 'random', redeliver: true, seed, chunkSize: 17 });
      }),
      { numRuns: 25 },
    );
  });

  it('when the history is in another order but says when each event arrived', async () => {
    const events = fc.sample(streams, { numRuns: 1, seed: 7 })[0] as Record<string, unknown>[];
    const stream = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState() });
    const handler = kinesisHandler(velocity, { discardPoison: true, store: stream, log: false });
    for (let i = 0; i < events.length; i += 10) await handler(kinesisEvent(events.slice(i, i + 10)));
    const streamed = (await (await stream.backends()).offline?.scan(velocity)) ?? [];

    // The history file is shuffled; its `arrival` column restores the order the stream saw.
    const file = join(dir, 'shuffled.ndjson');
    const lines = events.map((e, arrival) => JSON.stringify({ ...e, arrival }));
    lines.reverse();
    writeFileSync(file, `${lines.join('\n')}\n`);
    const filled = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState(), dir });
    const summary = await backfill(filled, velocity, { from: ndjsonFile(file) });
    const backfilled = (await (await filled.backends()).offline?.scan(velocity)) ?? [];

    const text = (row: object) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    const byTxn = (rows: readonly Record<string, unknown>[]) =>
      rows
        .map(({ write_time, api_invocation_time, ...row }) => row)
        .sort((a, b) => Number(a['txn']) - Number(b['txn']) || text(a).localeCompare(text(b)));
    expect(byTxn(backfilled)).toEqual(byTxn(streamed));
    expect(summary.written).toBe(events.length);
    expect(streamed.length).toBe(events.length);
  });

  it('refuses a range of the source, since entity histories must be replayed whole', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState(), dir });
    await expect(backfill(store, velocity, { from: [{ txn: 1, geohash: 'x', rider: 'r', ts: new Date(base).toISOString() }], range: { start: 0, end: 1 } })).rejects.toThrow(
      /replays every entity's whole history/,
    );
    await expect(backfill(store, velocity, { from: (function* () {})() })).rejects.toThrow(/reads the source twice/);
  });
});

describe('a backfill to the online store', () => {
  it('hands each entity\'s state to the stream, which continues its windows from the history', async () => {
    const events = fc.sample(streams, { numRuns: 1, seed: 11 })[0] as Record<string, unknown>[];
    const cut = Math.floor(events.length / 2);
    const liveTxns = new Set(events.slice(cut).map((e) => e['txn']));
    const valuesOf = async (store: ReturnType<typeof createFeatureStore>) =>
      ((await (await store.backends()).offline?.scan(velocity)) ?? [])
        .filter((r) => liveTxns.has(Number(r['txn'])))
        .map(({ write_time, api_invocation_time, ...row }) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))
        .sort();

    // All of it through the stream.
    const streamOnly = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState() });
    await kinesisHandler(velocity, { discardPoison: true, store: streamOnly, log: false })(kinesisEvent(events));

    // History backfilled online, then the rest streamed.
    const state = memoryAggregationState();
    const handedOver = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: state, dir });
    const summary = await backfill(handedOver, velocity, { from: events.slice(0, cut), to: 'both', order: 'source' });
    const entities = new Set(events.slice(0, cut).map((e) => e['geohash'])).size;
    expect(summary.aggregationState).toEqual({ seeded: entities, kept: 0 });
    await kinesisHandler(velocity, { discardPoison: true, store: handedOver, log: false })(kinesisEvent(events.slice(cut)));
    expect(await valuesOf(handedOver)).toEqual(await valuesOf(streamOnly));

    // Backfilling again keeps the state the stream has built since.
    const again = await backfill(handedOver, velocity, { from: events.slice(0, cut), to: 'both', order: 'source' });
    expect(again.aggregationState).toEqual({ seeded: 0, kept: entities });
  });
});
