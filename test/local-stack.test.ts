import { AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, StartQueryExecutionCommand, StopQueryExecutionCommand, InvalidRequestException } from '@aws-sdk/client-athena';
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, UploadPartCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, NoSuchKey, PutObjectCommand, S3Client, DeleteObjectCommand, CreateBucketCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { CreateFeatureGroupCommand, type CreateFeatureGroupCommandInput, DeleteFeatureGroupCommand, DescribeFeatureGroupCommand, ListFeatureGroupsCommand, ResourceInUse, ResourceNotFound as ControlResourceNotFound, SageMakerClient } from '@aws-sdk/client-sagemaker';
import {
  BatchGetRecordCommand,
  BatchWriteRecordCommand,
  DeleteRecordCommand,
  GetRecordCommand,
  PutRecordCommand,
  ResourceNotFound,
  SageMakerFeatureStoreRuntimeClient,
  ValidationError,
} from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { CreateQueueCommand, QueueDoesNotExist, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { FAULT_OPERATIONS } from '../src/local/stack/faults.js';
import { md5OfMessageAttributes } from '../src/local/stack/sqs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import type { SageMakerRecord } from '../src/index.js';

let stack: LocalStack;
let runtime: SageMakerFeatureStoreRuntimeClient;
let sagemaker: SageMakerClient;
let athena: AthenaClient;
let s3: S3Client;

const GROUP = 'card-activity';
const record = (id: string, time: string, amount: string): SageMakerRecord => [
  { FeatureName: 'card_id', ValueAsString: id },
  { FeatureName: 'event_time', ValueAsString: time },
  { FeatureName: 'amount', ValueAsString: amount },
];
const amountOf = (r: readonly { FeatureName?: string; ValueAsString?: string }[] | undefined) => r?.find((f) => f.FeatureName === 'amount')?.ValueAsString;

async function waitForQuery(id: string): Promise<string> {
  for (;;) {
    const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
    const state = QueryExecution?.Status?.State;
    if (state !== 'QUEUED' && state !== 'RUNNING') return state ?? 'UNKNOWN';
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function glueTable(): Promise<string> {
  const described = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: GROUP }));
  const catalog = described.OfflineStoreConfig?.DataCatalogConfig;
  return `"${catalog?.Database}"."${catalog?.TableName}"`;
}

/** Runs a query through the Athena API and returns every row of its first page, header included. */
async function query(sql: string): Promise<(string | undefined)[][]> {
  const { QueryExecutionId } = await athena.send(
    new StartQueryExecutionCommand({ QueryString: sql, ResultConfiguration: { OutputLocation: 's3://athena-results/queries/' } }),
  );
  const state = await waitForQuery(QueryExecutionId as string);
  if (state !== 'SUCCEEDED') {
    const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    throw new Error(`query ${state}: ${QueryExecution?.Status?.StateChangeReason}`);
  }
  const results = await athena.send(new GetQueryResultsCommand({ QueryExecutionId }));
  return (results.ResultSet?.Rows ?? []).map((row) => (row.Data ?? []).map((d) => d.VarCharValue));
}

/** CreateFeatureGroup's input for a group of card_id, event_time and amount, with an online store unless `extra` says otherwise. */
const cardGroup = (name: string, extra: Partial<CreateFeatureGroupCommandInput> = {}): CreateFeatureGroupCommandInput => ({
  FeatureGroupName: name,
  RecordIdentifierFeatureName: 'card_id',
  EventTimeFeatureName: 'event_time',
  FeatureDefinitions: [
    { FeatureName: 'card_id', FeatureType: 'String' },
    { FeatureName: 'event_time', FeatureType: 'String' },
    { FeatureName: 'amount', FeatureType: 'Fractional' },
  ],
  OnlineStoreConfig: { EnableOnlineStore: true },
  ...extra,
});

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  runtime = new SageMakerFeatureStoreRuntimeClient(stack.clientConfig);
  sagemaker = new SageMakerClient(stack.clientConfig);
  athena = new AthenaClient(stack.clientConfig);
  s3 = new S3Client(stack.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: 'athena-results' }));
  await sagemaker.send(
    new CreateFeatureGroupCommand(
      cardGroup(GROUP, {
        OfflineStoreConfig: { S3StorageConfig: { S3Uri: 's3://feature-store/offline' } },
        RoleArn: 'arn:aws:iam::000000000000:role/feature-store',
      }),
    ),
  );
  await sagemaker.send(
    new CreateFeatureGroupCommand({
      FeatureGroupName: 'every-string',
      RecordIdentifierFeatureName: 'id',
      EventTimeFeatureName: 't',
      FeatureDefinitions: ['id', 't', 'a', 'b'].map((name) => ({ FeatureName: name, FeatureType: 'String' as const })),
      OnlineStoreConfig: { EnableOnlineStore: true },
    }),
  );
});

afterAll(async () => {
  await stack.close();
});

