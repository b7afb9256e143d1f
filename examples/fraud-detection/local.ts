// The fraud-detection example end to end on your machine: the local stack (SageMaker Feature Store,
// Athena, S3 on loopback) and dynalite (DynamoDB) stand in for AWS; the modules it runs — features.ts,
// ingest.ts, backfill.ts, training-set.ts — deploy unchanged. `npm run example:fraud` runs it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AthenaClient } from '@aws-sdk/client-athena';
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { audit, createFeatureStore } from 'skewless';
import { athenaOffline, dynamoDbTableDefinition, sageMakerOfflineWriter, sageMakerOnline, toCreateFeatureGroupInput } from 'skewless/aws';
import { kinesisHandler } from 'skewless/lambda';
import { startLocalStack } from 'skewless/local';
import { expectServingParity, kinesisEvent } from 'skewless/testing';
import { backfillHistory } from './backfill.js';
import { cardTransactions } from './features.js';
import { ingestStore } from './ingest.js';
import { buildTrainingSet, type Chargeback } from './training-set.js';
import { scoringFeatures, scoringHandler } from './score.js';

const HOUR = 3_600_000;

function transactions(count: number, from: number, spanMs: number, seed: number) {
  let state = seed;
  const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: count }, (_, i) => ({
    card_id: `card-${Math.floor(random() * 200)}`,
    amount_cents: Math.floor(random() * random() * 60_000) + 100,
    country: random() < 0.8 ? 'US' : 'FR',
    merchant_id: `m-${Math.floor(random() * 300)}`,
    mcc: random() < 0.05 ? '7995' : '5411',
    ts: new Date(from + Math.floor((i * spanMs) / count)).toISOString(),
  }));
}

export interface FraudExampleSummary {
  readonly backfilled: number;
  readonly streamed: number;
  readonly reported: number;
  readonly trainingRows: number;
  readonly matchRate: number;
  readonly consistencyRate: number | undefined;
  readonly trainingFile: string;
  /** What the scoring Lambda answered for one live transaction (the HTTP body's vector). */
  readonly scored: Record<string, unknown>;
}

