import { randomUUID } from 'node:crypto';
import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { BackendError, ConfigurationError } from '../errors.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import { quoteHiveIdentifier, quoteIdentifier, quoteLiteral } from '../sql/quote.js';
import type { OfflineStore, OfflineStoredRow } from '../store/types.js';
import type { JoinedValues, SpineKeys, TrainingEngine } from '../training/engine.js';
import type { JoinStep, TrainingPlan } from '../sql/plan.js';
import { ParquetFileBuilder } from '../parquet/file.js';
import { featureColumn, matchedColumn, renderTrainingSql, TRINO } from '../sql/render.js';
import { type AthenaColumn, type AthenaResult, MAX_QUERY_BYTES, runAthenaQuery } from './athena-query.js';
import { clientConfig, countAttempts, type RetryOptions } from './retry.js';
import { backendError, callError } from './errors.js';
import { loadAthena, loadS3, loadSageMaker } from './sdk.js';
import { type AwsClient, sdkClient } from './clients.js';
import * as z from 'zod/mini';
import { booleanSchema, checkOptions, countSchema, expected, functionSchema, lazySchema } from '../util/options.js';
import { awsClient, retryOptions, s3Location, text } from './options.js';

const ATHENA_OFFLINE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  outputLocation: s3Location(),
  workGroup: z.optional(text('a work group name')),
  tables: z.optional(
    z.record(z.string(), z.strictObject({ database: text('a Glue database name'), table: text('a Glue table name') }, { error: expected("a group's Glue table: { database, table }") }), {
      error: expected('the Glue table of each group by its name: { [group]: { database, table } }'),
    }),
  ),
  client: z.optional(awsClient()),
  s3: z.optional(awsClient()),
  sagemaker: z.optional(awsClient()),
  retry: z.optional(retryOptions()),
  inlineSpineRows: z.optional(countSchema()),
  stagingLocation: z.optional(s3Location()),
  partitionPruning: z.optional(booleanSchema()),
  onCleanupFailure: z.optional(functionSchema('a function of the BackendError')),
}));

export interface AthenaOfflineOptions {
  /** `s3://bucket/prefix/` where Athena writes query results. */
  readonly outputLocation: string;
  readonly workGroup?: string;
  /** The Glue database and table per group; default what DescribeFeatureGroup reports. */
  readonly tables?: Readonly<Record<string, { readonly database: string; readonly table: string }>>;
  readonly client?: AwsClient;
  readonly s3?: AwsClient;
  /** Used to look up each group's Glue table when `tables` does not name it. */
  readonly sagemaker?: AwsClient;
  readonly retry?: RetryOptions;
  /**
   * Training sets: spines of up to this many rows go inline in the query as a VALUES table; larger
   * ones are uploaded as Parquet under `stagingLocation` and registered as a temporary table, which
   * is dropped and deleted afterwards (also when the query fails). Default 1,000.
   */
  readonly inlineSpineRows?: number;
  /** `s3://bucket/prefix/` for staged spines; default `<outputLocation>skewless-staging/`. */
  readonly stagingLocation?: string;
  /**
   * Training sets read only the hourly partitions (`year`/`month`/`day`/`hour`, SageMaker's Glue
   * layout) that the spine's time range, `maxAge` and the group's TTL can reach. Default true;
   * `false` for tables without those partition columns.
   */
  readonly partitionPruning?: boolean;
  /**
   * Called when a training set's staged spine could not be removed (for example a role without
   * `s3:DeleteObject` on the staging prefix), with an error naming what was left: the table, the
   * object, or both. Nothing is thrown for it: a finished training set is still returned, and a
   * failed query still throws its own error. Default: `console.warn('skewless: ' + error.message)`.
   *
   * ### Example
   * ```ts
   * athenaOffline({ outputLocation, inlineSpineRows: 0, onCleanupFailure: (error) => logger.error(error.message) });
   * ```
   */
  readonly onCleanupFailure?: (error: BackendError) => void;
}

