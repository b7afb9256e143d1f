import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type AnyFeatureGroup,
  count,
  distinctCount,
  last,
  max,
  sum,
  defineFeatureGroup,
  defineRequestFeatures,
  type AnyRequestFeatures,
  type FeatureSelection,
  type FeatureStore,
  featureVectors,
  type InferRequest,
  type InferRequestOutputs,
  trainingSet,
  type InferFeatures,
  type InferRawSource,
  type InferSource,
  type InferTrainingRow,
  isoTimestamp,
  type RecordError,
  type SageMakerRecord,
} from '../src/index.js';

const cardActivity = defineFeatureGroup({
  name: 'card-activity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount_cents: z.number().int(), country: z.string(), ts: isoTimestamp() }),
  features: z.object({
    card_id: z.string(),
    event_time: z.date(),
    amount: z.number(),
    is_foreign: z.boolean(),
    merchant: z.string().optional(),
    risk: z.bigint().nullable(),
  }),
  transform: (e) => ({
    card_id: e.card_id,
    event_time: e.ts,
    amount: e.amount_cents / 100,
    is_foreign: e.country !== 'US',
    risk: null,
  }),
});

describe('types derived from the definition', () => {
  it('infers the source from the source schema', () => {
    expectTypeOf<InferSource<typeof cardActivity>>().toEqualTypeOf<{
      card_id: string;
      amount_cents: number;
      country: string;
      ts: Date;
    }>();
    expectTypeOf<InferRawSource<typeof cardActivity>>().toEqualTypeOf<{
      card_id: string;
      amount_cents: number;
      country: string;
      ts: string;
    }>();
  });

  it('infers the record from the features schema', () => {
    expectTypeOf<InferFeatures<typeof cardActivity>>().toEqualTypeOf<{
      card_id: string;
      event_time: Date;
      amount: number;
      is_foreign: boolean;
      merchant?: string | undefined;
      risk: bigint | null;
    }>();
  });

  it('keeps the literal name and keys', () => {
    expectTypeOf(cardActivity.name).toEqualTypeOf<'card-activity'>();
    expectTypeOf(cardActivity.recordIdentifier).toEqualTypeOf<'card_id'>();
    expectTypeOf(cardActivity.eventTime).toEqualTypeOf<'event_time'>();
  });

  it('types the pipeline result', () => {
    const result = cardActivity.process({});
    if (result.ok) {
      expectTypeOf(result.record).toEqualTypeOf<InferFeatures<typeof cardActivity>>();
      expectTypeOf(result.encoded).toEqualTypeOf<SageMakerRecord>();
    } else {
      expectTypeOf(result.error).toEqualTypeOf<RecordError>();
    }
  });

  it('is assignable to AnyFeatureGroup', () => {
    expectTypeOf(cardActivity).toExtend<AnyFeatureGroup>();
  });

  it('types selections and refuses unknown feature names', () => {
    expectTypeOf(cardActivity.select('amount', 'is_foreign')).toEqualTypeOf<
      FeatureSelection<'card-activity', { amount: number; is_foreign: boolean }>
    >();
    // @ts-expect-error 'nope' is not a feature of the group
    cardActivity.select('amount', 'nope');
  });
});

