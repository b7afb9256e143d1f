import { AthenaClient } from '@aws-sdk/client-athena';
import { S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { athenaOffline, retryStrategy, sageMakerOnline } from '../src/aws/index.js';
import { callWaves, collapseToNewest, roundsPerIdentifier } from '../src/aws/collapse.js';
import { BackendError, type SageMakerRecord } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { contractGroup, contractRecord } from './contracts/online-store.js';
import { createGroupOnStack } from './fixtures/stack.js';

// Collapsing: of an identifier's records in one put only the newest goes online, every one offline.
let stack: LocalStack;
let runtime: SageMakerFeatureStoreRuntimeClient;

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  await createGroupOnStack(stack.clientConfig, contractGroup, 's3://collapse/offline');
  runtime = new SageMakerFeatureStoreRuntimeClient(stack.clientConfig);
});
afterAll(async () => {
  await stack.close();
});

const amountOnline = async (id: string) => {
  const store = sageMakerOnline({ client: runtime });
  return (await store.get(contractGroup, id))?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString;
};

async function offlineRows(id: string): Promise<Record<string, unknown>[]> {
  await stack.flush();
  const reader = athenaOffline({ client: new AthenaClient(stack.clientConfig), s3: new S3Client(stack.clientConfig), sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://collapse/athena/' });
  try {
    return (await reader.scan(contractGroup)).filter((r) => r['id'] === id);
  } finally {
    await reader.close();
  }
}

async function offlineAmounts(id: string): Promise<number[]> {
  return (await offlineRows(id)).map((r) => Number(r['amount'])).sort((a, b) => a - b);
}

describe('BatchWriteRecord with collapsing (the default with batchWrite), local stack, real SDK client', () => {
  const early = '2024-05-01T00:00:01.000Z';
  const late = '2024-05-01T00:00:02.000Z';
  it.each([
    ['the later event second', [early, late], '2'],
    ['the later event first', [late, early], '1'],
    ['equal event times: the first written stays', [early, early], '1'],
  ])('two records of one identifier, %s: online holds the one the write rule keeps, offline both', async (name, [first, second], kept) => {
    const id = `pair-${name.replace(/\W+/g, '-')}`;
    const store = sageMakerOnline({ client: runtime, batchWrite: true });
    const outcomes = await store.put(contractGroup, [contractRecord(id, first as string, 1), contractRecord(id, second as string, 2)]);
    expect(outcomes).toEqual(['accepted', 'accepted']);
    expect(await amountOnline(id)).toBe(kept);
    expect(await offlineAmounts(id)).toEqual([1, 2]);
  });

  it('equal event times in the other order keep the other record', async () => {
    const store = sageMakerOnline({ client: runtime, batchWrite: true });
    await store.put(contractGroup, [contractRecord('tie-b', early, 2), contractRecord('tie-b', early, 1)]);
    expect(await amountOnline('tie-b')).toBe('2');
  });

  it('a stored record newer than the whole batch stays online', async () => {
    const store = sageMakerOnline({ client: runtime, batchWrite: true });
    await store.put(contractGroup, [contractRecord('stored', '2024-06-01T00:00:00.000Z', 9)]);
    await store.put(contractGroup, [contractRecord('stored', early, 1), contractRecord('stored', late, 2)]);
    expect(await amountOnline('stored')).toBe('9');
    expect(await offlineAmounts('stored')).toEqual([1, 2, 9]);
  });

  it('sends one call for a hot identifier with 25 records and gives each record its own outcome', async () => {
    const store = sageMakerOnline({ client: runtime, batchWrite: true });
    const before = stack.faultCounts['BatchWriteRecord']?.calls ?? 0;
    const records = Array.from({ length: 24 }, (_, i) => contractRecord('hot', new Date(Date.UTC(2024, 4, 1, 0, 0, i)).toISOString(), i));
    const outcomes = await store.put(contractGroup, [...records, contractRecord('cold', early, 5)]);
    expect(outcomes).toHaveLength(25);
    expect(outcomes.every((o) => o === 'accepted')).toBe(true);
    // Stage one: the 23 superseded records and the other identifier; stage two: the newest.
    expect((stack.faultCounts['BatchWriteRecord']?.calls ?? 0) - before).toBe(2);
    expect(await amountOnline('hot')).toBe('23');
    expect(await offlineAmounts('hot')).toHaveLength(24);
  });

  it('an identifier failed mid-batch sends nothing after the failed record: its newest does not overtake it', async () => {
    const store = sageMakerOnline({ client: runtime, batchWrite: true });
    const refused: SageMakerRecord = [...contractRecord('mid', early, 2), { FeatureName: 'not_a_feature', ValueAsString: '1' }];
    const outcomes = await store.put(contractGroup, [contractRecord('mid', '2024-05-01T00:00:00.000Z', 1), refused, contractRecord('mid', late, 3), contractRecord('mid-other', late, 4)]);
    expect(outcomes[0]).toBe('accepted');
    expect(outcomes[1]).toBeInstanceOf(BackendError);
    expect(outcomes[2]).toMatchObject({ code: 'WRITE_FAILED', retryable: true, message: expect.stringMatching(/earlier record of the same identifier/) });
    expect(outcomes[3]).toBe('accepted');
    expect(await amountOnline('mid')).toBeUndefined();
    expect(await offlineAmounts('mid')).toEqual([1]);
  });

  it('an identifier throttled mid-batch keeps its later records back, reported retryable', async () => {
    const store = sageMakerOnline({ client: runtime, batchWrite: true, retry: { attempts: 2, baseDelayMs: 1 } });
    stack.setFaults({ BatchWriteRecord: { unprocessedRate: 1 } });
    try {
      const outcomes = await store.put(contractGroup, [contractRecord('throttled', early, 1), contractRecord('throttled', late, 2)]);
      expect(outcomes[0]).toMatchObject({ code: 'THROTTLED', retryable: true });
      expect(outcomes[1]).toMatchObject({ code: 'WRITE_FAILED', retryable: true });
    } finally {
      stack.setFaults({});
    }
    expect(await amountOnline('throttled')).toBeUndefined();
  });

  it('with targetStores OnlineStore only, superseded records are accepted without a write', async () => {
    const store = sageMakerOnline({ client: runtime, batchWrite: true, targetStores: ['OnlineStore'] });
    const outcomes = await store.put(contractGroup, [contractRecord('online-only', early, 1), contractRecord('online-only', late, 2)]);
    expect(outcomes).toEqual(['accepted', 'accepted']);
    expect(await amountOnline('online-only')).toBe('2');
    expect(await offlineAmounts('online-only')).toEqual([]);
  });

  it('PutRecord with collapse: true has the same result', async () => {
    const store = sageMakerOnline({ client: runtime, collapse: true, batchWrite: false });
    const outcomes = await store.put(contractGroup, [contractRecord('put', late, 2), contractRecord('put', early, 1), contractRecord('put', late, 3)]);
    expect(outcomes).toEqual(['accepted', 'accepted', 'accepted']);
    expect(await amountOnline('put')).toBe('2');
    expect(await offlineAmounts('put')).toEqual([1, 2, 3]);
  });

  it.each([
    ['PutRecord', { collapse: true, batchWrite: false }],
    ['BatchWriteRecord', { batchWrite: true, batchSize: 2 }],
  ] as const)("%s: an identifier's records reach the store in input order though half the calls are throttled and retried", async (api, options) => {
    const id = `order-${api}`;
    // Eleven superseded records, offline alone and all in one stage, then the newest.
    const records = Array.from({ length: 12 }, (_, i) => contractRecord(id, new Date(Date.UTC(2024, 4, 1, 0, 0, i)).toISOString(), i));
    stack.setFaults({ [api]: { throttleRate: 0.5 }, seed: 3 });
    try {
      const client = new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, retryStrategy: retryStrategy({ attempts: 12, baseDelayMs: 5, maxDelayMs: 20 }) });
      expect(await sageMakerOnline({ client, ...options }).put(contractGroup, records)).toEqual(records.map(() => 'accepted'));
    } finally {
      stack.setFaults({});
    }
    const written = new Map((await offlineRows(id)).map((r) => [Number(r['amount']), (r['api_invocation_time'] as Date).getTime()]));
    expect([...written.keys()].sort((a, b) => a - b)).toEqual(records.map((_, i) => i));
    // No record written after the one behind it (equal milliseconds are no break).
    const breaks = records.slice(1).flatMap((_, i) => ((written.get(i) as number) > (written.get(i + 1) as number) ? [`${i} after ${i + 1}`] : []));
    expect(breaks).toEqual([]);
  });
});

