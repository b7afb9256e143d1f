import { AthenaClient } from '@aws-sdk/client-athena';
import { CreateBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { athenaOffline, runAthenaQuery, s3Offline, sageMakerOnline } from '../src/aws/index.js';
import { parseCsv } from '../src/aws/athena-query.js';
import { BackendError, createFeatureStore, trainingSet } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import type { OfflineStore } from '../src/store/types.js';
import { s3OfflineContract } from './contracts/offline-store.js';
import { contractGroup, contractRecord } from './contracts/online-store.js';
import { cardActivity, cardVelocity, validCardEvent } from './fixtures/groups.js';
import { createGroupOnStack } from './fixtures/stack.js';

let stack: LocalStack;
let s3: S3Client;
let athena: AthenaClient;
let sagemaker: SageMakerClient;
let runtime: SageMakerFeatureStoreRuntimeClient;
const written = new Date('2024-06-01T00:00:00.123Z');

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  s3 = new S3Client(stack.clientConfig);
  athena = new AthenaClient(stack.clientConfig);
  sagemaker = new SageMakerClient(stack.clientConfig);
  runtime = new SageMakerFeatureStoreRuntimeClient(stack.clientConfig);
  // As on AWS, objects go only into a bucket someone made, and query results too.
  for (const bucket of ['lake', 'results']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const group of [contractGroup, { name: cardActivity.name, recordIdentifier: cardActivity.recordIdentifier, eventTime: cardActivity.eventTime, featureDefinitions: cardActivity.featureDefinitions }]) {
    await createGroupOnStack(stack.clientConfig, group, 's3://lake/features');
  }
});
afterAll(async () => {
  runtime.destroy();
  await stack.close();
});

s3OfflineContract('the local stack', async () => ({ s3, bucket: 'lake' }));

describe('s3Offline', () => {
  it('writes Parquet in hourly partitions under <prefix>/<group>/data that reads back typed', async () => {
    const offline = s3Offline({ client: s3, bucket: 'lake', prefix: 'features' });
    await offline.append(contractGroup, [
      { record: contractRecord('a', '2024-05-01T12:00:00Z', 1.5, '9223372036854775807'), writeTime: written, apiInvocationTime: written, isDeleted: false },
      { record: contractRecord('b', '2024-05-02T08:00:00Z', 2.5, '-1'), writeTime: written, apiInvocationTime: written, isDeleted: false },
    ]);
    const rows = (await offline.scan(contractGroup)).sort((x, y) => String(x['id']).localeCompare(String(y['id'])));
    expect(rows).toEqual([
      { id: 'a', event_time: '2024-05-01T12:00:00Z', amount: 1.5, count: 2n ** 63n - 1n, write_time: written, api_invocation_time: written, is_deleted: false },
      { id: 'b', event_time: '2024-05-02T08:00:00Z', amount: 2.5, count: -1n, write_time: written, api_invocation_time: written, is_deleted: false },
    ]);
  });

  it('lands files in hourly partitions an Athena table over <prefix>/<group>/data/<partition> reads, typed', async () => {
    // s3Offline keeps its own layout (not SageMaker's resolved one): a user registers a table over it.
    const ddl = await runAthenaQuery({
      athena,
      s3,
      query: "CREATE EXTERNAL TABLE mine.contract (id string, count bigint) STORED AS PARQUET LOCATION 's3://lake/features/contract-group/data/year=2024/month=05/day=01/hour=12/'",
      outputLocation: 's3://results/athena/',
    });
    for await (const _ of ddl.rows());
    const result = await runAthenaQuery({
      athena,
      s3,
      query: `SELECT id, count FROM mine.contract WHERE id IN ('a', 'b') ORDER BY id`,
      outputLocation: 's3://results/athena/',
    });
    const rows = [];
    for await (const row of result.rows()) rows.push(row);
    expect(result.columns).toEqual([{ name: 'id', type: 'varchar' }, { name: 'count', type: 'bigint' }]);
    expect(rows).toEqual([['a', '9223372036854775807']]);
  });
});

