import { randomUUID } from 'node:crypto';
import { csvField, csvLine } from '../../csv/writer.js';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { FeatureDefinition } from '../../schema/feature-spec.js';
import { quoteIdentifier, quoteLiteral } from '../../sql/quote.js';
import { Database } from '../duckdb.js';
import { type StackContext, s3Path } from './context.js';
import { AwsError } from './http.js';
import { bucketExists } from './s3.js';

type State = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

interface Column {
  readonly Name: string;
  readonly Type: string;
}

interface Execution {
  readonly id: string;
  readonly query: string;
  readonly database: string | undefined;
  readonly outputLocation: string;
  readonly workGroup: string;
  readonly statementType: 'DDL' | 'DML' | 'UTILITY';
  readonly submitted: number;
  state: State;
  reason?: string;
  completed?: number;
  engineMs?: number;
  columns?: Column[];
  rows?: (string | undefined)[][];
}

const ATHENA_TYPES: Record<string, string> = {
  BIGINT: 'bigint',
  INTEGER: 'integer',
  SMALLINT: 'smallint',
  TINYINT: 'tinyint',
  DOUBLE: 'double',
  FLOAT: 'float',
  VARCHAR: 'varchar',
  BOOLEAN: 'boolean',
  TIMESTAMP: 'timestamp',
  'TIMESTAMP WITH TIME ZONE': 'timestamp with time zone',
  DATE: 'date',
  HUGEINT: 'decimal',
};

function athenaType(duckType: string): string {
  if (duckType.endsWith('[]')) return 'array';
  if (duckType.startsWith('DECIMAL')) return 'decimal';
  return ATHENA_TYPES[duckType] ?? 'varchar';
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Values as Athena prints them in results: timestamps `yyyy-MM-dd HH:mm:ss.SSS`, arrays `[a, b]`. */
function athenaText(value: unknown, type: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Date) {
    const day = `${pad(value.getUTCFullYear(), 4)}-${pad(value.getUTCMonth() + 1)}-${pad(value.getUTCDate())}`;
    if (type === 'date') return day;
    return `${day} ${pad(value.getUTCHours())}:${pad(value.getUTCMinutes())}:${pad(value.getUTCSeconds())}.${pad(value.getUTCMilliseconds(), 3)}`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => athenaText(v, '') ?? 'null').join(', ')}]`;
  return String(value);
}

/** Athena's CSV result file: a header, every field quoted, NULL as an empty unquoted field. */
function csvOf(columns: readonly Column[], rows: readonly (string | undefined)[][]): string {
  const lines = [csvLine(columns.map((c) => c.Name), true)];
  for (const row of rows) lines.push(row.map((v) => (v === undefined ? '' : csvField(v, true))).join(','));
  return `${lines.join('\n')}\n`;
}

function statementType(query: string): Execution['statementType'] {
  const word = /^\s*(?:--[^\n]*\n\s*)*(\w+)/.exec(query)?.[1]?.toUpperCase();
  if (word === 'SELECT' || word === 'WITH' || word === 'INSERT' || word === 'VALUES') return 'DML';
  if (word === 'CREATE' || word === 'DROP' || word === 'ALTER' || word === 'SHOW' || word === 'DESCRIBE') return 'DDL';
  return 'UTILITY';
}

const SQL_TYPE: Record<FeatureDefinition['FeatureType'], string> = { String: 'VARCHAR', Integral: 'BIGINT', Fractional: 'DOUBLE' };

const HIVE_NAME = '`?([A-Za-z0-9_]+)`?';
const CREATE_EXTERNAL = new RegExp(
  `^\\s*CREATE\\s+EXTERNAL\\s+TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${HIVE_NAME}\\.${HIVE_NAME}\\s*\\(([\\s\\S]*?)\\)\\s*(PARTITIONED\\s+BY\\s*\\([^)]*\\)\\s*)?STORED\\s+AS\\s+PARQUET\\s+LOCATION\\s+'([^']+)'\\s*(?:TBLPROPERTIES\\s*\\(([\\s\\S]*)\\))?\\s*;?\\s*$`,
  'i',
);
const DROP_TABLE = new RegExp(`^\\s*DROP\\s+TABLE\\s+(?:IF\\s+EXISTS\\s+)?${HIVE_NAME}\\.${HIVE_NAME}\\s*;?\\s*$`, 'i');

/** An external table a CREATE EXTERNAL TABLE registered: its files, and its columns for when there are none. */
export interface ExternalTable {
  readonly database: string;
  readonly table: string;
  readonly dir: string;
  readonly partitioned: boolean;
  readonly columns: readonly { readonly name: string; readonly type: string }[];
}

