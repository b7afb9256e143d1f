import type { DuckDBConnection } from '@duckdb/node-api';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureValue } from '../schema/codec.js';
import { checkRecord, type GroupSchema } from '../schema/sagemaker-record.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';
import { quoteIdentifier, quoteLiteral } from '../sql/quote.js';
import type { OfflineAppendOptions, OfflineStore, OfflineStoredRow, OfflineWrite } from '../store/types.js';
import type { FileTrainingRequest, FileTrainingResult, JoinedValues, SpineKeys, TrainingEngine } from '../training/engine.js';
import type { TrainingPlan } from '../sql/plan.js';
import { DUCKDB, featureColumn, matchedColumn, renderTrainingSql } from '../sql/render.js';
import { offlineFileName, partitionOf } from '../offline/layout.js';
import { removeDataFiles, writeDataFile } from '../offline/data-files.js';
import { Database } from './duckdb.js';
import { offlineReadError } from '../offline/parquet.js';
import { trainingSetToFile } from './training-file.js';
import { FeatureValidationError } from '../errors.js';
import { checkOptions } from '../util/options.js';
import { DEFAULT_DIR } from '../store/feature-store.js';
import { LOCAL_OPTIONS } from './options.js';

export interface LocalOfflineOptions {
  /** Directory under which `<group>/data/year=.../*.parquet` files go; default `./.skewless/offline`. */
  readonly dir?: string;
  /** Write to a temporary directory removed on `close()`. */
  readonly memory?: boolean;
}

const SQL_TYPE: Record<FeatureDefinition['FeatureType'], string> = {
  String: 'VARCHAR',
  Integral: 'BIGINT',
  Fractional: 'DOUBLE',
};

function columnType(definition: FeatureDefinition): string {
  const scalar = SQL_TYPE[definition.FeatureType];
  return definition.CollectionType ? `${scalar}[]` : scalar;
}

/**
 * Where a group's offline files live under a base directory: `<base>/<group>/data`.
 *
 * ### Example
 * ```ts
 * offlineDataDir('.skewless/offline', 'card-activity');   // '.skewless/offline/card-activity/data'
 * ```
 */
export function offlineDataDir(base: string, group: string): string {
  return join(base, group, 'data');
}

/**
 * The embedded offline store: every write and delete marker appended as Parquet, in SageMaker's
 * Glue-format layout, with `write_time`, `api_invocation_time` and `is_deleted` columns.
 * DuckDB writes the files; the same layout is what Athena (and the local stack's Athena) reads.
 */
export class LocalOfflineStore implements LocalOffline {
  /** A row is in its file once `append` resolves. */
  readonly availabilityDelay = '0s';

  constructor(
    private readonly db: Database,
    readonly baseDir: string,
    private readonly removeOnClose: boolean,
    /** Where a group's `year=.../` partitions go: `<baseDir>/<group>/data`, or (the local stack) SageMaker's resolved location. */
    private readonly dataDirOf: (group: string) => string = (group) => offlineDataDir(baseDir, group),
  ) {}

