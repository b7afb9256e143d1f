// Window aggregations: reducer throughput (the pipeline with and without the group's aggregates) and
// DynamoDB round trips per Kinesis batch against dynalite, cold (first batch) and warm: per entity one
// conditional save of state and records (the commit), and the marks of outboxes written 25 to a call.
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dynamoDbAggregationState, dynamoDbTableDefinition } from '../dist/aws.js';
import { createFeatureStore } from '../dist/index.js';
import { kinesisHandler } from '../dist/lambda.js';
import { kinesisEvent, memoryOnline } from '../dist/testing.js';
import { cardEvent, cardTransactions, cardVelocity } from './groups.mjs';

const RECORDS = 200_000;
const CARDS = 2_000;
const BATCH = 1_000;
const ROUNDS = 5;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Event i of the benchmark stream: 37 ms apart, over CARDS cards (about 100 events per card per 2 hours). */
function events(count, cards) {
  return Array.from({ length: count }, (_, i) => ({ ...cardEvent(i), card_id: `card-${(i * 7919) % cards}` }));
}

function throughput(group, input) {
  const rates = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const started = process.hrtime.bigint();
    // One call: the reducer keeps every card's state in memory, as a backfill's replay does.
    const { records } = group.processBatch(input);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (records.length !== input.length) throw new Error('benchmark lost records');
    if (round > 0) rates.push(input.length / seconds);
  }
  return Math.round(median(rates));
}

/** dynalite in a process of its own, so this process's CPU is the handler's alone. */
async function startDynalite() {
  const child = fork(fileURLToPath(import.meta.url), ['--dynalite'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
  });
  return { endpoint: `http://127.0.0.1:${port}`, close: () => child.kill('SIGTERM') };
}

const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function roundTrips() {
  const server = await startDynalite();
  const client = new DynamoDBClient({
    endpoint: server.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  try {
    await client.send(new CreateTableCommand(dynamoDbTableDefinition('state')));
    await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: 'state' });
    const state = dynamoDbAggregationState({ client, tableName: 'state' });
    const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: state });
    const handler = kinesisHandler(cardVelocity, { discardPoison: true, store, log: false });
    // The same batches through the group without aggregates: the handler's CPU without state.
    const plain = kinesisHandler(cardTransactions, { discardPoison: true, store: createFeatureStore({ online: memoryOnline(), offline: false }), log: false });
    const input = events(BATCH * 6, 400);
    const perBatch = [];
    let before = state.calls();
    for (let i = 0; i < input.length; i += BATCH) {
      const batch = input.slice(i, i + BATCH);
      const plainStarted = cpuMs();
      await plain(kinesisEvent(batch));
      const plainCpuMs = cpuMs() - plainStarted;
      const started = performance.now();
      const cpuStarted = cpuMs();
      const response = await handler(kinesisEvent(batch));
      const ms = performance.now() - started;
      const handlerCpuMs = cpuMs() - cpuStarted;
      if (response.batchItemFailures.length > 0) throw new Error('benchmark batch reported failures');
      const after = state.calls();
      const entities = new Set(batch.map((e) => e.card_id)).size;
      perBatch.push({ entities, batchGets: after.batchGets - before.batchGets, puts: after.puts - before.puts, settles: after.settles - before.settles, ms, handlerCpuMs, plainCpuMs });
      before = after;
    }
    await store.close();
    return perBatch;
  } finally {
    client.destroy();
    server.close();
  }
}

export async function benchAggregations() {
  const input = events(RECORDS, CARDS);
  const plain = throughput(cardTransactions, input);
  const aggregated = throughput(cardVelocity, input);
  const hot = throughput(cardVelocity, events(50_000, 1));
  const batches = await roundTrips();
  const cold = batches[0];
  const warm = batches.slice(1);
  const trips = (b) => b.batchGets + b.puts + b.settles;
  const warmTrips = warm.reduce((n, b) => n + trips(b), 0);
  const warmEntities = warm.reduce((n, b) => n + b.entities, 0);
  // The handler's CPU for the state, per DynamoDB call: what the aggregated handler costs beyond the
  // plain one and the reducer's own work, over its calls (each entity's load, save, encoding and SDK call).
  const stateCpuMs = warm.reduce((n, b) => n + b.handlerCpuMs - b.plainCpuMs, 0) - (warm.length * BATCH * (1000 / aggregated - 1000 / plain));
  return {
    records: RECORDS,
    cards: CARDS,
    aggregates: Object.keys(cardVelocity.aggregations).length,
    plainRecordsPerSecond: plain,
    aggregatedRecordsPerSecond: aggregated,
    hotEntityRecordsPerSecond: hot,
    batch: BATCH,
    coldEntities: cold.entities,
    coldRoundTrips: trips(cold),
    coldRoundTripsPerEntity: Number((trips(cold) / cold.entities).toFixed(3)),
    warmRoundTripsPerEntity: Number((warmTrips / warmEntities).toFixed(3)),
    warmBatchMs: Math.round(median(warm.map((b) => b.ms))),
    warmHandlerCpuMsPerRecord: Number((warm.reduce((n, b) => n + b.handlerCpuMs, 0) / (warm.length * BATCH)).toFixed(3)),
    stateCallCpuMs: Number((stateCpuMs / warmTrips).toFixed(3)),
    goal: 'at most 1.1 DynamoDB round trips per distinct entity per batch',
    met: warmTrips <= 1.1 * warmEntities,
  };
}

if (process.argv.includes('--dynalite')) {
  const { default: dynalite } = await import('dynalite');
  const server = dynalite({ createTableMs: 0 });
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
}
