import type { S3Client } from '@aws-sdk/client-s3';
import { decodeOfflineParquet, encodeOfflineParquet } from '../offline/parquet.js';
import { dataFileName, offlineDataPath, offlineFileName, writesByPartition } from '../offline/layout.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { requireGroup } from '../feature-group.js';
import type { OfflineAppendOptions, OfflineStore, OfflineStoredRow, OfflineWrite } from '../store/types.js';
import { mapConcurrent } from '../util/concurrency.js';
import { type AwsClient, lazyClient, sdkClient } from './clients.js';
import { backendError } from './errors.js';
import { loadS3 } from './sdk.js';
import { clientConfig, countAttempts, type RetryOptions } from './retry.js';
import * as z from 'zod/mini';
import { checkOptions, expected, lazySchema } from '../util/options.js';
import { awsClient, bucketName, concurrency, objectKey, retryOptions } from './options.js';

type S3Module = typeof import('@aws-sdk/client-s3');

const S3_OFFLINE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  bucket: bucketName(),
  prefix: z.optional(objectKey('prefix')),
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
 * backfills): Parquet files with SageMaker's offline columns, in hourly partitions under
 * `<prefix>/<group>/data/` (not SageMaker's own resolved location, which only SageMaker writes),
 * written with a pure-JS Parquet writer so it runs inside Lambda.
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
  const client = lazyClient(sdkClient<S3Client>(options.client), () => loadS3().then((m) => new m.S3Client(clientConfig(retry))));

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
          await countAttempts(() => c.send(new m.PutObjectCommand({ Bucket: options.bucket, Key: key, Body: body, ContentType: 'application/vnd.apache.parquet' })), retry);
        } catch (error) {
          throw backendError(error, group.name, 'offline write', `s3://${options.bucket}/${key}`);
        }
      });
    },

    async scan(group: GroupSchema): Promise<OfflineStoredRow[]> {
      const [m, c] = await Promise.all([loadS3(), client()]);
      try {
        const keys = await dataKeys(m, c, group);
        const files = await mapConcurrent(keys, concurrency, async (key) => {
          const object = await countAttempts(() => c.send(new m.GetObjectCommand({ Bucket: options.bucket, Key: key })), retry);
          return decodeOfflineParquet(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(), `s3://${options.bucket}/${key}`, group.name);
        });
        return files.flat();
      } catch (error) {
        throw backendError(error, group.name, 'read');
      }
    },

    async removeFiles(group: GroupSchema, select: (fileName: string) => boolean): Promise<number> {
      const [m, c] = await Promise.all([loadS3(), client()]);
      try {
        const keys = (await dataKeys(m, c, group)).filter((key) => {
          const name = dataFileName(key);
          return name !== undefined && select(name);
        });
        await mapConcurrent(keys, concurrency, (key) => countAttempts(() => c.send(new m.DeleteObjectCommand({ Bucket: options.bucket, Key: key })), retry));
        return keys.length;
      } catch (error) {
        throw backendError(error, group.name, 'offline write');
      }
    },

    async close() {
      await client.close();
    },
  };

  /** The keys of the group's data files (`.parquet`), every partition. */
  async function dataKeys(m: S3Module, c: S3Client, group: GroupSchema): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await countAttempts(
        () => c.send(new m.ListObjectsV2Command({ Bucket: options.bucket, Prefix: `${offlineDataPath(prefix, group.name)}/`, ContinuationToken: token })),
        retry,
      );
      for (const object of page.Contents ?? []) if (object.Key?.endsWith('.parquet')) keys.push(object.Key);
      token = page.NextContinuationToken;
    } while (token);
    return keys;
  }
}

const ATHENA_TYPE = { String: 'string', Integral: 'bigint', Fractional: 'double' } as const;

/** Where `s3OfflineTable` registers the files and what it calls the table. */
export interface S3OfflineTableOptions {
  readonly bucket: string;
  /** The `prefix` the `s3Offline` store writes under. */
  readonly prefix?: string;
  /** The Glue database; it must exist. */
  readonly database: string;
  /** Default: the group's name with `-` as `_`. */
  readonly table?: string;
}

/**
 * The Athena table over what `s3Offline` writes for a group, so Athena (and `athenaOffline({ tables })`)
 * can read it: the group's columns plus `write_time`, `api_invocation_time` and `is_deleted`, and
 * the hourly partitions as `year`, `month`, `day`, `hour`, found by partition projection (no
 * `MSCK REPAIR TABLE` after each write). Run `ddl` once, with Athena.
 *
 * ### Example
 * ```ts
 * const { ddl, database, table } = s3OfflineTable(cardActivity, { bucket: 'lake', prefix: 'features', database: 'features' });
 * await athena.send(new StartQueryExecutionCommand({ QueryString: ddl, ResultConfiguration: { OutputLocation: 's3://lake/athena/' } }));
 * const offline = athenaOffline({ outputLocation: 's3://lake/athena/', tables: { [cardActivity.name]: { database, table } } });
 * ```
 */
export function s3OfflineTable(group: AnyFeatureGroup, options: S3OfflineTableOptions): { readonly database: string; readonly table: string; readonly ddl: string } {
  requireGroup(group, 's3OfflineTable');
  checkOptions(S3_OFFLINE_TABLE_OPTIONS, options, 's3OfflineTable options');
  const table = options.table ?? group.name.replace(/-/g, '_');
  const prefix = (options.prefix ?? '').replace(/^\/+|\/+$/g, '');
  const location = `s3://${options.bucket}/${offlineDataPath(prefix, group.name)}/`;
  const columns = [
    ...group.featureDefinitions.map((d) => `\`${d.FeatureName}\` ${d.CollectionType ? `array<${ATHENA_TYPE[d.FeatureType]}>` : ATHENA_TYPE[d.FeatureType]}`),
    '`write_time` timestamp',
    '`api_invocation_time` timestamp',
    '`is_deleted` boolean',
  ];
  const projection = [
    ['projection.enabled', 'true'],
    ['projection.year.type', 'integer'],
    ['projection.year.range', '0,9999'],
    ['projection.year.digits', '4'],
    ...(['month', 'day', 'hour'] as const).flatMap((part) => [
      [`projection.${part}.type`, 'integer'],
      [`projection.${part}.range`, { month: '1,12', day: '1,31', hour: '0,23' }[part]],
      [`projection.${part}.digits`, '2'],
    ]),
    ['storage.location.template', `${location}year=\${year}/month=\${month}/day=\${day}/hour=\${hour}/`],
  ];
  const ddl = [
    `CREATE EXTERNAL TABLE IF NOT EXISTS \`${options.database}\`.\`${table}\` (${columns.join(', ')})`,
    'PARTITIONED BY (`year` string, `month` string, `day` string, `hour` string)',
    'STORED AS PARQUET',
    `LOCATION '${location}'`,
    `TBLPROPERTIES (${projection.map(([key, value]) => `'${key}'='${value}'`).join(', ')})`,
  ].join('\n');
  return { database: options.database, table, ddl };
}

const S3_OFFLINE_TABLE_OPTIONS = /* @__PURE__ */ lazySchema(() =>
  z.strictObject({
    bucket: bucketName(),
    prefix: z.optional(objectKey('prefix')),
    database: z.string({ error: expected('a Glue database name') }).check(z.regex(/^[a-z0-9_]{1,255}$/, 'a Glue database name: lowercase letters, digits and _')),
    table: z.optional(z.string({ error: expected('a table name') }).check(z.regex(/^[a-z0-9_]{1,255}$/, 'a table name: lowercase letters, digits and _'))),
  }),
);
