import { ConfigurationError } from '../errors.js';
import { hasLocalStore } from '../local/stores.js';

/**
 * Refuses a directory that holds no local store, before a command that only reads one opens it: the
 * stores would make empty files there, and a mistyped `--dir` would read as a store with nothing in it.
 */
export function requireLocalStore(dir: string): void {
  if (hasLocalStore(dir)) return;
  throw new ConfigurationError('INVALID_CONFIG', `no local store in ${dir} (none of online.duckdb, offline/, aggregation-state.duckdb): check --dir, or write one first with skewless backfill`);
}
