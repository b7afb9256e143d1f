import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { count, defineFeatureGroup, isoTimestamp } from '../src/index.js';
import { checkDeterminism, expectParity } from '../src/testing/index.js';
import { cardActivity } from './fixtures/groups.js';

/** A group with a feature of every kind a JSON event can feed, optional and collection ones included. */
const wide = defineFeatureGroup({
  name: 'wide-events',
  recordIdentifier: 'id',
  eventTime: 'at',
  onlineStorageType: 'InMemory',
  source: z.object({
    id: z.string(),
    at: isoTimestamp(),
    n: z.number().int(),
    x: z.number(),
    big: z.string().regex(/^-?\d+$/),
    flag: z.boolean(),
    level: z.enum(['low', 'high']),
    note: z.string().optional(),
    tags: z.array(z.string()),
    weights: z.array(z.number()),
  }),
  features: z.object({
    id: z.string(),
    at: z.date(),
    n: z.number().int(),
    x: z.number(),
    big: z.bigint(),
    flag: z.boolean(),
    level: z.enum(['low', 'high']),
    note: z.string().optional(),
    tags: z.array(z.string()),
    weights: z.array(z.number()),
    day: z.number().int(),
  }),
  transform: (e) => ({ ...e, big: BigInt(e.big), day: e.at.getUTCDay() }),
});

const wideEvent = fc.record(
  {
    id: fc.string({ minLength: 1, maxLength: 12 }),
    at: fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
    n: fc.maxSafeInteger(),
    x: fc.double({ noNaN: true, noDefaultInfinity: true }),
    big: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
    flag: fc.boolean(),
    level: fc.constantFrom('low', 'high'),
    note: fc.string(),
    tags: fc.array(fc.string(), { maxLength: 3 }),
    weights: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 3 }),
  },
  { requiredKeys: ['id', 'at', 'n', 'x', 'big', 'flag', 'level', 'tags', 'weights'] },
);

/** cardActivity with an aggregate, so a redelivered record must count once. */
const velocity = defineFeatureGroup({
  name: 'card-velocity-parity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: cardActivity.source,
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100 }),
  aggregations: { txn_count_1h: count({ window: '1h' }) },
});

/** Twenty events of three cards, a minute apart. */
const minutes = Array.from({ length: 20 }, (_, i) => ({ card_id: `c${i % 3}`, amount_cents: 100 + i, country: 'US', ts: new Date(Date.UTC(2024, 4, 1, 10, i)).toISOString() }));

describe('expectParity', () => {
  it('finds the stream and the backfill identical on generated events of every type, poison included', async () => {
    let written = 0;
    let poison = 0;
    // At least one event of the schema's, anywhere: expectParity fails a run where nothing became a record.
    const someValid = fc
      .tuple(wideEvent, fc.array(fc.oneof({ weight: 9, arbitrary: wideEvent }, { weight: 1, arbitrary: fc.jsonValue() }), { maxLength: 79, size: 'max' }), fc.nat())
      .map(([valid, rest, at]) => [...rest.slice(0, at % (rest.length + 1)), valid, ...rest.slice(at % (rest.length + 1))]);
    await fc.assert(
      fc.asyncProperty(someValid, fc.integer({ min: 1, max: 30 }), async (events, batchSize) => {
        const report = await expectParity(wide, events, { batchSize, chunkSize: 7 });
        expect(report.records + report.poison).toBe(events.length);
        written += report.records;
        poison += report.poison;
      }),
      { numRuns: 25 },
    );
    // Both kinds of event really went through. Lengths are drawn over the whole range (size 'max'):
    // fast-check's default leans to short arrays, and on some seeds 25 runs wrote fewer than 100.
    expect(written).toBeGreaterThan(100);
    expect(poison).toBeGreaterThan(0);
  });

  it('counts a poison event in a redelivered tail once: a redelivery is the same event', async () => {
    // Last, and in the middle; with these seeds a redelivered tail holds it (dead-lettered twice).
    for (const at of [20, 10]) {
      const withPoison = [...minutes.slice(0, at), { card_id: 'bad' }, ...minutes.slice(at)];
      let deadLetteredAgain = 0;
      for (const seed of [1, 2, 3, 4]) {
        const report = await expectParity(velocity, withPoison, { batchSize: 'random', redeliver: true, seed });
        expect(report, `at ${at}, seed ${seed}`).toMatchObject({ records: 20, poison: 1 });
        if (report.deadLettered > 1) deadLetteredAgain++;
      }
      expect(deadLetteredAgain, `at ${at}: seeds whose redelivered tail held the poison event`).toBeGreaterThan(0);
    }
  });

  it('takes a record a redelivery writes again with the same values as at-least-once, in a group without aggregates', async () => {
    let redelivered = 0;
    for (const seed of [1, 2, 3, 4]) {
      const report = await expectParity(cardActivity, [...minutes, { card_id: 'bad' }], { batchSize: 'random', redeliver: true, seed });
      expect(report, `seed ${seed}`).toMatchObject({ records: 20, poison: 1 });
      // Valid events among those delivered again: the tails less the poison event's second arrivals.
      redelivered += report.redelivered - (report.deadLettered - report.poison);
    }
    expect(redelivered).toBeGreaterThan(0);
  });

  it('reports no redelivery without redeliver, and one dead-letter entry per poison event', async () => {
    expect(await expectParity(cardActivity, [...minutes, { card_id: 'bad' }])).toEqual({ records: 20, poison: 1, redelivered: 0, deadLettered: 1 });
  });

  it('fails when nothing was compared: no events, or none the source schema takes', async () => {
    await expect(expectParity(cardActivity, [])).rejects.toMatchObject({ name: 'AssertionError', message: 'expectParity: no event became a record (0 events, 0 poison), so nothing was compared' });
    // A fixture in another shape than the schema's (camelCase keys): every event poison on both paths, which agree.
    const camel = [{ cardId: 'c1', amountCents: 1 }, { cardId: 'c2', amountCents: 2 }];
    await expect(expectParity(cardActivity, camel)).rejects.toMatchObject({
      name: 'AssertionError',
      message: expect.stringMatching(/^expectParity: no event became a record \(2 events, 2 poison\), so nothing was compared; the first poison: .*card_id/),
    });
    expect(() => checkDeterminism(cardActivity, [])).toThrow(/^checkDeterminism: no event became a record \(0 events\), so nothing was checked$/);
    expect(() => checkDeterminism(cardActivity, camel)).toThrow(/^checkDeterminism: no event became a record \(2 events, the first refused: SOURCE_VALIDATION\), so nothing was checked$/);
    // One event that becomes a record is enough to check.
    expect(() => checkDeterminism(cardActivity, [...camel, minutes[0]])).not.toThrow();
  });

  it('names its arguments in refusals: the events, then the options', async () => {
    await expect(expectParity(cardActivity, {} as never)).rejects.toThrow(/^expectParity events: expected an array of raw events, got an object$/);
    await expect(expectParity(cardActivity, minutes, { batchSize: 0 })).rejects.toThrow(/^expectParity options\.batchSize: expected a positive whole number, got 0$/);
    expect(() => checkDeterminism(cardActivity, 'events' as never)).toThrow(/^checkDeterminism events: expected an array of raw events, got "events"$/);
    expect(() => checkDeterminism(cardActivity, minutes, { seed: 'x' } as never)).toThrow(/^checkDeterminism options\.seed: expected a number, got "x"$/);
  });

  it('fails naming the record and feature when the two paths differ', async () => {
    // A transform that behaves differently for a JSON-decoded event than for... itself: it counts calls.
    let calls = 0;
    const drifting = defineFeatureGroup({
      name: 'drifting',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: cardActivity.source,
      features: z.object({ card_id: z.string(), event_time: z.date(), seen: z.number().int() }),
      transform: (e) => ({ card_id: e.card_id, event_time: e.ts, seen: calls++ }),
    });
    const events = [0, 1, 2].map((i) => ({ card_id: `c${i}`, amount_cents: i, country: 'US', ts: `2024-05-01T00:00:0${i}.000Z` }));
    await expect(expectParity(drifting, events)).rejects.toThrow(/written record 0 differs: feature "seen": stream "0", backfill "3"/);
  });
});

