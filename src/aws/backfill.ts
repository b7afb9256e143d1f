import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BackfillSummary } from '../backfill/backfill.js';
import { csvRowReader } from '../backfill/tabular.js';
import { type BackfillShard, backfillShard } from '../backfill/plan.js';
import { type BackfillItem, type BackfillSource, type ByteSource, parquetSource, type SourceSpec } from '../backfill/sources/index.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { FeatureStore } from '../store/feature-store.js';
import { resultFileRows, runAthenaQuery } from './athena-query.js';
import { clientConfig, countAttempts, type RetryOptions } from './retry.js';
import { s3ReadError } from './errors.js';
import { loadAthena, loadS3 } from './sdk.js';
import { type AwsClient, sdkClient } from './clients.js';
import * as z from 'zod/mini';
import { requireGroup } from '../feature-group.js';
import { checkOptions, expected, lazySchema, objectWith, positiveInteger } from '../util/options.js';
import { awsClient, bucketName, objectKey, retryOptions, s3Location, text } from './options.js';

/** Options of an S3 object read (`s3ParquetFile`, `s3Spine`). */
export const S3_OBJECT_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  bucket: bucketName(),
  key: objectKey('key').check(z.minLength(1, 'an object key cannot be empty')),
  client: z.optional(awsClient()),
  retry: z.optional(retryOptions()),
}));

/** Options of an Athena query read (`athenaSource`, `athenaSpine`). */
export const ATHENA_SOURCE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  query: z.string({ error: expected('an SQL query') }).check(z.minLength(1, 'the query cannot be empty')),
  outputLocation: s3Location(),
  database: z.optional(text('a Glue database name')),
  workGroup: z.optional(text('a work group name')),
  athena: z.optional(awsClient()),
  s3: z.optional(awsClient()),
  retry: z.optional(retryOptions()),
}));

const SHARD_HANDLER_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  store: objectWith(['ingest', 'backends'], 'a feature store (createFeatureStore)'),
  rejects: z.optional(z.strictObject({ bucket: bucketName(), prefix: z.optional(objectKey('prefix')) })),
  s3: z.optional(awsClient()),
  athena: z.optional(awsClient()),
  chunkSize: z.optional(positiveInteger()),
}));

export interface S3ObjectOptions {
  readonly bucket: string;
  readonly key: string;
  readonly client?: AwsClient;
  readonly retry?: RetryOptions;
}

async function s3Client(client: S3Client | undefined, retry: RetryOptions | undefined): Promise<S3Client> {
  return client ?? new (await loadS3()).S3Client(clientConfig(retry));
}

