import { AthenaClient } from '@aws-sdk/client-athena';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { athenaOffline, athenaSource, backfillShardHandler, s3Offline, s3ParquetFile, sageMakerOfflineWriter, sageMakerOnline } from '../src/aws/index.js';
import { backfill, createFeatureStore, defineFeatureGroup, planBackfill } from '../src/index.js';
import { type LocalStack, localOnline, startLocalStack } from '../src/local/index.js';
import { memoryOffline, memoryOnline } from '../src/testing/index.js';
import { cardActivity } from './fixtures/groups.js';
import { createGroupOnStack } from './fixtures/stack.js';

let stack: LocalStack;
let s3: S3Client;
beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  s3 = new S3Client(stack.clientConfig);
  for (const bucket of ['exports', 'features', 'results']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(async () => {
  s3.destroy();
  await stack.close();
});

const event = (i: number) => ({ card_id: `card-${i % 11}`, amount_cents: i, country: i % 2 ? 'US' : 'DE', ts: new Date(Date.UTC(2024, 2, 1) + i * 3_600_000).toISOString() });

describe('backfill on AWS: S3 Parquet shards through the Step Functions shard handler', () => {
  it('runs every shard of a plan into s3Offline and uploads each shard\'s rejects', async () => {
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const rows = Array.from({ length: 450 }, (_, i) => event(i));
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'card_id', data: rows.map((r) => r.card_id), type: 'STRING' },
        { name: 'amount_cents', data: rows.map((r) => r.amount_cents), type: 'INT32' },
        // One row without a country: poison.
        { name: 'country', data: rows.map((r, i) => (i === 200 ? null : r.country)), type: 'STRING' },
        { name: 'ts', data: rows.map((r) => r.ts), type: 'STRING' },
      ],
      rowGroupSize: 150,
    });
    await s3.send(new PutObjectCommand({ Bucket: 'exports', Key: 'cards/history.parquet', Body: Buffer.from(buffer) }));

    const shards = await planBackfill(cardActivity, { from: s3ParquetFile({ bucket: 'exports', key: 'cards/history.parquet', client: s3 }), shards: 3 });
    expect(shards.map((s) => s.range)).toEqual([{ start: 0, end: 150 }, { start: 150, end: 300 }, { start: 300, end: 450 }]);
    // What Step Functions hands the Lambda is the JSON of a shard: no clients, no functions.
    const items = JSON.parse(JSON.stringify(shards)) as typeof shards;

    const offline = s3Offline({ client: s3, bucket: 'features', prefix: 'offline' });
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline });
    const handler = backfillShardHandler(cardActivity, { store, s3, rejects: { bucket: 'features', prefix: 'rejects/' } });
    const results = [];
    for (const item of items) results.push(await handler(item));
    expect(results.map((r) => [r.index, r.records, r.written, r.poison])).toEqual([[0, 150, 150, 0], [1, 150, 149, 1], [2, 150, 150, 0]]);
    expect(results[1]?.rejectsUri).toMatch(/^s3:\/\/features\/rejects\/card-activity\/[0-9a-f]{16}-r150-300\.rejects\.ndjson$/);
    const rejects = await s3.send(new GetObjectCommand({ Bucket: 'features', Key: (results[1]?.rejectsUri as string).replace('s3://features/', '') }));
    expect(JSON.parse((await rejects.Body?.transformToString()) ?? '').error.issues[0].path).toEqual(['country']);

    // A retried shard (Step Functions retries failed items) replaces its files: still 449 rows.
    await handler(items[1] as (typeof items)[number]);
    expect(await offline.scan(cardActivity)).toHaveLength(449);
    await store.close();
  });
});

describe('sageMakerOfflineWriter', () => {
  // A group of its own, so its offline table is not the one the Athena source test reads.
  const cardHistory = defineFeatureGroup({
    name: 'card-history',
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source: cardActivity.source,
    features: cardActivity.features,
    transform: cardActivity.transform,
  });

  it('backfills into SageMaker\'s own offline store through BatchWriteRecord, leaving the online store alone', async () => {
    await createGroupOnStack(stack.clientConfig, cardHistory, 's3://sm-lake/features');
    const runtime = new SageMakerFeatureStoreRuntimeClient(stack.clientConfig);
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline: sageMakerOfflineWriter({ client: runtime, batchWrite: true }) });
    const events = Array.from({ length: 60 }, (_, i) => event(1000 + i));
    expect(await backfill(store, cardHistory, { from: events, chunkSize: 25 })).toMatchObject({ written: 60, poison: 0 });
    await stack.flush();
    const reader = athenaOffline({ client: new AthenaClient(stack.clientConfig), s3, sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://results/sm/' });
    const rows = await reader.scan(cardHistory);
    expect(rows.filter((r) => Number(r['amount']) >= 10)).toHaveLength(60);
    // TargetStores OfflineStore: nothing reached SageMaker's online store.
    const online = createFeatureStore({ online: sageMakerOnline({ client: runtime }), offline: false });
    expect(await online.getMany(cardHistory, events.map((e) => e.card_id))).toEqual(new Map());
    await expect(reader.append(cardHistory, [])).rejects.toThrow(/reads only/);
    await Promise.all([store.close(), online.close(), reader.close()]);
  });
});

describe('athenaSource', () => {
  it('backfills from a query, its rows typed by the source schema', async () => {
    await createGroupOnStack(stack.clientConfig, cardActivity, 's3://lake/features');
    const runtime = createFeatureStore({ online: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }), offline: false });
    const events = Array.from({ length: 40 }, (_, i) => event(i));
    await runtime.ingest(cardActivity, events);
    await stack.flush();
    const described = await new SageMakerClient(stack.clientConfig).send(new DescribeFeatureGroupCommand({ FeatureGroupName: cardActivity.name }));
    const catalog = described.OfflineStoreConfig?.DataCatalogConfig;
    const query = `SELECT card_id, CAST(round(amount * 100) AS integer) AS amount_cents, CASE WHEN is_foreign = 1 THEN 'DE' ELSE 'US' END AS country, event_time AS ts FROM "${catalog?.Database}"."${catalog?.TableName}"`;

    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline() });
    const summary = await backfill(store, cardActivity, {
      from: athenaSource({ query, outputLocation: 's3://results/backfill/', athena: new AthenaClient(stack.clientConfig), s3 }),
      to: 'both',
    });
    expect(summary).toMatchObject({ records: 40, written: 40, poison: 0 });
    const online = await store.getMany(cardActivity, events.map((e) => e.card_id));
    const original = await runtime.getMany(cardActivity, events.map((e) => e.card_id));
    expect(online).toEqual(original);
    await store.close();
    await runtime.close();
  });
});
