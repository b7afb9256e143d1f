import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { dynamoDbOnline, sageMakerOnline } from '../src/aws/index.js';
import {
  type AnyFeatureSelection,
  BackendError,
  ConfigurationError,
  createFeatureStore,
  DataError,
  defineFeatureGroup,
  type FeatureStore,
  featureVectors,
  type OnlineStore,
  trainingSet,
} from '../src/index.js';
import { type LocalStack, localStores, startLocalStack } from '../src/local/index.js';
import { memoryOnline } from '../src/testing/index.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { createFeatureTable } from './setup/tables.js';

// The read's instant is half an hour ahead of the real clock, so the online stores (which hide expired
// records by the real clock) still return records whose expiry is at or just after it, and the
// rule at `at` decides.
const AT = Math.floor(Date.now() / 1000) * 1000 + 30 * 60_000;
const MINUTE = 60_000;

const viewers = defineFeatureGroup({
  name: 'serving-viewers',
  recordIdentifier: 'user_id',
  eventTime: 'event_time',
  source: z.object({ user_id: z.string(), event_time: z.date(), score: z.number(), plan: z.enum(['free', 'pro']), visits: z.number().int() }),
  features: z.object({ user_id: z.string(), event_time: z.date(), score: z.number(), plan: z.enum(['free', 'pro']), visits: z.number().int() }),
  transform: (e) => e,
});

const sessions = defineFeatureGroup({
  name: 'serving-sessions',
  recordIdentifier: 'device_id',
  eventTime: 'seen_at',
  ttl: { Unit: 'Minutes', Value: 2 },
  source: z.object({ device_id: z.string(), seen_at: z.date(), clicks: z.number().int() }),
  features: z.object({ device_id: z.string(), seen_at: z.date(), clicks: z.number().int() }),
  transform: (e) => e,
});

const viewer = (user_id: string, at: number, score: number, visits = 1) => ({ user_id, event_time: new Date(at), score, plan: 'pro' as const, visits });

/** One history, written the same way to every store. */
async function writeHistory(store: FeatureStore): Promise<void> {
  const written = await store.ingest(viewers, [
    viewer('u1', AT - 10 * MINUTE, 1.5, 1),
    viewer('u1', AT - 2 * MINUTE, 2.5, 2),
    viewer('u2', AT - 9 * MINUTE, 7),
    viewer('u3', AT + 1, 9), // after the read's instant
    viewer('u4', AT - 5 * MINUTE, 4), // exactly maxAge old: out
    viewer('u5', AT - 5 * MINUTE + 1, 5), // 1 ms younger: in
    viewer('u7', AT, -0.25, 3), // exactly at the instant: in
  ]);
  expect(written.failed).toBe(0);
  expect(await store.delete(viewers, 'u2', new Date(AT - 3 * MINUTE), 'SoftDelete')).toMatch(/deleted|accepted/);
  const seen = await store.ingest(sessions, [
    { device_id: 'd1', seen_at: new Date(AT - 2 * MINUTE), clicks: 1 }, // expires exactly at the instant: out
    { device_id: 'd2', seen_at: new Date(AT - 2 * MINUTE + 1), clicks: 2 }, // expires 1 ms after: in
  ]);
  expect(seen.failed).toBe(0);
}

const entities = [
  { user_id: 'u1', device_id: 'd2', label: 'a' },
  { user_id: 'u2', device_id: 'd1', label: 'b' },
  { user_id: 'u3', device_id: 'd9', label: 'c' },
  { user_id: 'u4', device_id: 'd2', label: 'd' },
  { user_id: 'u5', device_id: 'd2', label: 'e' },
  { user_id: 'u6', device_id: 'd2', label: 'f' }, // never written
  { user_id: null, device_id: 'd2', label: 'g' },
  { user_id: 'u1', device_id: 'd1', label: 'h' }, // a duplicate entity stays a row of its own
  { user_id: 'u7', device_id: 'd2', label: 'i' },
];

const features = [
  viewers.select('score', 'plan', 'visits').with({ maxAge: '5m' }),
  sessions.select('clicks').with({ key: 'device_id', prefix: 'session_' }),
] as const;