describe("sageMakerOnline's default write path", () => {
  const calls = (api: string) => stack.faultCounts[api]?.calls ?? 0;
  const at = (second: number) => new Date(Date.UTC(2024, 4, 1, 0, 0, second)).toISOString();

  it('is BatchWriteRecord with collapsing: no PutRecord, 30 records of 3 identifiers in 3 calls, every record offline', async () => {
    const before = { put: calls('PutRecord'), batch: calls('BatchWriteRecord') };
    const store = sageMakerOnline({ client: runtime });
    const records = Array.from({ length: 30 }, (_, i) => contractRecord(`default-${i % 3}`, at(i), i));
    expect(await store.put(contractGroup, records)).toEqual(records.map(() => 'accepted'));
    expect(calls('PutRecord') - before.put).toBe(0);
    // The 27 superseded records offline alone (25 + 2 entries), then the 3 newest.
    expect(calls('BatchWriteRecord') - before.batch).toBe(3);
    expect(await amountOnline('default-0')).toBe('27');
    expect(await amountOnline('default-2')).toBe('29');
    expect(await offlineAmounts('default-1')).toEqual([1, 4, 7, 10, 13, 16, 19, 22, 25, 28]);
  });

  it('writes a group without an offline store too: its superseded records, refused offline alone, go where its writes go', async () => {
    const onlineOnly = { ...contractGroup, name: 'collapse-no-offline' };
    await createGroupOnStack(stack.clientConfig, onlineOnly);
    const store = sageMakerOnline({ client: runtime });
    const outcomes = await store.put(onlineOnly, [contractRecord('n', at(1), 1), contractRecord('n', at(3), 3), contractRecord('n', at(2), 2)]);
    expect(outcomes).toEqual(['accepted', 'accepted', 'accepted']);
    expect((await store.get(onlineOnly, 'n'))?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString).toBe('3');
    // Learned once: the next put of the group sends its superseded records nowhere.
    const before = calls('BatchWriteRecord');
    expect(await store.put(onlineOnly, [contractRecord('m', at(1), 1), contractRecord('m', at(2), 2)])).toEqual(['accepted', 'accepted']);
    expect(calls('BatchWriteRecord') - before).toBe(1);
    expect((await store.get(onlineOnly, 'm'))?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString).toBe('2');
  });
});

