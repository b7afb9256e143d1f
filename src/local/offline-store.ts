import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FeatureValue } from '../schema/codec.js';
import { checkRecord, type GroupSchema } from '../schema/sagemaker-record.js';
import type { FeatureDefinition } from '../schema/types.js';
import { quoteIdentifier, quoteLiteral } from '../sql/quote.js';
import type { OfflineAppendOptions, OfflineStore, OfflineStoredRow, OfflineWrite } from '../store/types.js';
import { offlineFileName, partitionOf } from '../offline/layout.js';
import { Database } from './duckdb.js';
import { FeatureValidationError } from '../errors.js';

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

/** Where a group's offline files live under a base directory: `<base>/<group>/data`. */
export function offlineDataDir(base: string, group: string): string {
  return join(base, group, 'data');
}

/**
 * The embedded offline store: every write and delete marker appended as Parquet, in SageMaker's
 * Glue-format layout, with `write_time`, `api_invocation_time` and `is_deleted` columns.
 * DuckDB writes the files; the same layout is what Athena (and the local stack's Athena) reads.
 */
class LocalOfflineStore implements OfflineStore {
  constructor(
    private readonly db: Database,
    readonly baseDir: string,
    private readonly removeOnClose: boolean,
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
        const dir = join(offlineDataDir(this.baseDir, group.name), partition);
        mkdirSync(dir, { recursive: true });
        const name = options.fileName ? `${options.fileName}.parquet` : offlineFileName(new Date());
        // Written under a dot-name and renamed (atomically replacing a file of the same name), so a
        // reader never sees half a file.
        const partial = join(dir, `.${name}`);
        await connection.run(
          `COPY (SELECT ${select} FROM offline_stage WHERE part = ${quoteLiteral(partition)}) TO ${quoteLiteral(partial)} (FORMAT parquet)`,
        );
        renameSync(partial, join(dir, name));
      }
    });
  }

  /** The SQL table expression that reads every offline file of a group (DuckDB dialect). */
  source(group: GroupSchema): string | undefined {
    const dir = offlineDataDir(this.baseDir, group.name);
    if (!hasParquet(dir)) return undefined;
    return `read_parquet(${quoteLiteral(join(dir, '**', '*.parquet'))}, hive_partitioning = false, union_by_name = true)`;
  }

  async scan(group: GroupSchema): Promise<OfflineStoredRow[]> {
    const source = this.source(group);
    if (source === undefined) return [];
    return (await this.db.rows(`SELECT * FROM ${source}`)) as OfflineStoredRow[];
  }

  async close(): Promise<void> {
    await this.db.close();
    if (this.removeOnClose) rmSync(this.baseDir, { recursive: true, force: true });
  }
}

function hasParquet(dir: string): boolean {
  try {
    return readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.parquet') && !String(f).split('/').pop()?.startsWith('.'));
  } catch {
    return false;
  }
}

export type { LocalOfflineStore };

/**
 * The embedded offline store: Parquet files in SageMaker's offline layout, written with DuckDB.
 *
 * ### Example
 * ```ts
 * import { localOffline } from 'skewless/local';
 * const offline = await localOffline({ dir: '.skewless/offline' });
 * const rows = await offline.scan(cardActivity);
 * ```
 */
export async function localOffline(options: LocalOfflineOptions = {}): Promise<OfflineStore & { readonly baseDir: string; source(group: GroupSchema): string | undefined }> {
  const memory = options.memory === true;
  const baseDir = memory ? mkdtempSync(join(tmpdir(), 'skewless-offline-')) : (options.dir ?? join('.skewless', 'offline'));
  mkdirSync(baseDir, { recursive: true });
  return new LocalOfflineStore(await Database.open(':memory:'), baseDir, memory);
}
