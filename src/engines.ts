// skewless/engines: the backfill and training-set engines. The store loads this entry on first use,
// by a specifier bundlers do not follow, so an ingestion Lambda's bundle does not carry them (nor
// the Parquet reader and writer they load). Import it directly only to run an engine without a store.
export { runBackfill } from './backfill/backfill.js';
export type { BackfillBackends } from './backfill/backfill.js';
export { buildTrainingSet } from './training/training-set.js';
export { runAudit } from './audit/audit.js';
export type { AuditOptions, AuditReport } from './audit/audit.js';
export { runLineage } from './audit/lineage.js';
