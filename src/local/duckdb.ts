import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { missingPeer, optionalModule } from '../util/optional-module.js';

/** Loads DuckDB on first use only: it is an optional peer dependency and a native module. */
export const loadDuckDb = /* @__PURE__ */ optionalModule(() => import('@duckdb/node-api').catch(missingPeer('@duckdb/node-api')));

/**
 * One DuckDB database with one connection, and a queue so statements that belong together
 * (stage, compare, upsert) never interleave with another caller's.
 */
export class Database {
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  static async open(path: string): Promise<Database> {
    const duckdb = await loadDuckDb();
    const instance = await duckdb.DuckDBInstance.create(path);
    return new Database(instance, await instance.connect());
  }

  /** Runs `work` alone on the connection; callers queue in order. */
  exclusive<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const result = this.tail.then(() => work(this.connection));
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Runs a statement and returns its rows as plain JS objects (BIGINT as bigint, TIMESTAMP as Date). */
  async rows(sql: string, values?: readonly unknown[]): Promise<Record<string, unknown>[]> {
    return this.exclusive(async (connection) => {
      const reader = await connection.runAndReadAll(sql, values as never);
      return reader.getRowObjectsJS() as Record<string, unknown>[];
    });
  }

  async close(): Promise<void> {
    await this.tail;
    this.connection.closeSync();
    this.instance.closeSync();
  }
}
