import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from '../errors.js';

/** What the embedded stores keep under their directory (localStores): any of them makes it a store. */
const STORE_ENTRIES = ['online.duckdb', 'offline', 'aggregation-state.duckdb'];

/**
 * Refuses a directory that holds no local store, before a command that only reads one opens it: the
 * stores would make empty files there, and a mistyped `--dir` would read as a store with nothing in it.
 */
export function requireLocalStore(dir: string): void {
  if (STORE_ENTRIES.some((entry) => existsSync(join(dir, entry)))) return;
  throw new ConfigurationError('INVALID_CONFIG', `no local store in ${dir} (none of online.duckdb, offline/, aggregation-state.duckdb): check --dir, or write one first with skewless backfill`);
}
