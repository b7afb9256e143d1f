import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DecodeError, defineFeatureGroup, FeatureValidationError, type InferFeatures, offlineRowCodec } from '../src/index.js';
import { dynamoDbItemCodec } from '../src/aws/index.js';
import { fingerprintOf } from '../src/schema/codec.js';
import { MAX_TIME_MS, MIN_TIME_MS } from '../src/schema/time.js';
import { cardActivity, everyType } from './fixtures/groups.js';

type EveryType = InferFeatures<typeof everyType>;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const instant = fc.integer({ min: MIN_TIME_MS, max: MAX_TIME_MS }).map((ms) => new Date(ms));
const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const double = fc.double({ noNaN: true, noDefaultInfinity: true });

const everyTypeRecord: fc.Arbitrary<EveryType> = fc
  .record({
    id: fc.bigInt(INT64_MIN, INT64_MAX),
    at: instant,
    text,
    level: fc.constantFrom('low' as const, 'high' as const),
    count: fc.maxSafeInteger(),
    ratio: double,
    big: fc.bigInt(INT64_MIN, INT64_MAX),
    flag: fc.boolean(),
    seen: instant,
    note: fc.option(text, { nil: undefined }),
    score: fc.option(double, { nil: null }),
    tags: fc.array(text, { maxLength: 5 }),
    weights: fc.array(double, { maxLength: 5 }),
  })
  .map(({ note, ...rest }) => (note === undefined ? rest : { ...rest, note }));

const sample: EveryType = {
  id: 2n ** 62n + 1n,
  at: new Date('2024-05-01T12:00:00.250Z'),
  text: 'naïve café ☕ 𝄞',
  level: 'high',
  count: -42,
  ratio: 0.1 + 0.2,
  big: INT64_MAX,
  flag: true,
  seen: new Date('0001-02-03T04:05:06.007Z'),
  score: null,
  tags: ['a', ''],
  weights: [-0, 1e21, 5e-324],
};