/** Athena's text form of a value -> the value, by the column's Athena type. */
export function fromAthenaText(text: string | undefined, type: string): unknown {
  if (text === undefined) return null;
  switch (type) {
    case 'bigint':
      return BigInt(text);
    case 'integer':
    case 'smallint':
    case 'tinyint':
    case 'double':
    case 'float':
    case 'real':
    case 'decimal':
      return Number(text);
    case 'boolean':
      return text === 'true';
    case 'timestamp':
      return new Date(`${text.replace(' ', 'T')}Z`);
    case 'array':
      return text === '[]' ? [] : text.slice(1, -1).split(', ');
    default:
      return text;
  }
}

/** Where a staged spine left behind is reported when the caller gives no `onCleanupFailure`. */
function warnCleanupFailure(error: BackendError): void {
  console.warn(`skewless: ${error.message}`);
}

/** The spine as an inline table: `(__row, __t, __k0, ...)`, keys as escaped literals. */
function inlineSpine(spine: SpineKeys, steps: number): string {
  const rows = spine.times.map((time, row) => {
    const keys = Array.from({ length: steps }, (_, i) => {
      const key = spine.keys[i]?.[row];
      return key === undefined ? 'CAST(NULL AS VARCHAR)' : `CAST(${quoteLiteral(key)} AS VARCHAR)`;
    });
    return `(CAST(${row} AS BIGINT), CAST(${Math.trunc(time)} AS BIGINT)${keys.map((k) => `, ${k}`).join('')})`;
  });
  const names = ['__row', '__t', ...Array.from({ length: steps }, (_, i) => `__k${i}`)].join(', ');
  return rows.length > 0 ? `(VALUES ${rows.join(', ')}) AS spine(${names})` : `(SELECT CAST(NULL AS BIGINT) AS __row, CAST(NULL AS BIGINT) AS __t${Array.from({ length: steps }, (_, i) => `, CAST(NULL AS VARCHAR) AS __k${i}`).join('')} WHERE false) AS spine`;
}

/** The joined values of a query's result rows, per step and spine row. */
async function readJoined(plan: TrainingPlan, result: AthenaResult): Promise<JoinedValues> {
  const values: JoinedValues = plan.joins.map(() => []);
  for await (const cells of result.rows()) {
    const row = toRow(result.columns, cells);
    plan.joins.forEach((step, i) => {
      (values[i] as (Record<string, unknown> | null)[]).push(
        row[matchedColumn(i)] === true ? Object.fromEntries(step.features.map((f, n) => [f, row[featureColumn(i, n)] ?? null])) : null,
      );
    });
  }
  return values;
}

function toRow(columns: readonly AthenaColumn[], values: readonly (string | undefined)[]): OfflineStoredRow {
  const row: Record<string, unknown> = {};
  columns.forEach((c, i) => {
    row[c.name] = fromAthenaText(values[i], c.type);
  });
  return row as OfflineStoredRow;
}

/**
 * Reads a group's offline store through Athena (for training sets and the audit). Writing goes
 * through PutRecord (`sageMakerOnline`) or `s3Offline`; `append` here refuses.
 *
 * ### Example
 * ```ts
 * import { athenaOffline, sageMakerOnline } from 'skewless/aws';
 * const store = createFeatureStore({ online: sageMakerOnline(), offline: athenaOffline({ outputLocation: 's3://my-bucket/athena/' }) });
 * ```
 */