describe('collapseToNewest', () => {
  it('puts records before the newest first, the newest next, those after it last', () => {
    const records = [contractRecord('a', '2024-05-01T00:00:01.000Z'), contractRecord('a', '2024-05-01T00:00:03.000Z'), contractRecord('b', '2024-05-01T00:00:01.000Z'), contractRecord('a', '2024-05-01T00:00:02.000Z')];
    expect(collapseToNewest(contractGroup, records, true)).toEqual([
      [{ index: 0, target: 'offline' }, { index: 2, target: 'configured' }],
      [{ index: 1, target: 'configured' }],
      [{ index: 3, target: 'offline' }],
    ]);
  });

  it('writes an identifier with an unreadable event time one record per stage, as without collapsing', () => {
    const records = [contractRecord('a', 'yesterday'), contractRecord('a', '2024-05-01T00:00:03.000Z')];
    expect(collapseToNewest(contractGroup, records, true)).toEqual([[{ index: 0, target: 'configured' }], [{ index: 1, target: 'configured' }]]);
  });

  it('writes an identifier one record per stage also when the unreadable event time comes after readable ones', () => {
    const records = [contractRecord('a', '2024-05-01T00:00:01.000Z'), contractRecord('a', 'yesterday'), contractRecord('a', '2024-05-01T00:00:02.000Z')];
    expect(collapseToNewest(contractGroup, records, true)).toEqual([[{ index: 0, target: 'configured' }], [{ index: 1, target: 'configured' }], [{ index: 2, target: 'configured' }]]);
  });

  it('writes online the first of equal event times, as the online store keeps the first', () => {
    const records = [contractRecord('a', '2024-05-01T00:00:01.000Z', 1), contractRecord('a', '2024-05-01T00:00:01.000Z', 2)];
    expect(collapseToNewest(contractGroup, records, true)).toEqual([[{ index: 0, target: 'configured' }], [{ index: 1, target: 'offline' }]]);
  });

  it('writes online the newest when it comes first, and the older records after it', () => {
    const records = [contractRecord('a', '2024-05-01T00:00:03.000Z'), contractRecord('a', '2024-05-01T00:00:01.000Z'), contractRecord('a', '2024-05-01T00:00:02.000Z')];
    expect(collapseToNewest(contractGroup, records, true)).toEqual([[{ index: 0, target: 'configured' }], [{ index: 1, target: 'offline' }, { index: 2, target: 'offline' }]]);
  });

  it('sends superseded records nowhere when the offline store is not written', () => {
    const records = [contractRecord('a', '2024-05-01T00:00:01.000Z'), contractRecord('a', '2024-05-01T00:00:02.000Z')];
    expect(collapseToNewest(contractGroup, records, false)).toEqual([[{ index: 0, target: 'none' }], [{ index: 1, target: 'configured' }]]);
  });

  it('finds the identifier wherever the record holds it, not only first', () => {
    const timeFirst = (id: string, eventTime: string): SageMakerRecord => {
      const [idFeature, ...rest] = contractRecord(id, eventTime);
      return [...rest, idFeature as SageMakerRecord[number]];
    };
    const records = [timeFirst('a', '2024-05-01T00:00:01.000Z'), timeFirst('a', '2024-05-01T00:00:02.000Z')];
    expect(collapseToNewest(contractGroup, records, true)).toEqual([[{ index: 0, target: 'offline' }], [{ index: 1, target: 'configured' }]]);
  });

  it('lists each stage in input order when identifiers interleave', () => {
    const records = [
      contractRecord('a', '2024-05-01T00:00:01.000Z'),
      contractRecord('b', '2024-05-01T00:00:01.000Z'),
      contractRecord('a', '2024-05-01T00:00:02.000Z'),
      contractRecord('b', '2024-05-01T00:00:03.000Z'),
      contractRecord('a', '2024-05-01T00:00:03.000Z'),
    ];
    expect(collapseToNewest(contractGroup, records, true)).toEqual([
      [{ index: 0, target: 'offline' }, { index: 1, target: 'offline' }, { index: 2, target: 'offline' }],
      [{ index: 3, target: 'configured' }, { index: 4, target: 'configured' }],
    ]);
  });
});

