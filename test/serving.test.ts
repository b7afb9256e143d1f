import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { AssertionError } from 'node:assert';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sageMakerOnline } from '../src/aws/index.js';
import { BackendError, createFeatureStore, defineFeatureGroup, type FeatureStore } from '../src/index.js';
import { featureVectorHandler, type HttpResponse } from '../src/lambda/index.js';
import { type LocalStack, localStores, startLocalStack } from '../src/local/index.js';
import { expectServingParity, memoryOnline } from '../src/testing/index.js';
import { createGroupOnStack } from './fixtures/stack.js';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');

const cards = defineFeatureGroup({
  name: 'serve-cards',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), lifetime_cents: z.bigint(), first_seen: z.date() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), lifetime_cents: z.bigint(), first_seen: z.date() }),
  transform: (e) => e,
});

const merchants = defineFeatureGroup({
  name: 'serve-merchants',
  recordIdentifier: 'merchant_id',
  eventTime: 'event_time',
  source: z.object({ merchant_id: z.string(), event_time: z.date(), risk: z.number() }),
  features: z.object({ merchant_id: z.string(), event_time: z.date(), risk: z.number() }),
  transform: (e) => e,
});

const card = (card_id: string, minutesAgo: number, amount: number) => ({
  card_id,
  event_time: new Date(NOW - minutesAgo * 60_000),
  amount,
  lifetime_cents: 2n ** 62n + BigInt(Math.round(amount)),
  first_seen: new Date('2020-01-02T03:04:05.678Z'),
});

const features = [cards.select('amount', 'lifetime_cents', 'first_seen'), merchants.select('risk').with({ key: 'merchant_id', prefix: 'merchant_' })] as const;

async function seed(store: FeatureStore): Promise<void> {
  await store.ingest(cards, [card('c1', 30, 12.5), card('c1', 10, 40), card('c2', 5, 7)]);
  await store.ingest(merchants, [{ merchant_id: 'm1', event_time: new Date(NOW - 60_000), risk: 0.25 }]);
  await store.delete(cards, 'c2', new Date(NOW - 60_000), 'SoftDelete');
}

