import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FeatureValidationError } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import { type CheckedRecord, checkRecord, expiresAtMs, type GroupSchema, recordOf, storedForm, type StoredRecord } from '../schema/sagemaker-record.js';
import { quoteIdentifier } from '../sql/quote.js';
import type { DeleteStatus, DeletionMode, OnlinePutOptions, OnlineRecord, OnlineStore, OnlineWriteOutcome } from '../store/types.js';
import type { OnlineWriteStatus } from '../pipeline/outcomes.js';
import type { DuckDBAppender } from '@duckdb/node-api';
import { Database } from './duckdb.js';
import { checkOptions } from '../util/options.js';
import { DEFAULT_DIR } from '../store/feature-store.js';
import { LOCAL_CLOCK_OPTIONS } from './options.js';

export interface LocalOnlineOptions {
  /** Directory holding `online.duckdb`; default `./.skewless`. Ignored when `memory` is true. */
  readonly dir?: string;
  /** Keep everything in memory; nothing is written to disk. */
  readonly memory?: boolean;
  /** The clock used for TTL expiry; tests move it. Default `Date.now`. */
  readonly now?: () => number;
}

/** One identifier's state: its event time (kept after a soft delete) and its record, if live. */
interface Row {
  readonly eventTimeMs: number;
  /** The store's own copy of the record as written; undefined after a soft delete. */
  readonly stored: StoredRecord | undefined;
  readonly expiresAtMs: number | undefined;
}

interface GroupState {
  readonly rows: Map<string, Row>;
  /** Identifiers changed since the last commit; null marks a hard delete. */
  readonly dirty: Map<string, Row | null>;
  /** Appends to the group's log table; flushing it commits. */
  readonly appender: DuckDBAppender;
  /** Order of log rows: the newest row of an identifier wins when the log is read back. */
  sequence: bigint;
}

function tableName(groupName: string): string {
  return quoteIdentifier(`online__${groupName}`);
}

function invalid(group: GroupSchema, result: CheckedRecord & { ok: false }): FeatureValidationError {
  const { feature, message } = result.problem;
  return new FeatureValidationError(`group "${group.name}": ${message}`, {
    issues: [{ code: 'invalid_value', path: feature ? [feature] : [], message }],
  });
}

/**
 * The embedded online store. DuckDB holds the records (one row per identifier and group); a map in
 * memory mirrors it, so the write rule and reads cost microseconds. Writes made in the same tick
 * are committed to DuckDB together, and each `put` or `delete` resolves once its rows are committed.
 */
