import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigurationError } from '../errors.js';
import { readParquetRows } from '../parquet/reader.js';
import { type SpineLoader, type SpineRow, spineFromCsv } from '../training/training-set.js';
import { fromAthenaText } from './athena-offline.js';
import { ATHENA_SOURCE_OPTIONS, type AthenaSourceOptions, S3_OBJECT_OPTIONS, type S3ObjectOptions } from './backfill.js';
import { runAthenaQuery } from './athena-query.js';
import { clientConfig, countAttempts } from './retry.js';
import { loadAthena, loadS3 } from './sdk.js';
import { sdkClient } from './clients.js';
import { checkOptions } from '../util/options.js';

/**
 * A training-set spine in an S3 object: `.csv` (a header row; times as ISO-8601 text) or `.parquet`.
 *
 * ### Example
 * ```ts
 * await trainingSet(store, { spine: s3Spine({ bucket: 'labels', key: '2024/chargebacks.parquet' }), entityKey: 'card_id', timestamp: 'label_time', features });
 * ```
 */
export function s3Spine(options: S3ObjectOptions): SpineLoader {
  checkOptions(S3_OBJECT_OPTIONS, options, 's3Spine options');
  const kind = options.key.toLowerCase().endsWith('.csv') ? 'csv' : options.key.toLowerCase().endsWith('.parquet') ? 'parquet' : undefined;
  if (!kind) throw new ConfigurationError('INVALID_CONFIG', `s3Spine options.key: a spine object must be .csv or .parquet, got s3://${options.bucket}/${options.key}`);
  return {
    async load() {
      const m = await loadS3();
      const client = sdkClient<S3Client>(options.client) ?? new m.S3Client(clientConfig(options.retry));
      try {
        const object = await countAttempts(() => client.send(new m.GetObjectCommand({ Bucket: options.bucket, Key: options.key })), options.retry);
        const bytes = await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
        return kind === 'csv' ? spineFromCsv(Buffer.from(bytes).toString('utf8')) : readParquetRows(bytes);
      } finally {
        if (!options.client) client.destroy();
      }
    },
  };
}

/** As for `athenaSource`; the query's rows are the spine, in the order it returns them (give it an ORDER BY). */
export type AthenaSpineOptions = AthenaSourceOptions;

/**
 * A training-set spine from an Athena query (a labels table, say), values typed by Athena's column
 * types (timestamps as Dates), read from the query's S3 result file.
 *
 * ### Example
 * ```ts
 * const spine = athenaSpine({ query: 'SELECT card_id, label_time, fraud FROM labels.chargebacks ORDER BY label_time', outputLocation: 's3://my-athena-results/' });
 * ```
 */
export function athenaSpine(options: AthenaSpineOptions): SpineLoader {
  checkOptions(ATHENA_SOURCE_OPTIONS, options, 'athenaSpine options');
  return {
    async load() {
      const [a, m] = await Promise.all([loadAthena(), loadS3()]);
      const athena = sdkClient<AthenaClient>(options.athena) ?? new a.AthenaClient(clientConfig(options.retry));
      const s3 = sdkClient<S3Client>(options.s3) ?? new m.S3Client(clientConfig(options.retry));
      try {
        const result = await runAthenaQuery({ athena, s3, query: options.query, outputLocation: options.outputLocation, database: options.database, workGroup: options.workGroup, retry: options.retry });
        const rows: SpineRow[] = [];
        for await (const cells of result.rows()) rows.push(Object.fromEntries(result.columns.map((c, i) => [c.name, fromAthenaText(cells[i], c.type)])));
        return rows;
      } finally {
        if (!options.athena) athena.destroy();
        if (!options.s3) s3.destroy();
      }
    },
  };
}