describe('compile-time checks of a definition', () => {
  const features = z.object({ id: z.string(), t: z.date(), n: z.number(), maybe: z.date().optional() });
  const source = z.object({ id: z.string() });

  it('checks the transform parameter against the source schema', () => {
    defineFeatureGroup({
      name: 'g',
      recordIdentifier: 'id',
      eventTime: 't',
      source,
      features,
      // @ts-expect-error the source has no field "missing"
      transform: (e) => ({ id: e.missing, t: new Date(), n: 1 }),
    });
  });

  it('checks the transform result against the features schema', () => {
    defineFeatureGroup({
      name: 'g',
      recordIdentifier: 'id',
      eventTime: 't',
      source,
      features,
      // @ts-expect-error n must be a number
      transform: (e) => ({ id: e.id, t: new Date(), n: 'one' }),
    });
  });

  it('only accepts a required date feature as event time', () => {
    defineFeatureGroup({
      name: 'g',
      recordIdentifier: 'id',
      // @ts-expect-error n is not a date
      eventTime: 'n',
      source,
      features,
      transform: (e) => ({ id: e.id, t: new Date(), n: 1 }),
    });
    defineFeatureGroup({
      name: 'g',
      recordIdentifier: 'id',
      // @ts-expect-error maybe is optional
      eventTime: 'maybe',
      source,
      features,
      transform: (e) => ({ id: e.id, t: new Date(), n: 1 }),
    });
  });

  it('only accepts a required string or integer feature as record identifier', () => {
    defineFeatureGroup({
      name: 'g',
      // @ts-expect-error t is a date
      recordIdentifier: 't',
      eventTime: 't',
      source,
      features,
      transform: (e) => ({ id: e.id, t: new Date(), n: 1 }),
    });
  });
});

describe('typed reads', () => {
  it('infers get and getMany results from the group', async () => {
    const { createFeatureStore } = await import('../src/index.js');
    const { memoryOnline } = await import('../src/testing/index.js');
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    expectTypeOf(store.get(cardActivity, 'c')).resolves.toEqualTypeOf<InferFeatures<typeof cardActivity> | undefined>();
    expectTypeOf(store.get(cardActivity, 'c', { features: ['amount', 'is_foreign'] })).resolves.toEqualTypeOf<
      { amount: number; is_foreign: boolean } | undefined
    >();
    expectTypeOf(store.getMany(cardActivity, ['c'])).resolves.toEqualTypeOf<Map<string, InferFeatures<typeof cardActivity>>>();
    // @ts-expect-error 'nope' is not a feature of the group
    void store.get(cardActivity, 'c', { features: ['nope'] });
  });
});

describe('training-set rows', () => {
  it('add each selected feature, nullable, under the group prefix or the one given', () => {
    const plain = cardActivity.select('amount');
    const renamed = cardActivity.select('is_foreign').with({ prefix: 'card_' });
    type Row = InferTrainingRow<{ card_id: string; label_time: Date }, [typeof plain, typeof renamed]>;
    expectTypeOf<Row>().toEqualTypeOf<{ card_id: string; label_time: Date; 'card-activity__amount': number | null; card_is_foreign: boolean | null }>();
  });
});

describe('aggregations', () => {
  const velocity = defineFeatureGroup({
    name: 'card-velocity',
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source: z.object({ card_id: z.string(), amount: z.number(), merchant: z.string(), ts: isoTimestamp() }),
    features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), merchant: z.string() }),
    transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount, merchant: e.merchant }),
    onlineStorageType: 'InMemory',
    aggregations: {
      n_1h: count({ window: '1h' }),
      sum_24h: sum('amount', { window: '24h' }),
      top_24h: max('amount', { window: '24h' }),
      last_merchant: last('merchant', { window: '1h' }),
      last_3: last('amount', { window: '1h', n: 3 }),
      merchants: distinctCount('merchant', { window: '24h' }),
    },
  });

  it('add their outputs to the record type, optional where a window can be empty', () => {
    expectTypeOf<InferFeatures<typeof velocity>>().toEqualTypeOf<{
      card_id: string;
      event_time: Date;
      amount: number;
      merchant: string;
      n_1h: number;
      sum_24h: number;
      merchants: number;
      top_24h?: number;
      last_merchant?: string;
      last_3?: number[];
    }>();
    expectTypeOf(velocity).toExtend<AnyFeatureGroup>();
  });

  it('can be selected for training sets, and only read features the group has', () => {
    expectTypeOf(velocity.select('amount', 'n_1h')).toExtend<FeatureSelection<'card-velocity', { amount: number; n_1h: number }>>();
    defineFeatureGroup({
      name: 'bad',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: z.object({ card_id: z.string(), ts: isoTimestamp() }),
      features: z.object({ card_id: z.string(), event_time: z.date() }),
      transform: (e) => ({ card_id: e.card_id, event_time: e.ts }),
      // @ts-expect-error: the group has no feature "amount"
      aggregations: { s: sum('amount', { window: '1h' }) },
    });
  });
});

