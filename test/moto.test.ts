import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, KinesisClient, PutRecordsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, expect, inject, it } from 'vitest';
import { dynamoDbAggregationState, dynamoDbOnline, s3Offline } from '../src/aws/index.js';
import { createFeatureStore, type DeadLetterEntry, type OnlineStore } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { runKinesisEventSource } from '../src/testing/index.js';
import { aggregationStateContract, dynamoDbAggregationStateContract } from './contracts/aggregation-state.js';
import { deadLetterContract } from './contracts/dead-letter.js';
import { dynamoDbContract, payments } from './contracts/dynamodb.js';
import { s3OfflineContract } from './contracts/offline-store.js';
import { onlineStoreContract } from './contracts/online-store.js';
import { failsOnce } from './fixtures/fails-once.js';
import { createFeatureTable } from './setup/tables.js';

// moto (https://github.com/getmoto/moto) is a second implementation of DynamoDB, SQS, S3 and Kinesis,
// written by others: the suites that run on dynalite and the local stack run here too, so a behaviour
// only our own emulators have cannot hide in them. Where moto departs from AWS's documentation we
// follow AWS; the departures found so far:
// - DynamoDB numbers are kept as the text sent ("-0", "1.50", "1E2"), not normalized: AWS trims
//   leading and trailing zeroes, so -0 reads back as 0 (checked on dynalite only).
// - DynamoDB's limits are checked on a double: 1e126 and 39 significant digits are accepted, where
//   AWS refuses both (dynamoDbOnline refuses them itself, before sending, so both servers agree).

const endpoint = inject('motoEndpoint');
const config = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } };
const dynamoDb = () => new DynamoDBClient(config);
const randomName = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

async function newTable(client: DynamoDBClient): Promise<string> {
  const tableName = randomName('moto');
  await createFeatureTable(client, tableName);
  return tableName;
}

async function newBucket(s3: S3Client): Promise<string> {
  const bucket = randomName('moto');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

// Path-style: a virtual-hosted bucket name would have to resolve under 127.0.0.1.
const s3Client = () => new S3Client({ ...config, forcePathStyle: true });

onlineStoreContract('DynamoDB (moto)', async () => {
  const client = dynamoDb();
  return { store: dynamoDbOnline({ client, tableName: await newTable(client) }) };
});

dynamoDbContract('moto', { client: dynamoDb, normalizesNumbers: false });

aggregationStateContract('DynamoDB (moto)', async () => {
  const client = dynamoDb();
  return dynamoDbAggregationState({ client, tableName: await newTable(client), cacheEntities: 0 });
});

dynamoDbAggregationStateContract('moto', dynamoDb);

deadLetterContract(
  'moto',
  async () => ({ sqs: new SQSClient(config), s3: s3Client(), queueUrlOf: (name) => `${endpoint}/123456789012/${name}` }),
  { refusesMissingBucket: true },
);

s3OfflineContract('moto', async () => {
  const s3 = s3Client();
  return { s3, bucket: await newBucket(s3) };
});

/** The online store, failing the first write of every record whose amount ends in 77, as throttling would. */
function throttledOnce(inner: OnlineStore): OnlineStore {
  return failsOnce(inner, (record) => record.some((f) => f.FeatureName === 'amount' && f.ValueAsString?.endsWith('77')));
}

describe('producer -> Kinesis (2 shards, moto) -> event source -> kinesisHandler -> DynamoDB and S3 (moto)', () => {
  it('loses nothing: every storable event online and offline, every other one dead-lettered, none given up', async () => {
    // moto speaks HTTP/1.1 only, as kinesalite does.
    const kinesis = new KinesisClient({ ...config, requestHandler: new NodeHttpHandler() });
    const ddb = dynamoDb();
    const s3 = s3Client();
    const streamName = randomName('payments');
    await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 2 }));
    // CreateStream returns while the stream is CREATING (Kinesis API reference, CreateStream).
    await waitUntilStreamExists({ client: kinesis, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: streamName });

    const start = Date.UTC(2024, 4, 1);
    const events = Array.from({ length: 1200 }, (_, i) => ({
      payment_id: `p-${i % 150}`,
      // Every 97th event is not a number; every 131st is one DynamoDB cannot store.
      amount: i % 97 === 96 ? 'oops' : i % 131 === 130 ? 1e300 : i,
      ts: new Date(start + i * 1000).toISOString(),
    }));
    for (let i = 0; i < events.length; i += 500) {
      const chunk = events.slice(i, i + 500);
      const put = await kinesis.send(new PutRecordsCommand({ StreamName: streamName, Records: chunk.map((e) => ({ PartitionKey: e.payment_id, Data: Buffer.from(JSON.stringify(e)) })) }));
      expect(put.FailedRecordCount ?? 0).toBe(0);
    }

    const dead: DeadLetterEntry[] = [];
    const store = createFeatureStore({
      online: throttledOnce(dynamoDbOnline({ client: ddb, tableName: await newTable(ddb) })),
      offline: s3Offline({ client: s3, bucket: await newBucket(s3), prefix: 'lake' }),
      deadLetter: (entries) => void dead.push(...entries),
    });
    const report = await runKinesisEventSource({ client: kinesis, streamName, handler: kinesisHandler(payments, { store, log: false }), batchSize: 100, maxRetryAttempts: 50 });
    expect(report.discarded).toEqual([]);
    expect(report.redelivered).toBeGreaterThan(0);

    // Poison is dead-lettered (once per delivery, so counted by position), with its reason.
    const isNumber = (e: (typeof events)[number]): e is (typeof events)[number] & { amount: number } => typeof e.amount === 'number';
    const storable = events.filter((e) => isNumber(e) && e.amount !== 1e300);
    const deadByPosition = new Map(dead.map((d) => [`${d.position?.shardId}/${d.position?.sequenceNumber}`, d]));
    expect(deadByPosition.size).toBe(events.length - storable.length);
    const codes = [...deadByPosition.values()].map((d) => d.error.code);
    expect(codes.filter((c) => c === 'SOURCE_VALIDATION')).toHaveLength(events.filter((e) => !isNumber(e)).length);
    expect(codes.filter((c) => c === 'FEATURE_VALIDATION')).toHaveLength(events.filter((e) => e.amount === 1e300).length);

    // Online: exactly the latest storable event of each payment.
    const latest = new Map<string, number>();
    for (const e of storable) latest.set(e.payment_id, e.amount as number);
    const online = await store.getMany(payments, [...latest.keys()]);
    expect(online.size).toBe(latest.size);
    for (const [id, amount] of latest) expect(online.get(id)?.amount).toBe(amount);

    // Offline: every storable event at least once (a redelivered batch writes some again).
    const { offline } = await store.backends();
    const rows = (await offline?.scan(payments)) ?? [];
    const seen = new Set(rows.map((r) => `${r['payment_id']}@${r['event_time']}`));
    expect(seen.size).toBe(storable.length);
    for (const e of storable) expect(seen.has(`${e.payment_id}@${e.ts}`)).toBe(true);
    await store.close();
    kinesis.destroy();
  }, 120_000);
});