class LocalOnlineStore implements OnlineStore {
  private readonly groups = new Map<string, Promise<GroupState>>();
  /** The commit new writes join; it starts when the one running ends. */
  private queued: Promise<void> | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly now: () => number,
  ) {}

  private state(groupName: string): Promise<GroupState> {
    let state = this.groups.get(groupName);
    if (!state) {
      state = this.load(groupName);
      this.groups.set(groupName, state);
    }
    return state;
  }

  /**
   * Reads a group's log table back into memory, keeping the newest row per identifier, and
   * compacts the table to those rows (tombstones of hard deletes drop out).
   */
  private async load(groupName: string): Promise<GroupState> {
    const table = tableName(groupName);
    const rows = new Map<string, Row>();
    let sequence = 0n;
    const appender = await this.db.exclusive(async (connection) => {
      await connection.run(
        `CREATE TABLE IF NOT EXISTS ${table} (record_id VARCHAR NOT NULL, event_time_ms BIGINT NOT NULL, record VARCHAR, expires_at_ms BIGINT, present BOOLEAN NOT NULL, seq BIGINT NOT NULL)`,
      );
      await connection.run(
        `CREATE OR REPLACE TEMP TABLE online_latest AS SELECT * FROM ${table} QUALIFY row_number() OVER (PARTITION BY record_id ORDER BY seq DESC) = 1`,
      );
      await connection.run('BEGIN TRANSACTION');
      await connection.run(`DELETE FROM ${table}`);
      await connection.run(`INSERT INTO ${table} SELECT * FROM online_latest WHERE present`);
      await connection.run('COMMIT');
      const reader = await connection.runAndReadAll('SELECT * FROM online_latest WHERE present ORDER BY seq');
      for (const row of reader.getRowObjectsJS()) {
        rows.set(row['record_id'] as string, {
          eventTimeMs: Number(row['event_time_ms']),
          stored: row['record'] === null ? undefined : storedForm(JSON.parse(row['record'] as string) as SageMakerRecord),
          expiresAtMs: row['expires_at_ms'] === null ? undefined : Number(row['expires_at_ms']),
        });
        // In sequence order: the last row read is the newest, and the log continues after it.
        sequence = (row['seq'] as bigint) + 1n;
      }
      return connection.createAppender(`online__${groupName}`);
    });
    return { rows, dirty: new Map(), appender, sequence };
  }

  /** The row that counts for an identifier: expired rows count as absent, for reads and for the write rule. */
  private live(state: GroupState, id: string): Row | undefined {
    const row = state.rows.get(id);
    return row && (row.expiresAtMs === undefined || row.expiresAtMs > this.now()) ? row : undefined;
  }

  private set(state: GroupState, id: string, row: Row | null): void {
    if (row === null) state.rows.delete(id);
    else state.rows.set(id, row);
    state.dirty.set(id, row);
  }

  /**
   * Commits every changed row. Writes that arrive while a commit runs all join the next one, so
   * under concurrent load one DuckDB transaction carries many writes (group commit).
   */
  private persist(): Promise<void> {
    if (this.queued) return this.queued;
    const queued: Promise<void> = this.running
      .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
      .then(() => {
        if (this.queued === queued) this.queued = undefined;
        return this.commitChanges();
      });
    this.queued = queued;
    this.running = queued.catch(() => undefined);
    return queued;
  }

  /** Appends every changed row to its group's log and flushes: one DuckDB append per commit. */
  private async commitChanges(): Promise<void> {
    for (const pending of this.groups.values()) {
      const state = await pending;
      if (state.dirty.size === 0) continue;
      const { appender } = state;
      for (const [id, row] of state.dirty) {
        appender.appendVarchar(id);
        appender.appendBigInt(BigInt(row?.eventTimeMs ?? 0));
        if (row?.stored === undefined) appender.appendNull();
        else appender.appendVarchar(JSON.stringify(recordOf(row.stored)));
        if (row?.expiresAtMs === undefined) appender.appendNull();
        else appender.appendBigInt(BigInt(row.expiresAtMs));
        appender.appendBoolean(row !== null);
        appender.appendBigInt(state.sequence++);
        appender.endRow();
      }
      state.dirty.clear();
      appender.flushSync();
    }
  }

  async put(group: GroupSchema, records: readonly SageMakerRecord[], options: OnlinePutOptions = {}): Promise<OnlineWriteOutcome[]> {
    const checked = records.map((record) => {
      const result = checkRecord(group, record);
      if (!result.ok) throw invalid(group, result);
      return result;
    });
    const state = await this.state(group.name);
    const statuses = checked.map((c, index): OnlineWriteStatus => {
      const before = this.live(state, c.id);
      if (before !== undefined && c.eventTimeMs <= before.eventTimeMs) return 'stale';
      this.set(state, c.id, { eventTimeMs: c.eventTimeMs, stored: storedForm(records[index] as SageMakerRecord), expiresAtMs: expiresAtMs(c.eventTimeMs, options.ttl) });
      return 'applied';
    });
    if (statuses.includes('applied')) await this.persist();
    return statuses;
  }

  async get(group: GroupSchema, id: string, options: { readonly features?: readonly string[] } = {}): Promise<OnlineRecord | undefined> {
    const row = this.live(await this.state(group.name), id);
    if (row?.stored === undefined) return undefined;
    const record = recordOf(row.stored, options.features);
    return row.expiresAtMs === undefined ? { record } : { record, expiresAt: new Date(row.expiresAtMs) };
  }

  async getMany(group: GroupSchema, ids: readonly string[], options: { readonly features?: readonly string[] } = {}): Promise<Map<string, OnlineRecord>> {
    const out = new Map<string, OnlineRecord>();
    for (const id of ids) {
      const found = await this.get(group, id, options);
      if (found) out.set(id, found);
    }
    return out;
  }

  async delete(group: GroupSchema, id: string, eventTime: string, mode: DeletionMode): Promise<DeleteStatus> {
    const marker = checkRecord(group, [
      { FeatureName: group.recordIdentifier, ValueAsString: id },
      { FeatureName: group.eventTime, ValueAsString: eventTime },
    ]);
    if (!marker.ok) throw invalid(group, marker);
    const state = await this.state(group.name);
    const stored = this.live(state, id);
    if (stored !== undefined && marker.eventTimeMs <= stored.eventTimeMs) return 'stale';
    // A soft delete keeps the identifier with the delete's event time, so older writes stay out;
    // a hard delete forgets it, so any later write applies.
    this.set(state, id, mode === 'HardDelete' ? null : { eventTimeMs: marker.eventTimeMs, stored: undefined, expiresAtMs: undefined });
    await this.persist();
    return 'deleted';
  }

  /** Forgets every record of a group (DeleteFeatureGroup). */
  async drop(groupName: string): Promise<void> {
    await this.running;
    const state = this.groups.get(groupName);
    this.groups.delete(groupName);
    if (state) (await state).appender.closeSync();
    await this.db.rows(`DROP TABLE IF EXISTS ${tableName(groupName)}`);
  }

  async close(): Promise<void> {
    await this.queued;
    await this.running;
    for (const state of this.groups.values()) (await state).appender.closeSync();
    await this.db.close();
  }
}

/**
 * The embedded online store on DuckDB (one of `localStores()`).
 *
 * ### Example
 * ```ts
 * import { localOnline } from 'skewless/local';
 * const online = await localOnline({ dir: '.skewless' });
 * await online.put(cardActivity, [cardActivity.codec.toRecord(record)]);
 * ```
 */
export async function localOnline(options: LocalOnlineOptions = {}): Promise<OnlineStore & { drop(groupName: string): Promise<void> }> {
  checkOptions(LOCAL_CLOCK_OPTIONS, options, 'localOnline options');
  let path = ':memory:';
  if (!options.memory) {
    const dir = options.dir ?? DEFAULT_DIR;
    mkdirSync(dir, { recursive: true });
    path = join(dir, 'online.duckdb');
  }
  return new LocalOnlineStore(await Database.open(path), options.now ?? Date.now);
}