export async function runFraudExample(options: { readonly history?: number; readonly live?: number; readonly labels?: number; readonly log?: (line: string) => void } = {}): Promise<FraudExampleSummary> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'skewless-fraud-'));
  const stack = await startLocalStack({ memory: true });
  const { default: dynalite } = await import('dynalite');
  const dynamo = dynalite({ createTableMs: 0 });
  await new Promise<void>((done) => dynamo.listen(0, '127.0.0.1', done));
  const config = stack.clientConfig;
  const runtime = new SageMakerFeatureStoreRuntimeClient(config);
  const dynamoDb = new DynamoDBClient({ ...config, endpoint: `http://127.0.0.1:${(dynamo.address() as { port: number }).port}` });
  const s3 = new S3Client(config);
  const stores = [] as { close(): Promise<void> }[];
  try {
    // What infrastructure as code creates on AWS: the buckets, the feature group and the state table.
    for (const bucket of ['fraud-lake', 'fraud-athena']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await new SageMakerClient(config).send(
      new CreateFeatureGroupCommand(toCreateFeatureGroupInput(cardTransactions, { offlineStoreS3Uri: 's3://fraud-lake/offline', roleArn: 'arn:aws:iam::000000000000:role/fs' })),
    );
    await dynamoDb.send(new CreateTableCommand(dynamoDbTableDefinition('fraud-state')));
    await waitUntilTableExists({ client: dynamoDb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: 'fraud-state' });
    const sqs = new SQSClient(config);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'fraud-dead-letter' }));

    // 1. Backfill 14 days of history into SageMaker's offline store, the latest per card online.
    const now = Date.now();
    const history = transactions(options.history ?? 4000, now - 14 * 24 * HOUR, 14 * 24 * HOUR - 2 * HOUR, 1);
    const file = join(dir, 'history.ndjson');
    writeFileSync(file, `${history.map((e, i) => JSON.stringify({ ...e, arrival_ms: Date.parse(e.ts) + (i % 7) })).join('\n')}\n`);
    const backfillStore = createFeatureStore({
      online: sageMakerOnline({ client: runtime, targetStores: ['OnlineStore'] }),
      offline: sageMakerOfflineWriter({ client: runtime, batchWrite: true }),
      dir,
    });
    stores.push(backfillStore);
    const backfill = await backfillHistory(backfillStore, file);
    log(`backfilled ${backfill.written} records (${backfill.poison} poison)`);

    // 2. The last two hours arrive live: the Lambda's handler, with its velocity state in DynamoDB.
    const live = transactions(options.live ?? 1000, now - 2 * HOUR, 2 * HOUR, 2);
    const store = ingestStore({ runtime, dynamoDb, sqs, stateTable: 'fraud-state', deadLetterQueueUrl: QueueUrl as string });
    stores.push(store);
    const handler = kinesisHandler(cardTransactions, { store, log: false });
    let reported = 0;
    for (let i = 0; i < live.length; i += 250) {
      const response = await handler(kinesisEvent(live.slice(i, i + 250), { partitionKey: (e) => (e as { card_id: string }).card_id }));
      reported += response.batchItemFailures.length;
    }
    log(`streamed ${live.length} records through kinesisHandler (${reported} reported for redelivery)`);
    await stack.flush();

    // 3. Chargeback labels -> a point-in-time training set on Athena.
    const reader = createFeatureStore({
      online: sageMakerOnline({ client: runtime }),
      offline: athenaOffline({ client: new AthenaClient(config), s3, sagemaker: new SageMakerClient(config), outputLocation: 's3://fraud-athena/results/' }),
    });
    stores.push(reader);
    const all = [...history, ...live];
    const labels: Chargeback[] = all
      .filter((_, i) => i % Math.max(1, Math.floor(all.length / (options.labels ?? 300))) === 0)
      .map((e) => ({ card_id: e.card_id, decided_at: new Date(Date.parse(e.ts) + 60_000), is_fraud: e.country !== 'US' && e.amount_cents > 30_000 }));
    const trainingFile = join(dir, 'train.parquet');
    const { summary } = await buildTrainingSet(reader, labels, trainingFile);
    log(`training set: ${summary.rows} rows -> ${trainingFile}`);

    // 4. Audit: SageMaker's online store against its offline store, read through Athena.
    const report = await audit(reader, cardTransactions, { sample: 100, availabilityDelay: '0s' });
    log(report.consistencyRate === undefined ? 'audit: no cards sampled' : `audit: ${(report.consistencyRate * 100).toFixed(1)}% of ${report.sampled} cards consistent`);
    // 5. Score a transaction as the authorisation service would: the scoring Lambda's vector is the
    //    training row for this instant, request features included (checked for a few cards).
    const card = live[live.length - 1] as { card_id: string };
    const response = await scoringHandler(reader, { log: false })({ body: JSON.stringify({ card_id: card.card_id, amount: 912.5, country: 'FR' }) });
    const scored = (JSON.parse(response.body) as { vector: Record<string, unknown> }).vector;
    log(`scored a 912.50 transaction of ${card.card_id} (HTTP ${response.statusCode}): ${JSON.stringify(scored)}`);
    const requests = live.slice(-5).map((e, i) => ({ card_id: (e as { card_id: string }).card_id, amount: 50 * (i + 1), country: i % 2 ? 'US' : 'DE' }));
    await expectServingParity(reader, { entities: requests, entityKey: 'card_id', features: scoringFeatures });
    return {
      backfilled: backfill.written,
      streamed: live.length,
      reported,
      trainingRows: summary.rows,
      matchRate: summary.matchRate[cardTransactions.name] ?? 0,
      consistencyRate: report.consistencyRate,
      trainingFile,
      scored,
    };
  } finally {
    for (const s of stores) await s.close();
    dynamoDb.destroy();
    await new Promise<void>((done) => dynamo.close(() => done()));
    await stack.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const summary = await runFraudExample({ log: (line) => console.log(line) });
  console.log(JSON.stringify(summary));
}