const HIVE_TYPES: Record<string, string> = { string: 'VARCHAR', varchar: 'VARCHAR', bigint: 'BIGINT', int: 'INTEGER', integer: 'INTEGER', double: 'DOUBLE', float: 'FLOAT', boolean: 'BOOLEAN', timestamp: 'TIMESTAMP', date: 'DATE' };

function duckType(hive: string): string {
  const array = /^array<(.+)>$/i.exec(hive.trim());
  if (array) return `${duckType(array[1] as string)}[]`;
  return HIVE_TYPES[hive.trim().toLowerCase()] ?? 'VARCHAR';
}

function hiveColumns(list: string): { name: string; type: string }[] {
  return list
    .split(/,(?![^<]*>)/)
    .map((column) => /^\s*`?([A-Za-z0-9_-]+)`?\s+(.+?)\s*$/.exec(column))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1] as string, type: duckType(m[2] as string) }));
}

/**
 * The Athena DDL for external Parquet tables, as the local stack keeps it: CREATE registers the
 * table (its view is refreshed before every query, so files written later are read, and a table
 * without files is empty, as on Athena), DROP forgets it. A partitioned table is read only with
 * partition projection, the one way its partitions are known without registering each.
 */
export function parseDdl(query: string, s3Root: string): { create: ExternalTable } | { drop: { database: string; table: string } } | undefined {
  const create = CREATE_EXTERNAL.exec(query);
  if (create) {
    const [, database, table, columns, partitionedBy, location, properties] = create as unknown as [string, string, string, string, string | undefined, string, string | undefined];
    const partitioned = partitionedBy !== undefined;
    if (partitioned && !/'projection\.enabled'\s*=\s*'true'/i.test(properties ?? '')) {
      throw new Error("the local stack reads a partitioned table only with partition projection (TBLPROPERTIES ('projection.enabled'='true', ...))");
    }
    const partitionColumns = partitioned ? hiveColumns((/\(([^)]*)\)/.exec(partitionedBy as string)?.[1] ?? '')) : [];
    return { create: { database, table, dir: s3Path(s3Root, location).replace(/\/+$/, ''), partitioned, columns: [...hiveColumns(columns), ...partitionColumns] } };
  }
  const drop = DROP_TABLE.exec(query);
  if (drop) return { drop: { database: drop[1] as string, table: drop[2] as string } };
  return undefined;
}

/** The DuckDB view of an external table: over its files, or an empty table of its columns before there are any. */
function externalView(table: ExternalTable): string {
  const name = `${quoteIdentifier(table.database)}.${quoteIdentifier(table.table)}`;
  const glob = table.partitioned ? `${table.dir}/**/*.parquet` : `${table.dir}/*.parquet`;
  const source = hasParquet(table.dir, table.partitioned)
    ? `SELECT * FROM read_parquet(${quoteLiteral(glob)}${table.partitioned ? ', hive_partitioning = true, hive_types_autocast = false, union_by_name = true' : ''})`
    : `SELECT ${table.columns.map((c) => `CAST(NULL AS ${c.type}) AS ${quoteIdentifier(c.name)}`).join(', ')} WHERE false`;
  return `CREATE OR REPLACE VIEW ${name} AS ${source}`;
}

function hasParquet(dir: string, recursive: boolean): boolean {
  try {
    return readdirSync(dir, { recursive }).some((f) => String(f).endsWith('.parquet') && !String(f).split('/').pop()?.startsWith('.'));
  } catch {
    return false;
  }
}

/**
 * Athena on DuckDB: every feature group's Glue table is a DuckDB view over its offline Parquet, in a
 * schema named after its Glue database. Queries run as written (only external-table DDL is translated); one DuckDB cannot run fails the way
 * Athena fails a query (state FAILED with a reason), never silently rewritten.
 */
export class LocalAthena {
  private readonly executions = new Map<string, Execution>();
  private readonly tokens = new Map<string, string>();
  private readonly external = new Map<string, ExternalTable>();
  private engine: Promise<Database> | undefined;

  constructor(private readonly context: StackContext) {}

  private database(): Promise<Database> {
    this.engine ??= Database.open(':memory:').then(async (db) => {
      // Athena's Trino functions skewless's SQL uses, which DuckDB spells differently.
      await db.exclusive(async (connection) => {
        await connection.run('CREATE TEMP MACRO from_iso8601_timestamp(text) AS CAST(text AS TIMESTAMPTZ)');
        await connection.run('CREATE TEMP MACRO to_unixtime(ts) AS epoch_ms(ts) / 1000.0');
      });
      return db;
    });
    return this.engine;
  }