  async append(group: GroupSchema, writes: readonly OfflineWrite[], options: OfflineAppendOptions = {}): Promise<void> {
    if (writes.length === 0) return;
    const definitions = group.featureDefinitions;
    const rows = writes.map((write) => {
      const checked = checkRecord(group, write.record);
      if (!checked.ok) throw new FeatureValidationError(`group "${group.name}": ${checked.problem.message}`);
      return { write, partition: partitionOf(checked.eventTimeMs) };
    });
    await this.db.exclusive(async (connection) => {
      // Values are staged as text (lists as JSON) and cast by DuckDB, so every type follows one path.
      const staged = definitions.map((_, i) => `c${i} VARCHAR`).join(', ');
      await connection.run(
        `CREATE OR REPLACE TEMP TABLE offline_stage (${staged}${staged ? ', ' : ''}write_us BIGINT, invocation_us BIGINT, is_deleted BOOLEAN, part VARCHAR)`,
      );
      const appender = await connection.createAppender('offline_stage');
      for (const { write, partition } of rows) {
        const byName = new Map<string, FeatureValue>(write.record.map((f) => [f.FeatureName, f]));
        for (const definition of definitions) {
          const feature = byName.get(definition.FeatureName);
          if (feature === undefined) appender.appendNull();
          else if (definition.CollectionType) appender.appendVarchar(JSON.stringify(feature.ValueAsStringList ?? []));
          else appender.appendVarchar(feature.ValueAsString ?? '');
        }
        appender.appendBigInt(BigInt(write.writeTime.getTime()) * 1000n);
        appender.appendBigInt(BigInt(write.apiInvocationTime.getTime()) * 1000n);
        appender.appendBoolean(write.isDeleted);
        appender.appendVarchar(partition);
        appender.endRow();
      }
      appender.closeSync();
      const columns = definitions.map((definition, i) => {
        const target = columnType(definition);
        const source = definition.CollectionType ? `CAST(CAST(c${i} AS JSON) AS VARCHAR[])` : `c${i}`;
        return `CAST(${source} AS ${target}) AS ${quoteIdentifier(definition.FeatureName)}`;
      });
      const select = [
        ...columns,
        'make_timestamp(write_us) AS write_time',
        'make_timestamp(invocation_us) AS api_invocation_time',
        'is_deleted',
      ].join(', ');
      const partitions = [...new Set(rows.map((r) => r.partition))];
      for (const partition of partitions) {
        const dir = join(this.dataDirOf(group.name), partition);
        mkdirSync(dir, { recursive: true });
        const name = options.fileName ? `${options.fileName}.parquet` : offlineFileName(new Date());
        await writeDataFile(dir, name, (partial) =>
          connection.run(`COPY (SELECT ${select} FROM offline_stage WHERE part = ${quoteLiteral(partition)}) TO ${quoteLiteral(partial)} (FORMAT parquet)`),
        );
      }
    });
  }

  /** The SQL table expression that reads every offline file of a group (DuckDB dialect). */
  source(group: Pick<GroupSchema, 'name'>, options: { readonly partitions?: boolean } = {}): string | undefined {
    const dir = this.dataDirOf(group.name);
    if (!hasParquet(dir)) return undefined;
    // With `partitions`, year/month/day/hour come from the path as text, as the Glue table's partition keys do.
    const hive = options.partitions ? 'hive_partitioning = true, hive_types_autocast = false' : 'hive_partitioning = false';
    return `read_parquet(${quoteLiteral(join(dir, '**', '*.parquet'))}, ${hive}, union_by_name = true)`;
  }

  /**
   * The point-in-time join in DuckDB, over the same Parquet files `scan` reads: the spine's keys and
   * times go into a temp table, the plan is rendered for DuckDB (ASOF JOIN unless knowledge time
   * forces window functions), and only the chosen values come back.
   */
  async pointInTimeJoin(plan: TrainingPlan, spine: SpineKeys): Promise<JoinedValues> {
    const read = this.db.exclusive(async (connection) => {
      const sql = renderTrainingSql(plan, { spine: 'spine_keys', groups: await this.groupTables(connection, plan) }, DUCKDB);
      const keys = plan.joins.map((_, i) => `__k${i} VARCHAR`).join(', ');
      await connection.run(`CREATE OR REPLACE TEMP TABLE spine_keys (__row BIGINT, __t BIGINT${keys ? `, ${keys}` : ''})`);
      const appender = await connection.createAppender('spine_keys');
      spine.times.forEach((time, row) => {
        appender.appendBigInt(BigInt(row));
        appender.appendBigInt(BigInt(time));
        for (const stepKeys of spine.keys) {
          const key = stepKeys[row];
          if (key === undefined) appender.appendNull();
          else appender.appendVarchar(key);
        }
        appender.endRow();
      });
      appender.closeSync();
      try {
        return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
      } finally {
        await connection.run('DROP TABLE IF EXISTS spine_keys');
      }
    });
    const rows = await read.catch((cause: unknown) => {
      throw offlineReadError(`the point-in-time join of ${plan.joins.map((step) => `"${step.group}"`).join(', ')}`, cause);
    });
    return plan.joins.map((step, i) =>
      rows.map((row) => (row[matchedColumn(i)] ? Object.fromEntries(step.features.map((f, n) => [f, row[featureColumn(i, n)] ?? null])) : null)),
    );
  }

  async trainingSetToFile(plan: TrainingPlan, request: FileTrainingRequest): Promise<FileTrainingResult | undefined> {
    return this.db.exclusive(async (connection) => {
      const groups = await this.groupTables(connection, plan).catch((cause: unknown) => {
        throw offlineReadError(`the point-in-time join of ${plan.joins.map((step) => `"${step.group}"`).join(', ')}`, cause);
      });
      return trainingSetToFile(connection, plan, request, groups);
    });
  }

