// skewless/local: the embedded DuckDB stores and the local stack. DuckDB loads on first use.
export { partitionOf } from '../offline/layout.js';
export { localOffline, offlineDataDir } from './offline-store.js';
export type { LocalOffline, LocalOfflineOptions } from './offline-store.js';
export { localOnline } from './online-store.js';
export { localAggregationState } from './aggregation-state.js';
export type { LocalAggregationStateOptions } from './aggregation-state.js';
export type { LocalOnlineOptions } from './online-store.js';
export { localStores } from './stores.js';
export type { LocalStores, LocalStoresOptions } from './stores.js';
export { startLocalStack } from './stack/server.js';
export type { LocalStack, LocalStackOptions } from './stack/server.js';
export type { FaultConfig, FaultCounts, FaultSpec } from './stack/faults.js';
export { backfillOnWorkers } from './worker-backfill.js';
export type { WorkerBackfillOptions, WorkerBackfillProgress, WorkerBackfillSummary } from './worker-backfill.js';
export { parquetDirOffline } from '../offline/file-store.js';