  /** Refreshes the views that stand for the Glue tables of the feature groups' offline stores. */
  private async syncCatalog(db: Database): Promise<void> {
    await this.context.offline.flush();
    await db.exclusive(async (connection) => {
      for (const group of this.context.registry.all()) {
        const catalog = group.OfflineStoreConfig?.DataCatalogConfig;
        if (!catalog) continue;
        const schema = quoteIdentifier(catalog.Database);
        const view = `${schema}.${quoteIdentifier(catalog.TableName)}`;
        const store = await this.context.offline.store();
        // The Glue table's hourly partition keys are columns, as on AWS.
        const source = store.source({ name: group.FeatureGroupName }, { partitions: true });
        // Before the first write there are no files: the view is then an empty table of the right shape.
        const empty = [
          ...group.FeatureDefinitions.map((d) => `CAST(NULL AS ${SQL_TYPE[d.FeatureType]}${d.CollectionType ? '[]' : ''}) AS ${quoteIdentifier(d.FeatureName)}`),
          'CAST(NULL AS TIMESTAMP) AS write_time',
          'CAST(NULL AS TIMESTAMP) AS api_invocation_time',
          'CAST(NULL AS BOOLEAN) AS is_deleted',
          ...['year', 'month', 'day', 'hour'].map((p) => `CAST(NULL AS VARCHAR) AS ${p}`),
        ].join(', ');
        await connection.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await connection.run(`CREATE OR REPLACE VIEW ${view} AS ${source ? `SELECT * FROM ${source}` : `SELECT ${empty} WHERE false`}`);
      }
      // External tables read the files there are now.
      for (const table of this.external.values()) await connection.run(externalView(table));
    });
  }

  start(body: Record<string, unknown>): Record<string, unknown> {
    const query = body['QueryString'];
    if (typeof query !== 'string' || query.trim() === '') throw new AwsError('InvalidRequestException', 'QueryString is required');
    if (Buffer.byteLength(query, 'utf8') > 262_144) throw new AwsError('InvalidRequestException', 'QueryString is longer than 262144 bytes');
    const token = body['ClientRequestToken'];
    if (typeof token === 'string') {
      const known = this.tokens.get(token);
      if (known) {
        if (this.executions.get(known)?.query !== query) {
          throw new AwsError('InvalidRequestException', 'ClientRequestToken was already used for a different query');
        }
        return { QueryExecutionId: known };
      }
    }
    const output = (body['ResultConfiguration'] as { OutputLocation?: string } | undefined)?.OutputLocation;
    if (!output) throw new AwsError('InvalidRequestException', 'No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.');
    // Athena checks the results bucket when the query starts, not when it writes: a bucket that does
    // not exist (or is not yours) fails StartQueryExecution itself
    // (https://aws.amazon.com/premiumsupport/knowledge-center/athena-output-bucket-error/).
    const bucket = /^s3:\/\/([^/]+)/.exec(output)?.[1];
    if (bucket === undefined || !bucketExists(this.context, bucket)) {
      throw new AwsError('InvalidRequestException', `Unable to verify/create output bucket ${bucket ?? output}`);
    }
    const id = randomUUID();
    const execution: Execution = {
      id,
      query,
      database: (body['QueryExecutionContext'] as { Database?: string } | undefined)?.Database,
      outputLocation: `${output.replace(/\/+$/, '')}/${id}.csv`,
      workGroup: typeof body['WorkGroup'] === 'string' ? body['WorkGroup'] : 'primary',
      statementType: statementType(query),
      submitted: this.context.now(),
      state: 'QUEUED',
    };
    this.executions.set(id, execution);
    if (typeof token === 'string') this.tokens.set(token, id);
    setImmediate(() => void this.run(execution));
    return { QueryExecutionId: id };
  }

