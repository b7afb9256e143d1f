// The spike: card transactions at 10/s, then 10,000/s, then 10/s again, through Kinesis (kinesalite),
// the event source mapping in miniature and kinesisHandler into SageMaker (the local stack, 10 ms of
// latency and a TPS limit per API), velocity state in DynamoDB (dynalite). Four processes: this one
// (producer and freshness reader), the stack, kinesalite + dynalite, and the "Lambda" (event source
// mapping + handler), so the handler's CPU is its own process's.
//
//   node bench/spike.mjs                      # the default profile (10/s, 2,000/s, 10/s), then again with a 500/s peak (SPIKE_ALSO_AT)
//   SPIKE_MODES=put,batch-collapse SPIKE_SECONDS=10,30,40 SPIKE_RATES=10,10000,10 SPIKE_SHARDS=10 node bench/spike.mjs
import { CreateTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateStreamCommand, DescribeStreamCommand, KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { BatchGetRecordCommand, SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { spawnStack } from './stack.mjs';

const SELF = fileURLToPath(import.meta.url);
const HTTP1 = () => new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }) });
const LOCAL_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const list = (text, fallback) => (text ? text.split(',').map(Number) : fallback);
const optionalNumber = (text) => (text ? Number(text) : undefined);

/** The run's settings; every one can be changed from the environment. */
export function spikeConfig(env = process.env) {
  // The 10,000/s scaled by 0.2: what this bench's two cores carry with dynalite holding the state.
  const rates = list(env.SPIKE_RATES, [10, 2_000, 10]);
  return {
    phases: list(env.SPIKE_SECONDS, [5, 15, 20]).map((seconds, i) => ({ name: ['calm', 'spike', 'after'][i] ?? `phase ${i + 1}`, seconds, rate: rates[i] ?? 10 })),
    // Unset: what `planCapacity` (`skewless plan --rate`) prescribes for the fraud group at the peak rate.
    shards: optionalNumber(env.SPIKE_SHARDS),
    batchSize: optionalNumber(env.SPIKE_BATCH),
    windowSeconds: optionalNumber(env.SPIKE_WINDOW),
    parallelizationFactor: optionalNumber(env.SPIKE_PF),
    latencyMs: Number(env.SPIKE_LATENCY_MS ?? 10),
    // SageMaker's 10,000 TPS per API per account, scaled as the rate is (unset: the peak rate).
    tpsLimit: optionalNumber(env.SPIKE_TPS),
    // Peaks the profile is run at again: what this machine carries with every part on its two cores.
    alsoAt: list(env.SPIKE_ALSO_AT, [500]),
    cards: Number(env.SPIKE_CARDS ?? 5_000),
    // Hot cards: each takes this share of the spike's events.
    hotCards: Number(env.SPIKE_HOT_CARDS ?? 2),
    hotShare: Number(env.SPIKE_HOT_SHARE ?? 0.15),
    sampled: Number(env.SPIKE_SAMPLED ?? 48),
    modes: (env.SPIKE_MODES ?? 'batch-collapse').split(','),
    drainSeconds: Number(env.SPIKE_DRAIN_SECONDS ?? 60),
  };
}

/** How each write mode configures sageMakerOnline. */
const WRITE_MODES = {
  put: {},
  'put-collapse': { collapse: true },
  batch: { batchWrite: true },
  'batch-collapse': { batchWrite: true, collapse: true },
};