describe('SageMaker control plane', () => {
  it('describes a created group with its offline store and Glue table', async () => {
    const described = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: GROUP }));
    expect(described.FeatureGroupStatus).toBe('Created');
    expect(described.RecordIdentifierFeatureName).toBe('card_id');
    expect(described.FeatureDefinitions).toHaveLength(3);
    expect(described.CreationTime).toBeInstanceOf(Date);
    // https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-offline.html: <S3Uri>/<account>/sagemaker/<region>/offline-store/<group>-<creation epoch>/data
    const epoch = Math.floor((described.CreationTime as Date).getTime() / 1000);
    expect(described.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri).toBe(`s3://feature-store/offline/000000000000/sagemaker/us-east-1/offline-store/card-activity-${epoch}/data`);
    expect(described.OfflineStoreConfig?.DataCatalogConfig?.Database).toBe('sagemaker_featurestore');
    expect(described.OfflineStoreConfig?.DataCatalogConfig?.TableName).toMatch(/^card_activity_\d+$/);
  });

  it('refuses to create a group twice', async () => {
    const again = sagemaker.send(
      new CreateFeatureGroupCommand({
        FeatureGroupName: GROUP,
        RecordIdentifierFeatureName: 'card_id',
        EventTimeFeatureName: 'event_time',
        FeatureDefinitions: [{ FeatureName: 'card_id', FeatureType: 'String' }, { FeatureName: 'event_time', FeatureType: 'String' }],
        OnlineStoreConfig: { EnableOnlineStore: true },
      }),
    );
    await expect(again).rejects.toBeInstanceOf(ResourceInUse);
  });

  it('raises ResourceNotFound (400, its only modelled error) for an unknown group, as DescribeFeatureGroup does', async () => {
    const error = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: 'nope' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ControlResourceNotFound);
    expect((error as ControlResourceNotFound).$metadata.httpStatusCode).toBe(400);
  });

  it('lists groups page by page', async () => {
    for (const name of ['list-a', 'list-b', 'list-c']) {
      await sagemaker.send(
        new CreateFeatureGroupCommand({
          FeatureGroupName: name,
          RecordIdentifierFeatureName: 'id',
          EventTimeFeatureName: 't',
          FeatureDefinitions: [{ FeatureName: 'id', FeatureType: 'String' }, { FeatureName: 't', FeatureType: 'Fractional' }],
          OnlineStoreConfig: { EnableOnlineStore: true },
        }),
      );
    }
    const first = await sagemaker.send(new ListFeatureGroupsCommand({ NameContains: 'list-', MaxResults: 2, SortBy: 'Name', SortOrder: 'Ascending' }));
    expect(first.FeatureGroupSummaries?.map((g) => g.FeatureGroupName)).toEqual(['list-a', 'list-b']);
    const second = await sagemaker.send(new ListFeatureGroupsCommand({ NameContains: 'list-', MaxResults: 2, SortBy: 'Name', SortOrder: 'Ascending', NextToken: first.NextToken }));
    expect(second.FeatureGroupSummaries?.map((g) => g.FeatureGroupName)).toEqual(['list-c']);
    expect(second.NextToken).toBeUndefined();
    await sagemaker.send(new DeleteFeatureGroupCommand({ FeatureGroupName: 'list-c' }));
    const after = await sagemaker.send(new ListFeatureGroupsCommand({ NameContains: 'list-' }));
    expect(after.FeatureGroupSummaries?.map((g) => g.FeatureGroupName).sort()).toEqual(['list-a', 'list-b']);
  });
});

