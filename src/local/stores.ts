import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { OfflineStore, OnlineStore } from '../store/types.js';
import type { AggregationStateStore } from '../pipeline/state.js';
import { localAggregationState } from './aggregation-state.js';
import { localOffline } from './offline-store.js';
import { localOnline } from './online-store.js';
import { checkOptions } from '../util/options.js';
import { ConfigurationError } from '../errors.js';
import { DEFAULT_DIR } from '../store/feature-store.js';
import { LOCAL_CLOCK_OPTIONS } from './options.js';

export interface LocalStoresOptions {
  /** Where the stores keep their files: `online.duckdb`, `offline/`, `aggregation-state.duckdb`. Default `./.skewless`. */
  readonly dir?: string;
  /** Keep everything in memory (offline files in a temporary directory): nothing stays on disk. */
  readonly memory?: boolean;
  /**
   * The clock (epoch ms) of the store these make: the online store's TTL expiry and the feature
   * store's `now` (write times, serving's and the audit's present), one clock for both. Default `Date.now`.
   */
  readonly now?: () => number;
}

/** The embedded stores, as `createFeatureStore` takes them. */
export interface LocalStores {
  readonly online: Promise<OnlineStore>;
  readonly offline: Promise<OfflineStore>;
  readonly aggregationState: Promise<AggregationStateStore>;
  readonly dir: string;
  /** The clock given to `localStores`, for `createFeatureStore` to take as the store's `now`. */
  readonly now?: () => number;
}

/** A store's promise that reports its failure to whoever awaits it, and not before as an unhandled rejection. */
function opening<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

/**
 * The embedded local stores, chosen explicitly: DuckDB online store and aggregation state, Parquet
 * offline store, all under one directory. `@duckdb/node-api` (an optional peer) loads here, never in
 * a program that does not import `skewless/local`.
 *
 * ### Example
 * ```ts
 * import { createFeatureStore } from 'skewless';
 * import { localStores } from 'skewless/local';
 * const store = createFeatureStore(localStores());                     // under ./.skewless
 * const scratch = createFeatureStore(localStores({ memory: true }));   // nothing kept
 * const frozen = createFeatureStore(localStores({ memory: true, now: () => Date.UTC(2024, 4, 1) }));   // a test's clock
 * ```
 */
export function localStores(options: LocalStoresOptions = {}): LocalStores {
  checkOptions(LOCAL_CLOCK_OPTIONS, options, 'localStores options');
  const dir = options.dir ?? DEFAULT_DIR;
  const memory = options.memory ?? false;
  // Said here, not as each store's EEXIST when it makes its folder there.
  if (!memory && existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new ConfigurationError('INVALID_CONFIG', `localStores options.dir: ${dir} is a file; give the folder the stores keep their files in (made if missing)`);
  }
  const clock = options.now ? { now: options.now } : {};
  return {
    online: opening(localOnline({ ...(memory ? { memory } : { dir }), ...clock })),
    offline: opening(localOffline(memory ? { memory } : { dir: `${dir}/offline` })),
    aggregationState: opening(localAggregationState(memory ? { memory } : { dir })),
    dir,
    ...clock,
  };
}

/** What `localStores` keeps under its directory: any of them makes the directory a store. */
const STORE_ENTRIES = ['online.duckdb', 'offline', 'aggregation-state.duckdb'];

/**
 * Whether `dir` holds a store `localStores` wrote (its online, offline or state files), so a command
 * that only reads one can refuse a mistyped directory before the stores make empty files there.
 */
export function hasLocalStore(dir: string): boolean {
  return STORE_ENTRIES.some((entry) => existsSync(join(dir, entry)));
}