/** Ranged GETs over an S3 object: the Parquet reader fetches the footer and the row groups it needs. */
async function s3Bytes(options: S3ObjectOptions): Promise<ByteSource> {
  const m = await loadS3();
  const client = await s3Client(sdkClient<S3Client>(options.client), options.retry);
  const retry = options.retry ?? {};
  const read = async <R>(call: () => Promise<R>): Promise<R> => {
    try {
      return await countAttempts(call, retry);
    } catch (error) {
      throw s3ReadError(error, options.bucket, options.key);
    }
  };
  const head = await read(() => client.send(new m.HeadObjectCommand({ Bucket: options.bucket, Key: options.key })));
  const size = head.ContentLength ?? 0;
  return {
    byteLength: size,
    async slice(start, end = size) {
      if (end <= start) return new ArrayBuffer(0);
      const object = await read(() => client.send(new m.GetObjectCommand({ Bucket: options.bucket, Key: options.key, Range: `bytes=${start}-${end - 1}` })));
      const bytes = await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
    async close() {
      if (!options.client) client.destroy();
    },
  };
}

/**
 * A Parquet object on S3 as a backfill source, read with ranged GETs one row group at a time (never
 * downloaded whole), splittable by row groups for `planBackfill`.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: s3ParquetFile({ bucket: 'exports', key: 'cards/2024-05.parquet' }) });
 * ```
 */
export function s3ParquetFile(options: S3ObjectOptions): BackfillSource {
  checkOptions(S3_OBJECT_OPTIONS, options, 's3ParquetFile options');
  return parquetSource(`s3-parquet:s3://${options.bucket}/${options.key}`, () => s3Bytes(options), { kind: 's3-parquet', bucket: options.bucket, key: options.key });
}

export interface AthenaSourceOptions {
  /** The query whose rows are the raw events; its column names are the source schema's fields. */
  readonly query: string;
  /** `s3://bucket/prefix/` for the query's result file. */
  readonly outputLocation: string;
  readonly database?: string;
  readonly workGroup?: string;
  readonly athena?: AwsClient;
  readonly s3?: AwsClient;
  readonly retry?: RetryOptions;
}

/**
 * An Athena query as a backfill source: its rows are streamed from the query's S3 result file and
 * typed by the group's source schema (numbers, bigints, booleans; NULL is an absent field).
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, {
 *   from: athenaSource({ query: 'SELECT card_id, amount_cents, country, ts FROM raw.card_events', outputLocation: 's3://my-athena-results/' }),
 * });
 * ```
 */
export function athenaSource(options: AthenaSourceOptions): BackfillSource {
  checkOptions(ATHENA_SOURCE_OPTIONS, options, 'athenaSource options');
  // The query runs once; a second read (an aggregation backfill replays first) reads the same result file.
  let executed: { readonly id: string; readonly columns: readonly { name: string }[]; readonly location: string } | undefined;
  return {
    id: `athena:${options.database ?? ''}:${options.query}`,
    unit: 'rows',
    splittable: false,
    spec: {
      kind: 'athena',
      query: options.query,
      outputLocation: options.outputLocation,
      ...(options.database ? { database: options.database } : {}),
      ...(options.workGroup ? { workGroup: options.workGroup } : {}),
    },
    size: async () => undefined,
    async *read(group) {
      const athena = sdkClient<AthenaClient>(options.athena) ?? new (await loadAthena()).AthenaClient(clientConfig(options.retry));
      const s3 = await s3Client(sdkClient<S3Client>(options.s3), options.retry);
      try {
        if (!executed) {
          const result = await runAthenaQuery({ athena, s3, query: options.query, outputLocation: options.outputLocation, database: options.database, workGroup: options.workGroup, retry: options.retry });
          executed = { id: result.queryExecutionId, columns: result.columns, location: result.location };
        }
        const { id, columns, location } = executed;
        const toEvent = csvRowReader(group.source, columns.map((c) => c.name));
        let index = 0;
        let items: BackfillItem[] = [];
        for await (const cells of resultFileRows(s3, location, id, options.retry)) {
          items.push({ raw: toEvent(cells), position: { source: 'backfill', index, recordId: id } });
          index++;
          if (items.length === 1000) {
            yield { items, at: index };
            items = [];
          }
        }
        if (items.length > 0) yield { items, at: index };
      } finally {
        if (!options.athena) athena.destroy();
        if (!options.s3) s3.destroy();
      }
    },
  };
}

/**
 * Recreates the S3 and Athena sources of a shard (the core recreates file sources).
 *
 * ### Example
 * ```ts
 * const source = awsSourceFromSpec(shard.source) ?? sourceFromSpec(shard.source);
 * ```
 */
export function awsSourceFromSpec(spec: SourceSpec, clients: { readonly s3?: AwsClient; readonly athena?: AwsClient } = {}): BackfillSource | undefined {
  if (spec.kind === 's3-parquet') return s3ParquetFile({ bucket: String(spec['bucket']), key: String(spec['key']), ...(clients.s3 ? { client: clients.s3 } : {}) });
  if (spec.kind === 'athena') {
    return athenaSource({
      query: String(spec['query']),
      outputLocation: String(spec['outputLocation']),
      ...(spec['database'] ? { database: String(spec['database']) } : {}),
      ...(spec['workGroup'] ? { workGroup: String(spec['workGroup']) } : {}),
      ...(clients.s3 ? { s3: clients.s3 } : {}),
      ...(clients.athena ? { athena: clients.athena } : {}),
    });
  }
  return undefined;
}

export interface BackfillShardHandlerOptions {
  readonly store: FeatureStore;
  /** Where each shard's poison rows go: `s3://<bucket>/<prefix><group>/<key>.rejects.ndjson`. */
  readonly rejects?: { readonly bucket: string; readonly prefix?: string };
  readonly s3?: AwsClient;
  readonly athena?: AwsClient;
  readonly chunkSize?: number;
}

/** What the handler returns to Step Functions: the shard's summary, with the rejects object if any. */
export type BackfillShardResult = BackfillSummary & { readonly index: number; readonly rejectsUri?: string };

/**
 * A Lambda handler that runs one shard of `planBackfill`: the item processor of a Step Functions
 * Distributed Map over the plan (see the README's state machine). A retried shard rewrites the same
 * files, so Step Functions' retries are safe.
 *
 * ### Example
 * ```ts
 * import { backfillShardHandler, s3Offline } from 'skewless/aws';
 * const store = createFeatureStore({ online: sageMakerOnline({ targetStores: ['OnlineStore'] }), offline: s3Offline({ bucket: 'features' }) });
 * export const handler = backfillShardHandler(cardActivity, { store, rejects: { bucket: 'features', prefix: 'rejects/' } });
 * ```
 */
export function backfillShardHandler(group: AnyFeatureGroup, options: BackfillShardHandlerOptions) {
  requireGroup(group, 'backfillShardHandler');
  checkOptions(SHARD_HANDLER_OPTIONS, options, 'backfillShardHandler options');
  return async (shard: BackfillShard & { readonly to?: 'offline' | 'online' | 'both' }): Promise<BackfillShardResult> => {
    const clients = { ...(options.s3 ? { s3: options.s3 } : {}), ...(options.athena ? { athena: options.athena } : {}) };
    const summary = await backfillShard(options.store, group, shard, {
      resolve: (spec) => awsSourceFromSpec(spec, clients),
      // Lambda can only write under /tmp.
      rejects: join(tmpdir(), 'skewless', `${group.name}-shard-${shard.index}.rejects.ndjson`),
      ...(shard.to ? { to: shard.to } : {}),
      ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}),
    });
    if (!summary.rejectsFile || !options.rejects) return { ...summary, index: shard.index };
    const m = await loadS3();
    const client = await s3Client(sdkClient<S3Client>(options.s3), undefined);
    const key = `${options.rejects.prefix ?? ''}${group.name}/${summary.key}.rejects.ndjson`;
    try {
      await countAttempts(() => client.send(new m.PutObjectCommand({ Bucket: options.rejects?.bucket, Key: key, Body: readFileSync(summary.rejectsFile as string), ContentType: 'application/x-ndjson' })));
    } finally {
      if (!options.s3) client.destroy();
    }
    return { ...summary, index: shard.index, rejectsUri: `s3://${options.rejects.bucket}/${key}` };
  };
}