describe('SageMaker Feature Store runtime', () => {
  it('puts and gets a record', async () => {
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('card-1', '2024-05-01T12:00:00Z', '12.5') }));
    const got = await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-1' }));
    expect(got.Record).toEqual(record('card-1', '2024-05-01T12:00:00Z', '12.5'));
  });

  it('answers a missing record with an empty 200', async () => {
    const got = await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'never' }));
    expect(got.Record).toBeUndefined();
    expect(got.$metadata.httpStatusCode).toBe(200);
  });

  it('returns only the named features', async () => {
    const got = await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-1', FeatureNames: ['amount'] }));
    expect(got.Record).toEqual([{ FeatureName: 'amount', ValueAsString: '12.5' }]);
  });

  it('keeps the newer record online and lands an older one offline only', async () => {
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('card-2', '2024-05-01T12:00:00Z', '1') }));
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('card-2', '2024-05-01T11:00:00Z', '2') }));
    const got = await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-2' }));
    expect(amountOf(got.Record)).toBe('1');
    const rows = await query(`SELECT amount FROM ${await glueTable()} WHERE card_id = 'card-2' ORDER BY amount`);
    expect(rows).toEqual([['amount'], ['1'], ['2']]);
  });

  it('writes only to the target stores asked for', async () => {
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('card-offline-only', '2024-05-03T12:00:00Z', '9'), TargetStores: ['OfflineStore'] }));
    expect((await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-offline-only' }))).Record).toBeUndefined();
    expect(await query(`SELECT amount FROM ${await glueTable()} WHERE card_id = 'card-offline-only'`)).toEqual([['amount'], ['9']]);
  });

  it('validates records as the service does', async () => {
    const unknown = runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: [...record('c', '2024-05-01T12:00:00Z', '1'), { FeatureName: 'nope', ValueAsString: 'x' }] }));
    await expect(unknown).rejects.toBeInstanceOf(ValidationError);
    const wrongType = runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('c', '2024-05-01T12:00:00Z', 'abc') }));
    await expect(wrongType).rejects.toBeInstanceOf(ValidationError);
    const noTime = runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: [{ FeatureName: 'card_id', ValueAsString: 'c' }] }));
    await expect(noTime).rejects.toThrow(/event time/);
    const badTime = runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('c', '2024-05-01 12:00:00', '1') }));
    await expect(badTime).rejects.toBeInstanceOf(ValidationError);
  });

  it('answers PutRecord and DeleteRecord on an unknown group with ValidationError "Resource Not Found" (aws/sagemaker-python-sdk issue 2606), GetRecord with ResourceNotFound 404 (its model)', async () => {
    const message = "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name [no-such-group].";
    const put = await runtime.send(new PutRecordCommand({ FeatureGroupName: 'no-such-group', Record: record('c', '2024-05-01T12:00:00Z', '1') })).catch((e: unknown) => e);
    expect(put).toBeInstanceOf(ValidationError);
    expect(put).toMatchObject({ message, $metadata: { httpStatusCode: 400 } });
    const del = await runtime.send(new DeleteRecordCommand({ FeatureGroupName: 'no-such-group', RecordIdentifierValueAsString: 'c', EventTime: '2024-05-01T12:00:00Z' })).catch((e: unknown) => e);
    expect(del).toBeInstanceOf(ValidationError);
    expect(del).toMatchObject({ message });
    const get = await runtime.send(new GetRecordCommand({ FeatureGroupName: 'no-such-group', RecordIdentifierValueAsString: 'c' })).catch((e: unknown) => e);
    expect(get).toBeInstanceOf(ResourceNotFound);
    expect(get).toMatchObject({ message, $metadata: { httpStatusCode: 404 } });
  });

  it('deletes softly and hard, refusing a hard delete older than the record', async () => {
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('card-3', '2024-05-01T12:00:00Z', '3') }));
    const older = runtime.send(new DeleteRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-3', EventTime: '2024-05-01T11:00:00Z', DeletionMode: 'HardDelete' }));
    await expect(older).rejects.toBeInstanceOf(ValidationError);
    await runtime.send(new DeleteRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-3', EventTime: '2024-05-01T13:00:00Z' }));
    expect((await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-3' }))).Record).toBeUndefined();
  });

  it('returns ExpiresAt for records written with a TTL when asked', async () => {
    const eventTime = new Date(Date.now() - 1000).toISOString();
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('card-ttl', eventTime, '1'), TtlDuration: { Unit: 'Hours', Value: 1 } }));
    const got = await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-ttl', ExpirationTimeResponse: 'Enabled' }));
    expect(got.ExpiresAt).toBe(new Date(Date.parse(eventTime) + 3_600_000).toISOString());
  });

  it('batch-gets records, leaving missing ones out and reporting unknown groups as errors', async () => {
    const result = await runtime.send(
      new BatchGetRecordCommand({
        Identifiers: [
          { FeatureGroupName: GROUP, RecordIdentifiersValueAsString: ['card-1', 'card-2', 'never'] },
          { FeatureGroupName: 'no-such-group', RecordIdentifiersValueAsString: ['x'] },
        ],
      }),
    );
    expect(result.Records?.map((r) => r.RecordIdentifierValueAsString).sort()).toEqual(['card-1', 'card-2']);
    expect(result.Errors).toEqual([expect.objectContaining({ FeatureGroupName: 'no-such-group', RecordIdentifierValueAsString: 'x', ErrorCode: 'ResourceNotFound' })]);
    expect(result.UnprocessedIdentifiers).toEqual([]);
  });

  it('batch-writes records, reporting bad entries one by one', async () => {
    const result = await runtime.send(
      new BatchWriteRecordCommand({
        Entries: [
          { FeatureGroupName: GROUP, Record: record('card-bw', '2024-05-01T12:00:00Z', '7') },
          { FeatureGroupName: GROUP, Record: record('card-bad', '2024-05-01T12:00:00Z', 'x') },
        ],
      }),
    );
    expect(result.Errors?.map((e) => e.ErrorCode)).toEqual(['ValidationError']);
    expect(amountOf((await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-bw' }))).Record)).toBe('7');
  });
});

describe('SageMaker Feature Store, as its docs and models say', () => {
  const refused = async (call: Promise<unknown>, message: RegExp) => {
    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(message);
  };

  it("takes only the String event times CreateFeatureGroup documents: yyyy-MM-dd'T'HH:mm:ssZ and yyyy-MM-dd'T'HH:mm:ss.SSSZ (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateFeatureGroup.html)", async () => {
    for (const time of ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.250Z']) {
      await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('time-ok', time, '1') }));
    }
    for (const time of ['2026-11-30 11:39:25Z', '2026-11-30T11:39Z', '2024-05-01T12:00:00.5Z', '2024-05-01T12:00:00+00:00', '2024-05-01T12:00:00.250000Z', '2024-05-01t12:00:00z']) {
      await refused(runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('time-bad', time, '1') })), /yyyy-MM-dd'T'HH:mm:ssZ/);
    }
  });

  it('refuses a TtlDuration unit it does not list (Seconds, Minutes, Hours, Days, Weeks) and a Value below 1 (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_TtlDuration.html)', async () => {
    const put = (ttl: unknown) => runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('ttl', '2024-05-01T12:00:00Z', '1'), TtlDuration: ttl as never }));
    await put({ Unit: 'Days', Value: 1 });
    await refused(put({ Unit: 'Fortnights', Value: 1 }), /TtlDuration.Unit must be one of Seconds, Minutes, Hours, Days, Weeks/);
    await refused(put({ Unit: 'Days', Value: 0 }), /TtlDuration.Value/);
    const create = await sagemaker
      .send(new CreateFeatureGroupCommand({ FeatureGroupName: 'ttl-bad', RecordIdentifierFeatureName: 'id', EventTimeFeatureName: 't', FeatureDefinitions: [{ FeatureName: 'id', FeatureType: 'String' }, { FeatureName: 't', FeatureType: 'String' }], OnlineStoreConfig: { EnableOnlineStore: true, TtlDuration: { Unit: 'Months' as never, Value: 1 } } }))
      .catch((e: unknown) => e);
    expect((create as Error).message).toMatch(/TtlDuration.Unit/);
  });

  it('refuses a record identifier over 2 KB and a value or record over 350 KB (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html)', async () => {
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('i'.repeat(2048), '2024-05-01T12:00:00Z', '1') }));
    await refused(runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('i'.repeat(2049), '2024-05-01T12:00:00Z', '1') })), /record identifier is over 2048 bytes/);
    await refused(runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('é'.repeat(1025), '2024-05-01T12:00:00Z', '1') })), /over 2048 bytes/);
    await refused(
      runtime.send(new PutRecordCommand({ FeatureGroupName: 'every-string', Record: [{ FeatureName: 'id', ValueAsString: 'x' }, { FeatureName: 't', ValueAsString: '2024-05-01T12:00:00Z' }, { FeatureName: 'a', ValueAsString: 'v'.repeat(350 * 1024 + 1) }] })),
      /value of feature a is over 358400 bytes/,
    );
    await refused(
      runtime.send(new PutRecordCommand({ FeatureGroupName: 'every-string', Record: [{ FeatureName: 'id', ValueAsString: 'x' }, { FeatureName: 't', ValueAsString: '2024-05-01T12:00:00Z' }, { FeatureName: 'a', ValueAsString: 'v'.repeat(200 * 1024) }, { FeatureName: 'b', ValueAsString: 'v'.repeat(200 * 1024) }] })),
      /record is over 358400 bytes/,
    );
  });

  it('takes 1 to 25 BatchWriteRecord entries (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_BatchWriteRecord.html), and sageMakerOnline sends at most 25 a call', async () => {
    const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ FeatureGroupName: GROUP, Record: record(`bw-${i}`, '2024-05-01T12:00:00Z', String(i)) }));
    await runtime.send(new BatchWriteRecordCommand({ Entries: entries(25) }));
    await refused(runtime.send(new BatchWriteRecordCommand({ Entries: entries(26) })), /Entries must hold 1 to 25 entries, got 26/);
    const before = stack.faultCounts['BatchWriteRecord']?.calls ?? 0;
    const { sageMakerOnline } = await import('../src/aws/index.js');
    const online = sageMakerOnline({ client: runtime, batchWrite: true });
    const group = { name: GROUP, recordIdentifier: 'card_id', eventTime: 'event_time', featureDefinitions: [{ FeatureName: 'card_id', FeatureType: 'String' as const }, { FeatureName: 'event_time', FeatureType: 'String' as const }, { FeatureName: 'amount', FeatureType: 'Fractional' as const }] };
    const outcomes = await online.put(group, entries(60).map((e) => e.Record));
    expect(outcomes.every((o) => o === 'accepted')).toBe(true);
    expect((stack.faultCounts['BatchWriteRecord']?.calls ?? 0) - before).toBe(3);
    await expect(async () => sageMakerOnline({ batchWrite: true, batchSize: 100 })).rejects.toThrow(/BatchWriteRecord takes 1 to 25 entries, got 100/);
  });

  it('takes at most 100 identifiers, 100 record identifiers each and 100 records per BatchGetRecord call (model and quotas page)', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `get-${i}`);
    await runtime.send(new BatchGetRecordCommand({ Identifiers: [{ FeatureGroupName: GROUP, RecordIdentifiersValueAsString: ids(100) }] }));
    await refused(runtime.send(new BatchGetRecordCommand({ Identifiers: [{ FeatureGroupName: GROUP, RecordIdentifiersValueAsString: ids(101) }] })), /1 to 100 identifiers, got 101/);
    await refused(runtime.send(new BatchGetRecordCommand({ Identifiers: [{ FeatureGroupName: GROUP, RecordIdentifiersValueAsString: ids(60) }, { FeatureGroupName: GROUP, RecordIdentifiersValueAsString: ids(41) }] })), /at most 100 records per call, got 101/);
  });

  it('refuses an offline store for an InMemory online store (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-storage-configurations-offline-store.html)', async () => {
    const error = await sagemaker
      .send(new CreateFeatureGroupCommand({ FeatureGroupName: 'in-memory-offline', RecordIdentifierFeatureName: 'id', EventTimeFeatureName: 't', FeatureDefinitions: [{ FeatureName: 'id', FeatureType: 'String' }, { FeatureName: 't', FeatureType: 'String' }], OnlineStoreConfig: { EnableOnlineStore: true, StorageType: 'InMemory' }, OfflineStoreConfig: { S3StorageConfig: { S3Uri: 's3://feature-store/offline' } } }))
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/InMemory online store does not support an offline store/);
  });
});

