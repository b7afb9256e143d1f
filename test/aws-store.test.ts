import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, createFeatureStore } from '../src/index.js';
import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { athenaOffline, retryStrategy, sageMakerOnline } from '../src/aws/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { cardActivity, validCardEvent } from './fixtures/groups.js';

let stack: LocalStack;
let runtime: SageMakerFeatureStoreRuntimeClient;

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  runtime = new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, maxAttempts: 1 });
  await createGroupOnStack(stack.clientConfig, cardActivity, 's3://store-test/offline');
});

afterAll(async () => {
  await stack.close();
});

/** A runtime client whose retries are skewless' strategy: the one retry layer, inside the SDK. */
const retrying = (options: Parameters<typeof retryStrategy>[0]) => new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, retryStrategy: retryStrategy(options) });
/** The two write calls sageMakerOnline can make: PutRecord (`batchWrite: false`) and BatchWriteRecord (its default). */
const WRITE_APIS = ['PutRecord', 'BatchWriteRecord'] as const;

const events = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => ({ ...validCardEvent, card_id: `${prefix}-${i % 50}`, amount_cents: i, ts: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString() }));

describe('createFeatureStore on SageMaker (local stack)', () => {
  it('ingests and reads back typed records; SageMaker writes the offline store itself', async () => {
    const store = createFeatureStore({ online: sageMakerOnline({ client: runtime }), offline: false });
    const summary = await store.ingest(cardActivity, [validCardEvent]);
    expect(summary).toMatchObject({ accepted: 1, failed: 0, poison: 0 });
    expect(await store.get(cardActivity, 'card-1')).toEqual({ card_id: 'card-1', event_time: new Date('2024-05-01T12:00:00.250Z'), amount: 12.5, is_foreign: true });
    await store.close();
  });

  it('under 20% injected throttling writes every record exactly once or reports it, losing none, and counts every retry', async () => {
    stack.setFaults({ PutRecord: { throttleRate: 0.2 }, seed: 11 });
    const before = { calls: 0, throttled: 0, ...stack.faultCounts['PutRecord'] };
    const store = createFeatureStore({
      online: sageMakerOnline({ client: retrying({ attempts: 8, baseDelayMs: 1, maxDelayMs: 20 }), concurrency: 16, batchWrite: false }),
      offline: false,
    });
    const input = events(500, 'storm');
    const summary = await store.ingest(cardActivity, input);
    stack.setFaults({});
    const calls = (stack.faultCounts['PutRecord']?.calls ?? 0) - before.calls;
    const throttled = (stack.faultCounts['PutRecord']?.throttled ?? 0) - before.throttled;
    expect(throttled).toBeGreaterThan(50);
    // One retry layer: every call the stack saw is a record's first attempt or a retry the summary counts,
    // and every throttled answer was retried, except the eighth of a record that failed.
    expect(calls).toBe(500 + summary.retried);
    expect(throttled).toBe(summary.retried + summary.failed);
    expect(summary.outcomes).toHaveLength(500);
    expect(new Set(summary.outcomes.map((o) => o.index)).size).toBe(500);
    expect(summary.accepted + summary.failed).toBe(500);
    // The online store holds, for every card, its newest event (events are in time order per card).
    const latest = new Map<string, number>();
    input.forEach((e, i) => {
      if (summary.outcomes[i]?.status === 'accepted') latest.set(e.card_id, e.amount_cents);
    });
    const online = await store.getMany(cardActivity, [...latest.keys()]);
    for (const [card, cents] of latest) expect(online.get(card)?.amount).toBe(cents / 100);
    // Offline holds each accepted record exactly once: no retry wrote a record twice. Read as a user
    // would: Athena over the Glue table SageMaker made, at the group's resolved offline location.
    await stack.flush();
    const reader = athenaOffline({ client: new AthenaClient(stack.clientConfig), s3: new S3Client(stack.clientConfig), sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://store-test/athena/' });
    const rows = (await reader.scan(cardActivity)).filter((r) => String(r['card_id']).startsWith('storm-'));
    await reader.close();
    expect(rows).toHaveLength(summary.accepted);
    expect(new Set(rows.map((r) => `${r['card_id']}@${r['event_time']}`)).size).toBe(summary.accepted);
    await store.close();
  });

  it('fails a read of many THROTTLED, counting the identifiers BatchGetRecord left unprocessed after every attempt, as dynamoDbOnline does', async () => {
    const store = createFeatureStore({ online: sageMakerOnline({ client: runtime, retry: { attempts: 2, baseDelayMs: 1 } }), offline: false });
    await store.ingest(cardActivity, events(3, 'unread'));
    stack.setFaults({ BatchGetRecord: { unprocessedRate: 1 } });
    try {
      const ids = events(3, 'unread').map((e) => e.card_id);
      await expect(store.getMany(cardActivity, ids)).rejects.toMatchObject({ code: 'THROTTLED', retryable: true, message: 'group "card-activity": 3 identifiers still unprocessed after retries' });
    } finally {
      stack.setFaults({});
      await store.close();
    }
  });

  it('gives the client it makes the retry option: a throttled PutRecord is sent at most `attempts` times', async () => {
    // The SDK reads the endpoint and credentials from the environment, as in a Lambda.
    const saved = { ...process.env };
    Object.assign(process.env, stack.env);
    try {
      stack.setFaults({ PutRecord: { throttleRate: 1 } });
      const before = stack.faultCounts['PutRecord']?.calls ?? 0;
      const store = createFeatureStore({ online: sageMakerOnline({ retry: { attempts: 4, baseDelayMs: 1 }, batchWrite: false }), offline: false });
      const summary = await store.ingest(cardActivity, events(3, 'made'));
      stack.setFaults({});
      expect((stack.faultCounts['PutRecord']?.calls ?? 0) - before).toBe(12);
      expect(summary).toMatchObject({ failed: 3, retried: 9 });
      expect(summary.outcomes.map((o) => o.status === 'failed' && o.error.code)).toEqual(['THROTTLED', 'THROTTLED', 'THROTTLED']);
      await store.close();
    } finally {
      stack.setFaults({});
      for (const key of Object.keys(stack.env)) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  it.each(WRITE_APIS)('reports records it could not write as retryable failures, not as a thrown batch (%s)', async (api) => {
    stack.setFaults({ [api]: { errorRate: 1 } });
    const store = createFeatureStore({ online: sageMakerOnline({ client: retrying({ attempts: 2, baseDelayMs: 1 }), batchWrite: api === 'BatchWriteRecord' }), offline: false });
    const summary = await store.ingest(cardActivity, events(5, 'down'));
    stack.setFaults({});
    expect(summary.failed).toBe(5);
    for (const outcome of summary.outcomes) {
      expect(outcome.status).toBe('failed');
      if (outcome.status === 'failed') expect(outcome.error.retryable).toBe(true);
    }
    await store.close();
  });

  it.each(WRITE_APIS)('names the group when it does not exist on AWS (ValidationError "Resource Not Found"), after three attempts (%s)', async (api) => {
    const { defineFeatureGroup } = await import('../src/index.js');
    const { z } = await import('zod');
    const missing = defineFeatureGroup({
      name: 'not-created',
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string() }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => ({ id: e.id, t: new Date(0) }),
    });
    const store = createFeatureStore({ online: sageMakerOnline({ client: retrying({ baseDelayMs: 1 }), batchWrite: api === 'BatchWriteRecord' }), offline: false });
    const calls = () => stack.faultCounts[api]?.calls ?? 0;
    const before = calls();
    const summary = await store.ingest(missing, [{ id: 'a' }]);
    // AWS has answered "Resource Not Found" for a group that exists (aws/sagemaker-python-sdk issue 2606):
    // tried three times in all, then reported, not retried like throttling (six attempts). BatchWriteRecord
    // answers per entry (its Errors list), and the entry is sent again as often.
    expect(calls() - before).toBe(3);
    const outcome = summary.outcomes[0];
    expect(outcome?.status).toBe('failed');
    if (outcome?.status === 'failed') {
      expect(outcome.error).toBeInstanceOf(BackendError);
      expect(outcome.error.code).toBe('GROUP_NOT_FOUND');
      expect(outcome.error.message).toContain('not-created');
      expect(outcome.error.retryable).toBe(false);
    }
    await expect(store.get(missing, 'a')).rejects.toMatchObject({ code: 'GROUP_NOT_FOUND', group: 'not-created' });
    // BatchGetRecord says it per identifier, in its Errors: the read of many says it as the read of one
    // does, after as many calls.
    const reads = () => stack.faultCounts['BatchGetRecord']?.calls ?? 0;
    const readsBefore = reads();
    await expect(store.getMany(missing, ['a', 'b'])).rejects.toMatchObject({
      code: 'GROUP_NOT_FOUND',
      group: 'not-created',
      message: expect.stringMatching(/^feature group "not-created" does not exist in this account and region \(ResourceNotFound: /),
    });
    expect(reads() - readsBefore).toBe(3);
    await store.close();
  });

  it.each(WRITE_APIS)('writes the record when the group is there by the second attempt, "Resource Not Found" having been transient (%s)', async (api) => {
    const { defineFeatureGroup } = await import('../src/index.js');
    const { z } = await import('zod');
    const late = defineFeatureGroup({
      name: `appears-late-${api}`,
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string() }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => ({ id: e.id, t: new Date(0) }),
    });
    const client = retrying({ baseDelayMs: 1 });
    // Below the SDK's retries, so it sees each attempt: once the first has its answer ("Resource Not
    // Found"), the group is created on the stack, before anything is sent again.
    let created: Promise<void> | undefined;
    client.middlewareStack.add(
      (next) => async (args) => {
        try {
          return await next(args);
        } finally {
          created ??= createGroupOnStack(stack.clientConfig, late, 's3://store-test/offline');
          await created;
        }
      },
      { step: 'deserialize', name: 'createGroupAfterFirstAttempt' },
    );
    const store = createFeatureStore({ online: sageMakerOnline({ client, batchWrite: api === 'BatchWriteRecord', retry: { baseDelayMs: 1 } }), offline: false });
    const summary = await store.ingest(late, [{ id: 'a' }]);
    expect(created).toBeDefined();
    expect(summary).toMatchObject({ accepted: 1, failed: 0, retried: 1 });
    expect(await store.getMany(late, ['a'])).toEqual(new Map([['a', { id: 'a', t: new Date(0) }]]));
    await store.close();
  });
});

describe('a client without a Region', () => {
  it("says how to give one, where the SDK says only \"Region is missing\"", async () => {
    const saved = { AWS_REGION: process.env['AWS_REGION'], AWS_DEFAULT_REGION: process.env['AWS_DEFAULT_REGION'], AWS_CONFIG_FILE: process.env['AWS_CONFIG_FILE'] };
    delete process.env['AWS_REGION'];
    delete process.env['AWS_DEFAULT_REGION'];
    process.env['AWS_CONFIG_FILE'] = join(tmpdir(), 'skewless-no-such-aws-config');
    // The endpoint is never reached: the SDK refuses before it sends.
    const client = new SageMakerFeatureStoreRuntimeClient({ endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const store = createFeatureStore({ online: sageMakerOnline({ client }), offline: false });
    try {
      await expect(store.get(cardActivity, 'c1')).rejects.toMatchObject({
        name: 'BackendError',
        message: 'group "card-activity": read failed: Error: Region is missing: set AWS_REGION (Lambda sets it), or pass a client made with a region',
      });
    } finally {
      await store.close();
      client.destroy();
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
