// The write path per core: kinesisHandler + sageMakerOnline into the local stack (its own process) with
// 10 ms of service latency, one write mode at a time: PutRecord per record, BatchWriteRecord in rounds
// of one record per identifier, and both with collapsing (an identifier's newest record online, the
// others offline only). Batches carry two hot cards (30% of the records), as a spike does.
import { CreateFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { createFeatureStore } from '../dist/index.js';
import { sageMakerOnline, toCreateFeatureGroupInput } from '../dist/aws.js';
import { kinesisHandler } from '../dist/lambda.js';
import { kinesisEvent } from '../dist/testing.js';
import { cardEvents, cardTransactions } from './groups.mjs';
import { spawnStack } from './stack.mjs';

const LATENCY_MS = 10;
const BATCH = 500;
const BATCHES = 12;
const HOT_SHARE = 0.3;

export const WRITE_MODES = {
  // batchWrite: false, or the SDK's BatchWriteRecord (the default when it has it) would be measured.
  putRecord: { batchWrite: false },
  putRecordCollapse: { batchWrite: false, collapse: true },
  batchWrite: { batchWrite: true, collapse: false },
  batchWriteCollapse: { batchWrite: true, collapse: true },
};

/** Batches of the bench group's events: 30% of each batch two hot cards, the rest 100,000 cards. */
function batches() {
  const events = cardEvents(BATCH * BATCHES).map((e, i) => (i % 10 < HOT_SHARE * 10 ? { ...e, card_id: `hot-${i % 2}` } : e));
  return Array.from({ length: BATCHES }, (_, b) => kinesisEvent(events.slice(b * BATCH, (b + 1) * BATCH)));
}

const writeCalls = ({ counts }) => (counts.PutRecord?.calls ?? 0) + (counts.BatchWriteRecord?.calls ?? 0);

export async function benchWritePath() {
  const stack = await spawnStack();
  const config = { ...stack.clientConfig, requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }) }) };
  await new SageMakerClient(config).send(
    new CreateFeatureGroupCommand(toCreateFeatureGroupInput(cardTransactions, { offlineStoreS3Uri: 's3://bench/offline', roleArn: 'arn:aws:iam::000000000000:role/bench' })),
  );
  const client = new SageMakerFeatureStoreRuntimeClient(config);
  const events = batches();
  const results = {};
  try {
    for (const [mode, options] of Object.entries(WRITE_MODES)) {
      const faults = { PutRecord: { latencyMs: LATENCY_MS }, BatchWriteRecord: { latencyMs: LATENCY_MS } };
      await stack.setFaults(faults);
      const store = createFeatureStore({ online: sageMakerOnline({ client, concurrency: 16, ...options }), offline: false });
      const handler = kinesisHandler(cardTransactions, { store, discardPoison: true, log: false });
      await handler(events[0]); // warm the JIT and the connection pool
      const callsBefore = writeCalls(await stack.setFaults(faults));
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      for (const event of events.slice(1)) {
        const response = await handler(event);
        if (response.batchItemFailures.length > 0) throw new Error(`${mode}: the batch reported failures`);
      }
      const seconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const records = BATCH * (BATCHES - 1);
      const calls = writeCalls(await stack.setFaults({})) - callsBefore;
      const cpuMsPerRecord = (cpu.user + cpu.system) / 1000 / records;
      results[mode] = {
        recordsPerSecond: Math.round(records / seconds),
        cpuMsPerRecord: Number(cpuMsPerRecord.toFixed(4)),
        recordsPerCoreSecond: Math.round(1000 / cpuMsPerRecord),
        callsPerRecord: Number((calls / records).toFixed(3)),
      };
      await store.close();
    }
  } finally {
    await stack.close();
  }
  return { batch: BATCH, batches: BATCHES - 1, hotShare: HOT_SHARE, latencyMs: LATENCY_MS, concurrency: 16, ...results };
}

if (process.argv[1] === new URL(import.meta.url).pathname) console.table(await benchWritePath());
