// The AWS backends against the local stack (in its own process) with injected latency.
import { CreateFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { GetRecordCommand, PutRecordCommand, SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { Agent } from 'node:http';
import { sageMakerOnline, toCreateFeatureGroupInput } from '../dist/aws.js';
import { cardTransactions } from './groups.mjs';
import { encodedRecords } from './local.mjs';
import { spawnStack } from './stack.mjs';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function stackWithGroup() {
  const stack = await spawnStack();
  const config = { ...stack.clientConfig, requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }) }) };
  await new SageMakerClient(config).send(
    new CreateFeatureGroupCommand(toCreateFeatureGroupInput(cardTransactions, { roleArn: 'arn:aws:iam::000000000000:role/bench' })),
  );
  return { stack, client: new SageMakerFeatureStoreRuntimeClient(config) };
}

export async function benchAws() {
  const { stack, client } = await stackWithGroup();
  // PutRecord, one record a call: BatchWriteRecord (the default when the SDK has it) has another bound.
  const online = sageMakerOnline({ client, concurrency: 64, batchWrite: false });
  const records = encodedRecords(5000);
  await online.put(cardTransactions, records.slice(0, 1000));

  // getMany of 1,000 ids: ten BatchGetRecord chunks that go out together.
  const LATENCY = 20;
  await stack.setFaults({ BatchGetRecord: { latencyMs: LATENCY } });
  const ids = Array.from({ length: 1000 }, (_, i) => `card-${i}`);
  const getManyTimes = [];
  await online.getMany(cardTransactions, ids); // warm the JIT and the connection pool
  for (let round = 0; round < 9; round++) {
    const started = performance.now();
    const found = await online.getMany(cardTransactions, ids);
    getManyTimes.push(performance.now() - started);
    if (found.size !== 1000) throw new Error(`getMany found ${found.size} of 1000`);
  }
  const getManyMs = median(getManyTimes);

  // PutRecord throughput at concurrency 64 with 5 ms of service latency: the bound is 64 / 5 ms.
  const PUT_LATENCY = 5;
  await stack.setFaults({ PutRecord: { latencyMs: PUT_LATENCY } });
  const putStarted = performance.now();
  const cpuBefore = process.cpuUsage();
  const outcomes = await online.put(cardTransactions, records.slice(1000, 5000));
  const cpu = process.cpuUsage(cpuBefore);
  const putSeconds = (performance.now() - putStarted) / 1000;
  if (outcomes.some((o) => o !== 'accepted')) throw new Error('a PutRecord failed');
  const putRate = 4000 / putSeconds;
  const bound = 64 / (PUT_LATENCY / 1000);
  // Client CPU per call (this process only; the stack runs in its own): the most one core can issue.
  const cpuMsPerPut = (cpu.user + cpu.system) / 1000 / 4000;

  // The same at 50 ms: the bound (1,280/s) is under what the client's CPU allows, so this shows
  // whether the 64 slots are really kept busy.
  const SLOW_LATENCY = 50;
  await stack.setFaults({ PutRecord: { latencyMs: SLOW_LATENCY } });
  const slowStarted = performance.now();
  const slowOutcomes = await online.put(cardTransactions, records.slice(1000, 3000));
  const slowRate = 2000 / ((performance.now() - slowStarted) / 1000);
  if (slowOutcomes.some((o) => o !== 'accepted')) throw new Error('a PutRecord failed');
  const slowBound = 64 / (SLOW_LATENCY / 1000);
  await stack.setFaults({});

  // SDK overhead: sageMakerOnline against the bare client doing the same calls, interleaved.
  const bare = [];
  const ours = [];
  for (let round = 0; round < 9; round++) {
    let started = performance.now();
    for (let i = 0; i < 300; i++) await client.send(new GetRecordCommand({ FeatureGroupName: cardTransactions.name, RecordIdentifierValueAsString: `card-${i}` }));
    bare.push(performance.now() - started);
    started = performance.now();
    for (let i = 0; i < 300; i++) await online.get(cardTransactions, `card-${i}`);
    ours.push(performance.now() - started);
  }
  const putBare = [];
  const putOurs = [];
  for (let round = 0; round < 9; round++) {
    let started = performance.now();
    for (let i = 0; i < 300; i++) await client.send(new PutRecordCommand({ FeatureGroupName: cardTransactions.name, Record: records[i] }));
    putBare.push(performance.now() - started);
    started = performance.now();
    for (let i = 0; i < 300; i++) await online.put(cardTransactions, [records[i]]);
    putOurs.push(performance.now() - started);
  }
  await stack.close();
  const getOverhead = median(ours) / median(bare) - 1;
  const putOverhead = median(putOurs) / median(putBare) - 1;
  return {
    getManyIds: 1000,
    injectedLatencyMs: LATENCY,
    getManyMs: Number(getManyMs.toFixed(1)),
    getManyLatencyMultiple: Number((getManyMs / LATENCY).toFixed(2)),
    getManyGoal: '<= 3x one call\'s latency',
    getManyMet: getManyMs / LATENCY <= 3,
    putConcurrency: 64,
    putInjectedLatencyMs: PUT_LATENCY,
    putRecordsPerSecond: Math.round(putRate),
    putBoundPerSecond: bound,
    putFractionOfBound: Number((putRate / bound).toFixed(3)),
    putGoal: '>= 0.8 of concurrency / latency',
    putMet: putRate / bound >= 0.8,
    putClientCpuMsPerCall: Number(cpuMsPerPut.toFixed(3)),
    putCpuBoundPerSecond: Math.round(1000 / cpuMsPerPut),
    putSlowLatencyMs: SLOW_LATENCY,
    putSlowRecordsPerSecond: Math.round(slowRate),
    putSlowFractionOfBound: Number((slowRate / slowBound).toFixed(3)),
    getOverheadPercent: Number((getOverhead * 100).toFixed(1)),
    putOverheadPercent: Number((putOverhead * 100).toFixed(1)),
    overheadGoal: '<= 10% over the bare client',
    overheadMet: getOverhead <= 0.1 && putOverhead <= 0.1,
  };
}