/** CPU seconds a process has used so far, from /proc (utime and stime, in Linux's 100 ticks a second). */
function cpuSecondsOf(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const percentile = (sorted, p) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
const round = (n, digits = 0) => Number(n.toFixed(digits));

// --- child: kinesalite and dynalite ---
async function runEmulators() {
  const { default: dynalite } = await import('dynalite');
  const { default: kinesalite } = await import('kinesalite');
  const dynamo = dynalite({ createTableMs: 0 });
  const kinesis = kinesalite({ createStreamMs: 0, shardLimit: 100 });
  const listen = (server) => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
  // Exit on SIGTERM rather than die of it, so a CPU profile (SPIKE_PROFILE) gets written.
  process.once('SIGTERM', () => process.exit(0));
  process.send({ dynamo: await listen(dynamo), kinesis: await listen(kinesis) });
}

// --- child: the Lambda (event source mapping + kinesisHandler) ---
async function runLambda() {
  const config = await new Promise((resolve) => process.once('message', resolve));
  const { createFeatureStore } = await import('skewless');
  const { dynamoDbAggregationState, sageMakerOnline } = await import('skewless/aws');
  const { kinesisHandler } = await import('skewless/lambda');
  const { runKinesisEventSource } = await import('skewless/testing');
  const { cardTransactions } = await import(config.groupModule);
  const runtime = new SageMakerFeatureStoreRuntimeClient({ endpoint: config.stack, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, requestHandler: HTTP1() });
  const dynamoDb = new DynamoDBClient({ endpoint: config.dynamo, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, requestHandler: HTTP1() });
  const kinesis = new KinesisClient({ endpoint: config.kinesis, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, requestHandler: new NodeHttpHandler() });
  const state = dynamoDbAggregationState({ tableName: config.table, client: dynamoDb });
  const store = createFeatureStore({
    online: sageMakerOnline({ client: runtime, concurrency: 16, ...WRITE_MODES[config.mode] }),
    offline: false,
    aggregationState: state,
    deadLetter: (entries) => {
      poison += entries.length;
    },
  });
  let poison = 0;
  const stop = new AbortController();
  process.on('message', (message) => {
    if (message === 'cpu') process.send({ cpu: process.cpuUsage(), at: Date.now() });
    if (message === 'stop') stop.abort();
  });
  const failures = [];
  process.send({ ready: true });
  const report = await runKinesisEventSource({
    client: kinesis,
    streamName: config.stream,
    handler: kinesisHandler(cardTransactions, { store, log: false }),
    batchSize: config.batchSize,
    batchingWindowSeconds: config.windowSeconds,
    parallelizationFactor: config.parallelizationFactor,
    maxRetryAttempts: 1_000,
    pollIntervalMs: 100,
    signal: stop.signal,
    onInvoke: (i) => {
      process.send({ invocation: [Date.now(), i.records - i.failed, i.iteratorAgeMs, i.durationMs, i.records] });
      if (i.failed > 0) failures.push(i.failed);
    },
  });
  await store.close();
  process.send({ report, failedInvocations: failures.length, poison, stateCalls: state.calls() });
  process.disconnect();
}

// --- this process: producer, reader, report ---
async function bundleGroup() {
  const { build } = await import('esbuild');
  const outfile = fileURLToPath(new URL('../.skewless/bench/fraud-features.mjs', import.meta.url));
  await build({ entryPoints: [fileURLToPath(new URL('../examples/fraud-detection/features.ts', import.meta.url))], bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'warning', outfile });
  return outfile;
}

function childProcess(role) {
  // SPIKE_PROFILE=<dir>: a V8 CPU profile of each child, to see where its time goes.
  const execArgv = process.env.SPIKE_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.SPIKE_PROFILE}/${role}`] : [];
  const child = fork(SELF, ['--role', role], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' } });
  return child;
}

const once = (child, test) =>
  new Promise((resolve, reject) => {
    const listener = (message) => {
      if (!test(message)) return;
      child.off('message', listener);
      resolve(message);
    };
    child.on('message', listener);
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });

/** One run of the profile with one write mode. */
async function runSpike(config, mode, groupModule, stack, emulators) {
  const { cardTransactions } = await import(groupModule);
  const suffix = `${mode}-${Date.now()}`;
  const stream = `cards-${suffix}`;
  const table = `state-${suffix}`;
  const { toCreateFeatureGroupInput, dynamoDbTableDefinition } = await import('skewless/aws');
  const stackConfig = { ...stack.clientConfig, requestHandler: HTTP1() };
  // Each mode gets a fresh stack, so the group keeps its name.
  await new SageMakerClient(stackConfig).send(
    new CreateFeatureGroupCommand(toCreateFeatureGroupInput(cardTransactions, { offlineStoreS3Uri: 's3://spike/offline', roleArn: 'arn:aws:iam::000000000000:role/bench' })),
  );
  const kinesis = new KinesisClient({ endpoint: emulators.kinesis, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 16 }) }) });
  await kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: config.shards }));
  for (let i = 0; i < 100; i++) {
    const d = await kinesis.send(new DescribeStreamCommand({ StreamName: stream }));
    if (d.StreamDescription?.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const dynamoDb = new DynamoDBClient({ endpoint: emulators.dynamo, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  await dynamoDb.send(new CreateTableCommand(dynamoDbTableDefinition(table)));
  await waitUntilTableExists({ client: dynamoDb, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: table });
  const fault = { latencyMs: config.latencyMs, tpsLimit: config.tpsLimit };
  await stack.setFaults({ PutRecord: fault, BatchWriteRecord: fault });

  const lambda = childProcess('lambda');
  const invocations = [];
  let processed = 0;
  let finalReport;
  lambda.on('message', (message) => {
    if (message.invocation) {
      invocations.push(message.invocation);
      processed += message.invocation[1];
    }
    if (message.report) finalReport = message;
  });
  const ready = once(lambda, (m) => m.ready === true);
  lambda.send({ mode, groupModule, stack: stack.clientConfig.endpoint, dynamo: emulators.dynamo, kinesis: emulators.kinesis, stream, table, batchSize: config.batchSize, windowSeconds: config.windowSeconds, parallelizationFactor: config.parallelizationFactor });
  await ready;
  const cpu = async () => {
    lambda.send('cpu');
    const { cpu: usage } = await once(lambda, (m) => m.cpu !== undefined);
    return (usage.user + usage.system) / 1e6;
  };
  // Where the machine's two cores go: every process of the run.
  const processes = () => {
    const own = process.cpuUsage();
    return { producerAndReader: (own.user + own.system) / 1e6, stack: cpuSecondsOf(stack.pid), kinesaliteAndDynalite: cpuSecondsOf(emulators.pid), handler: cpuSecondsOf(lambda.pid) };
  };
  const calls = async () => {
    const response = await fetch(`${stack.clientConfig.endpoint}/_skewless/faults`);
    const { counts } = await response.json();
    return { put: counts.PutRecord?.calls ?? 0, batch: counts.BatchWriteRecord?.calls ?? 0, throttled: (counts.PutRecord?.throttled ?? 0) + (counts.BatchWriteRecord?.throttled ?? 0) };
  };

  // The freshness reader: the sampled cards' newest event time, polled with BatchGetRecord.
  const hot = Array.from({ length: config.hotCards }, (_, i) => `hot-${i}`);
  const sampled = [...hot, ...Array.from({ length: config.sampled }, (_, i) => `card-${Math.floor((i * config.cards) / config.sampled)}`)];
  const sampledSet = new Set(sampled);
  const pending = new Map(sampled.map((id) => [id, []])); // produced event times not yet seen online, oldest first
  const freshness = []; // [eventTimeMs, ms until visible]
  const runtime = new SageMakerFeatureStoreRuntimeClient(stackConfig);
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const result = await runtime.send(new BatchGetRecordCommand({ Identifiers: [{ FeatureGroupName: cardTransactions.name, RecordIdentifiersValueAsString: sampled, FeatureNames: ['card_id', 'event_time'] }] }));
      const now = Date.now();
      for (const hit of result.Records ?? []) {
        const seen = Date.parse(hit.Record.find((f) => f.FeatureName === 'event_time').ValueAsString);
        const waiting = pending.get(hit.RecordIdentifierValueAsString);
        while (waiting.length > 0 && waiting[0] <= seen) {
          const at = waiting.shift();
          freshness.push([at, now - at]);
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  const progress = setInterval(() => process.stderr.write(`[spike ${mode}] produced ${produced}, processed ${processed}, invocations ${invocations.length}, fresh ${freshness.length}\n`), 2000);
  // The producer: each 50 ms, the events due by the profile, each stamped with the time it is sent.
  let seed = 7;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  let produced = 0;
  const phases = [];
  let sends = new Set();
  for (const phase of config.phases) {
    const started = Date.now();
    const before = { cpu: await cpu(), processed, calls: await calls(), produced, invocations: invocations.length, processes: processes() };
    let due = 0;
    while (Date.now() - started < phase.seconds * 1000) {
      const target = Math.floor(((Date.now() - started) / 1000) * phase.rate) + 1;
      const now = Date.now();
      const events = [];
      for (; due < target; due++) {
        const roll = random();
        const card = phase.rate >= 1000 && roll < config.hotShare * config.hotCards ? hot[Math.floor(roll / config.hotShare)] : `card-${Math.floor(random() * config.cards)}`;
        events.push({ card_id: card, amount_cents: Math.floor(random() * 50_000) + 100, country: random() < 0.8 ? 'US' : 'FR', merchant_id: `m-${Math.floor(random() * 300)}`, mcc: random() < 0.05 ? '7995' : '5411', ts: new Date(now).toISOString() });
        if (sampledSet.has(card)) pending.get(card).push(now);
      }
      for (let i = 0; i < events.length; i += 500) {
        const chunk = events.slice(i, i + 500);
        const send = kinesis
          .send(new PutRecordsCommand({ StreamName: stream, Records: chunk.map((e) => ({ PartitionKey: e.card_id, Data: Buffer.from(JSON.stringify(e)) })) }))
          .then((r) => {
            if ((r.FailedRecordCount ?? 0) > 0) throw new Error(`kinesalite refused ${r.FailedRecordCount} records`);
          });
        sends.add(send);
        send.finally(() => sends.delete(send));
        produced += chunk.length;
      }
      while (sends.size >= 8) await Promise.race(sends);
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(sends);
    const ended = Date.now();
    phases.push({ phase, started, ended, before, after: { cpu: await cpu(), processed, calls: await calls(), produced, invocations: invocations.length, processes: processes() } });
  }
  // Drain: until every produced record was processed (or the drain time is up).
  const drainStarted = Date.now();
  while (processed < produced && Date.now() - drainStarted < config.drainSeconds * 1000) await new Promise((r) => setTimeout(r, 100));
  const drainSeconds = (Date.now() - drainStarted) / 1000;
  await new Promise((r) => setTimeout(r, 1000)); // the reader's last polls
  reading = false;
  clearInterval(progress);
  await reader;
  lambda.send('stop');
  await once(lambda, (m) => m.report !== undefined).catch(() => undefined);
  await new Promise((resolve) => (lambda.exitCode !== null ? resolve() : lambda.once('exit', resolve)));

  const spikeEnd = phases.find((p) => p.phase.rate === Math.max(...config.phases.map((q) => q.rate)))?.ended ?? 0;
  const lastOld = invocations.filter(([at, , age]) => at > spikeEnd && age > 1000).map(([at]) => at);
  const rows = phases.map(({ phase, started, ended, before, after }) => {
    const seconds = (ended - started) / 1000;
    const records = after.processed - before.processed;
    const phaseInvocations = invocations.slice(before.invocations, after.invocations);
    const ages = phaseInvocations.map(([, , age]) => age).sort((a, b) => a - b);
    const durations = phaseInvocations.map(([, , , ms]) => ms).sort((a, b) => a - b);
    const fresh = freshness.filter(([at]) => at >= started && at < ended).map(([, ms]) => ms).sort((a, b) => a - b);
    const writeCalls = after.calls.put - before.calls.put + (after.calls.batch - before.calls.batch);
    return {
      phase: phase.name,
      seconds: round(seconds, 1),
      offeredPerSecond: phase.rate,
      producedPerSecond: round((after.produced - before.produced) / seconds),
      processedPerSecond: round(records / seconds),
      handlerCpuMsPerRecord: records > 0 ? round(((after.cpu - before.cpu) * 1000) / records, 3) : null,
      handlerCpuShare: round((after.cpu - before.cpu) / seconds, 2),
      // Cores each process kept busy during the phase (2 in all on this machine).
      coresBusy: Object.fromEntries(Object.keys(after.processes).map((name) => [name, round((after.processes[name] - before.processes[name]) / seconds, 2)])),
      writeCallsPerRecord: records > 0 ? round(writeCalls / records, 3) : null,
      throttled: after.calls.throttled - before.calls.throttled,
      invocations: phaseInvocations.length,
      recordsPerInvocation: phaseInvocations.length > 0 ? round(phaseInvocations.reduce((n, [, , , , r]) => n + r, 0) / phaseInvocations.length) : 0,
      invocationP50Ms: percentile(durations, 0.5),
      iteratorAgeP50Ms: percentile(ages, 0.5),
      iteratorAgeMaxMs: ages.at(-1) ?? 0,
      freshnessSamples: fresh.length,
      freshnessP50Ms: percentile(fresh, 0.5),
      freshnessP99Ms: percentile(fresh, 0.99),
      freshnessMaxMs: fresh.at(-1) ?? 0,
    };
  });
  const unseen = [...pending.values()].reduce((n, w) => n + w.length, 0);
  const peakRow = rows.find((r) => r.offeredPerSecond === Math.max(...config.phases.map((q) => q.rate)));
  const recovered = lastOld.length === 0 ? 0 : round((Math.max(...lastOld) - spikeEnd) / 1000, 1);
  return {
    mode,
    phases: rows,
    produced,
    processed,
    lost: produced - processed,
    unseenSampledEvents: unseen,
    discarded: finalReport?.report.discarded.length ?? null,
    poison: finalReport?.poison ?? null,
    redelivered: finalReport?.report.redelivered ?? null,
    // DynamoDB calls of the aggregation state over the whole run, per record processed.
    stateCallsPerRecord: finalReport ? Object.fromEntries(Object.entries(finalReport.stateCalls).map(([name, n]) => [name, round(n / processed, 3)])) : null,
    drainSecondsAfterLastPhase: round(drainSeconds, 1),
    iteratorAgeUnder1sAfterSpikeSeconds: recovered,
    goal: `spike: freshness p99 <= ${config.windowSeconds + 1} s (batching window + 1 s), 0 lost, iterator age under 1 s within 30 s after it`,
    met: peakRow !== undefined && peakRow.freshnessP99Ms <= (config.windowSeconds + 1) * 1000 && produced === processed && recovered <= 30,
  };
}

export async function benchSpike(settings = spikeConfig()) {
  const groupModule = await bundleGroup();
  const { cardTransactions } = await import(groupModule);
  const { planCapacity } = await import('skewless/aws');
  const peak = Math.max(...settings.phases.map((p) => p.rate));
  // The profile as given, then again with its peak at each rate of `alsoAt` (what this machine carries).
  const profiles = [peak, ...settings.alsoAt].map((rate) => {
    const plan = planCapacity(cardTransactions, { rate });
    return {
      ...settings,
      phases: settings.phases.map((p) => (p.rate === peak ? { ...p, rate } : p)),
      tpsLimit: settings.tpsLimit ?? Math.round(rate),
      shards: settings.shards ?? plan.kinesis.shards,
      batchSize: settings.batchSize ?? plan.eventSourceMapping.BatchSize,
      windowSeconds: settings.windowSeconds ?? plan.eventSourceMapping.MaximumBatchingWindowInSeconds,
      parallelizationFactor: settings.parallelizationFactor ?? plan.eventSourceMapping.ParallelizationFactor,
      // What the plan promises at the peak: freshness within its bound (the batching window and one full batch's processing).
      planFreshnessBoundMs: Math.round(plan.freshness.boundSeconds * 1000),
    };
  });
  const emulatorsChild = childProcess('emulators');
  const emulators = { ...(await once(emulatorsChild, (m) => m.kinesis !== undefined)), pid: emulatorsChild.pid };
  const runs = [];
  try {
    for (const config of profiles) {
      for (const mode of config.modes) {
        const stack = await spawnStack();
        try {
          const run = await runSpike(config, mode, groupModule, stack, emulators);
          runs.push({
            peakPerSecond: Math.max(...config.phases.map((p) => p.rate)),
            shards: config.shards,
            batchSize: config.batchSize,
            windowSeconds: config.windowSeconds,
            parallelizationFactor: config.parallelizationFactor,
            planFreshnessBoundMs: config.planFreshnessBoundMs,
            tpsLimit: config.tpsLimit,
            ...run,
          });
        } finally {
          await stack.close();
        }
      }
    }
  } finally {
    emulatorsChild.kill('SIGTERM');
  }
  return {
    profile: settings.phases.map((p) => `${p.rate}/s for ${p.seconds} s`).join(', '),
    scale: round(peak / 10_000, 3),
    latencyMs: settings.latencyMs,
    hot: `${settings.hotCards} cards taking ${round(settings.hotShare * 100)}% of the spike's events each`,
    runs,
  };
}

const roleIndex = process.argv.indexOf('--role');
if (roleIndex >= 0) {
  const role = process.argv[roleIndex + 1];
  await (role === 'emulators' ? runEmulators() : runLambda());
} else if (process.argv[1] === SELF) {
  const result = await benchSpike();
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  for (const run of result.runs) {
    process.stdout.write(`\n${run.mode} at ${run.peakPerSecond}/s: produced ${run.produced}, processed ${run.processed}, lost ${run.lost}, drained ${run.drainSecondsAfterLastPhase} s after the last phase\n`);
    console.table(run.phases);
  }
}