describe('Athena over the offline store', () => {
  it('runs SQL over every record written, including a SoftDelete marker', async () => {
    await runtime.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record('card-ath', '2024-05-02T10:00:00Z', '5') }));
    await runtime.send(new DeleteRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-ath', EventTime: '2024-05-02T11:00:00Z' }));
    const rows = await query(`SELECT event_time, amount, is_deleted FROM ${await glueTable()} WHERE card_id = 'card-ath' ORDER BY event_time`);
    expect(rows).toEqual([
      ['event_time', 'amount', 'is_deleted'],
      ['2024-05-02T10:00:00Z', '5', 'false'],
      ['2024-05-02T11:00:00Z', undefined, 'true'],
    ]);
  });

  it('describes result columns with Athena types', async () => {
    const { QueryExecutionId } = await athena.send(
      new StartQueryExecutionCommand({
        QueryString: `SELECT card_id, amount, write_time, is_deleted FROM ${await glueTable()} LIMIT 1`,
        ResultConfiguration: { OutputLocation: 's3://athena-results/queries/' },
      }),
    );
    await waitForQuery(QueryExecutionId as string);
    const results = await athena.send(new GetQueryResultsCommand({ QueryExecutionId }));
    expect(results.ResultSet?.ResultSetMetadata?.ColumnInfo?.map((c) => [c.Name, c.Type])).toEqual([
      ['card_id', 'varchar'],
      ['amount', 'double'],
      ['write_time', 'timestamp'],
      ['is_deleted', 'boolean'],
    ]);
  });

  it('pages results 1000 rows at a time, the header first, and writes the CSV result file', async () => {
    const { QueryExecutionId } = await athena.send(
      new StartQueryExecutionCommand({ QueryString: 'SELECT range AS n FROM range(2500)', ResultConfiguration: { OutputLocation: 's3://athena-results/paged/' } }),
    );
    expect(await waitForQuery(QueryExecutionId as string)).toBe('SUCCEEDED');
    const values: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await athena.send(new GetQueryResultsCommand({ QueryExecutionId, NextToken: token }));
      pages++;
      expect(page.ResultSet?.Rows?.length).toBeLessThanOrEqual(1000);
      values.push(...(page.ResultSet?.Rows ?? []).map((r) => r.Data?.[0]?.VarCharValue ?? ''));
      token = page.NextToken;
    } while (token);
    expect(pages).toBe(3);
    expect(values[0]).toBe('n');
    expect(values.slice(1)).toEqual(Array.from({ length: 2500 }, (_, i) => String(i)));
    const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    const location = QueryExecution?.ResultConfiguration?.OutputLocation as string;
    expect(location).toBe(`s3://athena-results/paged/${QueryExecutionId}.csv`);
    const file = await s3.send(new GetObjectCommand({ Bucket: 'athena-results', Key: `paged/${QueryExecutionId}.csv` }));
    const csv = await file.Body?.transformToString();
    expect(csv?.split('\n').slice(0, 3)).toEqual(['"n"', '"0"', '"1"']);
  });

  it('refuses to start a query whose results bucket does not exist, as Athena does (Knowledge Center: athena-output-bucket-error)', async () => {
    const start = athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1', ResultConfiguration: { OutputLocation: 's3://no-such-results/q/' } }));
    await expect(start).rejects.toBeInstanceOf(InvalidRequestException);
    await expect(start).rejects.toThrow('Unable to verify/create output bucket no-such-results');
  });

  it('fails a query DuckDB cannot run, with the reason, like Athena', async () => {
    const { QueryExecutionId } = await athena.send(
      new StartQueryExecutionCommand({ QueryString: 'SELECT * FROM no_such_table', ResultConfiguration: { OutputLocation: 's3://athena-results/' } }),
    );
    expect(await waitForQuery(QueryExecutionId as string)).toBe('FAILED');
    const { QueryExecution } = await athena.send(new GetQueryExecutionCommand({ QueryExecutionId }));
    expect(QueryExecution?.Status?.StateChangeReason).toMatch(/no_such_table/);
    await expect(athena.send(new GetQueryResultsCommand({ QueryExecutionId }))).rejects.toBeInstanceOf(InvalidRequestException);
  });

  it('returns the same execution for a repeated ClientRequestToken', async () => {
    const input = { QueryString: 'SELECT 1', ClientRequestToken: 'token-0123456789-0123456789-0123', ResultConfiguration: { OutputLocation: 's3://athena-results/' } };
    const first = await athena.send(new StartQueryExecutionCommand(input));
    const second = await athena.send(new StartQueryExecutionCommand(input));
    expect(second.QueryExecutionId).toBe(first.QueryExecutionId);
  });

  it('refuses GetQueryResults MaxResults outside 1..1000 (the model\'s MaxQueryResults) instead of clamping it, and names executions by UUID', async () => {
    const { QueryExecutionId } = await athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1', ResultConfiguration: { OutputLocation: 's3://athena-results/' } }));
    expect(QueryExecutionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await waitForQuery(QueryExecutionId as string)).toBe('SUCCEEDED');
    for (const MaxResults of [1001, 0]) {
      await expect(athena.send(new GetQueryResultsCommand({ QueryExecutionId, MaxResults }))).rejects.toBeInstanceOf(InvalidRequestException);
    }
    const page = await athena.send(new GetQueryResultsCommand({ QueryExecutionId, MaxResults: 1000 }));
    expect(page.ResultSet?.Rows).toHaveLength(2);
  });

  it('refuses a query without an output location', async () => {
    await expect(athena.send(new StartQueryExecutionCommand({ QueryString: 'SELECT 1' }))).rejects.toBeInstanceOf(InvalidRequestException);
  });

  it('stops a query', async () => {
    const { QueryExecutionId } = await athena.send(
      new StartQueryExecutionCommand({ QueryString: 'SELECT count(*) FROM range(100000000) a, range(10) b', ResultConfiguration: { OutputLocation: 's3://athena-results/' } }),
    );
    await athena.send(new StopQueryExecutionCommand({ QueryExecutionId }));
    expect(await waitForQuery(QueryExecutionId as string)).toBe('CANCELLED');
  });
});

