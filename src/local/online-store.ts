import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SageMakerRecord } from '../schema/codec.js';
import { checkRecord, expiresAtMs, type GroupSchema, pickFeatures } from '../schema/sagemaker-record.js';
import { quoteIdentifier } from '../sql/quote.js';
import type {
  DeleteStatus,
  DeletionMode,
  OnlinePutOptions,
  OnlineRecord,
  OnlineStore,
  OnlineWriteStatus,
} from '../store/types.js';
import { Database } from './duckdb.js';
import { FeatureValidationError } from '../errors.js';

export interface LocalOnlineOptions {
  /** Directory holding `online.duckdb`; default `./.skewless`. Ignored when `memory` is true. */
  readonly dir?: string;
  /** Keep everything in memory; nothing is written to disk. */
  readonly memory?: boolean;
  /** The clock used for TTL expiry; tests move it. Default `Date.now`. */
  readonly now?: () => number;
}

interface StoredRow {
  readonly record_id: string;
  readonly event_time_ms: bigint;
  readonly record: string | null;
  readonly expires_at_ms: bigint | null;
}

/** What the online table holds for an identifier, as far as the write rule is concerned. */
interface Current {
  readonly eventTimeMs: number;
}

function tableName(group: GroupSchema): string {
  return quoteIdentifier(`online__${group.name}`);
}

function toOnlineRecord(row: StoredRow): OnlineRecord {
  const record = JSON.parse(row.record as string) as SageMakerRecord;
  return row.expires_at_ms === null ? { record } : { record, expiresAt: new Date(Number(row.expires_at_ms)) };
}

/**
 * The embedded online store: one DuckDB table per group, one row per record identifier, holding
 * the SageMaker record as written. Soft-deleted rows keep their delete's event time and no record.
 */
class LocalOnlineStore implements OnlineStore {
  private readonly ready = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  private ensureTable(group: GroupSchema): Promise<void> {
    let ready = this.ready.get(group.name);
    if (!ready) {
      ready = this.db
        .rows(
          `CREATE TABLE IF NOT EXISTS ${tableName(group)} (
             record_id VARCHAR PRIMARY KEY, event_time_ms BIGINT NOT NULL,
             record VARCHAR, expires_at_ms BIGINT)`,
        )
        .then(() => undefined);
      this.ready.set(group.name, ready);
    }
    return ready;
  }

  async put(group: GroupSchema, records: readonly SageMakerRecord[], options: OnlinePutOptions = {}): Promise<OnlineWriteStatus[]> {
    await this.ensureTable(group);
    const checked = records.map((record) => {
      const result = checkRecord(group, record);
      if (!result.ok) {
        throw new FeatureValidationError(`group "${group.name}": ${result.problem.message}`, {
          issues: [{ code: 'invalid_value', path: result.problem.feature ? [result.problem.feature] : [], message: result.problem.message }],
        });
      }
      return result;
    });
    return this.db.exclusive(async (connection) => {
      const stored = await this.currentUnlocked(connection, group, [...new Set(checked.map((c) => c.id))]);
      const latest = new Map<string, Current>();
      for (const [id, row] of stored) latest.set(id, { eventTimeMs: Number(row.event_time_ms) });
      const winners = new Map<string, number>(); // id -> index of the record that ends up stored
      const statuses = checked.map((c, index): OnlineWriteStatus => {
        const before = latest.get(c.id);
        if (before !== undefined && c.eventTimeMs <= before.eventTimeMs) return 'stale';
        latest.set(c.id, { eventTimeMs: c.eventTimeMs });
        winners.set(c.id, index);
        return 'applied';
      });
      if (winners.size > 0) {
        const table = tableName(group);
        await connection.run('CREATE OR REPLACE TEMP TABLE online_stage (record_id VARCHAR, event_time_ms BIGINT, record VARCHAR, expires_at_ms BIGINT)');
        const appender = await connection.createAppender('online_stage');
        for (const [id, index] of winners) {
          const c = checked[index] as (typeof checked)[number] & { ok: true };
          const expires = expiresAtMs(c.eventTimeMs, options.ttl);
          appender.appendVarchar(id);
          appender.appendBigInt(BigInt(c.eventTimeMs));
          appender.appendVarchar(JSON.stringify(records[index]));
          if (expires === undefined) appender.appendNull();
          else appender.appendBigInt(BigInt(expires));
          appender.endRow();
        }
        appender.closeSync();
        await connection.run(`INSERT OR REPLACE INTO ${table} SELECT * FROM online_stage`);
      }
      return statuses;
    });
  }