export function athenaOffline(options: AthenaOfflineOptions): OfflineStore & TrainingEngine {
  checkOptions(ATHENA_OFFLINE_OPTIONS, options, 'athenaOffline options');
  /**
   * Reports a staged spine that could not be removed (the table or the object left behind), without
   * throwing: a chosen `onCleanupFailure` that throws (or rejects) falls back to the warning, so the
   * report is never lost.
   */
  const leftBehind = (error: BackendError): void => {
    const report = options.onCleanupFailure ?? warnCleanupFailure;
    try {
      Promise.resolve(report(error)).catch(() => warnCleanupFailure(error));
    } catch {
      warnCleanupFailure(error);
    }
  };
  let clients: Promise<{ athena: AthenaClient; s3: S3Client }> | undefined;
  const resolveClients = () => {
    clients ??= Promise.all([loadAthena(), loadS3()]).then(([a, s]) => ({
      athena: sdkClient<AthenaClient>(options.client) ?? new a.AthenaClient(clientConfig(options.retry)),
      s3: sdkClient<S3Client>(options.s3) ?? new s.S3Client(clientConfig(options.retry)),
    }));
    return clients;
  };

  // One client for every lookup, made on the first group whose table is not named, so close() can destroy it.
  let ownSageMaker: SageMakerClient | undefined;
  const tableOf = async (group: GroupSchema): Promise<{ database: string; table: string }> => {
    const named = options.tables?.[group.name];
    if (named) return named;
    const { SageMakerClient, DescribeFeatureGroupCommand } = await loadSageMaker();
    const sagemaker = sdkClient<SageMakerClient>(options.sagemaker) ?? (ownSageMaker ??= new SageMakerClient(clientConfig(options.retry)));
    const described = await countAttempts(() => sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: group.name })), options.retry, (error) =>
      backendError(error, group.name, 'read', 'DescribeFeatureGroup, for its offline store table'),
    );
    const catalog = described.OfflineStoreConfig?.DataCatalogConfig;
    if (!catalog?.Database || !catalog.TableName) {
      throw new ConfigurationError('INVALID_CONFIG', `feature group "${group.name}" has no offline store Glue table; pass athenaOffline({ tables })`);
    }
    return { database: catalog.Database, table: catalog.TableName };
  };

  const groupOf = (step: JoinStep): GroupSchema => ({ name: step.group, recordIdentifier: step.recordIdentifier, eventTime: step.eventTime, featureDefinitions: step.definitions });

  /** Uploads the spine as Parquet and registers it as a table; `drop` removes both. */
  const stageSpine = async (spine: SpineKeys, steps: number, database: string) => {
    const { athena, s3 } = await resolveClients();
    const m = await loadS3();
    const id = randomUUID().replaceAll('-', '');
    const location = `${(options.stagingLocation ?? `${options.outputLocation.replace(/\/+$/, '')}/skewless-staging/`).replace(/\/+$/, '')}/${id}/`;
    const match = /^s3:\/\/([^/]+)\/(.*)$/.exec(location);
    if (!match) throw new ConfigurationError('INVALID_CONFIG', `staging location ${location} is not an s3:// URI`);
    const [, bucket, prefix] = match as unknown as [string, string, string];
    const key = `${prefix}spine.parquet`;
    const keys = Array.from({ length: steps }, (_, i) => ({ name: `spine_k${i}`, data: spine.keys[i] ?? [] }));
    const file = new ParquetFileBuilder(
      [
        { name: 'spine_row', type: 'INT64' },
        { name: 'spine_t', type: 'INT64' },
        ...keys.map((k) => ({ name: k.name, type: 'BYTE_ARRAY' as const, convertedType: 'UTF8' as const })),
      ],
      spine.times.length,
    );
    spine.times.forEach((t, r) => {
      file.column(0).integer(r);
      file.column(1).integer(Math.trunc(t));
      keys.forEach((k, i) => {
        const value = k.data[r];
        if (value === undefined || value === null) file.column(2 + i).null();
        else file.column(2 + i).text(value);
      });
    });
    file.endRowGroup(spine.times.length);
    const body = file.finish();
    const object = `the staged spine s3://${bucket}/${key}`;
    await countAttempts(() => s3.send(new m.PutObjectCommand({ Bucket: bucket, Key: key, Body: body })), options.retry, (error) => callError(error, `S3 PutObject of ${object}`));
    const table = `skewless_spine_${id}`;
    const name = `${quoteHiveIdentifier(database)}.${quoteHiveIdentifier(table)}`;
    const run = (query: string) => runAthenaQuery({ athena, s3, query, outputLocation: options.outputLocation, workGroup: options.workGroup, retry: options.retry });
    /**
     * Drops the table and deletes the object, both tried. Never throws: what could not be removed is
     * reported (`onCleanupFailure`), naming only what is left, so it cannot hide the query's error
     * or lose a finished training set.
     */
    const remove = async (): Promise<void> => {
      const left: { what: string; error: BackendError }[] = [];
      // runAthenaQuery throws BackendErrors that say which call or query failed; the label is for anything else.
      await run(`DROP TABLE IF EXISTS ${name}`).catch((error: unknown) => left.push({ what: `the table ${database}.${table}`, error: callError(error, 'Athena DROP TABLE') }));
      await countAttempts(() => s3.send(new m.DeleteObjectCommand({ Bucket: bucket, Key: key })), options.retry, (error) => callError(error, 'S3 DeleteObject')).catch(
        (error: BackendError) => left.push({ what: `the object s3://${bucket}/${key}`, error }),
      );
      const [first] = left;
      if (first === undefined) return;
      const what = left.map((l) => l.what).join(' and ');
      const why = left.map((l) => l.error.message).join('; ');
      leftBehind(new BackendError(first.error.code, `the staged spine was left behind; remove ${what} by hand (${why})`, { cause: first.error, retryable: first.error.retryable }));
    };
    try {
      const columns = ['spine_row bigint', 'spine_t bigint', ...keys.map((k) => `${k.name} string`)].join(', ');
      await run(`CREATE EXTERNAL TABLE ${name} (${columns}) STORED AS PARQUET LOCATION ${quoteLiteral(location)}`);
    } catch (error) {
      await remove();
      throw error;
    }
    const select = ['spine_row AS __row', 'spine_t AS __t', ...keys.map((k, i) => `${k.name} AS __k${i}`)].join(', ');
    return { sql: `(SELECT ${select} FROM ${quoteIdentifier(database)}.${quoteIdentifier(table)}) AS spine`, remove };
  };

  return {
    async append(group) {
      throw new ConfigurationError(
        'INVALID_CONFIG',
        `athenaOffline reads only; group "${group.name}" is written offline by sageMakerOnline (PutRecord) or s3Offline`,
      );
    },

    async scan(group) {
      try {
        const { athena, s3 } = await resolveClients();
        const { database, table } = await tableOf(group);
        const result = await runAthenaQuery({
          athena,
          s3,
          query: `SELECT * FROM ${quoteIdentifier(database)}.${quoteIdentifier(table)}`,
          outputLocation: options.outputLocation,
          workGroup: options.workGroup,
          retry: options.retry,
        });
        const rows: OfflineStoredRow[] = [];
        for await (const values of result.rows()) rows.push(toRow(result.columns, values));
        return rows;
      } catch (error) {
        if (error instanceof ConfigurationError) throw error;
        throw backendError(error, group.name, 'read');
      }
    },

    /**
     * The point-in-time join in Athena (Trino SQL, window functions: Athena has no ASOF JOIN). The
     * spine's keys and times go inline as a VALUES table, or for large spines into a staged temporary
     * table (see `inlineSpineRows`); only the chosen values come back, read
     * from the query's result file.
     */
    async pointInTimeJoin(plan: TrainingPlan, spine: SpineKeys): Promise<JoinedValues> {
      const { athena, s3 } = await resolveClients();
      const groups = new Map<string, string>();
      let firstDatabase = '';
      for (const step of plan.joins) {
        const { database, table } = await tableOf(groupOf(step));
        firstDatabase ||= database;
        groups.set(step.group, `${quoteIdentifier(database)}.${quoteIdentifier(table)}`);
      }
      const inline = spine.times.length <= (options.inlineSpineRows ?? 1000);
      // The staged table goes into the first group's Glue database: one that exists.
      const staged = inline ? undefined : await stageSpine(spine, plan.joins.length, firstDatabase);
      try {
        const partitions =
          options.partitionPruning === false || spine.times.length === 0
            ? undefined
            : { fromMs: spine.times.reduce((a, b) => Math.min(a, b)), toMs: spine.times.reduce((a, b) => Math.max(a, b)) };
        const query = renderTrainingSql(plan, { spine: staged?.sql ?? inlineSpine(spine, plan.joins.length), groups, ...(partitions ? { partitions } : {}) }, TRINO);
        const bytes = Buffer.byteLength(query);
        if (bytes > MAX_QUERY_BYTES) {
          throw new ConfigurationError(
            'INVALID_CONFIG',
            `the training-set query is ${bytes} bytes; Athena accepts ${MAX_QUERY_BYTES}. Lower athenaOffline({ inlineSpineRows }) so the spine is staged`,
          );
        }
        const result = await runAthenaQuery({ athena, s3, query, outputLocation: options.outputLocation, workGroup: options.workGroup, retry: options.retry });
        return await readJoined(plan, result);
      } finally {
        await staged?.remove();
      }
    },

    async close() {
      ownSageMaker?.destroy();
      if (!clients) return;
      const { athena, s3 } = await clients;
      if (!options.client) athena.destroy();
      if (!options.s3) s3.destroy();
    },
  };
}
