// The ingestion Lambda: handler throughput on an in-memory store, bundle size and import time.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const onOneCore = process.platform === 'linux' && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const BATCH = 10_000;

/**
 * Records/s of a warm handler in a fresh Node process started with `flags`: 30 batches, each into a
 * fresh store (so every record is a new write), the median of all but the first five (JIT warm-up,
 * and V8 sizing its young generation to the load, as it does in a warm Lambda).
 *
 * `withOffline: false` is the deployed shape (SageMaker PutRecord delivers the offline store itself,
 * so the Lambda's store has `offline: false`); `true` also appends every record to an in-memory
 * offline store, as a DynamoDB + S3 deployment would.
 */
function handlerThroughput(withOffline, flags = []) {
  const script = `
    import { createFeatureStore } from ${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)};
    import { kinesisHandler } from ${JSON.stringify(new URL('../dist/lambda.js', import.meta.url).href)};
    import { kinesisEvent, memoryOffline, memoryOnline } from ${JSON.stringify(new URL('../dist/testing.js', import.meta.url).href)};
    import { cardEvents, cardTransactions } from ${JSON.stringify(new URL('./groups.mjs', import.meta.url).href)};
    const event = kinesisEvent(cardEvents(${BATCH}));
    const rates = [];
    for (let round = 0; round < 30; round++) {
      const store = createFeatureStore({ online: memoryOnline(), offline: ${withOffline} ? memoryOffline() : false });
      const handler = kinesisHandler(cardTransactions, { store, log: false });
      const started = performance.now();
      const response = await handler(event);
      if (response.batchItemFailures.length > 0) throw new Error('the benchmark batch reported failures');
      if (round >= 5) rates.push(${BATCH} / ((performance.now() - started) / 1000));
      await store.close();
    }
    rates.sort((a, b) => a - b);
    console.log(Math.round(rates[rates.length >> 1]));`;
  // Pinned to one core where taskset exists (the goal is per core; V8's GC threads would use a second).
  const node = [process.execPath, ...flags, '--input-type=module', '-e', script];
  const [command, ...args] = onOneCore ? ['taskset', '-c', '0', ...node] : node;
  const out = execFileSync(command, args, { encoding: 'utf8' });
  return Number(out.trim().split('\n').pop());
}

function bundle() {
  const dir = fileURLToPath(new URL('./.data/lambda-bundle/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    `${dir}entry.mjs`,
    `import { z } from 'zod';
import { createFeatureStore, defineFeatureGroup, isoTimestamp } from 'skewless';
import { sageMakerOnline } from 'skewless/aws';
import { kinesisHandler } from 'skewless/lambda';
const cardActivity = defineFeatureGroup({
  name: 'card-activity', recordIdentifier: 'card_id', eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount_cents: z.number().int(), country: z.string(), ts: isoTimestamp() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number(), is_foreign: z.boolean() }),
  transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100, is_foreign: e.country !== 'US' }),
});
export const handler = kinesisHandler(cardActivity, { store: createFeatureStore({ online: sageMakerOnline(), offline: false }) });
`,
  );
  const dist = fileURLToPath(new URL('../dist/', import.meta.url));
  buildSync({
    entryPoints: [`${dir}entry.mjs`],
    outfile: `${dir}handler.mjs`,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    external: ['@aws-sdk/*', 'zod'],
    alias: { skewless: `${dist}index.js`, 'skewless/aws': `${dist}aws.js`, 'skewless/lambda': `${dist}lambda.js` },
    logLevel: 'error',
  });
  const bytes = statSync(`${dir}handler.mjs`).size;
  // Cold start: a fresh Node process importing the bundle (zod included, the AWS SDK loads on first call).
  const times = [];
  for (let i = 0; i < 5; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `const t = performance.now(); await import(${JSON.stringify(`${dir}handler.mjs`)}); console.log(performance.now() - t);`], { encoding: 'utf8' });
    times.push(Number(out.trim()));
  }
  return { bytes, importMs: Number(median(times).toFixed(1)) };
}

export async function benchLambda() {
  const recordsPerSecond = handlerThroughput(false);
  const withOfflineRecordsPerSecond = handlerThroughput(true);
  // A 10,000-record batch keeps its records alive until written: with V8's default semi-space, most
  // are copied by scavenges and promoted. On Lambda: NODE_OPTIONS=--max-semi-space-size=64.
  const largeYoungGenerationRecordsPerSecond = handlerThroughput(false, ['--max-semi-space-size=64']);
  const { bytes, importMs } = bundle();
  return {
    batch: BATCH,
    oneCore: onOneCore,
    recordsPerSecond,
    throughputGoal: '>= 100,000 records/s on one core',
    throughputMet: recordsPerSecond >= 100_000,
    withOfflineRecordsPerSecond,
    largeYoungGenerationRecordsPerSecond,
    bundleBytes: bytes,
    bundleGoal: '<= 40 KB (minified; AWS SDK and zod external)',
    bundleMet: bytes <= 40 * 1024,
    importMs,
  };
}
