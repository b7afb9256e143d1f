import type { S3Client } from '@aws-sdk/client-s3';
import { decodeOfflineParquet, encodeOfflineParquet } from '../offline/parquet.js';
import { offlineDataPath, offlineFileName, writesByPartition } from '../offline/layout.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { OfflineAppendOptions, OfflineStore, OfflineStoredRow, OfflineWrite } from '../store/types.js';
import { mapConcurrent } from '../util/concurrency.js';
import { type AwsClient, lazyClient, sdkClient } from './clients.js';
import { backendError } from './errors.js';
import { loadS3 } from './sdk.js';
import { type RetryOptions, withRetry } from './retry.js';
import * as z from 'zod/mini';
import { checkOptions, lazySchema } from '../util/options.js';
import { awsClient, bucketName, concurrency, retryOptions, text } from './options.js';


const S3_OFFLINE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  bucket: bucketName(),
  prefix: z.optional(text('a key prefix')),
  client: z.optional(awsClient()),
  concurrency: concurrency(),
  retry: z.optional(retryOptions()),
}));

export interface S3OfflineOptions {
  readonly bucket: string;
  /** Key prefix of the offline store (the S3Uri's path); files go under `<prefix>/<group>/data/`. */
  readonly prefix?: string;
  readonly client?: AwsClient;
  /** Objects uploaded or read at once; default 8. */
  readonly concurrency?: number;
  readonly retry?: RetryOptions;
}

/**
 * An offline store on S3 for writers that do not go through PutRecord (the DynamoDB online path,
 * backfills): Parquet files in SageMaker's layout, written with a pure-JS Parquet writer so it runs
 * inside Lambda.
 *
 * ### Example
 * ```ts
 * import { dynamoDbOnline, s3Offline } from 'skewless/aws';
 * const store = createFeatureStore({ online: dynamoDbOnline({ tableName: 'features' }), offline: s3Offline({ bucket: 'my-bucket', prefix: 'features' }) });
 * ```
 */
export function s3Offline(options: S3OfflineOptions): OfflineStore {
  checkOptions(S3_OFFLINE_OPTIONS, options, 's3Offline options');
  const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
  const concurrency = options.concurrency ?? 8;
  const retry = options.retry ?? {};
  const client = lazyClient(sdkClient<S3Client>(options.client), () => loadS3().then((m) => new m.S3Client({})));

  return {
    async append(group: GroupSchema, writes: readonly OfflineWrite[], appendOptions: OfflineAppendOptions = {}) {
      if (writes.length === 0) return;
      const [m, c] = await Promise.all([loadS3(), client()]);
      const byPartition = writesByPartition(group, writes);
      const now = new Date();
      await mapConcurrent([...byPartition], concurrency, async ([partition, rows]) => {
        const body = await encodeOfflineParquet(group, rows);
        const name = appendOptions.fileName ? `${appendOptions.fileName}.parquet` : offlineFileName(now);
        const key = `${offlineDataPath(prefix, group.name)}/${partition}/${name}`;
        try {
          await withRetry(() => c.send(new m.PutObjectCommand({ Bucket: options.bucket, Key: key, Body: body, ContentType: 'application/vnd.apache.parquet' })), retry);
        } catch (error) {
          throw backendError(error, group.name, 'write');
        }
      });
    },

    async scan(group: GroupSchema): Promise<OfflineStoredRow[]> {
      const [m, c] = await Promise.all([loadS3(), client()]);
      const keys: string[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await withRetry(
            () => c.send(new m.ListObjectsV2Command({ Bucket: options.bucket, Prefix: `${offlineDataPath(prefix, group.name)}/`, ContinuationToken: token })),
            retry,
          );
          for (const object of page.Contents ?? []) if (object.Key?.endsWith('.parquet')) keys.push(object.Key);
          token = page.NextContinuationToken;
        } while (token);
        const files = await mapConcurrent(keys, concurrency, async (key) => {
          const object = await withRetry(() => c.send(new m.GetObjectCommand({ Bucket: options.bucket, Key: key })), retry);
          return decodeOfflineParquet(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
        });
        return files.flat();
      } catch (error) {
        throw backendError(error, group.name, 'read');
      }
    },

    async close() {
      await client.close();
    },
  };
}
