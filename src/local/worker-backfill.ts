import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BackfillProgress, BackfillSummary } from '../backfill/backfill.js';
import { type BackfillShard, earlierPlanFiles } from '../backfill/plan.js';
import { removeDataFiles } from '../offline/data-files.js';
import { offlineDataPath } from '../offline/layout.js';
import { BackendError } from '../errors.js';
import * as z from 'zod/mini';
import { checkOptions, expected, functionSchema, lazySchema, positiveInteger } from '../util/options.js';
import { DEFAULT_DIR } from '../store/feature-store.js';

/** @internal What the parent sends a worker. */
export interface WorkerJob {
  readonly definitions: string;
  readonly group: string;
  readonly shard: BackfillShard;
  readonly offlineDir: string;
  readonly dir: string;
  readonly checkpoint: string | undefined;
  readonly chunkSize: number | undefined;
}

/** @internal What a worker sends back. */
export type WorkerMessage =
  | { readonly type: 'progress'; readonly shard: number; readonly progress: BackfillProgress }
  | { readonly type: 'done'; readonly shard: number; readonly summary: BackfillSummary }
  | { readonly type: 'error'; readonly shard: number; readonly message: string };

export interface WorkerBackfillProgress {
  readonly shards: number;
  readonly shardsDone: number;
  /** Rows read across all shards (finished and running). */
  readonly done: number;
  readonly written: number;
  readonly poison: number;
  readonly recordsPerSecond: number;
  /** Share of the plan done, counting each shard by its own progress. */
  readonly fraction: number;
  readonly etaSeconds: number | undefined;
}

export interface WorkerBackfillOptions {
  /** The definitions module (built JavaScript) that exports the group. */
  readonly definitions: string;
  readonly group: string;
  readonly shards: readonly BackfillShard[];
  /** Worker threads at once; default 2. */
  readonly workers?: number;
  /** The store directory (as `createFeatureStore({ dir })`); offline files go to `<dir>/offline`. Default `.skewless`. */
  readonly dir?: string;
  /** One checkpoint per shard here: a rerun after a crash resumes every shard where it stopped. */
  readonly checkpointDir?: string;
  readonly chunkSize?: number;
  /**
   * Old-generation heap limit of each worker, in MB; default 256. A worker holds one chunk at a time,
   * so this bounds memory (two workers of the 12-feature benchmark group peak near 320 MB) without
   * slowing it; raise it, or lower `chunkSize`, for records near SageMaker's 350 KB limit.
   */
  readonly maxWorkerHeapMb?: number;
  readonly onProgress?: (progress: WorkerBackfillProgress) => void;
  /** Aborting terminates the workers at once (what a crash does); checkpoints let a rerun resume. */
  readonly signal?: AbortSignal;
  /** The worker script; default the one shipped next to this module in `dist/`. */
  readonly workerScript?: string | URL;
}

export interface WorkerBackfillSummary {
  readonly shards: readonly BackfillSummary[];
  readonly records: number;
  readonly written: number;
  readonly poison: number;
  readonly durationMs: number;
  readonly recordsPerSecond: number;
}

function defaultWorkerScript(): string | URL {
  // dist/ holds backfill-thread.js beside this module's chunk, in both the ESM and the CJS build.
  return typeof __dirname === 'string' ? join(__dirname, 'backfill-thread.js') : new URL('./backfill-thread.js', import.meta.url);
}

const WORKER_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  definitions: z.string({ error: expected('the path of a module that exports the feature groups') }),
  group: z.string({ error: expected("a feature group's name") }),
  shards: z.array(z.object({ index: z.number(), source: z.object({}) }), { error: expected('the shards planBackfill returned') }),
  workers: z.optional(positiveInteger()),
  dir: z.optional(z.string({ error: expected('a directory path') })),
  checkpointDir: z.optional(z.string({ error: expected('a directory path') })),
  chunkSize: z.optional(positiveInteger()),
  maxWorkerHeapMb: z.optional(positiveInteger()),
  onProgress: z.optional(functionSchema('a function')),
  signal: z.optional(z.custom<AbortSignal>((value) => value instanceof AbortSignal, { error: expected('an AbortSignal') })),
  workerScript: z.optional(z.union([z.string(), z.instanceof(URL)], { error: expected('a path or URL') })),
}));

/**
 * Runs the shards of a plan on worker threads into the local offline store, `workers` at a time,
 * with combined progress. Each shard keeps its own checkpoint, so a run that was killed resumes.
 * Online writes are not done here: follow with `backfill(store, group, { from, to: 'online' })`.
 *
 * ### Example
 * ```ts
 * const shards = await planBackfill(cardActivity, { from: ndjsonFile('history.ndjson'), shards: 8 });
 * await backfillOnWorkers({ definitions: 'dist/features.js', group: 'card-activity', shards, workers: 2 });
 * ```
 */
