// The body of one backfill worker thread: runs one shard into the local offline store and reports.
// Started by `backfillOnWorkers`; not a public entry point.
import { parentPort, workerData } from 'node:worker_threads';
import { runBackfill } from '../backfill/backfill.js';
import { shardSource } from '../backfill/plan.js';
import { loadFeatureGroups, selectGroups } from '../definitions.js';
import { parquetDirOffline } from '../offline/file-store.js';
import type { WorkerJob, WorkerMessage } from './backfill-workers.js';

const job = workerData as WorkerJob;
const post = (message: WorkerMessage) => parentPort?.postMessage(message);

async function main(): Promise<void> {
  const [group] = selectGroups(await loadFeatureGroups(job.definitions), job.group);
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

main().catch((error: unknown) => post({ type: 'error', shard: job.shard.index, message: error instanceof Error ? error.message : String(error) }));