/** What the rule gives at AT, row by row: viewer score/plan/visits, then session clicks. */
const expected: [number | null, string | null, number | null, number | null][] = [
  [2.5, 'pro', 2, 2],
  [null, null, null, null],
  [null, null, null, null],
  [null, null, null, 2],
  [5, 'pro', 1, 2],
  [null, null, null, 2],
  [null, null, null, 2],
  [2.5, 'pro', 2, null],
  [-0.25, 'pro', 3, 2],
];

function expectRule(rows: readonly Record<string, unknown>[]): void {
  expect(rows.map((r) => [r['serving-viewers__score'], r['serving-viewers__plan'], r['serving-viewers__visits'], r['session_clicks']])).toEqual(expected);
  expect(rows.map((r) => r['label'])).toEqual(entities.map((e) => e.label));
}

let training: Record<string, unknown>[] = [];
let stack: LocalStack | undefined;

beforeAll(async () => {
  // The training rows for (entity, AT) from the embedded store: what every served row must equal.
  const local = createFeatureStore({ ...localStores({ memory: true }), now: () => AT - 5 * MINUTE });
  await writeHistory(local);
  const built = await trainingSet(local, { spine: entities.map((e) => ({ ...e, at: new Date(AT) })), entityKey: 'user_id', timestamp: 'at', features });
  training = built.rows.map(({ at: _at, ...row }) => row);
  await local.close();
});

afterAll(async () => {
  await stack?.close();
});

function servingSuite(name: string, online: () => Promise<OnlineStore>) {
  describe(`featureVectors on ${name}`, () => {
    let store: FeatureStore;
    beforeAll(async () => {
      store = createFeatureStore({ online: await online(), offline: false, now: () => AT });
      await writeHistory(store);
    });
    afterAll(async () => {
      await store.close();
    });

    it('gives each entity the training rule at the read instant: latest record, maxAge and TTL edges, deletes, future and missing as null', async () => {
      const { rows, at, failures } = await featureVectors(store, { entities, entityKey: 'user_id', features });
      expect(at).toEqual(new Date(AT));
      expect(failures).toEqual([]);
      expectRule(rows);
    });

    it('equals the training row built for the same instant, column by column (TTL and maxAge edges included)', async () => {
      const { rows } = await featureVectors(store, { entities, entityKey: 'user_id', features });
      expect(rows).toEqual(training);
    });

    it('reads one entity with one call per group and keeps types: integers as numbers, enums as strings', async () => {
      const { rows } = await featureVectors(store, { entities: [{ user_id: 'u1', device_id: 'd2' }], entityKey: 'user_id', features });
      expect(rows).toEqual([{ user_id: 'u1', device_id: 'd2', 'serving-viewers__score': 2.5, 'serving-viewers__plan': 'pro', 'serving-viewers__visits': 2, session_clicks: 2 }]);
    });

    it('serves null, where training takes the older row, when the latest record is dated after the read (the documented limit)', async () => {
      await store.ingest(viewers, [viewer('u8', AT - MINUTE, 1), viewer('u8', AT + 1, 2)]);
      const { rows } = await featureVectors(store, { entities: [{ user_id: 'u8' }], entityKey: 'user_id', features: [viewers.select('score')] });
      expect(rows[0]?.['serving-viewers__score']).toBeNull();
    });

    it('gives null for an identifier no record can have (over 2 KB), without sending it', async () => {
      const { rows } = await featureVectors(store, { entities: [{ user_id: 'u'.repeat(2049), device_id: 'd2' }], entityKey: 'user_id', features });
      expect(rows.map((r) => [r['serving-viewers__score'], r['session_clicks']])).toEqual([[null, 2]]);
    });

    it('takes a default maxAge for selections without their own', async () => {
      const { rows } = await featureVectors(store, { entities: [{ user_id: 'u1' }, { user_id: 'u5' }], entityKey: 'user_id', maxAge: '3m', features: [viewers.select('score')] });
      expect(rows.map((r) => r['serving-viewers__score'])).toEqual([2.5, null]);
    });

    it('reads what a reused features array holds at each call, with each call its own maxAge, even after the array changed in place', async () => {
      const reused: AnyFeatureSelection[] = [viewers.select('score')];
      const read = async (maxAge?: string) =>
        (await featureVectors(store, { entities: [{ user_id: 'u1' }, { user_id: 'u5' }], entityKey: 'user_id', features: reused, ...(maxAge ? { maxAge } : {}) })).rows;
      expect(await read('3m')).toEqual([{ user_id: 'u1', 'serving-viewers__score': 2.5 }, { user_id: 'u5', 'serving-viewers__score': null }]);
      expect(await read()).toEqual([{ user_id: 'u1', 'serving-viewers__score': 2.5 }, { user_id: 'u5', 'serving-viewers__score': 5 }]);
      reused.push(viewers.select('visits').with({ prefix: 'v_' }));
      expect(await read()).toEqual([
        { user_id: 'u1', 'serving-viewers__score': 2.5, v_visits: 2 },
        { user_id: 'u5', 'serving-viewers__score': 5, v_visits: 1 },
      ]);
    });
  });
}

