import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { ConfigurationError } from '../errors.js';
import { realFilePath } from '../util/output-file.js';
import { missingPeer, optionalModule } from '../util/optional-module.js';

/** Loads DuckDB on first use only: it is an optional peer dependency and a native module. */
export const loadDuckDb = /* @__PURE__ */ optionalModule(() => import('@duckdb/node-api').catch(missingPeer('@duckdb/node-api')));

/**
 * The database files open in this copy of the package, by real path (through any symbolic link). A
 * second copy (CommonJS beside ESM) keeps its own set: the guard is for one program's stores.
 */
const OPEN_FILES = new Set<string>();

/** DuckDB's refusal of a file another process holds, with what to do about it; any other error as it is. */
function lockRefusal(path: string, cause: unknown): unknown {
  const message = cause instanceof Error ? cause.message : '';
  if (!message.includes('Could not set lock on file')) return cause;
  const pid = /\(PID (\d+)\)/.exec(message)?.[1];
  return new ConfigurationError(
    'INVALID_CONFIG',
    `${path} is open in another process${pid ? ` (PID ${pid})` : ''}: DuckDB lets one process at a time write a database file; stop that process (a running \`skewless local\`, another script), or give this one another folder`,
    { cause },
  );
}

/**
 * One DuckDB database with one connection, and a queue so statements that belong together
 * (stage, compare, upsert) never interleave with another caller's.
 */
export class Database {
  private tail: Promise<unknown> = Promise.resolve();
  private released = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    private readonly file: string | undefined,
  ) {}

  /**
   * Opens `path` (or `:memory:`). A file this process has open already is refused: the local stores
   * keep what they read in memory, so two stores on one file would each miss the other's writes.
   */
  static async open(path: string): Promise<Database> {
    const file = path === ':memory:' ? undefined : realFilePath(path);
    if (file !== undefined && OPEN_FILES.has(file)) {
      throw new ConfigurationError(
        'INVALID_CONFIG',
        `${path} is open already in this process (another localStores(), localOnline(), localAggregationState() or local stack on the same folder, not closed): ` +
          "two stores on one folder would each keep their own copy and miss the other's writes; share one store, or close the other first",
      );
    }
    if (file !== undefined) OPEN_FILES.add(file);
    let instance: DuckDBInstance | undefined;
    try {
      const duckdb = await loadDuckDb();
      instance = await duckdb.DuckDBInstance.create(path).catch((cause: unknown) => {
        throw lockRefusal(path, cause);
      });
      return new Database(instance, await instance.connect(), file);
    } catch (error) {
      // Nothing of it stays open, or counted as open.
      instance?.closeSync();
      if (file !== undefined) OPEN_FILES.delete(file);
      throw error;
    }
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
    try {
      this.connection.closeSync();
      this.instance.closeSync();
    } finally {
      // Once: a second close must not release the file for a store opened on it since.
      if (this.file !== undefined && !this.released) OPEN_FILES.delete(this.file);
      this.released = true;
    }
  }
}