describe('request features', () => {
  const amountVsHistory = defineRequestFeatures({
    name: 'amount-vs-history',
    request: z.object({ amount: z.number(), channel: z.enum(['web', 'pos']).optional() }),
    reads: { card: cardActivity.select('amount', 'risk'), foreign: cardActivity.select('is_foreign').with({ key: 'payee_id' }) },
    features: z.object({ ratio: z.number().nullable(), web: z.boolean(), note: z.string().optional() }),
    transform: (request, reads) => {
      expectTypeOf(request).toEqualTypeOf<{ amount: number; channel?: 'web' | 'pos' | undefined }>();
      expectTypeOf(reads).toEqualTypeOf<{ card: { amount: number | null; risk: bigint | null }; foreign: { is_foreign: boolean | null } }>();
      return { ratio: reads.card.amount ? request.amount / reads.card.amount : null, web: request.channel === 'web' };
    },
  });

  it('checks the transform result against the features schema', () => {
    defineRequestFeatures({
      name: 'wrong',
      request: z.object({ amount: z.number() }),
      features: z.object({ ratio: z.number() }),
      // @ts-expect-error ratio must be a number
      transform: (request) => ({ ratio: String(request.amount) }),
    });
  });

  it('read only features their selections chose', () => {
    defineRequestFeatures({
      name: 'unread',
      request: z.object({ amount: z.number() }),
      reads: { card: cardActivity.select('amount') },
      features: z.object({ x: z.boolean() }),
      // @ts-expect-error is_foreign was not selected
      transform: (_request, { card }) => ({ x: card.is_foreign === true }),
    });
  });

  it('add their outputs to training rows under their name, or the prefix given; optional outputs nullable', () => {
    const plain = cardActivity.select('amount');
    type Row = InferTrainingRow<{ card_id: string; amount: number }, [typeof plain, typeof amountVsHistory]>;
    expectTypeOf<Row>().toEqualTypeOf<{
      card_id: string;
      amount: number;
      'card-activity__amount': number | null;
      'amount-vs-history__ratio': number | null;
      'amount-vs-history__web': boolean;
      'amount-vs-history__note': string | null;
    }>();
    const renamed = amountVsHistory.with({ prefix: 'rq_' });
    type Renamed = InferTrainingRow<{ card_id: string }, [typeof renamed]>;
    expectTypeOf<Renamed>().toEqualTypeOf<{ card_id: string; rq_ratio: number | null; rq_web: boolean; rq_note: string | null }>();
  });

  it('type training sets and feature vectors listing them beside selections', async () => {
    const store = {} as FeatureStore;
    const { rows } = await trainingSet(store, {
      spine: [{ card_id: 'c1', t: new Date(), amount: 12 }],
      entityKey: 'card_id',
      timestamp: 't',
      features: [cardActivity.select('is_foreign'), amountVsHistory],
    });
    expectTypeOf(rows[0]!['amount-vs-history__ratio']).toEqualTypeOf<number | null>();
    expectTypeOf(rows[0]!['card-activity__is_foreign']).toEqualTypeOf<boolean | null>();
    const served = await featureVectors(store, { entities: [{ card_id: 'c1', amount: 3 }], entityKey: 'card_id', features: [amountVsHistory.with({ prefix: '' })] });
    expectTypeOf(served.rows[0]!.web).toEqualTypeOf<boolean>();
  });

  it('infer the request values and outputs, and are assignable to AnyRequestFeatures', () => {
    expectTypeOf<InferRequest<typeof amountVsHistory>>().toEqualTypeOf<{ amount: number; channel?: 'web' | 'pos' | undefined }>();
    expectTypeOf<InferRequestOutputs<typeof amountVsHistory>>().toEqualTypeOf<{ ratio: number | null; web: boolean; note?: string | undefined }>();
    expectTypeOf(amountVsHistory).toMatchTypeOf<AnyRequestFeatures>();
  });
});