export async function backfillOnWorkers(options: WorkerBackfillOptions): Promise<WorkerBackfillSummary> {
  checkOptions(WORKER_OPTIONS, options, 'backfillOnWorkers options');
  const started = Date.now();
  const dir = options.dir ?? DEFAULT_DIR;
  const script = options.workerScript ?? defaultWorkerScript();
  const pending = [...options.shards];
  const running = new Map<number, { worker: Worker; progress: BackfillProgress | undefined }>();
  const finished: BackfillSummary[] = [];
  let aborted = false;

  const report = () => {
    if (!options.onProgress) return;
    let done = 0;
    let written = 0;
    let poison = 0;
    let fractions = finished.length;
    for (const s of finished) {
      done += s.records;
      written += s.written;
      poison += s.poison;
    }
    for (const { progress } of running.values()) {
      if (!progress) continue;
      done += progress.done;
      written += progress.written;
      poison += progress.poison;
      fractions += progress.fraction ?? 0;
    }
    const elapsed = (Date.now() - started) / 1000;
    const fraction = options.shards.length > 0 ? fractions / options.shards.length : 1;
    options.onProgress({
      shards: options.shards.length,
      shardsDone: finished.length,
      done,
      written,
      poison,
      recordsPerSecond: elapsed > 0 ? Math.round(done / elapsed) : 0,
      fraction,
      etaSeconds: fraction > 0 && fraction < 1 ? (elapsed * (1 - fraction)) / fraction : fraction >= 1 ? 0 : undefined,
    });
  };

  const jobOf = (shard: BackfillShard): WorkerJob => ({
    definitions: options.definitions,
    group: options.group,
    shard,
    offlineDir: join(dir, 'offline'),
    dir,
    checkpoint: options.checkpointDir ? join(options.checkpointDir, `${options.group}-shard-${String(shard.index).padStart(5, '0')}.json`) : undefined,
    chunkSize: options.chunkSize,
  });

  /**
   * One lane: a worker that runs shards one after another, taking the next from `pending` when one
   * is done (the definitions load and the code warms up once per worker), then is terminated.
   */
  const runLane = (first: BackfillShard) =>
    new Promise<void>((resolve, reject) => {
      let shard = first;
      const worker = startWorker(script, jobOf(first), options.maxWorkerHeapMb ?? 256);
      running.set(shard.index, { worker, progress: undefined });
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        running.delete(shard.index);
        void worker.terminate();
        reject(error);
      };
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'progress') {
          const lane = running.get(message.shard);
          if (lane) lane.progress = message.progress;
          report();
        } else if (message.type === 'done') {
          running.delete(shard.index);
          finished.push(message.summary);
          report();
          const next = pending.shift();
          if (!next) {
            settled = true;
            void worker.terminate();
            resolve();
            return;
          }
          shard = next;
          running.set(shard.index, { worker, progress: undefined });
          worker.postMessage(jobOf(next));
        } else {
          fail(new BackendError('WRITE_FAILED', `backfill shard ${shard.index} failed: ${message.message}`, { group: options.group }));
        }
      });
      worker.on('error', fail);
      worker.on('exit', (code) => fail(aborted ? abortError() : new BackendError('WRITE_FAILED', `backfill shard ${shard.index}: worker exited with code ${code}`, { group: options.group })));
    });

  const onAbort = () => {
    aborted = true;
    pending.length = 0;
    for (const { worker } of running.values()) void worker.terminate();
  };
  if (options.signal?.aborted) throw abortError();
  // What a run of these sources under another plan left (another number of shards, a file changed
  // since) goes first; each shard run from the start replaces its own files.
  removeDataFiles(offlineDataPath(join(dir, 'offline'), options.group), earlierPlanFiles(options.shards));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const lanes = Array.from({ length: Math.max(1, Math.min(options.workers ?? 2, options.shards.length)) }, async () => {
      const first = pending.shift();
      if (first) await runLane(first);
    });
    const results = await Promise.allSettled(lanes);
    if (aborted) throw abortError();
    const failure = results.find((r) => r.status === 'rejected');
    if (failure) {
      onAbort();
      throw (failure as PromiseRejectedResult).reason;
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  finished.sort((a, b) => a.key.localeCompare(b.key));
  const durationMs = Date.now() - started;
  const records = finished.reduce((n, s) => n + s.records, 0);
  return {
    shards: finished,
    records,
    written: finished.reduce((n, s) => n + s.written, 0),
    poison: finished.reduce((n, s) => n + s.poison, 0),
    durationMs,
    recordsPerSecond: durationMs > 0 ? Math.round((records * 1000) / durationMs) : records,
  };
}

/**
 * A worker thread running `script`. It inherits the process's flags, V8 ones included (they are the
 * process's); only `--input-type` (from `node -e`) is refused for a file, and a worker given an
 * explicit flag list refuses V8 flags, so the list is passed only to drop `--input-type`.
 */
function startWorker(script: string | URL, job: WorkerJob, heapMb: number): Worker {
  const options = { workerData: job, resourceLimits: { maxOldGenerationSizeMb: heapMb } };
  if (!process.execArgv.some((a) => a.startsWith('--input-type'))) return new Worker(script, options);
  try {
    return new Worker(script, { ...options, execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')) });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(script, { ...options, execArgv: [] });
  }
}

function abortError(): Error {
  const error = new Error('the backfill was aborted; run it again with the same checkpointDir to resume');
  error.name = 'AbortError';
  return error;
}