  private async run(execution: Execution): Promise<void> {
    if (execution.state !== 'QUEUED') return;
    execution.state = 'RUNNING';
    const started = this.context.now();
    try {
      const db = await this.database();
      await this.syncCatalog(db);
      const { columns, rows } = await db.exclusive(async (connection) => {
        await connection.run(execution.database ? `SET search_path = ${quoteLiteral(execution.database)}` : 'RESET search_path');
        const ddl = parseDdl(execution.query, this.context.s3Root);
        let statement = execution.query;
        if (ddl && 'create' in ddl) {
          const { database, table } = ddl.create;
          await connection.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(database)}`);
          this.external.set(`${database}.${table}`, ddl.create);
          statement = externalView(ddl.create);
        } else if (ddl) {
          this.external.delete(`${ddl.drop.database}.${ddl.drop.table}`);
          statement = `DROP VIEW IF EXISTS ${quoteIdentifier(ddl.drop.database)}.${quoteIdentifier(ddl.drop.table)}`;
        }
        const reader = await connection.runAndReadAll(statement);
        const types = reader.columnTypes().map((t) => athenaType(String(t)));
        const cols = reader.columnNames().map((name, i) => ({ Name: name, Type: types[i] as string }));
        const values = reader.getRowsJS().map((row) => row.map((v, i) => athenaText(v, types[i] as string)));
        return { columns: cols, rows: values };
      });
      if ((execution.state as State) === 'CANCELLED') return;
      const path = s3Path(this.context.s3Root, execution.outputLocation);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, execution.statementType === 'DML' ? csvOf(columns, rows) : rows.map((r) => r.join('\t')).join('\n'));
      Object.assign(execution, { state: 'SUCCEEDED', columns, rows });
    } catch (error) {
      if ((execution.state as State) === 'CANCELLED') return;
      execution.state = 'FAILED';
      execution.reason = error instanceof Error ? error.message : String(error);
    } finally {
      execution.completed = this.context.now();
      execution.engineMs = execution.completed - started;
    }
  }

  private execution(body: Record<string, unknown>): Execution {
    const id = body['QueryExecutionId'];
    const execution = typeof id === 'string' ? this.executions.get(id) : undefined;
    if (!execution) throw new AwsError('InvalidRequestException', `QueryExecution ${String(id)} was not found`);
    return execution;
  }

  get(body: Record<string, unknown>): Record<string, unknown> {
    const e = this.execution(body);
    return {
      QueryExecution: {
        QueryExecutionId: e.id,
        Query: e.query,
        StatementType: e.statementType,
        ResultConfiguration: { OutputLocation: e.outputLocation },
        QueryExecutionContext: e.database ? { Database: e.database, Catalog: 'awsdatacatalog' } : {},
        Status: {
          State: e.state,
          SubmissionDateTime: e.submitted / 1000,
          ...(e.completed !== undefined ? { CompletionDateTime: e.completed / 1000 } : {}),
          ...(e.reason !== undefined ? { StateChangeReason: e.reason, AthenaError: { ErrorCategory: 2, ErrorType: 1100, Retryable: false, ErrorMessage: e.reason } } : {}),
        },
        Statistics: {
          EngineExecutionTimeInMillis: e.engineMs ?? 0,
          DataScannedInBytes: 0,
          TotalExecutionTimeInMillis: (e.completed ?? this.context.now()) - e.submitted,
          QueryQueueTimeInMillis: 0,
        },
        WorkGroup: e.workGroup,
        EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
      },
    };
  }

  results(body: Record<string, unknown>): Record<string, unknown> {
    const e = this.execution(body);
    if (e.state !== 'SUCCEEDED') {
      throw new AwsError('InvalidRequestException', `Query has not yet finished. Current state: ${e.state}`);
    }
    const columns = e.columns ?? [];
    const rows = e.rows ?? [];
    // MaxResults is 1..1000 in the model (MaxQueryResults); the service refuses other values, never clamps them.
    const max = (body['MaxResults'] ?? 1000) as number;
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new AwsError('InvalidRequestException', `1 validation error detected: Value '${String(max)}' at 'maxResults' failed to satisfy constraint: Member must have value ${max < 1 ? 'greater than or equal to 1' : 'less than or equal to 1000'}`);
    }
    const start = body['NextToken'] === undefined ? 0 : Number(body['NextToken']);
    if (!Number.isInteger(start) || start < 0) throw new AwsError('InvalidRequestException', 'invalid NextToken');
    // The first page of a SELECT starts with the header row, and it counts toward MaxResults.
    const header = start === 0 && e.statementType === 'DML' ? [{ Data: columns.map((c) => ({ VarCharValue: c.Name })) }] : [];
    const take = max - header.length;
    const page = rows.slice(start, start + take).map((row) => ({ Data: row.map((v) => (v === undefined ? {} : { VarCharValue: v })) }));
    const next = start + take;
    return {
      UpdateCount: 0,
      ResultSet: {
        Rows: [...header, ...page],
        ResultSetMetadata: {
          ColumnInfo: columns.map((c) => ({
            CatalogName: 'hive',
            SchemaName: '',
            TableName: '',
            Name: c.Name,
            Label: c.Name,
            Type: c.Type,
            Precision: 0,
            Scale: 0,
            Nullable: 'UNKNOWN',
            CaseSensitive: c.Type === 'varchar',
          })),
        },
      },
      ...(next < rows.length ? { NextToken: String(next) } : {}),
    };
  }

  stop(body: Record<string, unknown>): Record<string, unknown> {
    const e = this.execution(body);
    if (e.state === 'QUEUED' || e.state === 'RUNNING') {
      e.state = 'CANCELLED';
      e.completed = this.context.now();
    }
    return {};
  }

  async close(): Promise<void> {
    if (this.engine) await (await this.engine).close();
  }
}
