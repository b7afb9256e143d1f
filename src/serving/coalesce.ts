// Coalescing reads for a long-running server: single-identifier reads that arrive within a short
// window go out as one batched read per group, trading a few milliseconds of latency for calls
// against BatchGetRecord's quota (100 records a call) instead of GetRecord's (1 a call).
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { OnlineRecord, OnlineStore } from '../store/types.js';
import { checkOptions, countSchema, lazySchema, objectWith } from '../util/options.js';
import * as z from 'zod/mini';

export interface CoalesceReadsOptions {
  /** How long a read waits for others to join its batch, in milliseconds; default 2. */
  readonly windowMs?: number;
  /** Identifiers per batched read; default and at most 100 (BatchGetRecord's limit). */
  readonly maxBatch?: number;
}

const MAX_BATCH = 100;

const coalesceOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  windowMs: z.optional(countSchema('a whole number of milliseconds')),
  maxBatch: z.optional(
    countSchema('a whole number of identifiers').check(z.refine((n) => n >= 1 && n <= MAX_BATCH, { error: `1 to ${MAX_BATCH} identifiers a batch` })),
  ),
}));

const onlineStore = /* @__PURE__ */ lazySchema(() => objectWith(['put', 'get', 'getMany', 'delete', 'close'], 'an online store such as sageMakerOnline() or dynamoDbOnline()'));

interface Waiting {
  readonly id: string;
  readonly features: readonly string[] | undefined;
  resolve(found: OnlineRecord | undefined): void;
  reject(error: unknown): void;
}

interface Batch {
  readonly group: GroupSchema;
  readonly waiting: Waiting[];
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A record with only the features a caller asked for, as a projected GetRecord returns it. */
function project(found: OnlineRecord, features: readonly string[] | undefined): OnlineRecord {
  if (features === undefined || features.length === 0) return found;
  const wanted = new Set(features);
  return { ...found, record: found.record.filter((f) => wanted.has(f.FeatureName)) };
}

/**
 * Wraps an online store so that `get` calls arriving within `windowMs` of each other, for the same
 * group, are sent as one `getMany` (BatchGetRecord on SageMaker, up to 100 identifiers) reading the
 * union of the features asked for; each caller gets its own record, projected to its features, or
 * the batch's error. Writes, deletes and `getMany` pass through unchanged. For a server handling many
 * concurrent single-entity requests (`featureVectors` with one entity reads with `get`): each batch
 * costs one unit of BatchGetRecord's 500 TPS quota instead of one GetRecord unit per record, at the
 * price of up to `windowMs` of added latency.
 *
 * ### Example
 * ```ts
 * import { coalesceReads } from 'skewless';
 * const store = createFeatureStore({ online: coalesceReads(sageMakerOnline(), { windowMs: 2 }), offline: false });
 * ```
 */
export function coalesceReads(online: OnlineStore, options: CoalesceReadsOptions = {}): OnlineStore {
  // Checked here, not at the first read: the read runs on a timer, where nothing could catch the error.
  checkOptions(onlineStore, online, 'coalesceReads online store');
  checkOptions(coalesceOptions, options, 'coalesceReads options');
  const windowMs = options.windowMs ?? 2;
  const maxBatch = options.maxBatch ?? MAX_BATCH;
  const open = new Map<string, Batch>();

  const flush = (batch: Batch): void => {
    if (open.get(batch.group.name) === batch) open.delete(batch.group.name);
    if (batch.timer !== undefined) clearTimeout(batch.timer);
    const ids = [...new Set(batch.waiting.map((w) => w.id))];
    // One projection serves every caller only if each asked for some features; else read them all.
    const all = batch.waiting.some((w) => w.features === undefined || w.features.length === 0);
    const features = all ? undefined : [...new Set(batch.waiting.flatMap((w) => w.features ?? []))];
    // Called from a timer, where nothing could catch it: any error, thrown or rejected, while reading
    // or while handing out the records, goes to every caller of the batch (one already answered keeps its answer).
    (async () => {
      const found = await online.getMany(batch.group, ids, features ? { features } : {});
      for (const w of batch.waiting) {
        const hit = found.get(w.id);
        w.resolve(hit && project(hit, w.features));
      }
    })().catch((error: unknown) => {
      for (const w of batch.waiting) w.reject(error);
    });
  };

  return {
    ...(online.writesOffline !== undefined ? { writesOffline: online.writesOffline } : {}),
    put: (group, records, putOptions) => online.put(group, records, putOptions),
    getMany: (group, ids, getOptions) => online.getMany(group, ids, getOptions),
    delete: (group, id, eventTime, mode) => online.delete(group, id, eventTime, mode),
    close: () => online.close(),
    get(group, id, getOptions = {}) {
      return new Promise<OnlineRecord | undefined>((resolve, reject) => {
        let batch = open.get(group.name);
        if (batch === undefined || batch.group !== group) {
          if (batch) flush(batch);
          batch = { group, waiting: [], timer: undefined };
          open.set(group.name, batch);
          const started = batch;
          batch.timer = setTimeout(() => flush(started), windowMs);
        }
        batch.waiting.push({ id, features: getOptions.features, resolve, reject });
        if (new Set(batch.waiting.map((w) => w.id)).size >= maxBatch) flush(batch);
      });
    },
  };
}