  /** Stored rows for these ids that have not expired; soft-deleted rows count for the write rule. */
  private async currentUnlocked(
    connection: Database['connection'],
    group: GroupSchema,
    ids: readonly string[],
  ): Promise<Map<string, StoredRow>> {
    const found = new Map<string, StoredRow>();
    if (ids.length === 0) return found;
    const now = this.now();
    await connection.run('CREATE OR REPLACE TEMP TABLE online_ids (record_id VARCHAR)');
    const appender = await connection.createAppender('online_ids');
    for (const id of ids) {
      appender.appendVarchar(id);
      appender.endRow();
    }
    appender.closeSync();
    const reader = await connection.runAndReadAll(
      `SELECT t.record_id, t.event_time_ms, t.record, t.expires_at_ms FROM ${tableName(group)} t
       JOIN online_ids USING (record_id)`,
    );
    for (const row of reader.getRowObjectsJS() as unknown as StoredRow[]) {
      if (row.expires_at_ms === null || Number(row.expires_at_ms) > now) found.set(row.record_id, row);
    }
    return found;
  }

  async get(group: GroupSchema, id: string, options: { readonly features?: readonly string[] } = {}): Promise<OnlineRecord | undefined> {
    const found = (await this.getMany(group, [id])).get(id);
    return found && { ...found, record: pickFeatures(found.record, options.features) };
  }

  async getMany(group: GroupSchema, ids: readonly string[]): Promise<Map<string, OnlineRecord>> {
    await this.ensureTable(group);
    const stored = await this.db.exclusive((connection) => this.currentUnlocked(connection, group, [...new Set(ids)]));
    const out = new Map<string, OnlineRecord>();
    for (const [id, row] of stored) if (row.record !== null) out.set(id, toOnlineRecord(row));
    return out;
  }

  async delete(group: GroupSchema, id: string, eventTime: string, mode: DeletionMode): Promise<DeleteStatus> {
    await this.ensureTable(group);
    const type = group.featureDefinitions.find((d) => d.FeatureName === group.eventTime)?.FeatureType ?? 'String';
    const marker = checkRecord(group, [
      { FeatureName: group.recordIdentifier, ValueAsString: id },
      { FeatureName: group.eventTime, ValueAsString: eventTime },
    ]);
    if (!marker.ok) throw new FeatureValidationError(`group "${group.name}": ${marker.problem.message} (${type})`);
    return this.db.exclusive(async (connection) => {
      const stored = (await this.currentUnlocked(connection, group, [id])).get(id);
      if (stored !== undefined && marker.eventTimeMs <= Number(stored.event_time_ms)) return 'stale';
      const table = tableName(group);
      if (mode === 'HardDelete') {
        await connection.run(`DELETE FROM ${table} WHERE record_id = $1`, [id]);
      } else {
        // A soft delete keeps the identifier with the delete's event time, so older writes stay out.
        await connection.run(`INSERT OR REPLACE INTO ${table} VALUES ($1, $2, NULL, NULL)`, [id, BigInt(marker.eventTimeMs)]);
      }
      return 'deleted';
    });
  }

  /** Forgets every record of a group (DeleteFeatureGroup). */
  async drop(groupName: string): Promise<void> {
    this.ready.delete(groupName);
    await this.db.rows(`DROP TABLE IF EXISTS ${quoteIdentifier(`online__${groupName}`)}`);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * The embedded online store on DuckDB, the default of `createFeatureStore()`.
 *
 * ### Example
 * ```ts
 * import { localOnline } from 'skewless/local';
 * const online = await localOnline({ dir: '.skewless' });
 * await online.put(cardActivity, [cardActivity.codec.toRecord(record)]);
 * ```
 */
export async function localOnline(options: LocalOnlineOptions = {}): Promise<OnlineStore & { drop(groupName: string): Promise<void> }> {
  let path = ':memory:';
  if (!options.memory) {
    const dir = options.dir ?? '.skewless';
    mkdirSync(dir, { recursive: true });
    path = join(dir, 'online.duckdb');
  }
  return new LocalOnlineStore(await Database.open(path), options.now ?? Date.now);
}
