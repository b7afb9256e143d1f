import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { ConfigurationError } from '../errors.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import { quoteIdentifier } from '../sql/quote.js';
import type { OfflineStore, OfflineStoredRow } from '../store/types.js';
import { type AthenaColumn, loadAthena, runAthenaQuery } from './athena-query.js';
import { backendError } from './errors.js';
import type { RetryOptions } from './retry.js';
import { loadS3 } from './s3-offline.js';

export interface AthenaOfflineOptions {
  /** `s3://bucket/prefix/` where Athena writes query results. */
  readonly outputLocation: string;
  readonly workGroup?: string;
  /** The Glue database and table per group; default what DescribeFeatureGroup reports. */
  readonly tables?: Readonly<Record<string, { readonly database: string; readonly table: string }>>;
  readonly client?: AthenaClient;
  readonly s3?: S3Client;
  /** Used to look up each group's Glue table when `tables` does not name it. */
  readonly sagemaker?: SageMakerClient;
  readonly retry?: RetryOptions;
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
export function athenaOffline(options: AthenaOfflineOptions): OfflineStore {
  let clients: Promise<{ athena: AthenaClient; s3: S3Client }> | undefined;
  const resolveClients = () => {
    clients ??= Promise.all([loadAthena(), loadS3()]).then(([a, s]) => ({
      athena: options.client ?? new a.AthenaClient({}),
      s3: options.s3 ?? new s.S3Client({}),
    }));
    return clients;
  };

  const tableOf = async (group: GroupSchema): Promise<{ database: string; table: string }> => {
    const named = options.tables?.[group.name];
    if (named) return named;
    const { SageMakerClient, DescribeFeatureGroupCommand } = await import('@aws-sdk/client-sagemaker');
    const described = await (options.sagemaker ?? new SageMakerClient({})).send(new DescribeFeatureGroupCommand({ FeatureGroupName: group.name }));
    const catalog = described.OfflineStoreConfig?.DataCatalogConfig;
    if (!catalog?.Database || !catalog.TableName) {
      throw new ConfigurationError('INVALID_CONFIG', `feature group "${group.name}" has no offline store Glue table; pass athenaOffline({ tables })`);
    }
    return { database: catalog.Database, table: catalog.TableName };
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

    async close() {
      if (!clients) return;
      const { athena, s3 } = await clients;
      if (!options.client) athena.destroy();
      if (!options.s3) s3.destroy();
    },
  };
}