describe('S3', () => {
  it('puts, heads, gets (with ranges), lists and deletes objects', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'user-data' }));
    await s3.send(new PutObjectCommand({ Bucket: 'user-data', Key: 'spines/labels.csv', Body: 'card_id,label\ncard-1,1\n' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'user-data', Key: 'spines/labels.csv' }));
    expect(head.ContentLength).toBe(23);
    const ranged = await s3.send(new GetObjectCommand({ Bucket: 'user-data', Key: 'spines/labels.csv', Range: 'bytes=0-6' }));
    expect(await ranged.Body?.transformToString()).toBe('card_id');
    expect(ranged.ContentRange).toBe('bytes 0-6/23');
    await s3.send(new DeleteObjectCommand({ Bucket: 'user-data', Key: 'spines/labels.csv' }));
    await expect(s3.send(new GetObjectCommand({ Bucket: 'user-data', Key: 'spines/labels.csv' }))).rejects.toBeInstanceOf(NoSuchKey);
  });

  it('completes a multipart upload in part order', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'user-data', Key: 'big/file.bin' }));
    const parts = [Buffer.alloc(5 * 1024 * 1024, 'a'), Buffer.from('tail')];
    const etags = [];
    for (const [i, body] of parts.entries()) {
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket: 'user-data', Key: 'big/file.bin', UploadId, PartNumber: i + 1, Body: body }));
      etags.push({ ETag, PartNumber: i + 1 });
    }
    const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket: 'user-data', Key: 'big/file.bin', UploadId, MultipartUpload: { Parts: etags } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: 'user-data', Key: 'big/file.bin' }));
    expect(head.ContentLength).toBe(5 * 1024 * 1024 + 4);
    // S3's multipart ETag: the MD5 of the parts' binary MD5s, then "-<parts>" (not the object's MD5).
    const digests = Buffer.concat(parts.map((part) => createHash('md5').update(part).digest()));
    const expected = `"${createHash('md5').update(digests).digest('hex')}-2"`;
    expect(completed.ETag).toBe(expected);
    expect(head.ETag).toBe(expected);
    const tail = await s3.send(new GetObjectCommand({ Bucket: 'user-data', Key: 'big/file.bin', Range: 'bytes=-4' }));
    expect(await tail.Body?.transformToString()).toBe('tail');
  });

  it('lists with continuation tokens', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'listing' }));
    for (let i = 0; i < 25; i++) await s3.send(new PutObjectCommand({ Bucket: 'listing', Key: `k/${String(i).padStart(2, '0')}`, Body: String(i) }));
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: 'listing', Prefix: 'k/', MaxKeys: 10, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((c) => c.Key as string));
      token = page.NextContinuationToken;
    } while (token);
    expect(keys).toEqual(Array.from({ length: 25 }, (_, i) => `k/${String(i).padStart(2, '0')}`));
  });

  it('shows the offline store\'s Parquet files where SageMaker puts them', async () => {
    await stack.flush();
    const described = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: GROUP }));
    const prefix = `${(described.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri as string).replace('s3://feature-store/', '')}/`;
    expect(prefix).toMatch(/^offline\/000000000000\/sagemaker\/us-east-1\/offline-store\/card-activity-\d{10}\/data\/$/);
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'feature-store', Prefix: prefix }));
    const keys = (page.Contents ?? []).map((c) => c.Key as string);
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(key.slice(prefix.length)).toMatch(/^year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/[^/]+\.parquet$/);
  });

  it('answers errors in S3\'s shape', async () => {
    const error = await s3.send(new GetObjectCommand({ Bucket: 'never-made', Key: 'x' })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(S3ServiceException);
    expect((error as S3ServiceException).name).toBe('NoSuchBucket');
  });
});

