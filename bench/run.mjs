// Runs every benchmark, writes bench/results.json and refreshes the table in README.md.
// Benchmarks are measurements, not tests: goals are reported as met or not, never asserted.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { benchAggregations } from './aggregations.mjs';
import { benchAws } from './aws.mjs';
import { benchBackfill } from './backfill.mjs';
import { benchLambda } from './lambda.mjs';
import { benchTraining } from './training.mjs';
import { benchEndpoint, benchLocalOnline } from './local.mjs';
import { benchPipeline } from './pipeline.mjs';
import { benchServing } from './serving.mjs';
import { benchSpike } from './spike.mjs';
import { benchWritePath, WRITE_MODES } from './write-path.mjs';

const benches = [
  {
    id: 'pipeline',
    title: 'Pipeline vs bare base64 JSON decode (12-feature group)',
    run: benchPipeline,
    rows: (r) => [
      ['bare `JSON.parse(Buffer.from(data, "base64"))`', `${r.bareDecodeRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ['full pipeline (decode, validate, transform, validate, encode)', `${r.pipelineRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ['pipeline / bare decode', String(r.ratio), '', ''],
      ["the same with `import 'zod/compile'` first (zod's compiled parsers)", `${r.compiledPipelineRecordsPerSecond.toLocaleString('en-US')} records/s, ratio ${r.compiledRatio}`, r.goal, r.met ? 'yes' : 'no'],
    ],
  },
  {
    id: 'localOnline',
    title: 'Local online store, in-process (DuckDB)',
    run: benchLocalOnline,
    rows: (r) => [
      [`batched upserts (${r.batch.toLocaleString('en-US')} per batch)`, `${r.upsertsPerSecond.toLocaleString('en-US')} records/s`, r.goal, r.met ? 'yes' : 'no'],
      ['get latency p50 / p99', `${r.getP50Ms} ms / ${r.getP99Ms} ms`, '', ''],
    ],
  },
  {
    id: 'endpoint',
    title: 'Local stack endpoint over loopback (own process)',
    run: benchEndpoint,
    rows: (r) => [
      [`PutRecord, AWS SDK v3 client, concurrency ${r.concurrency}`, `${r.putRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      [`PutRecord, raw HTTP keep-alive, concurrency ${r.concurrency}`, `${r.rawHttpPutRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ['GetRecord latency p50 / p99 (SDK client)', `${r.getRecordP50Ms} ms / ${r.getRecordP99Ms} ms`, r.goal, r.met ? 'yes' : 'no'],
    ],
  },
  {
    id: 'aws',
    title: 'sageMakerOnline against the local stack (own process)',
    run: benchAws,
    rows: (r) => [
      [`getMany of ${r.getManyIds.toLocaleString('en-US')} ids, ${r.injectedLatencyMs} ms injected latency`, `${r.getManyMs} ms = ${r.getManyLatencyMultiple}× one call`, r.getManyGoal, r.getManyMet ? 'yes' : 'no'],
      [`PutRecord, concurrency ${r.putConcurrency}, ${r.putInjectedLatencyMs} ms injected latency`, `${r.putRecordsPerSecond.toLocaleString('en-US')} records/s = ${r.putFractionOfBound} of ${r.putBoundPerSecond.toLocaleString('en-US')}/s`, r.putGoal, r.putMet ? 'yes' : 'no'],
      ['client CPU per PutRecord (SDK v3 build, sign, parse) and the rate one core can issue', `${r.putClientCpuMsPerCall} ms = at most ${r.putCpuBoundPerSecond.toLocaleString('en-US')}/s`, '', ''],
      [`PutRecord, concurrency ${r.putConcurrency}, ${r.putSlowLatencyMs} ms injected latency`, `${r.putSlowRecordsPerSecond.toLocaleString('en-US')} records/s = ${r.putSlowFractionOfBound} of ${Math.round((r.putConcurrency * 1000) / r.putSlowLatencyMs).toLocaleString('en-US')}/s`, '', ''],
      ['overhead over the bare SDK client (GetRecord / PutRecord)', `${r.getOverheadPercent}% / ${r.putOverheadPercent}%`, r.overheadGoal, r.overheadMet ? 'yes' : 'no'],
    ],
  },
  {
    id: 'writePath',
    title: 'Write path per core: kinesisHandler + sageMakerOnline, local stack (own process), 10 ms latency',
    run: benchWritePath,
    rows: (r) =>
      Object.keys(WRITE_MODES).map((mode) => [
        `${mode}, ${r.batches} batches of ${r.batch} (${r.hotShare * 100}% two hot cards)`,
        `${r[mode].recordsPerSecond.toLocaleString('en-US')} records/s; ${r[mode].cpuMsPerRecord} ms CPU = ${r[mode].recordsPerCoreSecond.toLocaleString('en-US')}/core-s; ${r[mode].callsPerRecord} calls/record`,
        mode === 'batchWriteCollapse' ? '>= 5,000 records/s on one core' : '',
        mode === 'batchWriteCollapse' ? (r[mode].recordsPerSecond >= 5000 ? 'yes' : 'no') : '',
      ]),
  },
  {
    id: 'spike',
    title: 'Spike: producer -> kinesalite -> event source mapping -> kinesisHandler -> local stack, state on dynalite',
    run: benchSpike,
    rows: (r) =>
      r.runs.flatMap((run) =>
        run.phases.map((p) => [
          `${run.mode}, ${run.shards} shard${run.shards === 1 ? '' : 's'} × ParallelizationFactor ${run.parallelizationFactor} (the plan's for ${run.peakPerSecond.toLocaleString('en-US')}/s), ${p.phase} (${p.offeredPerSecond.toLocaleString('en-US')}/s offered)`,
          `${p.processedPerSecond.toLocaleString('en-US')} records/s, ${p.handlerCpuMsPerRecord} ms handler CPU/record, iterator age max ${p.iteratorAgeMaxMs} ms` +
            (p.freshnessSamples > 0 ? `, freshness p50/p99/max ${p.freshnessP50Ms}/${p.freshnessP99Ms}/${p.freshnessMaxMs} ms` : ''),
          p.offeredPerSecond === Math.max(...run.phases.map((q) => q.offeredPerSecond)) ? run.goal : '',
          p.offeredPerSecond === Math.max(...run.phases.map((q) => q.offeredPerSecond)) ? (run.met ? 'yes' : 'no') : '',
        ]),
      ),
  },
  {
    id: 'lambda',
    title: 'Ingestion Lambda (kinesisHandler)',
    run: benchLambda,
    rows: (r) => [
      [`${r.batch.toLocaleString('en-US')}-record Kinesis batch, in-memory online store (offline: false, as on SageMaker)${r.oneCore ? ', pinned to one core (each core measured, the quicker kept)' : ''}`, `${r.recordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ["the same, with `import 'zod/compile'` first in the Lambda (zod's compiled parsers)", `${r.compiledRecordsPerSecond.toLocaleString('en-US')} records/s`, r.throughputGoal, r.throughputMet ? 'yes' : 'no'],
      ['the first, also appending to an in-memory offline store', `${r.withOfflineRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ["bundle of kinesisHandler + sageMakerOnline, README's esbuild command: skewless alone (zod external)", `${(r.bundleBytes / 1024).toFixed(1)} KB`, r.bundleGoal, r.bundleMet ? 'yes' : 'no'],
      ['the whole bundle with the quick-start group written with zod/mini (zod included)', `${(r.miniBundleBytes / 1024).toFixed(1)} KB`, r.miniBundleGoal, r.miniBundleMet ? 'yes' : 'no'],
      ['the whole bundle with the group written with zod (zod included)', `${(r.fullZodBundleBytes / 1024).toFixed(1)} KB`, '', ''],
      ['bundle import time (cold start, zod/mini bundle)', `${r.importMs} ms`, '', ''],
    ],
  },
  {
    id: 'serving',
    title: 'Serving: featureVectors, 3 groups x 10 features (local stack in its own process)',
    run: benchServing,
    rows: (r) => {
      const at = `${r.injectedLatencyMs} ms injected latency`;
      const strategy = (s) => `p50 ${s.p50Ms} ms = ${s.multipleOfOneCall}× one call, p99 ${s.p99Ms} ms; ${s.calls}, ${s.recordsPerQuotaUnit} record${s.recordsPerQuotaUnit === 1 ? '' : 's'} per quota unit = ${s.vectorsPerSecondAtQuota.toLocaleString('en-US')} vectors/s at the account quota`;
      return [
        [`one bare GetRecord, ${at} (the "one call")`, `p50 ${r.oneCall.p50Ms} ms, p99 ${r.oneCall.p99Ms} ms`, '', ''],
        ['1 entity: featureVectors (concurrent GetRecord per group)', strategy(r.vectors1), r.oneEntityGoal, r.oneEntityMet ? 'yes' : 'no'],
        ['1 entity, alternative: one BatchGetRecord holding the 3 groups (bare)', strategy(r.bare1OneBatch), '', ''],
        [`${r.entities} entities: featureVectors (BatchGetRecord per group, chunks of ≤ 100)`, strategy(r.vectors100), r.manyEntitiesGoal, r.manyEntitiesMet ? 'yes' : 'no'],
        [`${r.entities} entities, alternative: ${r.entities * r.groups} concurrent GetRecords (bare)`, strategy(r.bare100ConcurrentGets), '', ''],
        ['overhead over the same SDK calls made bare (1 entity / 100 entities)', `${r.overhead1Percent}% / ${r.overhead100Percent}%`, r.overheadGoal, r.overheadMet ? 'yes' : 'no'],
        ['skewless CPU per served row, memory store in a fresh process: 100 entities / 1 entity (whole call minus the store\'s reads)', `${r.manyOwnUsPerRow} µs / ${r.singleOwnUsPerRow} µs (whole call ${r.manyUsPerRow} / ${r.singleUsPerRow} µs)`, r.cpuGoal, r.cpuMet ? 'yes' : 'no'],
        ["bundle of featureVectorHandler + sageMakerOnline, README's esbuild command, zod external", `${(r.bundleBytes / 1024).toFixed(1)} KB`, r.bundleGoal, r.bundleMet ? 'yes' : 'no'],
      ];
    },
  },
  {
    id: 'aggregations',
    title: 'Window aggregations (4 aggregates: count 1h, sum/max 24h, distinctCount 24h)',
    run: benchAggregations,
    rows: (r) => [
      [`pipeline without / with the aggregates, ${r.records.toLocaleString('en-US')} events over ${r.cards.toLocaleString('en-US')} cards`, `${r.plainRecordsPerSecond.toLocaleString('en-US')} / ${r.aggregatedRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      ['one hot entity (every event the same card; state compacted)', `${r.hotEntityRecordsPerSecond.toLocaleString('en-US')} records/s`, '', ''],
      [`DynamoDB round trips, ${r.batch.toLocaleString('en-US')}-record Kinesis batch (dynalite): cold batch, ${r.coldEntities} entities`, `${r.coldRoundTrips} (BatchGetItem per 50, a save each, marks 25 to a BatchWriteItem)`, '', ''],
      ['the same, warm Lambda: round trips per distinct entity', `${r.warmRoundTripsPerEntity} (batch ${r.warmBatchMs} ms)`, r.goal, r.met ? 'yes' : 'no'],
    ],
  },
  {
    id: 'backfill',
    title: 'Backfill: NDJSON -> local offline Parquet (12-feature group)',
    run: benchBackfill,
    rows: (r) => [
      [`${r.records.toLocaleString('en-US')} records (${r.fileMb.toLocaleString('en-US')} MB), 1 worker`, `${r.oneWorker.recordsPerSecond.toLocaleString('en-US')} records/s, peak RSS ${r.oneWorker.peakRssMb} MB`, '', ''],
      [`${r.records.toLocaleString('en-US')} records, 2 workers`, `${r.twoWorkers.recordsPerSecond.toLocaleString('en-US')} records/s`, r.throughputGoal, r.throughputMet ? 'yes' : 'no'],
      ['peak memory, 2 workers (RSS, threads included)', `${r.twoWorkers.peakRssMb} MB`, r.memoryGoal, r.memoryMet ? 'yes' : 'no'],
    ],
  },
  {
    id: 'training',
    title: 'Training set: point-in-time join (local engine)',
    run: benchTraining,
    rows: (r) => [
      [`${r.spineRows.toLocaleString('en-US')} spine x ${r.featureRows.toLocaleString('en-US')} feature rows (${r.entities.toLocaleString('en-US')} entities), Parquet in and out`, `${r.skewlessSeconds} s, peak RSS ${r.skewlessPeakRssMb} MB`, '', ''],
      ['bare DuckDB ASOF LEFT JOIN on the same files (no ties, deletes or maxAge)', `${r.bareAsofSeconds} s = skewless / bare ${r.vsBare}x`, r.bareGoal, r.bareMet ? 'yes' : 'no'],
      r.pandasSeconds === undefined
        ? ['pandas merge_asof', r.pandas, '>= 3x faster than pandas', 'not run']
        : ['pandas merge_asof (CSV in and out; merge alone ' + r.pandasMergeSeconds + ' s)', `${r.pandasSeconds} s = ${r.vsPandas}x skewless, peak RSS ${r.pandasPeakRssMb} MB`, r.pandasGoal, r.pandasMet ? 'yes' : 'no'],
      [`reference engine, ${r.referenceSpineRows.toLocaleString('en-US')} x ${r.referenceFeatureRows.toLocaleString('en-US')}`, `${r.referenceSeconds} s, peak RSS ${r.referencePeakRssMb} MB`, '', ''],
    ],
  },
];

// Each benchmark runs in a fresh process, so one's heap and JIT state cannot skew the next one's figures.
const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  const bench = benches.find((b) => b.id === process.argv[childIndex + 1]);
  process.stdout.write(`${JSON.stringify(await bench.run())}\n`);
  process.exit(0);
}

function runChild(id) {
  const output = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', id], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' },
  });
  return JSON.parse(output.trim().split('\n').pop());
}

// `node bench/run.mjs aws lambda` reruns only those and keeps the other figures of results.json.
const only = process.argv.slice(2);
const resultsUrl = new URL('./results.json', import.meta.url);
const previous = only.length > 0 && existsSync(resultsUrl) ? JSON.parse(readFileSync(resultsUrl, 'utf8')) : undefined;
const results = {
  date: new Date().toISOString(),
  node: process.version,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  results: { ...(previous?.results ?? {}) },
};
const table = ['| benchmark | measure | figure | goal | met |', '|---|---|---|---|---|'];
for (const bench of benches) {
  if (only.length === 0 || only.includes(bench.id)) {
    process.stdout.write(`running ${bench.id}...\n`);
    results.results[bench.id] = runChild(bench.id);
  }
  const result = results.results[bench.id];
  if (!result) continue;
  for (const [measure, figure, goal, met] of bench.rows(result)) {
    table.push(`| ${bench.title} | ${measure} | ${figure} | ${goal} | ${met} |`);
  }
}
// The day each figure was measured: a rerun of some dates only those.
const today = results.date.slice(0, 10);
results.measured = Object.fromEntries(
  Object.keys(results.results).map((id) => [id, only.length === 0 || only.includes(id) ? today : (previous?.measured?.[id] ?? previous?.date.slice(0, 10))]),
);
const days = Object.values(results.measured);
const count = (day) => days.filter((d) => d === day).length;
const usual = [...days].sort((a, b) => count(b) - count(a))[0];
const others = Object.entries(results.measured).filter(([, day]) => day !== usual).map(([id, day]) => `${id} ${day}`);
const when = others.length === 0 ? usual : `${usual} (${others.join(', ')})`;
const tableText = `${table.join('\n')}\n\n_${results.node} on ${results.cores} × ${results.cpu}, ${when}; \`npm run bench\` refreshes this table and bench/results.json (\`node bench/run.mjs <id>...\` reruns some)._`;
process.stdout.write(`\n${tableText}\n`);

writeFileSync(resultsUrl, `${JSON.stringify(results, null, 2)}\n`);
const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
writeFileSync(readmeUrl, readme.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${tableText}\n<!-- bench:end -->`));
