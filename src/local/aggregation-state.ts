import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBAppender } from '@duckdb/node-api';
import type { EntityState } from '../pipeline/reducer.js';
import { type GroupSchema, type PackedRecords, packRecords, unpackRecords } from '../schema/sagemaker-record.js';
import { quoteIdentifier } from '../sql/quote.js';
import type { AggregationSaveOutcome, AggregationSettle, AggregationStateStore, AggregationStateUpdate, StoredAggregationState } from '../pipeline/state.js';
import { Database } from './duckdb.js';
import { checkOptions } from '../util/options.js';
import { DEFAULT_DIR } from '../store/feature-store.js';
import { LOCAL_OPTIONS } from './options.js';

export interface LocalAggregationStateOptions {
  /** Directory holding `aggregation-state.duckdb`; default `./.skewless`. Ignored when `memory` is true. */
  readonly dir?: string;
  /** Keep everything in memory. */
  readonly memory?: boolean;
}

interface GroupStates {
  readonly items: Map<string, StoredAggregationState>;
  readonly appender: DuckDBAppender;
  sequence: bigint;
}

/**
 * The embedded default's aggregation state: a map in memory, mirrored to an append-only DuckDB table
 * per group (the newest row of an entity wins, and the table is compacted when a group is opened).
 * Saves compare versions like the DynamoDB store, so the same code paths run locally.
 */
class LocalAggregationState implements AggregationStateStore {
  private readonly groups = new Map<string, Promise<GroupStates>>();

  constructor(private readonly db: Database) {}

  private open(group: GroupSchema): Promise<GroupStates> {
    const groupName = group.name;
    let found = this.groups.get(groupName);
    if (!found) {
      found = this.db.exclusive(async (connection) => {
        const table = quoteIdentifier(`aggregation__${groupName}`);
        await connection.run(`CREATE TABLE IF NOT EXISTS ${table} (record_id VARCHAR NOT NULL, version BIGINT NOT NULL, state VARCHAR NOT NULL, seq BIGINT NOT NULL, pending VARCHAR)`);
        // Tables written by 0.1 have no outbox column.
        await connection.run(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS pending VARCHAR`);
        await connection.run(`CREATE OR REPLACE TEMP TABLE latest_state AS SELECT * FROM ${table} QUALIFY row_number() OVER (PARTITION BY record_id ORDER BY seq DESC) = 1`);
        await connection.run('BEGIN TRANSACTION');
        await connection.run(`DELETE FROM ${table}`);
        await connection.run(`INSERT INTO ${table} SELECT record_id, version, state, seq, pending FROM latest_state`);
        await connection.run('COMMIT');
        const items = new Map<string, StoredAggregationState>();
        let sequence = 0n;
        for (const row of (await connection.runAndReadAll('SELECT record_id, version, state, seq, pending FROM latest_state')).getRowObjectsJS()) {
          const pending = row['pending'] === null ? {} : { pending: unpackRecords(group, JSON.parse(row['pending'] as string) as PackedRecords) };
          items.set(row['record_id'] as string, { state: JSON.parse(row['state'] as string) as EntityState, version: Number(row['version']), ...pending });
          if ((row['seq'] as bigint) >= sequence) sequence = (row['seq'] as bigint) + 1n;
        }
        return { items, appender: await connection.createAppender(`aggregation__${groupName}`), sequence };
      });
      this.groups.set(groupName, found);
    }
    return found;
  }

  async load(group: GroupSchema, ids: readonly string[]): Promise<Map<string, StoredAggregationState>> {
    const { items } = await this.open(group);
    const out = new Map<string, StoredAggregationState>();
    for (const id of ids) {
      const found = items.get(id);
      if (found) out.set(id, structuredClone(found));
    }
    return out;
  }

  async save(group: GroupSchema, updates: readonly AggregationStateUpdate[]): Promise<AggregationSaveOutcome[]> {
    const states = await this.open(group);
    return this.db.exclusive(async () => {
      const outcomes = updates.map((u): AggregationSaveOutcome => {
        if (states.items.get(u.id)?.version !== u.expected) return 'conflict';
        const version = (u.expected ?? 0) + 1;
        const text = JSON.stringify(u.state);
        const pending = u.pending && u.pending.length > 0 ? u.pending : undefined;
        states.items.set(u.id, { state: JSON.parse(text) as EntityState, version, ...(pending ? { pending: structuredClone(pending) } : {}) });
        this.appendRow(states, u.id, version, text, pending ? JSON.stringify(packRecords(group, pending)) : null);
        return 'saved';
      });
      states.appender.flushSync();
      return outcomes;
    });
  }

  async settle(group: GroupSchema, settled: readonly AggregationSettle[]): Promise<void> {
    const states = await this.open(group);
    await this.db.exclusive(async () => {
      for (const { id, version } of settled) {
        const current = states.items.get(id);
        if (current?.version !== version || !current.pending) continue;
        states.items.set(id, { state: current.state, version });
        this.appendRow(states, id, version, JSON.stringify(current.state), null);
      }
      states.appender.flushSync();
    });
  }

  private appendRow(states: GroupStates, id: string, version: number, state: string, pending: string | null): void {
    states.appender.appendVarchar(id);
    states.appender.appendBigInt(BigInt(version));
    states.appender.appendVarchar(state);
    states.appender.appendBigInt(states.sequence++);
    if (pending === null) states.appender.appendNull();
    else states.appender.appendVarchar(pending);
    states.appender.endRow();
  }

  async close(): Promise<void> {
    for (const states of this.groups.values()) (await states).appender.closeSync();
    this.groups.clear();
    await this.db.close();
  }
}

/**
 * The embedded aggregation state (one of `localStores()`), for groups with aggregations.
 *
 * ### Example
 * ```ts
 * import { localAggregationState } from 'skewless/local';
 * const store = createFeatureStore({ online: localOnline(), offline: localOffline(), aggregationState: localAggregationState({ dir: '.skewless' }) });
 * ```
 */
export async function localAggregationState(options: LocalAggregationStateOptions = {}): Promise<AggregationStateStore> {
  checkOptions(LOCAL_OPTIONS, options, 'localAggregationState options');
  let path = ':memory:';
  if (!options.memory) {
    const dir = options.dir ?? DEFAULT_DIR;
    mkdirSync(dir, { recursive: true });
    path = join(dir, 'aggregation-state.duckdb');
  }
  return new LocalAggregationState(await Database.open(path));
}