describe('roundsPerIdentifier (BatchWriteRecord without collapsing)', () => {
  it("writes an identifier's records one per round, in their order, other identifiers alongside, every one to the configured stores", () => {
    const records = ['a', 'b', 'a', 'a', 'b'].map((id, i) => contractRecord(id, `2024-05-01T00:00:0${i}.000Z`));
    expect(roundsPerIdentifier(contractGroup, records)).toEqual([
      [{ index: 0, target: 'configured' }, { index: 1, target: 'configured' }],
      [{ index: 2, target: 'configured' }, { index: 4, target: 'configured' }],
      [{ index: 3, target: 'configured' }],
    ]);
  });
});

describe('callWaves', () => {
  const at = '2024-05-01T00:00:01.000Z';
  const offlineOnly = (records: readonly SageMakerRecord[]) => records.map((_, index) => ({ index, target: 'offline' as const }));
  const indices = (waves: ReturnType<typeof callWaves>) => waves.map((wave) => wave.map((call) => call.map((write) => write.index)));

  it('lays each identifier\'s records side by side and holds back a call that goes on with the identifier before it', () => {
    const records = ['a', 'b', 'a', 'b', 'a', 'c'].map((id) => contractRecord(id, at));
    // Calls of two: [a a] [a b] [b c]; the second goes on with a, the third with b.
    expect(indices(callWaves(contractGroup, records, offlineOnly(records), 2))).toEqual([[[0, 2]], [[4, 1]], [[3, 5]]]);
  });

  it('sends calls that share no identifier in one wave', () => {
    const records = ['a', 'a', 'b', 'b', 'c'].map((id) => contractRecord(id, at));
    expect(indices(callWaves(contractGroup, records, offlineOnly(records), 2))).toEqual([[[0, 1], [2, 3], [4]]]);
  });
});