describe('fault injection', () => {
  it('throttles the share of calls asked for, and the SDK retries them', async () => {
    stack.setFaults({ PutRecord: { throttleRate: 0.3 }, seed: 7 });
    const before = stack.faultCounts['PutRecord']?.throttled ?? 0;
    // The SDK's own retry, with short waits so the test stays fast.
    const patient = new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, retryStrategy: new ConfiguredRetryStrategy(10, () => 5) });
    for (let i = 0; i < 40; i++) {
      await patient.send(new PutRecordCommand({ FeatureGroupName: GROUP, Record: record(`fault-${i}`, '2024-05-01T12:00:00Z', String(i)) }));
    }
    stack.setFaults({});
    const throttled = (stack.faultCounts['PutRecord']?.throttled ?? 0) - before;
    expect(throttled).toBeGreaterThan(3);
    const found = await runtime.send(new BatchGetRecordCommand({ Identifiers: [{ FeatureGroupName: GROUP, RecordIdentifiersValueAsString: Array.from({ length: 40 }, (_, i) => `fault-${i}`) }] }));
    expect(found.Records).toHaveLength(40);
  });

  it('answers injected 500s as InternalFailure once retries run out', async () => {
    stack.setFaults({ GetRecord: { errorRate: 1 } });
    const client = new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, maxAttempts: 1 });
    const error = await client.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-1' })).catch((e: unknown) => e);
    stack.setFaults({});
    expect((error as Error).name).toBe('InternalFailure');
  });

  it('adds latency', async () => {
    stack.setFaults({ GetRecord: { latencyMs: 50 } });
    const started = performance.now();
    await runtime.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-1' }));
    stack.setFaults({});
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
  });

  it('leaves batch items unprocessed for the caller to retry', async () => {
    stack.setFaults({ BatchGetRecord: { unprocessedRate: 0.5 }, seed: 3 });
    const result = await runtime.send(new BatchGetRecordCommand({ Identifiers: [{ FeatureGroupName: GROUP, RecordIdentifiersValueAsString: Array.from({ length: 40 }, (_, i) => `fault-${i}`) }] }));
    stack.setFaults({});
    const unprocessed = result.UnprocessedIdentifiers?.flatMap((u) => u.RecordIdentifiersValueAsString ?? []) ?? [];
    expect(unprocessed.length).toBeGreaterThan(5);
    expect((result.Records?.length ?? 0) + unprocessed.length).toBe(40);
  });
});

describe('SQS, as its docs say', () => {
  const sqsClient = () => new SQSClient(stack.clientConfig);

  it('computes MD5OfMessageAttributes as documented, sends it only for messages with attributes, and returns only the attributes asked for', async () => {
    // The documented algorithm: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation
    expect(md5OfMessageAttributes({ attribName1: { DataType: 'String', StringValue: 'attribValue 1' } })).toBe('19e27d4e946b072f3f58da80d94fd778');
    const sqs = sqsClient();
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'md5-check' }));
    const attributes = { group: { DataType: 'String', StringValue: 'cards' }, errorCode: { DataType: 'String', StringValue: 'INVALID_SOURCE' } };
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'with', MessageAttributes: attributes }));
    expect(sent.MD5OfMessageAttributes).toBe(md5OfMessageAttributes(attributes));
    const plain = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'without' }));
    expect(plain.MD5OfMessageAttributes).toBeUndefined();
    const bare = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    for (const message of bare.Messages ?? []) {
      expect(message.MessageAttributes).toBeUndefined();
      expect(message.Attributes).toBeUndefined();
    }
    const asked = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['group'], MessageSystemAttributeNames: ['SentTimestamp'], VisibilityTimeout: 0 }));
    const withAttributes = asked.Messages?.find((m) => m.Body === 'with');
    expect(withAttributes?.MessageAttributes).toEqual({ group: attributes.group });
    expect(withAttributes?.MD5OfMessageAttributes).toBe(md5OfMessageAttributes({ group: attributes.group }));
    expect(Object.keys(withAttributes?.Attributes ?? {})).toEqual(['SentTimestamp']);
    sqs.destroy();
  });

  it('refuses MaxNumberOfMessages outside 1..10 and answers a missing queue with QueueDoesNotExist and its x-amzn-query-error header (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html)', async () => {
    const sqs = sqsClient();
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'limits-check' }));
    const tooMany = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 })).catch((e: unknown) => e);
    expect(tooMany).toMatchObject({ name: 'InvalidParameterValue', message: 'Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.' });
    const missing = await sqs.send(new SendMessageCommand({ QueueUrl: `${stack.endpoint}/000000000000/no-such-queue`, MessageBody: 'x' })).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(QueueDoesNotExist);
    expect(missing).toMatchObject({ message: 'The specified queue does not exist.', $metadata: { httpStatusCode: 400 } });
    const raw = await fetch(stack.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.SendMessage', authorization: 'AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/sqs/aws4_request' },
      body: JSON.stringify({ QueueUrl: 'http://x/000000000000/no-such-queue', MessageBody: 'x' }),
    });
    expect(raw.headers.get('x-amzn-query-error')).toBe('AWS.SimpleQueueService.NonExistentQueue;Sender');
    expect(await raw.json()).toEqual({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' });
    sqs.destroy();
  });
});