servingSuite('the embedded store', async () => localStores({ memory: true }).online);

servingSuite('SageMaker Feature Store (local stack, real SDK client)', async () => {
  stack ??= await startLocalStack({ memory: true });
  await createGroupOnStack(stack.clientConfig, viewers);
  await createGroupOnStack(stack.clientConfig, sessions);
  return sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) });
});

servingSuite('DynamoDB (dynalite, real SDK client)', async () => {
  const client = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const tableName = `serving-${Math.random().toString(36).slice(2, 10)}`;
  await createFeatureTable(client, tableName);
  return dynamoDbOnline({ client, tableName });
});

describe('featureVectors refuses what it cannot answer', () => {
  const store = createFeatureStore({ ...localStores({ memory: true }), now: () => AT });

  it('names a missing entity column and the columns the row has', async () => {
    const error = await featureVectors(store, { entities: [{ user_id: 'u1' }, { card: 'x' }], entityKey: 'user_id', features }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect(error).toMatchObject({ code: 'INVALID_ENTITIES', row: 0, column: 'device_id', message: expect.stringMatching(/no column "device_id".*its columns: user_id/) });
  });

  it('refuses an entity column a feature would replace, instead of answering the feature in its place', async () => {
    const entities = [{ user_id: 'u1', device_id: 'd1' }, { user_id: 'u2', device_id: 'd1', 'serving-viewers__score': 0.5 }];
    const error = await featureVectors(store, { entities, entityKey: 'user_id', features }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect(error).toMatchObject({
      code: 'INVALID_ENTITIES',
      row: 1,
      column: 'serving-viewers__score',
      message: 'entity row 1 has a column "serving-viewers__score", which the feature "score" of "serving-viewers" would replace: give the selection a prefix (select(...).with({ prefix })), or rename the column',
    });
  });

  it('refuses an identifier no record can have (an object, a boolean, a Date, NaN, Infinity, an unset property) instead of answering nulls; null matches nothing', async () => {
    const request: { userId?: string; user_id?: string } = { userId: 'u1' };
    for (const [value, got] of [
      [{ a: 1 }, 'an object'],
      [true, 'true'],
      [new Date(AT), 'a Date'],
      [Number.NaN, 'NaN'],
      [Number.NEGATIVE_INFINITY, '-Infinity'],
      // A misspelt property: the column is there, its value never set.
      [request.user_id, 'undefined (null for a row without one)'],
    ] as const) {
      const error = await featureVectors(store, { entities: [{ user_id: 'u1', device_id: 'd1' }, { user_id: value, device_id: 'd1' }], entityKey: 'user_id', features }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect(error).toMatchObject({ code: 'INVALID_ENTITIES', row: 1, column: 'user_id', message: expect.stringContaining(`entity row 1: "user_id" must be a record identifier (text or a number), got ${got}`) });
    }
    const { rows } = await featureVectors(store, { entities: [{ user_id: null, device_id: null }], entityKey: 'user_id', features });
    expect(Object.entries(rows[0] ?? {}).filter(([column]) => column.includes('__')).every(([, value]) => value === null)).toBe(true);
  });

  it('refuses options of the wrong kind as a ConfigurationError', async () => {
    await expect(featureVectors(store, { entities: 'u1', entityKey: 'user_id', features } as never)).rejects.toBeInstanceOf(ConfigurationError);
    await expect(featureVectors(store, { entities: [], entityKey: 'user_id', features: [] } as never)).rejects.toThrow(/at least one feature selection/);
    await expect(featureVectors(store, { entities: [], entityKey: 'user_id', features, maxAge: 300 } as never)).rejects.toThrow(/did you mean/);
    await expect(featureVectors(store, { entities: [], entityKey: 'user_id', features, onFailure: 'ignore' } as never)).rejects.toThrow(/'throw' or 'null'/);
  });

  it('gives no rows for no entities', async () => {
    expect((await featureVectors(store, { entities: [], entityKey: 'user_id', features })).rows).toEqual([]);
  });
});

describe("the group's TTL applies whatever a record was written with", () => {
  it('serves null for a record older than the TTL that its store keeps without an expiry, as training does', async () => {
    const online = memoryOnline();
    // Written straight to the backend with no TtlDuration: the store would keep it for ever.
    await online.put(sessions, [sessions.codec.toRecord({ device_id: 'd1', seen_at: new Date(AT - 2 * MINUTE), clicks: 1 }), sessions.codec.toRecord({ device_id: 'd2', seen_at: new Date(AT - 2 * MINUTE + 1), clicks: 2 })]);
    const store = createFeatureStore({ online, offline: false, now: () => AT });
    const { rows } = await featureVectors(store, { entities: [{ device_id: 'd1' }, { device_id: 'd2' }], entityKey: 'device_id', features: [sessions.select('clicks')] });
    expect(rows.map((r) => r['serving-sessions__clicks'])).toEqual([null, 2]);
  });
});

describe('one clock for the embedded stores: localStores({ now })', () => {
  it('expires records by the clock it is given, online and in serving alike, and gives the store that clock', async () => {
    let clock = AT;
    const stores = localStores({ memory: true, now: () => clock });
    const store = createFeatureStore(stores);
    try {
      expect(store.now()).toBe(AT);
      // The group's TTL is 2 minutes from the event time: live at AT, gone a minute later. By the wall
      // clock (years after AT) it would be gone at once.
      await store.put(sessions, [{ device_id: 'd1', seen_at: new Date(AT - MINUTE), clicks: 3 }]);
      const read = async () => ({
        get: (await store.get(sessions, 'd1'))?.clicks ?? null,
        served: (await featureVectors(store, { entities: [{ device_id: 'd1' }], entityKey: 'device_id', features: [sessions.select('clicks')] })).rows[0]?.['serving-sessions__clicks'],
      });
      expect(await read()).toEqual({ get: 3, served: 3 });
      clock = AT + MINUTE;
      expect(await read()).toEqual({ get: null, served: null });
    } finally {
      await store.close();
    }
    expect(() => localStores({ memory: true, now: 5 as never })).toThrow(/localStores options\.now: expected a clock function, got 5/);
  });
});

describe('a failed read is never a silent null', () => {
  // The local stack's SageMaker has no group "serving-sessions" here: its reads fail as AWS's would.
  let local: LocalStack;
  let store: FeatureStore;
  beforeAll(async () => {
    local = await startLocalStack({ memory: true });
    await createGroupOnStack(local.clientConfig, viewers);
    store = createFeatureStore({ online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(local.clientConfig) }), offline: false, now: () => AT });
    await store.ingest(viewers, [viewer('u1', AT - MINUTE, 3)]);
  });
  afterAll(async () => {
    await store.close();
    await local.close();
  });

  it('throws the read error, naming the group, by default', async () => {
    const error = await featureVectors(store, { entities: [{ user_id: 'u1', device_id: 'd1' }], entityKey: 'user_id', features }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'GROUP_NOT_FOUND', message: expect.stringContaining('serving-sessions') });
  });

  it("with onFailure: 'null', returns the rows it could read and lists the failed group and rows", async () => {
    const result = await featureVectors(store, {
      entities: [{ user_id: 'u1', device_id: 'd1' }, { user_id: 'u1', device_id: null }, { user_id: 'u1', device_id: 'd2' }],
      entityKey: 'user_id',
      features,
      onFailure: 'null',
    });
    expect(result.rows.map((r) => [r['serving-viewers__score'], r['session_clicks']])).toEqual([[3, null], [3, null], [3, null]]);
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatchObject({ group: 'serving-sessions', rows: [0, 2] });
    expect(result.failures[0]?.error).toBeInstanceOf(BackendError);
  });
});