describe('checkDeterminism', () => {
  const realNow = Date.now;
  const realRandom = Math.random;
  const events = Array.from({ length: 20 }, (_, i) => ({ card_id: `c${i}`, amount_cents: i, country: 'US', ts: `2024-05-01T00:00:${String(i).padStart(2, '0')}.000Z` }));

  it('passes a pure transform', () => {
    expect(() => checkDeterminism(cardActivity, events)).not.toThrow();
  });

  it('catches a transform that reads the clock', () => {
    const clocked = defineFeatureGroup({
      name: 'clocked',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: cardActivity.source,
      features: z.object({ card_id: z.string(), event_time: z.date(), age_ms: z.number() }),
      transform: (e) => ({ card_id: e.card_id, event_time: e.ts, age_ms: Date.now() - e.ts.getTime() }),
    });
    expect(() => checkDeterminism(clocked, events)).toThrow(/event 0 gave a different record when run again \(does the transform read the clock/);
  });

  it('catches randomness and state kept between calls', () => {
    const random = defineFeatureGroup({
      name: 'random',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: cardActivity.source,
      features: z.object({ card_id: z.string(), event_time: z.date(), r: z.number() }),
      transform: (e) => ({ card_id: e.card_id, event_time: e.ts, r: Math.random() }),
    });
    expect(() => checkDeterminism(random, events)).toThrow(/when run again/);
    const seen = new Set<string>();
    const stateful = defineFeatureGroup({
      name: 'stateful',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: cardActivity.source,
      features: z.object({ card_id: z.string(), event_time: z.date(), first: z.boolean() }),
      transform: (e) => {
        const first = !seen.has(e.country);
        seen.add(e.country);
        return { card_id: e.card_id, event_time: e.ts, first };
      },
    });
    expect(() => checkDeterminism(stateful, events)).toThrow(/^checkDeterminism: event 0 gave a different record when run again with the same clock and random numbers \(does the transform keep state between calls, or call new Date\(\)\?\)$/);
    // A counter changes every record; reading the clock changes none run alike.
    let n = 0;
    const counter = defineFeatureGroup({
      name: 'counter',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: cardActivity.source,
      features: z.object({ card_id: z.string(), event_time: z.date(), n: z.number() }),
      transform: (e) => ({ card_id: e.card_id, event_time: e.ts, n: n++ }),
    });
    expect(() => checkDeterminism(counter, events)).toThrow(/^checkDeterminism: event 0 gave a different record when run again with the same clock/);
    expect(() => checkDeterminism(random, events)).toThrow(/^checkDeterminism: event 0 gave a different record when run again \(does the transform read the clock or randomness\?\)$/);
    // The clock and the random numbers are given back after a failed check.
    expect(Date.now).toBe(realNow);
    expect(Math.random).toBe(realRandom);
  });

  it('refuses events a stream cannot carry, naming the event, before running anything', () => {
    expect(() => checkDeterminism(cardActivity, [events[0], { ...events[1], amount_cents: 1n }])).toThrow(
      /^checkDeterminism events\[1\]: expected bytes, text or a value JSON can write \(a stream carries bytes\), got a value JSON cannot write \(Do not know how to serialize a BigInt\)$/,
    );
  });
});