describe('skewless local', () => {
  it('starts the stack and prints the endpoint and the line to export', async () => {
    const { runLocal } = await import('../src/cli/local.js');
    const lines: string[] = [];
    const local = await runLocal({ port: 0, dir: '.skewless', memory: true }, (line) => lines.push(line));
    try {
      expect(lines[0]).toBe(`skewless local stack listening on ${local.endpoint}`);
      expect(lines.join('\n')).toContain(`export AWS_ENDPOINT_URL=${local.endpoint} AWS_REGION=us-east-1`);
      // Unchanged SDK code, configured only by the environment it prints.
      const client = new SageMakerClient({ endpoint: local.env.AWS_ENDPOINT_URL, region: local.env.AWS_REGION, credentials: { accessKeyId: local.env.AWS_ACCESS_KEY_ID, secretAccessKey: local.env.AWS_SECRET_ACCESS_KEY } });
      expect((await client.send(new ListFeatureGroupsCommand({}))).FeatureGroupSummaries).toEqual([]);
    } finally {
      await local.close();
    }
  });

  it('is found by SDK clients constructed with no options, through AWS_ENDPOINT_URL', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, stack.env);
    try {
      const client = new SageMakerFeatureStoreRuntimeClient({});
      const got = await client.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-1' }));
      expect(amountOf(got.Record)).toBe('12.5');
    } finally {
      process.env = saved;
    }
  });
});

describe('a stack on disk', () => {
  it('keeps its feature groups and records across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-stack-disk-'));
    const first = await startLocalStack({ dir });
    await new SageMakerClient(first.clientConfig).send(
      new CreateFeatureGroupCommand({
        FeatureGroupName: 'kept',
        RecordIdentifierFeatureName: 'id',
        EventTimeFeatureName: 't',
        FeatureDefinitions: [{ FeatureName: 'id', FeatureType: 'String' }, { FeatureName: 't', FeatureType: 'Fractional' }],
        OnlineStoreConfig: { EnableOnlineStore: true },
      }),
    );
    const putRecord = { FeatureGroupName: 'kept', Record: [{ FeatureName: 'id', ValueAsString: 'a' }, { FeatureName: 't', ValueAsString: '1714564800.5' }] };
    await new SageMakerFeatureStoreRuntimeClient(first.clientConfig).send(new PutRecordCommand(putRecord));
    await first.close();
    const second = await startLocalStack({ dir });
    try {
      const got = await new SageMakerFeatureStoreRuntimeClient(second.clientConfig).send(new GetRecordCommand({ FeatureGroupName: 'kept', RecordIdentifierValueAsString: 'a' }));
      expect(got.Record).toEqual(putRecord.Record);
    } finally {
      await second.close();
    }
  });
});

describe('the admin endpoint', () => {
  it('sets faults from another process and reports the counts', async () => {
    const set = await fetch(`${stack.endpoint}/_skewless/faults`, { method: 'PUT', body: JSON.stringify({ GetRecord: { errorRate: 1 } }) });
    expect(set.status).toBe(200);
    const client = new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, maxAttempts: 1 });
    await expect(client.send(new GetRecordCommand({ FeatureGroupName: GROUP, RecordIdentifierValueAsString: 'card-1' }))).rejects.toThrow();
    const counts = (await (await fetch(`${stack.endpoint}/_skewless/faults`)).json()) as { counts: Record<string, { failed: number }> };
    expect(counts.counts['GetRecord']?.failed).toBeGreaterThan(0);
    await fetch(`${stack.endpoint}/_skewless/faults`, { method: 'PUT', body: '{}' });
  });

  it('refuses faults it would not inject (a rate that is no share, a misspelt key, a number for an operation, a seed that is none, no object at all), here and in setFaults', async () => {
    const refused = await fetch(`${stack.endpoint}/_skewless/faults`, { method: 'PUT', body: JSON.stringify({ PutRecords: { throttleRate: 'x' } }) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { message: string }).message).toMatch(/faults\.PutRecords\.throttleRate: expected a share of calls, 0\.\.1, got "x"/);
    expect(() => stack.setFaults({ BatchWriteRecord: { throttleRate: 7 } })).toThrow(/^setFaults\.BatchWriteRecord\.throttleRate: expected a share of calls, 0\.\.1, got 7$/);
    expect(() => stack.setFaults({ GetRecord: { latency: 20 } } as never)).toThrow(/unknown option setFaults\.GetRecord\.latency \(did you mean "latencyMs"\?\)/);
    expect(() => stack.setFaults({ GetRecord: 5 } as never)).toThrow(/^setFaults\.GetRecord: expected fault settings for the operation: \{ throttleRate, errorRate, unprocessedRate, latencyMs, tpsLimit \}, got 5$/);
    expect(() => stack.setFaults({ seed: 'x' } as never)).toThrow(/^setFaults\.seed: expected a number, got "x"$/);
    const notAnObject = await fetch(`${stack.endpoint}/_skewless/faults`, { method: 'PUT', body: 'null' });
    expect(notAnObject.status).toBe(400);
    expect(((await notAnObject.json()) as { message: string }).message).toMatch(/request body is not a JSON object/);
    for (const [given, got] of [[null, 'null'], [[], 'an empty array'], ['PutRecord', '"PutRecord"']] as const) {
      expect(() => stack.setFaults(given as never)).toThrow(new RegExp(`^setFaults: expected fault settings per operation, e\\.g\\. .*, got ${got.replace(/[.*()[\]]/g, '\\$&')}$`));
    }
    // A misspelt operation would inject nothing: the reliability test would pass without its faults.
    expect(() => stack.setFaults({ BatchWriteRecrd: { throttleRate: 0.1 } } as never)).toThrow(/^setFaults: the local stack has no operation "BatchWriteRecrd" \(did you mean "BatchWriteRecord"\?\); it answers \*, PutRecord, /);
    expect(() => stack.setFaults({ PutRecords: { throttleRate: 0.1 } })).toThrow(/^setFaults: the local stack has no operation "PutRecords" \(did you mean "PutRecord"\?\)/);
    // What the docs allow is taken: a spec for every operation with a seed, and none at all.
    expect(() => stack.setFaults({ '*': { latencyMs: 0 }, seed: 7 })).not.toThrow();
    expect(() => stack.setFaults({})).not.toThrow();
  });
});