  /**
   * Each joined group's files as a table with a column for every feature the group defines now: a
   * feature added after some files were written reads as null in them (as Athena reads a column added
   * to a Glue table), and a group with no files is an empty table.
   */
  private async groupTables(connection: DuckDBConnection, plan: TrainingPlan): Promise<Map<string, string>> {
    const tables = new Map<string, string>();
    for (const step of plan.joins) {
      // A group joined twice (under two prefixes) is one table.
      if (tables.has(step.group)) continue;
      const source = this.source({ name: step.group });
      if (source === undefined) {
        tables.set(step.group, emptyOffline(step.definitions));
        continue;
      }
      const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS();
      const found = new Set(described.map((row) => String(row['column_name'])));
      const added = step.definitions.filter((d) => !found.has(d.FeatureName)).map(nullColumn);
      tables.set(step.group, added.length === 0 ? source : `(SELECT *, ${added.join(', ')} FROM ${source})`);
    }
    return tables;
  }

  async removeFiles(group: GroupSchema, select: (fileName: string) => boolean): Promise<number> {
    // Not while a query has listed the files it is about to read.
    return this.db.exclusive(async () => removeDataFiles(this.dataDirOf(group.name), select));
  }

  async scan(group: GroupSchema): Promise<OfflineStoredRow[]> {
    const source = this.source(group);
    if (source === undefined) return [];
    try {
      return (await this.db.rows(`SELECT * FROM ${source}`)) as OfflineStoredRow[];
    } catch (cause) {
      throw offlineReadError(`reading the files of "${group.name}"`, cause, group.name);
    }
  }

  async close(): Promise<void> {
    await this.db.close();
    if (this.removeOnClose) rmSync(this.baseDir, { recursive: true, force: true });
  }
}

/** A feature's column of nulls, typed as the feature's offline column. */
const nullColumn = (definition: FeatureDefinition): string => `CAST(NULL AS ${columnType(definition)}) AS ${quoteIdentifier(definition.FeatureName)}`;

/** An empty table with a group's offline columns: what a group with no files yet reads as. */
function emptyOffline(definitions: readonly FeatureDefinition[]): string {
  const columns = definitions.map(nullColumn);
  return `(SELECT ${[...columns, 'CAST(NULL AS TIMESTAMP) AS write_time', 'CAST(NULL AS TIMESTAMP) AS api_invocation_time', 'CAST(NULL AS BOOLEAN) AS is_deleted'].join(', ')} LIMIT 0)`;
}

function hasParquet(dir: string): boolean {
  try {
    return readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.parquet') && !String(f).split('/').pop()?.startsWith('.'));
  } catch {
    return false;
  }
}

/** The embedded offline store as `localOffline` returns it: storage, its DuckDB training engine, and where its files are. */
export interface LocalOffline extends OfflineStore, TrainingEngine {
  /** The directory its `<group>/data/...` files go under. */
  readonly baseDir: string;
}

/**
 * The embedded offline store: Parquet files with SageMaker's offline columns in hourly partitions
 * under `<dir>/<group>/data/`, written with DuckDB.
 *
 * ### Example
 * ```ts
 * import { localOffline } from 'skewless/local';
 * const offline = await localOffline({ dir: '.skewless/offline' });
 * const rows = await offline.scan(cardActivity);
 * ```
 */
export async function localOffline(options: LocalOfflineOptions = {}): Promise<LocalOffline> {
  checkOptions(LOCAL_OPTIONS, options, 'localOffline options');
  return openLocalOffline(options);
}

/**
 * The store itself, with what the local stack's Athena needs of it (the SQL source of a group's
 * files); the stack passes `dataDirOf` to write each group where SageMaker would.
 */
export async function openLocalOffline(options: LocalOfflineOptions = {}, dataDirOf?: (group: string) => string): Promise<LocalOfflineStore> {
  const memory = options.memory === true;
  const baseDir = memory ? mkdtempSync(join(tmpdir(), 'skewless-offline-')) : (options.dir ?? join(DEFAULT_DIR, 'offline'));
  mkdirSync(baseDir, { recursive: true });
  return new LocalOfflineStore(await Database.open(':memory:'), baseDir, memory, dataDirOf);
}
