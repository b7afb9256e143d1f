// The local stack's speed: the embedded online store in-process, and the SageMaker endpoint over loopback.
import { CreateFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { GetRecordCommand, PutRecordCommand, SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent, request } from 'node:http';
import { toCreateFeatureGroupInput } from '../dist/aws.js';
import { localOnline } from '../dist/local.js';
import { cardTransactions, cardEvents } from './groups.mjs';
import { spawnStack } from './stack.mjs';

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (n) => Number(n.toFixed(3));

export function encodedRecords(count) {
  return cardEvents(count).map((e, i) => {
    const result = cardTransactions.process({ ...e, card_id: `card-${i}` });
    if (!result.ok) throw result.error;
    return result.encoded;
  });
}

async function latencies(count, call) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await call(i);
    out.push(performance.now() - started);
  }
  return out.sort((a, b) => a - b);
}

export async function benchLocalOnline() {
  const RECORDS = 200_000;
  const BATCH = 5_000;
  const records = encodedRecords(RECORDS);
  const online = await localOnline({ memory: true });
  await online.put(cardTransactions, records.slice(0, 10)); // create the table outside the timing
  const started = performance.now();
  for (let i = 0; i < RECORDS; i += BATCH) await online.put(cardTransactions, records.slice(i, i + BATCH));
  const upsertsPerSecond = Math.round(RECORDS / ((performance.now() - started) / 1000));
  const gets = await latencies(2000, (i) => online.get(cardTransactions, `card-${(i * 7919) % RECORDS}`));
  await online.close();
  return {
    records: RECORDS,
    batch: BATCH,
    upsertsPerSecond,
    getP50Ms: ms(percentile(gets, 50)),
    getP99Ms: ms(percentile(gets, 99)),
    goal: 'batched upserts >= 50,000/s',
    met: upsertsPerSecond >= 50_000,
  };
}

export async function benchEndpoint() {
  const PUTS = 5_000;
  const CONCURRENCY = 32;
  const stack = await spawnStack();
  const config = { ...stack.clientConfig, requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }) };
  await new SageMakerClient(config).send(
    new CreateFeatureGroupCommand(toCreateFeatureGroupInput(cardTransactions, { roleArn: 'arn:aws:iam::000000000000:role/bench', offlineStoreS3Uri: 's3://bench/offline' })),
  );
  const runtime = new SageMakerFeatureStoreRuntimeClient(config);
  const records = encodedRecords(PUTS);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < PUTS) {
        const record = records[next++];
        await runtime.send(new PutRecordCommand({ FeatureGroupName: cardTransactions.name, Record: record }));
      }
    }),
  );
  const putsPerSecond = Math.round(PUTS / ((performance.now() - started) / 1000));
  // The same PutRecord requests without the SDK's per-call work (signing, middleware): the stack's own capacity.
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const url = new URL(`${stack.clientConfig.endpoint}/FeatureGroup/${cardTransactions.name}`);
  const bodies = encodedRecords(PUTS).map((record, i) => JSON.stringify({ Record: record.map((f) => (f.FeatureName === 'card_id' ? { ...f, ValueAsString: `raw-${i}` } : f)) }));
  const rawPut = (body) =>
    new Promise((resolve, reject) => {
      const req = request(url, { method: 'PUT', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`PutRecord answered ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  next = 0;
  const rawStarted = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < PUTS) await rawPut(bodies[next++]);
  }));
  const rawPutsPerSecond = Math.round(PUTS / ((performance.now() - rawStarted) / 1000));
  agent.destroy();
  // Reads are measured in steady state: after the buffered offline Parquet flush the puts set off.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const gets = await latencies(2000, (i) =>
    runtime.send(new GetRecordCommand({ FeatureGroupName: cardTransactions.name, RecordIdentifierValueAsString: `card-${(i * 31) % PUTS}` })),
  );
  await stack.close();
  const p99 = percentile(gets, 99);
  return {
    puts: PUTS,
    concurrency: CONCURRENCY,
    putRecordsPerSecond: putsPerSecond,
    rawHttpPutRecordsPerSecond: rawPutsPerSecond,
    getRecordP50Ms: ms(percentile(gets, 50)),
    getRecordP99Ms: ms(p99),
    goal: 'GetRecord p99 <= 5 ms over loopback',
    met: p99 <= 5,
  };
}