describe('athenaOffline', () => {
  it('reads every record SageMaker delivered offline, typed, via the Glue table it finds itself', async () => {
    const store = createFeatureStore({
      online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }),
      offline: athenaOffline({ client: athena, s3, sagemaker, outputLocation: 's3://results/athena/' }),
    });
    await store.ingest(cardActivity, [validCardEvent, { ...validCardEvent, amount_cents: 99, ts: '2024-04-01T00:00:00Z' }]);
    await stack.flush();
    const { offline } = await store.backends();
    const rows = (await offline?.scan(cardActivity)) ?? [];
    expect(rows.map((r) => [r['card_id'], r['amount'], r['is_foreign'], r.is_deleted]).sort()).toEqual([
      ['card-1', 0.99, 1n, false],
      ['card-1', 12.5, 1n, false],
    ]);
    expect(rows[0]?.write_time).toBeInstanceOf(Date);
    await store.close();
  });

  it('refuses to write, naming the writers that can', async () => {
    const offline = athenaOffline({ outputLocation: 's3://results/' });
    await expect(offline.append(cardActivity, [])).rejects.toThrow(/sageMakerOnline|s3Offline/);
  });

  it('reports a failed query with Athena\'s reason', async () => {
    await expect(runAthenaQuery({ athena, s3, query: 'SELECT * FROM nowhere', outputLocation: 's3://results/' })).rejects.toMatchObject({
      code: 'READ_FAILED',
      message: expect.stringMatching(/nowhere/),
    });
  });

  it('fails a query whose results bucket does not exist when it starts, as Athena does', async () => {
    // Athena checks the output bucket at StartQueryExecution: InvalidRequestException "Unable to
    // verify/create output bucket" (https://aws.amazon.com/premiumsupport/knowledge-center/athena-output-bucket-error/).
    const error = await runAthenaQuery({ athena, s3, query: 'SELECT 1', outputLocation: 's3://no-such-results/athena/' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'INVALID_REQUEST', retryable: false, message: 'Athena StartQueryExecution failed: InvalidRequestException: Unable to verify/create output bucket no-such-results' });
  });

  // A client of our own with one attempt, so the injected fault is what runAthenaQuery sees.
  const afterOneAttempt = async (faults: Parameters<LocalStack['setFaults']>[0]) => {
    const once = new AthenaClient({ ...stack.clientConfig, maxAttempts: 1 });
    stack.setFaults(faults);
    try {
      return await runAthenaQuery({ athena: once, s3, query: 'SELECT 1', outputLocation: 's3://results/' }).catch((e: unknown) => e);
    } finally {
      stack.setFaults({});
      once.destroy();
    }
  };

  it('names the Athena call that was throttled (TooManyRequestsException): THROTTLED, retryable', async () => {
    const error = await afterOneAttempt({ StartQueryExecution: { throttleRate: 1 } });
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'THROTTLED', retryable: true, message: expect.stringMatching(/^Athena StartQueryExecution failed: TooManyRequestsException: /) });
  });

  it('names the Athena call that failed inside the service (InternalServerException): READ_FAILED, retryable', async () => {
    const error = await afterOneAttempt({ GetQueryExecution: { errorRate: 1 } });
    expect(error).toMatchObject({ code: 'READ_FAILED', retryable: true, message: expect.stringMatching(/^Athena GetQueryExecution failed: InternalServerException: /) });
  });

  it('says which group a failed scan was reading, the Athena call\'s error as its cause', async () => {
    const offline = athenaOffline({ client: athena, s3, sagemaker, outputLocation: 's3://no-such-results/' });
    const error = await offline.scan(cardActivity).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'INVALID_REQUEST',
      group: cardActivity.name,
      message: `group "${cardActivity.name}": Athena StartQueryExecution failed: InvalidRequestException: Unable to verify/create output bucket no-such-results`,
    });
    expect((error as BackendError).cause).toBeInstanceOf(BackendError);
  });

  it('says a result file that is gone is gone: READ_FAILED naming the object, not retried', async () => {
    const result = await runAthenaQuery({ athena, s3, query: 'SELECT 1', outputLocation: 's3://results/gone/' });
    const [, key] = /^s3:\/\/results\/(.+)$/.exec(result.location) ?? [];
    await s3.send(new DeleteObjectCommand({ Bucket: 'results', Key: key }));
    const error = await (async () => {
      for await (const _ of result.rows());
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'READ_FAILED', retryable: false, message: `cannot read ${result.location}: no such object` });
  });

  type Feature = Parameters<typeof trainingSet>[1]['features'][number];
  /** What a one-row training set of `feature` on `offline` throws; the store is closed after it. */
  async function trainingSetError(offline: OfflineStore, feature: Feature = cardActivity.select('amount')): Promise<unknown> {
    const store = createFeatureStore({ online: sageMakerOnline({ client: runtime }), offline });
    try {
      const spine = [{ card_id: 'card-1', at: new Date('2024-06-01T00:00:00Z') }];
      return await trainingSet(store, { spine, entityKey: 'card_id', timestamp: 'at', features: [feature] }).then(
        () => undefined,
        (error: unknown) => error,
      );
    } finally {
      await store.close();
    }
  }

  it('says a training set\'s group has no feature group when DescribeFeatureGroup finds none', async () => {
    // cardVelocity was never created on this stack: ResourceNotFound, DescribeFeatureGroup's one modelled error.
    const error = await trainingSetError(athenaOffline({ client: athena, s3, sagemaker, outputLocation: 's3://results/' }), cardVelocity.select('amount'));
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'GROUP_NOT_FOUND', group: cardVelocity.name, message: expect.stringMatching(/^feature group "card-velocity" does not exist in this account and region \(ResourceNotFound: /) });
  });

  it('names the staged spine it could not upload, and S3\'s reason', async () => {
    const error = await trainingSetError(athenaOffline({ client: athena, s3, sagemaker, outputLocation: 's3://results/', stagingLocation: 's3://no-such-staging/spines/', inlineSpineRows: 0 }));
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({
      code: 'READ_FAILED',
      retryable: false,
      message: expect.stringMatching(/^S3 PutObject of the staged spine s3:\/\/no-such-staging\/spines\/[0-9a-f]{32}\/spine\.parquet failed: NoSuchBucket: /),
    });
  });

  it('keeps a failed training query\'s error when removing its staged spine fails too, and reports what was left', async () => {
    const left: unknown[] = [];
    const tables = { [cardActivity.name]: { database: 'sagemaker_featurestore', table: 'no_such_table' } };
    stack.setFaults({ DeleteObject: { errorRate: 1 } });
    try {
      const error = await trainingSetError(athenaOffline({ client: athena, s3, outputLocation: 's3://results/', inlineSpineRows: 0, tables, onCleanupFailure: (e) => left.push(e) }));
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).message).toMatch(/no_such_table/);
      // The removal was tried and failed: its error is not the one thrown, but reported beside it.
      expect(stack.faultCounts['DeleteObject']?.failed).toBeGreaterThan(0);
      expect(left).toEqual([expect.objectContaining({ message: expect.stringMatching(/^the staged spine was left behind; remove the object s3:\/\/results\/skewless-staging\/[0-9a-f]{32}\/spine\.parquet by hand /) })]);
    } finally {
      stack.setFaults({});
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'results', Prefix: 'skewless-staging/' }));
      for (const object of listed.Contents ?? []) await s3.send(new DeleteObjectCommand({ Bucket: 'results', Key: object.Key }));
    }
  });

  it('refuses a query over Athena\'s 262,144-byte limit before sending it', async () => {
    const error = await runAthenaQuery({ athena, s3, query: `SELECT '${'x'.repeat(262_144)}'`, outputLocation: 's3://results/' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('INVALID_REQUEST');
  });
});

describe('parseCsv', () => {
  async function* chunks(text: string, size: number) {
    for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
  }
  const collect = async (text: string, size: number) => {
    const rows = [];
    for await (const row of parseCsv(chunks(text, size))) rows.push(row);
    return rows;
  };

  it('keeps NULL and the empty string apart, and quotes inside values', async () => {
    expect(await collect('"a","b"\n"x",""\n,"say ""hi"""\n', 3)).toEqual([['a', 'b'], ['x', ''], [undefined, 'say "hi"']]);
  });

  it('parses what an Athena-style writer quotes, whatever the chunking', async () => {
    const value = fc.option(fc.string(), { nil: undefined });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(value, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 5 }), fc.integer({ min: 1, max: 7 }), async (rows, size) => {
        const widths = rows.map((r) => r.length);
        fc.pre(widths.every((w) => w === widths[0]) && !(widths[0] === 1 && rows.some((r) => r[0] === undefined)));
        const text = rows.map((r) => r.map((v) => (v === undefined ? '' : `"${v.replaceAll('"', '""')}"`)).join(',')).join('\n') + '\n';
        expect(await collect(text, size)).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });
});