describe('the operations whose faults can be set are the ones the stack answers', () => {
  // Read off the dispatchers' source: an operation added to one and not to the list (or the reverse) fails here.
  it('names each operation the dispatchers answer, and no other', () => {
    const source = (file: string) => readFileSync(new URL(`../src/local/stack/${file}`, import.meta.url), 'utf8');
    const server = source('server.ts');
    const namer = (name: string) => server.slice(server.indexOf(`function ${name}(`), server.indexOf('\n}\n', server.indexOf(`function ${name}(`)));
    const answered = new Set([
      ...[...`${server}\n${source('sqs.ts')}`.matchAll(/case '([A-Z]\w+)':/g)].map((m) => m[1] as string),
      ...[...`${namer('s3Operation')}\n${namer('runtimeOperation')}`.matchAll(/'([A-Z][a-z]\w*)'/g)].map((m) => m[1] as string),
    ]);
    answered.delete('Unknown');
    expect([...answered].sort()).toEqual(FAULT_OPERATIONS.filter((name) => name !== '*').sort());
  });
});

describe('TTL: a record-level TtlDuration supersedes the group default (PutRecord docs)', () => {
  // PutRecord (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_PutRecord.html):
  // ExpiresAt = EventTime + TtlDuration; a record-level TtlDuration supersedes the group-level one, and
  // without one the group's default applies.
  const TTL_GROUP = 'ttl-default-week';
  beforeAll(async () => {
    await sagemaker.send(new CreateFeatureGroupCommand(cardGroup(TTL_GROUP, { OnlineStoreConfig: { EnableOnlineStore: true, TtlDuration: { Unit: 'Weeks', Value: 1 } } })));
  });
  const expiresAt = async (id: string) =>
    (await runtime.send(new GetRecordCommand({ FeatureGroupName: TTL_GROUP, RecordIdentifierValueAsString: id, ExpirationTimeResponse: 'Enabled' }))).ExpiresAt;

  it.each([
    ['shorter', 'ttl-request', { Unit: 'Hours', Value: 2 }, 2 * 3_600_000],
    ['longer', 'ttl-longer', { Unit: 'Days', Value: 30 }, 30 * 86_400_000],
  ] as const)("expires a record EventTime + the request's TtlDuration (%s than the group's), not the group's", async (_, id, ttl, ms) => {
    const eventTime = new Date(Date.now() - 1000).toISOString();
    await runtime.send(new PutRecordCommand({ FeatureGroupName: TTL_GROUP, Record: record(id, eventTime, '1'), TtlDuration: ttl }));
    expect(await expiresAt(id)).toBe(new Date(Date.parse(eventTime) + ms).toISOString());
  });

  it('expires a record written without a TtlDuration EventTime + the group default', async () => {
    const eventTime = new Date(Date.now() - 1000).toISOString();
    await runtime.send(new PutRecordCommand({ FeatureGroupName: TTL_GROUP, Record: record('ttl-default', eventTime, '1') }));
    expect(await expiresAt('ttl-default')).toBe(new Date(Date.parse(eventTime) + 7 * 86_400_000).toISOString());
  });

  it("takes a BatchWriteRecord entry's TtlDuration over the group default", async () => {
    const eventTime = new Date(Date.now() - 1000).toISOString();
    const written = await runtime.send(
      new BatchWriteRecordCommand({ Entries: [{ FeatureGroupName: TTL_GROUP, Record: record('ttl-batch', eventTime, '1'), TtlDuration: { Unit: 'Minutes', Value: 30 } }] }),
    );
    expect(written.Errors ?? []).toEqual([]);
    expect(await expiresAt('ttl-batch')).toBe(new Date(Date.parse(eventTime) + 30 * 60_000).toISOString());
  });

  it("expires the record at the request's TtlDuration although the group default would keep it", async () => {
    // Event time 2 hours ago, TTL 1 hour: gone, though the week-long default would still serve it.
    const eventTime = new Date(Date.now() - 2 * 3_600_000).toISOString();
    await runtime.send(new PutRecordCommand({ FeatureGroupName: TTL_GROUP, Record: record('ttl-gone', eventTime, '1'), TtlDuration: { Unit: 'Hours', Value: 1 } }));
    expect((await runtime.send(new GetRecordCommand({ FeatureGroupName: TTL_GROUP, RecordIdentifierValueAsString: 'ttl-gone' }))).Record).toBeUndefined();
  });
});
