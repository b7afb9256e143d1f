import { CreateStreamCommand, KinesisClient, PutRecordsCommand, waitUntilStreamExists } from '@aws-sdk/client-kinesis';
import { DescribeFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { DuckDBInstance } from '@duckdb/node-api';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { retryStrategy, sageMakerOnline } from '../src/aws/index.js';
import { createFeatureStore, type DeadLetterEntry } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { runKinesisEventSource } from '../src/testing/index.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { cardActivity } from './fixtures/groups.js';
import { type ExternalStack, spawnLocalStack } from './setup/external-stack.js';

// The issue's figure; E2E_EVENTS lowers it for a quick local run.
const EVENTS = Number(process.env['E2E_EVENTS'] ?? 100_000);
const CARDS = 2_000;

let stack: ExternalStack;
let kinesis: KinesisClient;
const dir = mkdtempSync(join(tmpdir(), 'skewless-e2e-'));

beforeAll(async () => {
  stack = await spawnLocalStack(dir);
  await createGroupOnStack(stack.clientConfig, cardActivity, 's3://e2e/offline');
  // kinesalite speaks HTTP/1.1 only.
  kinesis = new KinesisClient({ endpoint: inject('kinesisEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' }, requestHandler: new NodeHttpHandler() });
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('producer -> Kinesis (2 shards) -> event source -> kinesisHandler -> SageMaker with faults', () => {
  it(`loses nothing across ${EVENTS.toLocaleString('en-US')} events under 30% throttling, 10% 500s and 5% unprocessed BatchWriteRecord entries`, async () => {
    const streamName = `cards-${Date.now()}`;
    await kinesis.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 2 }));
    // CreateStream returns while the stream is CREATING (Kinesis API reference, CreateStream).
    await waitUntilStreamExists({ client: kinesis, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { StreamName: streamName });
    const start = Date.UTC(2024, 4, 1);
    const events = Array.from({ length: EVENTS }, (_, i) =>
      i % 1000 === 999
        ? { card_id: `card-${i % CARDS}`, amount_cents: 'poison', country: 'FR', ts: new Date(start + i * 1000).toISOString() }
        : { card_id: `card-${i % CARDS}`, amount_cents: i, country: i % 3 ? 'US' : 'FR', ts: new Date(start + i * 1000).toISOString() },
    );
    for (let i = 0; i < events.length; i += 500) {
      const chunk = events.slice(i, i + 500);
      const result = await kinesis.send(
        new PutRecordsCommand({ StreamName: streamName, Records: chunk.map((e) => ({ PartitionKey: e.card_id, Data: Buffer.from(JSON.stringify(e)) })) }),
      );
      expect(result.FailedRecordCount ?? 0).toBe(0);
    }

    // sageMakerOnline's default: BatchWriteRecord, collapsed. Whole calls throttled or failed, and
    // entries left unprocessed.
    await stack.setFaults({ BatchWriteRecord: { throttleRate: 0.3, errorRate: 0.1, unprocessedRate: 0.05 }, seed: 42 });
    const dead: DeadLetterEntry[] = [];
    const store = createFeatureStore({
      online: sageMakerOnline({
        // Four attempts: a call fails all four once in 39 (0.4^4), so at 10,000 events (400 calls or more)
        // some batch is redelivered on all but ~e^-10 of runs, and fifty failed deliveries of a batch of
        // 20 calls (0.40^50) stay out of reach.
        client: new SageMakerFeatureStoreRuntimeClient({ ...stack.clientConfig, retryStrategy: retryStrategy({ attempts: 4, baseDelayMs: 2, maxDelayMs: 50 }) }),
        concurrency: 32,
      }),
      offline: false,
      deadLetter: (entries) => {
        dead.push(...entries);
      },
    });
    const report = await runKinesisEventSource({
      client: kinesis,
      streamName,
      handler: kinesisHandler(cardActivity, { store, log: false }),
      batchSize: 500,
      maxRetryAttempts: 50,
    });
    const faults = (await stack.setFaults({})).counts['BatchWriteRecord'];
    expect(faults?.throttled).toBeGreaterThan((faults?.calls ?? 0) * 0.2);
    expect(faults?.unprocessed).toBeGreaterThan(0);
    expect(report.discarded).toEqual([]);
    expect(report.redelivered).toBeGreaterThan(0);

    // Every poison record is in the dead-letter sink with its reason (once per delivery, so deduplicated).
    const poison = events.filter((e) => typeof e.amount_cents !== 'number');
    const deadKeys = new Set(dead.map((d) => d.position?.sequenceNumber));
    expect(deadKeys.size).toBe(poison.length);
    expect(dead.every((d) => d.error.code === 'SOURCE_VALIDATION' && d.error.issues[0]?.path[0] === 'amount_cents')).toBe(true);

    // Online: exactly the latest record per card.
    const latest = new Map<string, number>();
    for (const e of events) if (typeof e.amount_cents === 'number') latest.set(e.card_id, e.amount_cents);
    const online = await store.getMany(cardActivity, [...latest.keys()]);
    expect(online.size).toBe(latest.size);
    for (const [card, cents] of latest) expect(online.get(card)?.amount).toBe(cents / 100);

    // Offline: every valid event at least once (a redelivered batch writes some again: at-least-once).
    // Read where SageMaker says it wrote them (ResolvedOutputS3Uri), with DuckDB as an independent reader.
    const described = await new SageMakerClient(stack.clientConfig).send(new DescribeFeatureGroupCommand({ FeatureGroupName: cardActivity.name }));
    const resolved = described.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri as string;
    expect(resolved).toMatch(/^s3:\/\/e2e\/offline\/\d{12}\/sagemaker\/us-east-1\/offline-store\/card-activity-\d{10}\/data$/);
    await store.close();
    await stack.close(); // flushes the buffered offline writes
    const duckdb = await (await DuckDBInstance.create(':memory:')).connect();
    const files = join(dir, 'local-stack', 's3', resolved.slice('s3://'.length), '**', '*.parquet');
    const rows = (await duckdb.runAndReadAll(`SELECT card_id, event_time FROM read_parquet('${files}')`)).getRowObjectsJS();
    duckdb.closeSync();
    const seen = new Set(rows.map((r) => `${r['card_id']}@${r['event_time']}`));
    const valid = events.filter((e) => typeof e.amount_cents === 'number');
    expect(seen.size).toBe(valid.length);
    for (const e of valid) expect(seen.has(`${e.card_id}@${new Date(e.ts).toISOString()}`)).toBe(true);
  }, 600_000);
});
