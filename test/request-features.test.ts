import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sageMakerOnline } from '../src/aws/index.js';
import {
  createFeatureStore,
  DataError,
  DefinitionError,
  defineFeatureGroup,
  defineRequestFeatures,
  FeatureValidationError,
  type FeatureStore,
  featureVectors,
  isRequestFeatures,
  trainingSet,
  TransformError,
} from '../src/index.js';
import { featureVectorHandler, type HttpResponse } from '../src/lambda/index.js';
import { type LocalStack, localStores, startLocalStack } from '../src/local/index.js';
import { expectServingParity } from '../src/testing/index.js';
import { createGroupOnStack } from './fixtures/stack.js';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const MINUTE = 60_000;

const cards = defineFeatureGroup({
  name: 'rq-cards',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), event_time: z.date(), amount_avg_24h: z.number(), country: z.string() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount_avg_24h: z.number(), country: z.string() }),
  transform: (e) => e,
});

/** The fraud case: how far the amount being scored is from the card's 24h average, and whether it crosses a border. */
const amountVsHistory = defineRequestFeatures({
  name: 'amount-vs-history',
  request: z.object({ amount: z.number().nonnegative(), country: z.string().length(2) }),
  reads: { card: cards.select('amount_avg_24h', 'country') },
  features: z.object({ amount_vs_avg_24h: z.number().nullable(), new_country: z.boolean() }),
  transform: (request, { card }) => ({
    amount_vs_avg_24h: card.amount_avg_24h ? request.amount / card.amount_avg_24h : null,
    new_country: card.country !== null && card.country !== request.country,
  }),
});

const card = (card_id: string, minutesAgo: number, amount_avg_24h: number, country = 'US') => ({ card_id, event_time: new Date(NOW - minutesAgo * MINUTE), amount_avg_24h, country });

function embeddedStore(): FeatureStore {
  return createFeatureStore({ ...localStores({ memory: true }), now: () => NOW });
}