describe('SageMaker record encoding', () => {
  it('writes every type in the documented string form', () => {
    const record = everyType.codec.toRecord(sample);
    expect(record).toEqual([
      { FeatureName: 'id', ValueAsString: '4611686018427387905' },
      { FeatureName: 'at', ValueAsString: '2024-05-01T12:00:00.250Z' },
      { FeatureName: 'text', ValueAsString: 'naïve café ☕ 𝄞' },
      { FeatureName: 'level', ValueAsString: 'high' },
      { FeatureName: 'count', ValueAsString: '-42' },
      { FeatureName: 'ratio', ValueAsString: '0.30000000000000004' },
      { FeatureName: 'big', ValueAsString: '9223372036854775807' },
      { FeatureName: 'flag', ValueAsString: '1' },
      { FeatureName: 'seen', ValueAsString: '0001-02-03T04:05:06.007Z' },
      { FeatureName: 'tags', ValueAsStringList: ['a', ''] },
      { FeatureName: 'weights', ValueAsStringList: ['-0', '1e+21', '5e-324'] },
      { FeatureName: 'skewless_fingerprint', ValueAsString: everyType.fingerprint },
    ]);
    expect(fingerprintOf(record)).toBe(everyType.fingerprint);
  });

  it('omits absent optional and null features instead of sending "null"', () => {
    const record = everyType.codec.toRecord(sample);
    expect(record.map((f) => f.FeatureName)).not.toContain('note');
    expect(record.map((f) => f.FeatureName)).not.toContain('score');
    expect(JSON.stringify(record)).not.toMatch(/"(null|NaN|undefined)"/);
  });

  it('reads absent nullable features back as null and absent optional ones as missing', () => {
    const decoded = everyType.codec.fromRecord(everyType.codec.toRecord(sample));
    expect(decoded.score).toBeNull();
    expect('note' in decoded).toBe(false);
  });

  it('round-trips every supported value exactly', () => {
    fc.assert(
      fc.property(everyTypeRecord, (record) => {
        expect(everyType.codec.fromRecord(everyType.codec.toRecord(record))).toStrictEqual(record);
      }),
      { numRuns: 500 },
    );
  });

  it('stores dates as epoch seconds and reads them back to the millisecond', () => {
    const g = defineFeatureGroup({
      name: 'epoch',
      recordIdentifier: 'id',
      eventTime: 't',
      eventTimeFormat: 'epoch-seconds',
      source: z.object({ id: z.string(), t: z.date() }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => e,
    });
    expect(g.codec.toRecord({ id: 'a', t: new Date(1_714_564_800_250) })[1]).toEqual({
      FeatureName: 't',
      ValueAsString: '1714564800.25',
    });
    fc.assert(
      fc.property(instant, (t) => {
        expect(g.codec.fromRecord(g.codec.toRecord({ id: 'a', t })).t.getTime()).toBe(t.getTime());
      }),
    );
  });

  it('ignores features the group does not have, such as the fingerprint', () => {
    const decoded = cardActivity.codec.fromRecord([
      { FeatureName: 'card_id', ValueAsString: 'c' },
      { FeatureName: 'event_time', ValueAsString: '2024-05-01T00:00:00Z' },
      { FeatureName: 'amount', ValueAsString: '1.5' },
      { FeatureName: 'is_foreign', ValueAsString: '0' },
      { FeatureName: 'skewless_fingerprint', ValueAsString: 'x' },
      { FeatureName: 'write_time', ValueAsString: 'y' },
    ]);
    expect(decoded).toEqual({ card_id: 'c', event_time: new Date('2024-05-01T00:00:00Z'), amount: 1.5, is_foreign: false });
  });

  it.each([
    ['an Integral that is not an integer', 'is_foreign', '2'],
    ['a Fractional that is not a number', 'amount', 'abc'],
    ['a Fractional that is NaN', 'amount', 'NaN'],
    ['an empty Fractional', 'amount', ''],
    ['a time without a zone', 'event_time', '2024-05-01T00:00:00'],
  ])('refuses to decode %s', (_label, feature, value) => {
    const record = cardActivity.codec.toRecord({ card_id: 'c', event_time: new Date(0), amount: 1, is_foreign: true });
    const broken = record.map((f) => (f.FeatureName === feature ? { ...f, ValueAsString: value } : f));
    expect(() => cardActivity.codec.fromRecord(broken)).toThrow(DecodeError);
  });

  it('refuses to decode a record missing a required feature, saying it is missing (not that it cannot be read)', () => {
    expect(() => cardActivity.codec.fromRecord([{ FeatureName: 'card_id', ValueAsString: 'c' }])).toThrow(DecodeError);
    const record = cardActivity.codec.toRecord({ card_id: 'c', event_time: new Date(0), amount: 1, is_foreign: false }).filter((f) => f.FeatureName !== 'amount');
    expect(() => cardActivity.codec.fromRecord(record)).toThrow(
      'group "card-activity": the record has no value for feature "amount", which the group requires: it was written before the feature was added, or by another definition (its skewless_fingerprint says which)',
    );
    // The offline row codec reads a row without the column the same way.
    const row = { card_id: 'c', event_time: '1970-01-01T00:00:00.000Z', is_foreign: 0 };
    expect(() => offlineRowCodec(cardActivity).fromRow(row)).toThrow(/no value for feature "amount", which the group requires/);
  });

  it('refuses what is not a record (null from JavaScript, an item of another shape) as a DecodeError saying what it got', () => {
    const expected = (got: string) => `group "card-activity": fromRecord takes a SageMaker record, an array of { FeatureName, ValueAsString }, got ${got}`;
    for (const [given, got] of [[null, 'null'], [undefined, 'undefined'], [{ card_id: 'c' }, 'an object'], ['c', 'a string']] as const) {
      expect(() => cardActivity.codec.fromRecord(given as never)).toThrow(new DecodeError(expected(got)));
    }
    const feature = { FeatureName: 'card_id', ValueAsString: 'c' };
    for (const [given, got] of [[[null], 'item 0 is null'], [[feature, { card_id: { S: 'c' } }], 'item 1 is an object'], [['card_id'], 'item 0 is a string']] as const) {
      expect(() => cardActivity.codec.fromRecord(given as never)).toThrow(new DecodeError(expected(`an array whose ${got} without a FeatureName`)));
    }
  });

  it('refuses values SageMaker cannot hold when encoding directly', () => {
    const bad = { ...sample, big: INT64_MAX + 1n };
    expect(() => everyType.codec.toRecord(bad)).toThrow(FeatureValidationError);
    expect(() => everyType.codec.toRecord({ ...sample, ratio: Number.NaN })).toThrow(FeatureValidationError);
    expect(() => everyType.codec.toRecord({ ...sample, text: 'bad \ud800 surrogate' })).toThrow(/surrogate/);
    expect(() => everyType.codec.toRecord({ ...sample, at: new Date(MAX_TIME_MS + 1) })).toThrow(/9999/);
  });
});

describe('DynamoDB item encoding', () => {
  it('uses S, N and L attribute values with numbers kept as exact strings, booleans as N 0/1 (their Integral form)', () => {
    const item = dynamoDbItemCodec(everyType).toItem(sample);
    expect(item['id']).toEqual({ N: '4611686018427387905' });
    expect(item['big']).toEqual({ N: '9223372036854775807' });
    expect(item['flag']).toEqual({ N: '1' });
    expect(item['at']).toEqual({ S: '2024-05-01T12:00:00.250Z' });
    expect(item['tags']).toEqual({ L: [{ S: 'a' }, { S: '' }] });
    expect(item['skewless_fingerprint']).toEqual({ S: everyType.fingerprint });
    expect('score' in item).toBe(false);
  });

  it('round-trips every supported value exactly', () => {
    fc.assert(
      fc.property(everyTypeRecord, (record) => {
        expect(dynamoDbItemCodec(everyType).fromItem(dynamoDbItemCodec(everyType).toItem(record))).toStrictEqual(record);
      }),
      { numRuns: 300 },
    );
  });

  it('reads a DynamoDB NULL attribute as absent', () => {
    const item = { ...dynamoDbItemCodec(everyType).toItem(sample), score: { NULL: true } };
    expect(dynamoDbItemCodec(everyType).fromItem(item).score).toBeNull();
  });

  it('refuses an item that is not an object as a DecodeError', () => {
    expect(() => dynamoDbItemCodec(everyType).fromItem(null as never)).toThrow(DecodeError);
    expect(() => offlineRowCodec(everyType).fromRow(undefined as never)).toThrow(DecodeError);
  });

  it('refuses an attribute of the wrong kind', () => {
    const item = { ...dynamoDbItemCodec(everyType).toItem(sample), count: { S: '12' } };
    expect(() => dynamoDbItemCodec(everyType).fromItem(item)).toThrow(DecodeError);
  });
});

describe('offline row encoding', () => {
  it('types columns as SageMaker\'s Glue table does', () => {
    expect(offlineRowCodec(everyType).columns).toEqual([
      { name: 'id', type: 'bigint' },
      { name: 'at', type: 'string' },
      { name: 'text', type: 'string' },
      { name: 'level', type: 'string' },
      { name: 'count', type: 'bigint' },
      { name: 'ratio', type: 'double' },
      { name: 'big', type: 'bigint' },
      { name: 'flag', type: 'bigint' },
      { name: 'seen', type: 'string' },
      { name: 'note', type: 'string' },
      { name: 'score', type: 'double' },
      { name: 'tags', type: 'array<string>' },
      { name: 'weights', type: 'array<double>' },
      { name: 'skewless_fingerprint', type: 'string' },
    ]);
  });

  it('writes Integral columns as bigint and absent features as null', () => {
    const row = offlineRowCodec(everyType).toRow(sample);
    expect(row['count']).toBe(-42n);
    expect(row['flag']).toBe(1n);
    expect(row['note']).toBeNull();
    expect(row['at']).toBe('2024-05-01T12:00:00.250Z');
  });

  it('round-trips every supported value exactly', () => {
    fc.assert(
      fc.property(everyTypeRecord, (record) => {
        expect(offlineRowCodec(everyType).fromRow(offlineRowCodec(everyType).toRow(record))).toStrictEqual(record);
      }),
      { numRuns: 300 },
    );
  });

  it('reads Integral columns given as numbers, as a database driver may return them', () => {
    const row = { ...offlineRowCodec(everyType).toRow(sample), count: -42, flag: 0 };
    const decoded = offlineRowCodec(everyType).fromRow(row);
    expect(decoded.count).toBe(-42);
    expect(decoded.flag).toBe(false);
  });
});
