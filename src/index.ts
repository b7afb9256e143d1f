// The dialect-neutral core: no AWS client, no DuckDB, no side effects at import time.
export { defineFeatureGroup, isFeatureGroup } from './define.js';
export { createFeatureStore } from './store/feature-store.js';
export { avg, count, distinctCount, last, max, min, sum } from './pipeline/aggregations.js';
export type { Aggregation, AggregationKind, Aggregations, AnyAggregation, StateCompaction, WindowOptions } from './schema/aggregations.js';
export { deadLetterMessage } from './store/dead-letter.js';
export { csvFile, fileSource, fromRecords, ndjsonFile, parquetFile, parquetSource, sourceFromSpec } from './backfill/sources.js';
export type { BackfillItem, BackfillSource, ByteSource, CsvFileOptions, ShardRange, SourceSpec } from './backfill/sources.js';
export { backfillKey } from './backfill/backfill.js';
export type { BackfillOptions, BackfillProgress, BackfillSummary, BackfillTarget } from './backfill/backfill.js';
export { backfillShard, planBackfill, shardSource } from './backfill/plan.js';
export type { BackfillShard, PlanBackfillOptions } from './backfill/plan.js';
export { loadFeatureGroups, selectGroups } from './definitions.js';
export { buildTrainingPlan, parseDuration } from './training/plan.js';
export type { JoinStep, TrainingPlan, TrainingPlanOptions } from './training/plan.js';
export { DUCKDB, renderTrainingSql, TRINO } from './training/sql.js';
export type { Dialect, SqlSources } from './training/sql.js';
export type { SpineLoader, SpineRow, TrainingSet, TrainingSetOptions, TrainingSetSummary } from './training/training-set.js';
export type { DeadLetterMessage } from './store/dead-letter.js';
export type { AuditCause, AuditExample, AuditOptions, AuditReport, FeatureAudit, NumberDifferences } from './audit/audit.js';
export type { LineageEntry, LineageOptions, LineageReport } from './audit/lineage.js';
export { formatAuditReport, formatLineageReport, renderAuditHtml } from './audit/render.js';
export type {
  DeadLetterEntry,
  DeadLetterSink,
  FeatureStore,
  FeatureStoreOptions,
  IngestOptions,
  RecordOutcome,
  WriteSummary,
} from './store/feature-store.js';
export type {
  DeleteStatus,
  DeletionMode,
  OfflineStore,
  OfflineStoredRow,
  OfflineWrite,
  OnlinePutOptions,
  OnlineRecord,
  OnlineStore,
  OnlineWriteOutcome,
  OnlineWriteStatus,
} from './store/types.js';
export type { GroupSchema, TtlDuration } from './schema/sagemaker-record.js';
export {
  BackendError,
  ConfigurationError,
  DecodeError,
  DefinitionError,
  FeatureValidationError,
  SkewlessError,
  SourceValidationError,
  TransformError,
  formatError,
  isSkewlessError,
} from './errors.js';
export type {
  BackendErrorCode,
  ConfigurationErrorCode,
  DefinitionErrorCode,
  RecordError,
  RecordErrorCode,
  SkewlessErrorCode,
  SkewlessErrorOptions,
  SkewlessIssue,
  SourcePosition,
} from './errors.js';
export {
  MAX_RECORD_BYTES,
  MAX_RECORD_IDENTIFIER_BYTES,
  MAX_VALUE_BYTES,
  fingerprintOf,
  recordBytes,
} from './schema/codec.js';
export type {
  Codec,
  DynamoDbAttributeValue,
  DynamoDbItem,
  FeatureValue,
  OfflineColumn,
  OfflineRow,
  OfflineScalar,
  OfflineValue,
  SageMakerRecord,
} from './schema/codec.js';
export type { CollectionType, SageMakerFeatureType } from './schema/feature-spec.js';
export { FINGERPRINT_FEATURE, RESERVED_FEATURE_NAMES } from './schema/names.js';
export { epochMillis, epochSeconds, isoTimestamp } from './schema/time.js';
export type {
  AggregateValues,
  AggregationsOf,
  AnyFeatureGroup,
  AnyFeatureSelection,
  AnyObjectSchema,
  AnySchema,
  BatchOptions,
  BatchResult,
  DateFeatureName,
  EventTimeFormat,
  FeatureDefinition,
  FeatureGroup,
  FeatureGroupConfig,
  FeatureSelection,
  GroupRecord,
  IdFeatureName,
  InferFeatures,
  InferRawSource,
  InferSource,
  InferTrainingRow,
  OnlineStorageType,
  ProcessFailure,
  ProcessResult,
  ProcessedRecord,
  SelectionOptions,
  Simplify,
} from './schema/types.js';