describe('defineRequestFeatures', () => {
  it('is recognised, and names its outputs', () => {
    expect(isRequestFeatures(amountVsHistory)).toBe(true);
    expect(isRequestFeatures({ ...amountVsHistory })).toBe(false);
    expect(isRequestFeatures(cards.select('country'))).toBe(false);
    expect(amountVsHistory.featureNames).toEqual(['amount_vs_avg_24h', 'new_country']);
    expect(amountVsHistory.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  const base = {
    name: 'fp',
    request: z.object({ amount: z.number() }),
    reads: { card: cards.select('amount_avg_24h') },
    features: z.object({ ratio: z.number().nullable() }),
  };

  it('keeps its fingerprint when only whitespace or local names change', () => {
    const a = defineRequestFeatures({ ...base, transform: (request, { card }) => ({ ratio: card.amount_avg_24h ? request.amount / card.amount_avg_24h : null }) });
    const renamed = defineRequestFeatures({ ...base, transform: (q, { card: k }) => ({ ratio: k.amount_avg_24h ? q.amount / k.amount_avg_24h : null }) });
    expect(renamed.fingerprint).toBe(a.fingerprint);
    const spaced = defineRequestFeatures({ ...base, transform: (request, { card }) => ({
      ratio:   card.amount_avg_24h
        ? request.amount / card.amount_avg_24h
        : null,
    }) });
    expect(spaced.fingerprint).toBe(a.fingerprint);
    // A prefix renames columns only.
    expect(a.with({ prefix: 'x_' }).fingerprint).toBe(a.fingerprint);
  });

  it('changes its fingerprint when the transform, a schema, a read or the version changes', () => {
    const transform = (request: { amount: number }, { card }: { card: { amount_avg_24h: number | null } }) => ({ ratio: card.amount_avg_24h ? request.amount / card.amount_avg_24h : null });
    const a = defineRequestFeatures({ ...base, transform });
    const others = [
      defineRequestFeatures({ ...base, transform: (request, { card }) => ({ ratio: card.amount_avg_24h ? request.amount * card.amount_avg_24h : null }) }),
      defineRequestFeatures({ ...base, request: z.object({ amount: z.number().positive() }), transform }),
      defineRequestFeatures({ ...base, features: z.object({ ratio: z.number().nullable().optional() }), transform }),
      defineRequestFeatures({ ...base, reads: { card: cards.select('amount_avg_24h').with({ maxAge: '1d' }) }, transform }),
      defineRequestFeatures({ ...base, reads: { card: cards.select('amount_avg_24h').with({ key: 'payer' }) }, transform }),
      defineRequestFeatures({ ...base, version: 2, transform }),
      defineRequestFeatures({ ...base, name: 'fp2', transform }),
    ];
    expect(defineRequestFeatures({ ...base, transform }).fingerprint).toBe(a.fingerprint);
    for (const other of others) expect(other.fingerprint).not.toBe(a.fingerprint);
    expect(new Set(others.map((o) => o.fingerprint)).size).toBe(others.length);
  });

  it('refuses a definition that cannot work, at definition time', () => {
    const transform = () => ({ x: 1 });
    const features = z.object({ x: z.number() });
    const request = z.object({ amount: z.number() });
    expect(() => defineRequestFeatures({ name: 'bad name!', request, features, transform })).toThrow(DefinitionError);
    expect(() => defineRequestFeatures({ name: 'ok', request: z.number() as never, features, transform })).toThrow(/zod object schema of the request data/);
    expect(() => defineRequestFeatures({ name: 'ok', request, features: z.object({ x: z.object({ y: z.number() }) }) as never, transform: transform as never })).toThrow(
      /output "x" has a type no training column holds/,
    );
    expect(() => defineRequestFeatures({ name: 'ok', request, reads: { card: 'rq-cards:amount' } as never, features, transform })).toThrow(/group\.select/);
    expect(() => defineRequestFeatures({ name: 'ok', request, features, transform, reqest: 1 } as never)).toThrow(/unknown option .*reqest.*did you mean "request"/);
  });
});

describe('request features in a training set', () => {
  let store: FeatureStore;
  beforeAll(async () => {
    store = embeddedStore();
    await store.ingest(cards, [card('c1', 60, 50), card('c1', 10, 40, 'FR'), card('c2', 5, 0)]);
  });
  afterAll(() => store.close());

  const spine = [
    { card_id: 'c1', t: new Date(NOW - 30 * MINUTE), amount: 100, country: 'US' }, // sees the 60-minute-old row
    { card_id: 'c1', t: new Date(NOW), amount: 100, country: 'US' }, // sees the 10-minute-old row
    { card_id: 'c2', t: new Date(NOW), amount: 5, country: 'US' }, // average 0: no ratio
    { card_id: 'c9', t: new Date(NOW), amount: 5, country: 'US' }, // unknown card: reads are null
  ];

  it('runs the transform over each joined row, with request values from spine columns; reads not listed are not columns', async () => {
    for (const engine of ['auto', 'reference'] as const) {
      const { rows, summary } = await trainingSet(store, { spine, entityKey: 'card_id', timestamp: 't', features: [amountVsHistory], engine });
      expect(rows).toEqual([
        { ...spine[0], 'amount-vs-history__amount_vs_avg_24h': 2, 'amount-vs-history__new_country': false },
        { ...spine[1], 'amount-vs-history__amount_vs_avg_24h': 2.5, 'amount-vs-history__new_country': true },
        { ...spine[2], 'amount-vs-history__amount_vs_avg_24h': null, 'amount-vs-history__new_country': false },
        { ...spine[3], 'amount-vs-history__amount_vs_avg_24h': null, 'amount-vs-history__new_country': false },
      ]);
      expect(summary.nullCounts).toEqual({ 'amount-vs-history__amount_vs_avg_24h': 2, 'amount-vs-history__new_country': 0 });
      expect(summary.matchRate).toEqual({});
    }
  });

  it('reuses a listed selection that holds the reads, and puts the outputs after the selections, under a prefix if given', async () => {
    const { rows, summary } = await trainingSet(store, {
      spine: spine.slice(0, 2),
      entityKey: 'card_id',
      timestamp: 't',
      features: [amountVsHistory.with({ prefix: 'rq_' }), cards.select('country', 'amount_avg_24h').with({ prefix: 'card_' })],
    });
    expect(rows.map((row) => Object.keys(row))).toEqual([0, 1].map(() => ['card_id', 't', 'amount', 'country', 'card_country', 'card_amount_avg_24h', 'rq_amount_vs_avg_24h', 'rq_new_country']));
    expect(rows.map((row) => [row.card_amount_avg_24h, row.rq_amount_vs_avg_24h])).toEqual([[50, 2], [40, 2.5]]);
    expect(summary.matchRate).toEqual({ 'rq-cards': 1 });
  });

  it('with no reads, run beside a selection; alone they have nothing to join, which is said in the words of both calls', async () => {
    const fromRequest = defineRequestFeatures({ name: 'cents', request: z.object({ amount: z.number() }), reads: {}, features: z.object({ cents: z.number() }), transform: (request) => ({ cents: request.amount * 100 }) });
    const { rows } = await trainingSet(store, { spine: spine.slice(0, 1), entityKey: 'card_id', timestamp: 't', features: [cards.select('country'), fromRequest] });
    expect(rows[0]).toMatchObject({ 'rq-cards__country': 'US', cents__cents: 10_000 });
    const alone = /^request features "cents" read no feature group, and the list has no selection to join: add a group's selection/;
    await expect(trainingSet(store, { spine, entityKey: 'card_id', timestamp: 't', features: [fromRequest] })).rejects.toThrow(alone);
    await expect(featureVectors(store, { entities: [{ card_id: 'c1', amount: 1 }], entityKey: 'card_id', features: [fromRequest] })).rejects.toThrow(alone);
  });

  it('refuses an output column that a selection produces too', async () => {
    const clash = cards.select('country').with({ prefix: 'amount-vs-history__new_' });
    await expect(trainingSet(store, { spine, entityKey: 'card_id', timestamp: 't', features: [clash, amountVsHistory] })).rejects.toThrow(
      /produce the column "amount-vs-history__new_country": give one a prefix/,
    );
  });

  it('refuses a spine row whose request columns fail the request schema: a DataError naming the row and column', async () => {
    const bad = [spine[0] as object, spine[1] as object, { ...spine[2], amount: '5' }];
    const error = await trainingSet(store, { spine: bad, entityKey: 'card_id', timestamp: 't', features: [amountVsHistory] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect(error).toMatchObject({ code: 'INVALID_SPINE', row: 2, column: 'amount' });
    expect((error as DataError).message).toMatch(/^spine row 2 column "amount": request data of request features "amount-vs-history" does not match its schema: .*number/);
    expect((error as DataError).issues[0]?.path).toEqual(['amount']);

    const missing = spine.map(({ country: _, ...row }) => row);
    await expect(trainingSet(store, { spine: missing, entityKey: 'card_id', timestamp: 't', features: [amountVsHistory] })).rejects.toMatchObject({
      name: 'DataError',
      row: 0,
      column: 'country',
      message: 'spine row 0 has no column "country" (request data of request features "amount-vs-history")',
    });
  });

  it('refuses a spine column a request feature would replace, in any row, saying how to rename it', async () => {
    const labelled = spine.map((row, i) => (i === 1 ? { ...row, 'amount-vs-history__new_country': 'label' } : row));
    await expect(trainingSet(store, { spine: labelled, entityKey: 'card_id', timestamp: 't', features: [amountVsHistory] })).rejects.toMatchObject({
      name: 'DataError',
      code: 'INVALID_SPINE',
      row: 1,
      column: 'amount-vs-history__new_country',
      message: 'spine row 1 has a column "amount-vs-history__new_country", which the request features "amount-vs-history" would replace: give them a prefix (.with({ prefix })), or rename the column',
    });
  });

  it('turns a throwing transform into a TransformError naming the request features and the row', async () => {
    const throwing = defineRequestFeatures({
      name: 'throwing',
      request: z.object({ amount: z.number() }),
      features: z.object({ x: z.number() }),
      transform: (request) => {
        if (request.amount > 50) throw new Error('too large');
        return { x: request.amount };
      },
    });
    const error = await trainingSet(store, { spine, entityKey: 'card_id', timestamp: 't', features: [cards.select('country'), throwing] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransformError);
    expect(error).toMatchObject({ code: 'TRANSFORM_FAILED', position: { source: 'training-set', index: 0 }, message: 'request features "throwing", spine row 0: transform threw: too large' });
  });

  it('refuses outputs the features schema refuses (a ratio that is Infinity) with a FeatureValidationError', async () => {
    const unguarded = defineRequestFeatures({
      name: 'unguarded',
      request: z.object({ amount: z.number() }),
      reads: { card: cards.select('amount_avg_24h') },
      features: z.object({ ratio: z.number().nullable() }),
      transform: (request, { card }) => ({ ratio: card.amount_avg_24h === null ? null : request.amount / card.amount_avg_24h }),
    });
    const error = await trainingSet(store, { spine, entityKey: 'card_id', timestamp: 't', features: [unguarded] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FeatureValidationError);
    expect((error as Error).message).toMatch(/^request features "unguarded", spine row 2: outputs do not match the features schema: ratio: /);
  });

  it('writes the outputs to a file through the row path, typed by the features schema, from a CSV spine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-rq-'));
    try {
      const csv = join(dir, 'spine.csv');
      writeFileSync(csv, `card_id,t,amount,country\nc1,${new Date(NOW).toISOString()},100,US\nc9,${new Date(NOW).toISOString()},3.5,FR\n`);
      // Every CSV column is text: a request schema that reads one as a number coerces it.
      const fromCsv = defineRequestFeatures({
        name: 'csv-rq',
        request: z.object({ amount: z.coerce.number(), country: z.string() }),
        reads: { card: cards.select('amount_avg_24h', 'country') },
        features: z.object({ amount_vs_avg_24h: z.number().nullable(), new_country: z.boolean() }),
        transform: (request, { card }) => ({
          amount_vs_avg_24h: card.amount_avg_24h ? request.amount / card.amount_avg_24h : null,
          new_country: card.country !== null && card.country !== request.country,
        }),
      });
      const out = join(dir, 'train.parquet');
      const { rows, summary } = await trainingSet(store, { spine: { csv }, entityKey: 'card_id', timestamp: 't', features: [cards.select('amount_avg_24h'), fromCsv], output: { parquet: out } });
      expect(rows).toEqual([]);
      expect(summary).toMatchObject({ rows: 2, output: out, nullCounts: { 'rq-cards__amount_avg_24h': 1, 'csv-rq__amount_vs_avg_24h': 1, 'csv-rq__new_country': 0 } });
      const bytes = readFileSync(out);
      const written = (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })) as Record<string, unknown>[];
      expect(written).toEqual([
        { card_id: 'c1', t: new Date(NOW), amount: '100', country: 'US', 'rq-cards__amount_avg_24h': 40, 'csv-rq__amount_vs_avg_24h': 2.5, 'csv-rq__new_country': true },
        { card_id: 'c9', t: new Date(NOW), amount: '3.5', country: 'FR', 'rq-cards__amount_avg_24h': null, 'csv-rq__amount_vs_avg_24h': null, 'csv-rq__new_country': false },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('request features in feature vectors', () => {
  it('give the training row for the read instant, for generated histories and requests', async () => {
    const ids = ['c1', 'c2', 'c3'];
    const event = fc.record({
      card_id: fc.constantFrom(...ids),
      minutesAgo: fc.integer({ min: 0, max: 120 }), // none after the read: the online store keeps only the latest record
      amount_avg_24h: fc.oneof(fc.constant(0), fc.double({ min: 0.01, max: 1e6, noNaN: true })),
      country: fc.constantFrom('US', 'FR', 'DE'),
    });
    const request = fc.record({
      card_id: fc.constantFrom(...ids, 'c-unknown'),
      amount: fc.double({ min: 0, max: 1e7, noNaN: true, noDefaultInfinity: true }),
      country: fc.constantFrom('US', 'FR'),
    });
    await fc.assert(
      // One event per card and instant: on equal event times the online store and the training rule
      // choose by the join's tie rule, which its own tests cover; here the transform is what is compared.
      fc.asyncProperty(fc.uniqueArray(event, { maxLength: 12, selector: (e) => `${e.card_id} ${e.minutesAgo}` }), fc.array(request, { minLength: 1, maxLength: 6 }), async (history, requests) => {
        const store = embeddedStore();
        try {
          await store.ingest(cards, history.map((e) => card(e.card_id, e.minutesAgo, e.amount_avg_24h, e.country)));
          const features = [amountVsHistory, cards.select('amount_avg_24h').with({ maxAge: '1h' })] as const;
          const served = await featureVectors(store, { entities: requests, entityKey: 'card_id', features });
          const { rows: trained } = await trainingSet(store, { spine: requests.map((r) => ({ ...r, t: served.at })), entityKey: 'card_id', timestamp: 't', features });
          served.rows.forEach((row, r) => {
            const training = trained[r] as Record<string, unknown>;
            for (const column of ['amount-vs-history__amount_vs_avg_24h', 'amount-vs-history__new_country', 'rq-cards__amount_avg_24h'] as const) {
              expect(Object.is(row[column], training[column]), `row ${r}, ${column}: served ${String(row[column])}, trained ${String(training[column])}`).toBe(true);
            }
          });
          // Parity proves something only where a stored feature has a value; otherwise it says so.
          const stored = 'rq-cards__amount_avg_24h';
          const anyValue = served.rows.some((row, r) => row[stored] != null || (trained[r] as Record<string, unknown>)[stored] != null);
          if (anyValue) await expectServingParity(store, { entities: requests, entityKey: 'card_id', features });
          else await expect(expectServingParity(store, { entities: requests, entityKey: 'card_id', features })).rejects.toThrow(/so nothing was compared$/);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 25 },
    );
  });

  it('take request values from the entity rows; bad ones are a DataError naming the entity row and column', async () => {
    const store = embeddedStore();
    try {
      await store.ingest(cards, [card('c1', 10, 40, 'FR')]);
      const { rows } = await featureVectors(store, { entities: [{ card_id: 'c1', amount: 10, country: 'FR' }], entityKey: 'card_id', features: [amountVsHistory] });
      expect(rows).toEqual([{ card_id: 'c1', amount: 10, country: 'FR', 'amount-vs-history__amount_vs_avg_24h': 0.25, 'amount-vs-history__new_country': false }]);
      const error = await featureVectors(store, { entities: [{ card_id: 'c1', amount: 10, country: 'FR' }, { card_id: 'c1', amount: -1, country: 'FR' }], entityKey: 'card_id', features: [amountVsHistory] }).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'DataError', code: 'INVALID_ENTITIES', row: 1, column: 'amount' });
    } finally {
      await store.close();
    }
  });

  it('pass expectServingParity over request features alone, their outputs being what is compared', async () => {
    const store = createFeatureStore({ ...localStores({ memory: true }), now: () => NOW });
    try {
      await store.ingest(cards, [card('c1', 10, 40)]);
      expect(await expectServingParity(store, { entities: [{ card_id: 'c1', amount: 20, country: 'US' }], entityKey: 'card_id', features: [amountVsHistory] })).toMatchObject({ rows: 1 });
    } finally {
      await store.close();
    }
  });

  it('fail expectServingParity naming the request feature column when serving and training disagree', async () => {
    const backends = localStores({ memory: true });
    const store = createFeatureStore({ ...backends, now: () => NOW });
    try {
      await store.ingest(cards, [card('c1', 10, 40)]);
      // A write that reached the online store only.
      await (await backends.online).put(cards, [cards.codec.toRecord(card('c1', 1, 80))]);
      await expect(expectServingParity(store, { entities: [{ card_id: 'c1', amount: 20, country: 'US' }], entityKey: 'card_id', features: [amountVsHistory] })).rejects.toThrow(
        'serving parity: entity row 0, column "amount-vs-history__amount_vs_avg_24h": served 0.25, training row for 2026-11-30T12:00:00.000Z 0.5',
      );
    } finally {
      await store.close();
    }
  });
});

describe('request features behind featureVectorHandler (API Gateway HTTP API event, local stack)', () => {
  let stack: LocalStack;
  let served: FeatureStore;
  let trained: FeatureStore;
  const history = [card('c1', 60, 50), card('c1', 10, 40, 'FR'), card('c2', 5, 12.5)];
  const http = (body: unknown) => ({ version: '2.0', routeKey: 'POST /score', rawPath: '/score', headers: { 'content-type': 'application/json' }, isBase64Encoded: false, body: JSON.stringify(body) });
  const json = (response: HttpResponse) => JSON.parse(response.body) as Record<string, unknown>;
  // The body's schema names the entity only: the request features' fields are read off the body and checked by their own schema.
  const handler = () => featureVectorHandler({ store: served, request: z.object({ card_id: z.string() }), entityKey: 'card_id', features: [amountVsHistory], log: false });

  beforeAll(async () => {
    stack = await startLocalStack({ memory: true });
    await createGroupOnStack(stack.clientConfig, cards);
    served = createFeatureStore({ online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, maxAttempts: 2 }) }), offline: false, now: () => NOW });
    trained = embeddedStore();
    for (const store of [served, trained]) expect((await store.ingest(cards, history)).failed).toBe(0);
  });
  afterAll(async () => {
    await served.close();
    await trained.close();
    await stack.close();
  });

  it('answers with the outputs a training row for the read instant holds, for generated requests', async () => {
    const request = fc.record({ card_id: fc.constantFrom('c1', 'c2', 'c3'), amount: fc.double({ min: 0, max: 1e7, noNaN: true, noDefaultInfinity: true }), country: fc.constantFrom('US', 'FR') });
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: 1, maxLength: 5 }), async (requests) => {
        const response = await handler()(http(requests));
        expect(response.statusCode).toBe(200);
        const { at, vectors } = json(response) as { at: string; vectors: Record<string, unknown>[] };
        const { rows } = await trainingSet(trained, { spine: requests.map((r) => ({ ...r, t: new Date(at) })), entityKey: 'card_id', timestamp: 't', features: [amountVsHistory] });
        expect(vectors).toEqual(rows.map(({ t: _, ...row }) => row));
      }),
      { numRuns: 20 },
    );
  });

  it("give null outputs where a read failed, with onFailure: 'null', and list the failed group", async () => {
    // The local stack has no group "rq-missing": its reads fail as AWS's would.
    const missing = defineFeatureGroup({ name: 'rq-missing', recordIdentifier: 'card_id', eventTime: 'event_time', source: cards.source, features: cards.features, transform: (e) => e });
    const reading = defineRequestFeatures({
      name: 'reads-missing',
      request: z.object({ amount: z.number() }),
      reads: { card: missing.select('amount_avg_24h') },
      features: z.object({ ratio: z.number().nullable() }),
      transform: (request, { card }) => ({ ratio: card.amount_avg_24h ? request.amount / card.amount_avg_24h : null }),
    });
    const { rows, failures } = await featureVectors(served, { entities: [{ card_id: 'c1', amount: 10 }], entityKey: 'card_id', features: [cards.select('country'), reading], onFailure: 'null' });
    expect(rows).toEqual([{ card_id: 'c1', amount: 10, 'rq-cards__country': 'FR', 'reads-missing__ratio': null }]);
    expect(failures).toMatchObject([{ group: 'rq-missing', rows: [0], error: { code: 'GROUP_NOT_FOUND' } }]);
  });

  it('answers request data the request features refuse with 400 and their issues, placed as in the body', async () => {
    const one = await handler()(http({ card_id: 'c1', amount: 'ten', country: 'US' }));
    expect(one.statusCode).toBe(400);
    expect(json(one)).toMatchObject({ error: 'INVALID_REQUEST', issues: [{ path: ['amount'] }] });
    const many = await handler()(http([{ card_id: 'c1', amount: 1, country: 'US' }, { card_id: 'c1', amount: 1 }]));
    expect(many.statusCode).toBe(400);
    expect((json(many)['issues'] as { path: unknown[] }[]).map((i) => i.path)).toEqual([[1, 'country']]);
  });

  it('answers 500 with the code when the request features fail on their own: a transform that throws, outputs its schema refuses', async () => {
    const failing = (name: string, transform: (request: { amount: number }) => { ratio: number }) =>
      featureVectorHandler({
        store: served,
        request: z.object({ card_id: z.string() }),
        entityKey: 'card_id',
        features: [defineRequestFeatures({ name, request: z.object({ amount: z.number() }), reads: { card: cards.select('country') }, features: z.object({ ratio: z.number() }), transform })],
        log: false,
      });
    const threw = await failing('throws', () => {
      throw new Error('boom');
    })(http({ card_id: 'c1', amount: 1 }));
    expect(threw.statusCode).toBe(500);
    expect(json(threw)).toEqual({ error: 'TRANSFORM_FAILED', message: expect.stringContaining('boom') });
    const refused = await failing('refused', () => ({ ratio: 'high' as unknown as number }))(http({ card_id: 'c1', amount: 1 }));
    expect(refused.statusCode).toBe(500);
    expect(json(refused)).toMatchObject({ error: 'FEATURE_VALIDATION' });
  });
});
