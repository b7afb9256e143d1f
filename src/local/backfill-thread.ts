// The body of one backfill worker thread: runs shards into the local offline store and reports.
// Started by `backfillOnWorkers`; not a public entry point.
import { parentPort, workerData } from 'node:worker_threads';
import { runBackfill } from '../backfill/backfill.js';
import { shardSource } from '../backfill/plan.js';
import { loadFeatureGroups, selectGroups } from '../load-groups.js';
import { parquetDirOffline } from '../offline/file-store.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { WorkerJob, WorkerMessage } from './worker-backfill.js';

const post = (message: WorkerMessage) => parentPort?.postMessage(message);
// A worker runs shard after shard (its first in workerData, the next ones as messages), so the
// definitions load and the code warms up once per worker, not once per shard.
// Every job of one worker comes from the same `backfillOnWorkers` call, so the same definitions.
let groups: Promise<Map<string, AnyFeatureGroup>> | undefined;

async function run(job: WorkerJob): Promise<void> {
  groups ??= loadFeatureGroups(job.definitions);
  const [group] = selectGroups(await groups, job.group);
  if (!group) throw new Error(`no group ${job.group}`);
  // Pure-JS Parquet, no DuckDB: a native module must not be running when a worker is terminated.
  const offline = parquetDirOffline({ dir: job.offlineDir });
  const summary = await runBackfill(
    group,
    {
      from: shardSource(job.shard),
      ...(job.shard.range ? { range: job.shard.range } : {}),
      ...(job.checkpoint ? { checkpoint: job.checkpoint } : {}),
      ...(job.chunkSize ? { chunkSize: job.chunkSize } : {}),
      // Workers are the parallelism: one chunk at a time each keeps memory flat (two workers, two chunks).
      concurrency: 1,
      onProgress: (progress) => post({ type: 'progress', shard: job.shard.index, progress }),
    },
    { offline, online: undefined, dir: job.dir, now: Date.now },
  );
  post({ type: 'done', shard: job.shard.index, summary });
}

const start = (job: WorkerJob) =>
  run(job).catch((error: unknown) => post({ type: 'error', shard: job.shard.index, message: error instanceof Error ? error.message : String(error) }));

parentPort?.on('message', (job: WorkerJob) => void start(job));
void start(workerData as WorkerJob);
