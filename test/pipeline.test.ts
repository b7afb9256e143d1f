import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defineFeatureGroup,
  epochMillis,
  epochSeconds,
  FeatureValidationError,
  formatError,
  isoTimestamp,
  type ProcessResult,
  SkewlessError,
  SourceValidationError,
  TransformError,
} from '../src/index.js';
import { cardActivity, validCardEvent } from './fixtures/groups.js';

function failure<R>(result: ProcessResult<R>) {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.record)}`);
  return result.error;
}

const idFeatures = z.object({ id: z.string(), t: z.date(), v: z.number().optional() });

/** A group keyed by `id` with event time `t`, fed `{ id }` events, whose transform is the test's subject. */
function idGroup(name: string, transform: (e: { id: string }) => z.input<typeof idFeatures>) {
  return defineFeatureGroup({
    name,
    recordIdentifier: 'id',
    eventTime: 't',
    source: z.object({ id: z.string() }),
    features: idFeatures,
    transform,
  });
}

/** A group whose transform passes a chosen value through, to reach each feature check. */
const passThrough = defineFeatureGroup({
  name: 'pass-through',
  recordIdentifier: 'id',
  eventTime: 'at',
  source: z.object({ id: z.string(), at: epochSeconds(), text: z.string(), big: z.bigint().optional() }),
  features: z.object({ id: z.string(), at: z.date(), text: z.string(), big: z.bigint().optional() }),
  transform: (e) => e,
});
const passEvent = { id: 'a', at: 1_714_564_800, text: 'x' };

describe('pipeline: valid events', () => {
  it('validates, transforms and encodes an event', () => {
    const result = cardActivity.process(validCardEvent);
    expect(result).toEqual({
      ok: true,
      record: { card_id: 'card-1', event_time: new Date('2024-05-01T12:00:00.250Z'), amount: 12.5, is_foreign: true },
      encoded: [
        { FeatureName: 'card_id', ValueAsString: 'card-1' },
        { FeatureName: 'event_time', ValueAsString: '2024-05-01T12:00:00.250Z' },
        { FeatureName: 'amount', ValueAsString: '12.5' },
        { FeatureName: 'is_foreign', ValueAsString: '1' },
        { FeatureName: 'skewless_fingerprint', ValueAsString: cardActivity.fingerprint },
      ],
    });
  });

  it('strips fields the source schema does not declare', () => {
    let seen: unknown;
    const g = idGroup('strip', (e) => {
        seen = e;
        return { id: e.id, t: new Date(0) };
      });
    expect(g.process({ id: 'a', secret: 'x' }).ok).toBe(true);
    expect(seen).toEqual({ id: 'a' });
  });

  it('encodes exactly what the codec encodes', () => {
    const result = cardActivity.process(validCardEvent);
    if (!result.ok) throw result.error;
    expect(result.encoded).toEqual(cardActivity.codec.toRecord(result.record));
  });

  it('accepts ISO times with offsets and converts them to UTC', () => {
    const result = cardActivity.process({ ...validCardEvent, ts: '2024-05-01T14:00:00+02:00' });
    expect(result.ok && result.encoded[1]).toEqual({ FeatureName: 'event_time', ValueAsString: '2024-05-01T12:00:00.000Z' });
  });
});

describe('pipeline: bad input gets a typed error, never a crash', () => {
  it.each([
    ['null', null],
    ['a number', 42],
    ['a string', '{"card_id":"x"}'],
    ['an array', [validCardEvent]],
    ['undefined', undefined],
  ])('refuses a non-object source: %s', (_label, raw) => {
    const error = failure(cardActivity.process(raw));
    expect(error).toBeInstanceOf(SourceValidationError);
    expect(error.code).toBe('SOURCE_VALIDATION');
  });

  it('names the missing field', () => {
    const { amount_cents: _, ...missing } = validCardEvent;
    const error = failure(cardActivity.process(missing));
    expect(error.issues.map((i) => i.path)).toEqual([['amount_cents']]);
    expect(error.message).toContain('amount_cents');
  });

  it('names the field of the wrong type', () => {
    const error = failure(cardActivity.process({ ...validCardEvent, amount_cents: '1250' }));
    expect(error).toBeInstanceOf(SourceValidationError);
    expect(error.issues[0]?.path).toEqual(['amount_cents']);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])('refuses %s in the source', (value) => {
    expect(failure(cardActivity.process({ ...validCardEvent, amount_cents: value }))).toBeInstanceOf(SourceValidationError);
  });

  it('refuses NaN produced by the transform', () => {
    const g = idGroup('nan', (e) => ({ id: e.id, t: new Date(0), v: 0 / 0 }));
    const error = failure(g.process({ id: 'a' }));
    expect(error).toBeInstanceOf(FeatureValidationError);
    expect(error.issues[0]?.path).toEqual(['v']);
  });

  it('refuses integers outside signed 64-bit', () => {
    expect(passThrough.process({ ...passEvent, big: 2n ** 63n - 1n }).ok).toBe(true);
    const error = failure(passThrough.process({ ...passEvent, big: 2n ** 63n }));
    expect(error).toBeInstanceOf(FeatureValidationError);
    expect(error.message).toContain('64-bit');
    expect(failure(passThrough.process({ ...passEvent, big: -(2n ** 63n) - 1n }))).toBeInstanceOf(FeatureValidationError);
  });

  it('refuses a string over 350 KB', () => {
    const error = failure(passThrough.process({ ...passEvent, text: 'é'.repeat(180_000) }));
    expect(error).toBeInstanceOf(FeatureValidationError);
    expect(error.issues[0]).toMatchObject({ code: 'too_big', path: ['text'] });
  });

  it('accepts a string of exactly 350 KB less the rest of the record', () => {
    const overhead = 'id'.length + 1 + 'at'.length + 24 + 'text'.length + 'skewless_fingerprint'.length + 16;
    expect(passThrough.process({ ...passEvent, text: 'x'.repeat(350 * 1024 - overhead) }).ok).toBe(true);
    expect(passThrough.process({ ...passEvent, text: 'x'.repeat(350 * 1024 - overhead + 1) }).ok).toBe(false);
  });

  it('refuses a record over 350 KB even when each value fits', () => {
    const g = defineFeatureGroup({
      name: 'wide',
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string(), a: z.string(), b: z.string() }),
      features: z.object({ id: z.string(), t: z.date(), a: z.string(), b: z.string() }),
      transform: (e) => ({ ...e, t: new Date(0) }),
    });
    const error = failure(g.process({ id: 'x', a: 'a'.repeat(200_000), b: 'b'.repeat(200_000) }));
    expect(error).toBeInstanceOf(FeatureValidationError);
    expect(error.issues[0]).toMatchObject({ code: 'too_big', path: [] });
  });

  it.each([
    ['empty', ''],
    ['over 2 KB', 'x'.repeat(2049)],
    ['over 2 KB in UTF-8', 'é'.repeat(1025)],
  ])('refuses a record identifier that is %s', (_label, id) => {
    const error = failure(passThrough.process({ ...passEvent, id }));
    expect(error).toBeInstanceOf(FeatureValidationError);
    expect(error.issues[0]?.path).toEqual(['id']);
  });

  it('accepts a record identifier of exactly 2 KB', () => {
    expect(passThrough.process({ ...passEvent, id: 'x'.repeat(2048) }).ok).toBe(true);
  });

  it.each([
    ['unparsable', 'yesterday'],
    ['without a time zone', '2024-05-01T12:00:00'],
    ['an impossible date', '2024-02-30T00:00:00Z'],
    ['a five-digit year', '10000-01-01T00:00:00Z'],
  ])('refuses an event time that is %s', (_label, ts) => {
    const error = failure(cardActivity.process({ ...validCardEvent, ts }));
    expect(error).toBeInstanceOf(SourceValidationError);
    expect(error.issues[0]?.path).toEqual(['ts']);
  });

  it('refuses epoch seconds that land outside 0000..9999', () => {
    expect(failure(passThrough.process({ ...passEvent, at: 253_402_300_800 }))).toBeInstanceOf(SourceValidationError);
    expect(failure(passThrough.process({ ...passEvent, at: -62_167_219_201 }))).toBeInstanceOf(SourceValidationError);
  });

  it('refuses an event time out of range produced by the transform', () => {
    const g = idGroup('far-future', (e) => ({ id: e.id, t: new Date(Date.UTC(10_000, 0, 1)) }));
    expect(failure(g.process({ id: 'a' }))).toBeInstanceOf(FeatureValidationError);
  });

  it('reports a transform that throws, keeping the cause', () => {
    const g = idGroup('throws', (): { id: string; t: Date } => {
        throw new RangeError('boom');
      });
    const error = failure(g.process({ id: 'a' }));
    expect(error).toBeInstanceOf(TransformError);
    expect(error.message).toContain('boom');
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it.each([
    ['null', null],
    ['a number', 1],
    ['an array', []],
    ['a Promise', Promise.resolve({})],
  ])('reports a transform that returns %s', (_label, value) => {
    const g = idGroup('bad-return', () => value as unknown as { id: string; t: Date });
    const error = failure(g.process({ id: 'a' }));
    expect(error).toBeInstanceOf(TransformError);
    expect(error.code).toBe('TRANSFORM_FAILED');
  });

  it('reports a source refinement that throws as a source error', () => {
    const g = defineFeatureGroup({
      name: 'refine-throws',
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string().refine(() => {
        throw new Error('refinement bug');
      }) }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => ({ id: e.id, t: new Date(0) }),
    });
    expect(failure(g.process({ id: 'a' }))).toBeInstanceOf(SourceValidationError);
  });

  it('carries the source position into the error and its rendering', () => {
    const position = { source: 'kinesis', shardId: 'shardId-000000000000', sequenceNumber: '4954' };
    const error = failure(cardActivity.process({ ...validCardEvent, amount_cents: 'x' }, position));
    expect(error.position).toEqual(position);
    expect(formatError(error)).toContain('sequenceNumber=4954');
    expect(formatError(error)).toContain('amount_cents');
  });
});

describe('pipeline: batches', () => {
  it('processes every event and reports each failure by index', () => {
    const events = [validCardEvent, null, { ...validCardEvent, card_id: 'card-2' }, { ...validCardEvent, ts: 'x' }];
    const { records, failures } = cardActivity.processBatch(events);
    expect(records.map((r) => [r.index, r.record.card_id])).toEqual([
      [0, 'card-1'],
      [2, 'card-2'],
    ]);
    expect(failures.map((f) => [f.index, f.error.code, f.error.position?.index])).toEqual([
      [1, 'SOURCE_VALIDATION', 1],
      [3, 'SOURCE_VALIDATION', 3],
    ]);
  });

  it('gives the same records as one-by-one processing', () => {
    const events = Array.from({ length: 50 }, (_, i) => ({ ...validCardEvent, card_id: `c${i}`, amount_cents: i }));
    const batch = cardActivity.processBatch(events).records.map((r) => r.encoded);
    const single = events.map((e) => {
      const result = cardActivity.process(e);
      return result.ok ? result.encoded : undefined;
    });
    expect(batch).toEqual(single);
  });

  it.each([
    [new Set([validCardEvent]), 'an object'],
    ['ab', '"ab"'],
    [{}, 'an object'],
    [5, '5'],
    [null, 'null'],
    [undefined, 'undefined'],
  ])('refuses a batch that is not an array (%o) rather than reading it as no events or as characters', (batch, got) => {
    expect(() => cardActivity.processBatch(batch as unknown as unknown[])).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: `group "card-activity" processBatch: expected an array of events, got ${got}` }),
    );
  });

  it('uses the position function given for each index', () => {
    const { failures } = cardActivity.processBatch([null], { position: (i) => ({ source: 'sqs', messageId: `m-${i}` }) });
    expect(failures[0]?.error.position).toEqual({ source: 'sqs', messageId: 'm-0' });
  });
});

describe('pipeline: properties', () => {
  const codes = new Set(['SOURCE_VALIDATION', 'TRANSFORM_FAILED', 'FEATURE_VALIDATION']);
  const mutatedEvent = fc.record(
    {
      card_id: fc.oneof(fc.string(), fc.anything()),
      amount_cents: fc.oneof(fc.integer(), fc.double(), fc.anything()),
      country: fc.oneof(fc.constantFrom('US', 'FR'), fc.anything()),
      ts: fc.oneof(fc.date({ noInvalidDate: false }).map((d) => (Number.isNaN(d.getTime()) ? 'bad' : d.toISOString())), fc.string(), fc.anything()),
    },
    { requiredKeys: [] },
  );

  it('never throws and every failure is a typed SkewlessError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), mutatedEvent), (raw) => {
        const result = cardActivity.process(raw);
        if (!result.ok) {
          expect(result.error).toBeInstanceOf(SkewlessError);
          expect(codes.has(result.error.code)).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every well-formed event and round-trips its record', () => {
    const wellFormed = fc.record({
      card_id: fc.string({ minLength: 1, maxLength: 64 }).filter((s) => s.isWellFormed()),
      amount_cents: fc.integer({ min: -1e9, max: 1e9 }),
      country: fc.constantFrom('US', 'FR', 'BR'),
      ts: fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }).map((ms) => new Date(ms).toISOString()),
    });
    fc.assert(
      fc.property(wellFormed, (raw) => {
        const result = cardActivity.process(raw);
        if (!result.ok) throw result.error;
        expect(cardActivity.codec.fromRecord(result.encoded)).toStrictEqual(result.record);
      }),
      { numRuns: 1000 },
    );
  });

  it('a user transform with arbitrary output never crashes the pipeline', () => {
    fc.assert(
      fc.property(fc.anything(), (output) => {
        const g = idGroup('anything', () => output as { id: string; t: Date });
        const result = g.process({ id: 'a' });
        if (!result.ok) expect(codes.has(result.error.code)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('time helpers', () => {
  it('are zod/mini schemas that classic zod wraps: z.optional(isoTimestamp()) takes an absent field, and there is no .optional() method', () => {
    const source = z.object({ id: z.string(), seen: z.optional(isoTimestamp()), at: z.nullable(epochMillis()) });
    expect(source.parse({ id: 'a', at: null })).toEqual({ id: 'a', at: null });
    expect(source.parse({ id: 'a', seen: '2024-05-01T00:00:00Z', at: 0 })).toEqual({ id: 'a', seen: new Date('2024-05-01T00:00:00Z'), at: new Date(0) });
    expect(source.safeParse({ id: 'a', seen: '2024-05-01T00:00:00', at: null }).success).toBe(false);
    expect((isoTimestamp() as unknown as { optional?: unknown }).optional).toBeUndefined();
  });

  it('isoTimestamp reads Date#toISOString output back to the same instant', () => {
    const schema = isoTimestamp();
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (ms) => {
        expect(schema.parse(new Date(ms).toISOString()).getTime()).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });

  it('isoTimestamp agrees with Date.parse on zoned ISO strings', () => {
    const schema = isoTimestamp();
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    const zoned = fc
      .tuple(fc.integer({ min: 1000, max: 9999 }), two(12), two(28), two(23), two(59), two(59), fc.constantFrom('Z', '+05:30', '-11:00', '+00:00'))
      .filter(([, m, d]) => m !== '00' && d !== '00')
      .map(([y, m, d, h, mi, s, z]) => `${y}-${m}-${d}T${h}:${mi}:${s}${z}`);
    fc.assert(
      fc.property(zoned, (text) => {
        expect(schema.parse(text).getTime()).toBe(Date.parse(text));
      }),
      { numRuns: 2000 },
    );
  });
});