describe('expectServingParity', () => {
  it('passes when the served vectors are the training rows for the read instant', async () => {
    const store = createFeatureStore({ ...localStores({ memory: true }), now: () => NOW });
    await seed(store);
    const report = await expectServingParity(store, {
      entities: [{ card_id: 'c1', merchant_id: 'm1' }, { card_id: 'c2', merchant_id: 'm1' }, { card_id: 'c9', merchant_id: 'm2' }, { card_id: 'c1', merchant_id: 'm1' }],
      entityKey: 'card_id',
      features,
    });
    expect(report).toEqual({ at: new Date(NOW), rows: 4, columns: 4 });
    await store.close();
  });

  it('fails when there is nothing to compare: a parity check over no entity proves nothing', async () => {
    const store = createFeatureStore({ ...localStores({ memory: true }), now: () => NOW });
    await expect(expectServingParity(store, { entities: [], entityKey: 'card_id', features })).rejects.toThrow(/no entities to compare/);
    // Entities nothing was ingested for: every column null on both sides agrees, and shows nothing.
    await expect(expectServingParity(store, { entities: [{ card_id: 'c1', merchant_id: 'm1' }, { card_id: 'c2', merchant_id: 'm1' }], entityKey: 'card_id', features })).rejects.toThrow(
      /^serving parity: none of the 2 entity rows has a value in a store feature's column, served or trained \(was anything ingested for these entities\?\), so nothing was compared$/,
    );
    // One row with a value is something compared: the others may be entities the store does not know.
    await store.ingest(merchants, [{ merchant_id: 'm1', event_time: new Date(NOW - 60_000), risk: 0.25 }]);
    expect(await expectServingParity(store, { entities: [{ card_id: 'c9', merchant_id: 'm9' }, { card_id: 'c8', merchant_id: 'm1' }], entityKey: 'card_id', features })).toMatchObject({ rows: 2 });
    // Its options are its own: an option of featureVectors' it does not take is named under its name.
    await expect(expectServingParity(store, { entities: [{ card_id: 'c1' }], entityKey: 'card_id', features, onFailure: 'null' } as never)).rejects.toThrow(
      /^unknown option expectServingParity options\.onFailure; known: entities, entityKey, features, maxAge$/,
    );
    await store.close();
  });

  it('fails naming the entity row and column when online and offline disagree', async () => {
    const backends = localStores({ memory: true });
    const store = createFeatureStore({ ...backends, now: () => NOW });
    await seed(store);
    // A write that reached the online store only: served and training rows now differ.
    await (await backends.online).put(cards, [cards.codec.toRecord(card('c1', 1, 99))]);
    const error = await expectServingParity(store, { entities: [{ card_id: 'c2' }, { card_id: 'c1' }], entityKey: 'card_id', features: [features[0]] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AssertionError);
    expect((error as Error).message).toBe('serving parity: entity row 1, column "serve-cards__amount": served 99, training row for 2026-11-30T12:00:00.000Z 40');
    await store.close();
  });
});

describe('featureVectorHandler (API Gateway HTTP API event, local stack)', () => {
  let stack: LocalStack;
  let store: FeatureStore;
  const lines: string[] = [];
  const request = z.object({ card_id: z.string(), merchant_id: z.string(), amount: z.number().positive() });
  const http = (body: unknown, raw = false) => ({ version: '2.0', routeKey: 'POST /score', rawPath: '/score', headers: { 'content-type': 'application/json' }, isBase64Encoded: false, body: raw ? (body as string) : JSON.stringify(body) });
  const json = (response: HttpResponse) => JSON.parse(response.body) as Record<string, unknown>;

  beforeAll(async () => {
    stack = await startLocalStack({ memory: true });
    await createGroupOnStack(stack.clientConfig, cards);
    await createGroupOnStack(stack.clientConfig, merchants);
    const online = sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, maxAttempts: 2 }) });
    store = createFeatureStore({ online, offline: false, now: () => NOW });
    await seed(store);
  });
  afterAll(async () => {
    await store.close();
    await stack.close();
  });

  const handler = () => featureVectorHandler({ store, request, entityKey: 'card_id', features, log: (line) => lines.push(line) });

  it('answers one request with its vector: bigint as a decimal string, dates as ISO-8601', async () => {
    const response = await handler()(http({ card_id: 'c1', merchant_id: 'm1', amount: 12 }));
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(json(response)).toEqual({
      at: '2026-11-30T12:00:00.000Z',
      vector: {
        card_id: 'c1',
        merchant_id: 'm1',
        amount: 12,
        'serve-cards__amount': 40,
        'serve-cards__lifetime_cents': String(2n ** 62n + 40n),
        'serve-cards__first_seen': '2020-01-02T03:04:05.678Z',
        merchant_risk: 0.25,
      },
    });
    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ message: 'skewless feature vectors', status: 200, entities: 1 });
  });

  it('answers an array of requests with their vectors in order, deleted and missing as null', async () => {
    const response = await handler()({ ...http([{ card_id: 'c2', merchant_id: 'm1', amount: 1 }, { card_id: 'c9', merchant_id: 'm1', amount: 2 }]), isBase64Encoded: false });
    expect(response.statusCode).toBe(200);
    const { vectors } = json(response) as { vectors: Record<string, unknown>[] };
    expect(vectors.map((v) => [v['card_id'], v['serve-cards__amount'], v['merchant_risk']])).toEqual([['c2', null, 0.25], ['c9', null, 0.25]]);
  });

  it('reads a body that starts with a byte-order mark as the JSON after it, as the stream decoders do', async () => {
    const response = await handler()(http(`\uFEFF${JSON.stringify({ card_id: 'c1', merchant_id: 'm1', amount: 3 })}`, true));
    expect(response.statusCode).toBe(200);
    const body = Buffer.from(`\uFEFF${JSON.stringify({ card_id: 'c1', merchant_id: 'm1', amount: 3 })}`).toString('base64');
    expect((await handler()({ body, isBase64Encoded: true })).statusCode).toBe(200);
  });

  it('reads a base64 body as function URLs send one', async () => {
    const body = Buffer.from(JSON.stringify({ card_id: 'c1', merchant_id: 'm1', amount: 3 })).toString('base64');
    const response = await handler()({ body, isBase64Encoded: true });
    expect(response.statusCode).toBe(200);
  });

  it('answers a malformed body with 400 and the schema issues, without reading', async () => {
    const notJson = await handler()(http('{"card_id": ', true));
    expect(notJson.statusCode).toBe(400);
    expect(json(notJson)).toMatchObject({ error: 'INVALID_REQUEST', message: expect.stringMatching(/not JSON/) });
    const wrong = await handler()(http([{ card_id: 'c1', merchant_id: 'm1', amount: 1 }, { card_id: 7, merchant_id: 'm1', amount: -1 }]));
    expect(wrong.statusCode).toBe(400);
    expect((json(wrong)['issues'] as { path: unknown[] }[]).map((i) => i.path)).toEqual([[1, 'card_id'], [1, 'amount']]);
    const empty = await handler()({ body: null });
    expect(empty.statusCode).toBe(400);
    // A direct invoke or a test harness may pass the request as an object: a 400 saying so, not a TypeError's 502.
    const serve = handler() as (event: unknown) => ReturnType<ReturnType<typeof handler>>;
    for (const [body, described] of [[{ card_id: 'c1', merchant_id: 'm1', amount: 1 }, 'an object'], [7, '7'], [[1], 'an array'], [Buffer.from('{}'), 'an object']] as const) {
      const response = await serve({ body });
      expect(response.statusCode).toBe(400);
      expect(json(response)).toEqual({ error: 'INVALID_REQUEST', message: `the body is ${described}, not text: send JSON text, as API Gateway and function URLs deliver it`, issues: [] });
    }
  });

  it('answers a read the backend refuses with a 5xx naming the group: 502 when retrying cannot help, 503 when it can', async () => {
    const missing = defineFeatureGroup({
      name: 'serve-missing',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: z.object({ card_id: z.string(), event_time: z.date(), x: z.number() }),
      features: z.object({ card_id: z.string(), event_time: z.date(), x: z.number() }),
      transform: (e) => e,
    });
    const refused = await featureVectorHandler({ store, request, entityKey: 'card_id', features: [missing.select('x')], log: false })(http({ card_id: 'c1', merchant_id: 'm1', amount: 1 }));
    expect(refused.statusCode).toBe(502);
    expect(json(refused)).toMatchObject({ error: 'GROUP_NOT_FOUND', group: 'serve-missing' });

    // An online store of the user's own making may throw a BackendError that names no group: the answer still does.
    const own = { ...memoryOnline(), get: async () => Promise.reject(new BackendError('THROTTLED', 'slow down', { retryable: true })) };
    const ownStore = createFeatureStore({ online: own, offline: false });
    const throttledOwn = await featureVectorHandler({ store: ownStore, request, entityKey: 'card_id', features: [missing.select('x')], log: false })(http({ card_id: 'c1', merchant_id: 'm1', amount: 1 }));
    expect(throttledOwn.statusCode).toBe(503);
    expect(json(throttledOwn)).toEqual({ error: 'THROTTLED', group: 'serve-missing', message: 'group "serve-missing": slow down' });

    stack.setFaults({ GetRecord: { throttleRate: 1 } });
    try {
      const throttled = await handler()(http({ card_id: 'c1', merchant_id: 'm1', amount: 1 }));
      expect(throttled.statusCode).toBe(503);
      expect(json(throttled)).toMatchObject({ error: 'THROTTLED', group: expect.stringMatching(/^serve-/) });
      expect(JSON.parse(lines.at(-1) as string)).toMatchObject({ level: 'warn', status: 503 });
    } finally {
      stack.setFaults({});
    }
  });

  it('refuses options of the wrong kind, and what would fail every request, when it is built', () => {
    expect(() => featureVectorHandler({ store, request: { card_id: 'string' }, entityKey: 'card_id', features } as never)).toThrow(/zod schema of the request body/);
    expect(() => featureVectorHandler({ store, request, entityKey: 'card_id', features: [] } as never)).toThrow(/at least one feature selection/);
    expect(() => featureVectorHandler({ store, request: z.array(z.string()), entityKey: 'card_id', features })).toThrow(/request must be a z.object\(\.\.\.\) schema, got a array schema/);
    expect(() => featureVectorHandler({ store, request: z.object({ card_id: z.string() }), entityKey: 'card_id', features })).toThrow(/no field "merchant_id", the record identifier of "serve-merchants".*its fields: card_id/);
    expect(() => featureVectorHandler({ store, request, entityKey: 'card_id', features: [cards.select('amount'), cards.select('amount')] })).toThrow(/two selections produce the column "serve-cards__amount"/);
    // A request field a feature would replace in the vector: the caller's value would be lost.
    expect(() => featureVectorHandler({ store, request: request.extend({ merchant_risk: z.number() }), entityKey: 'card_id', features })).toThrow(
      'featureVectorHandler: the request schema has a field "merchant_risk", which the feature "risk" of "serve-merchants" would replace: give the selection a prefix (select(...).with({ prefix })), or rename the field',
    );
  });

  it('answers a request schema that throws while checking with 400, not a crash', async () => {
    const throwing = z.object({ card_id: z.string(), merchant_id: z.string() }).refine(() => {
      throw new Error('lookup service down');
    });
    const response = await featureVectorHandler({ store, request: throwing, entityKey: 'card_id', features, log: false })(http({ card_id: 'c1', merchant_id: 'm1' }));
    expect(response.statusCode).toBe(400);
    expect(json(response)['message']).toMatch(/could not check request 0: lookup service down/);
  });
});
