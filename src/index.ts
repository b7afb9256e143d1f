// The dialect-neutral core: what a user writes. No AWS client, no DuckDB, no side effects at import time;
// plumbing lives in the subpath it belongs to (the SQL layer in skewless/sql, backends in aws/local).
export { defineFeatureGroup, isFeatureGroup } from './feature-group.js';
export { defineRequestFeatures } from './request-features/define.js';
export { isRequestFeatures } from './request-features/brand.js';
export { createFeatureStore } from './store/feature-store.js';
export { avg, count, distinctCount, last, max, min, sum } from './pipeline/builders.js';
export type { Aggregation, AggregationKind, Aggregations, AnyAggregation, StateCompaction, WindowOptions } from './schema/aggregation-spec.js';
export { DeadLetterWriteError, deadLetterMessage } from './store/dead-letter.js';
export { csvFile, fileSource, fromRecords, ndjsonFile, parquetFile, parquetSource } from './backfill/sources/index.js';
export type { BackfillItem, BackfillSource, ByteSource, CsvFileOptions, ShardRange, SourceSpec } from './backfill/sources/index.js';
export { backfill } from './backfill/backfill.js';
export type { BackfillOptions, BackfillProgress, BackfillSummary, BackfillTarget } from './backfill/backfill.js';
export { backfillShard, planBackfill } from './backfill/plan.js';
export type { BackfillShard, PlanBackfillOptions } from './backfill/plan.js';
export { trainingSet } from './training/training-set.js';
export type { SpineLoader, SpineRow, TrainingSet, TrainingSetOptions, TrainingSetSummary } from './training/training-set.js';
export type { DeadLetterEntry, DeadLetterMessage, DeadLetterSink } from './store/dead-letter.js';
export { featureVectors } from './serving/feature-vectors.js';
export { coalesceReads } from './serving/coalesce.js';
export type { CoalesceReadsOptions } from './serving/coalesce.js';
export type { EntityRow, FeatureVectorFailure, FeatureVectorOptions, FeatureVectors } from './serving/feature-vectors.js';
export { audit } from './audit/audit.js';
export type { AuditCause, AuditExample, AuditOptions, AuditReport, FeatureAudit, NumberDifferences } from './audit/audit.js';
export { auditVectors } from './audit/vectors.js';
export type { VectorAuditOptions, VectorAuditReport, VectorDifference } from './audit/vectors.js';
export { lineage } from './audit/lineage.js';
export type { LineageEntry, LineageOptions, LineageReport } from './audit/lineage.js';
export { formatAuditReport, formatLineageReport, renderAuditHtml } from './audit/render.js';
export type {
  FeatureStore,
  FeatureStoreOptions,
  IngestOptions,
  StoreBackends,
} from './store/feature-store.js';
export type { OnlineWriteStatus, RecordOutcome, WriteSummary } from './pipeline/outcomes.js';
export type { AggregationSaveOutcome, AggregationSettle, AggregationStateStore, AggregationStateUpdate, StoredAggregationState } from './pipeline/state.js';
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
} from './store/types.js';
export type { GroupSchema, TtlDuration } from './schema/sagemaker-record.js';
export {
  BackendError,
  ConfigurationError,
  DataError,
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
  DataErrorCode,
  DefinitionErrorCode,
  RecordError,
  RecordErrorCode,
  SkewlessErrorCode,
  SkewlessErrorOptions,
  SkewlessIssue,
  SourcePosition,
} from './errors.js';
export type { Codec, FeatureValue, SageMakerRecord } from './schema/codec.js';
export { offlineRowCodec } from './group-codecs.js';
export type { OfflineColumn, OfflineRow, OfflineRowCodec, OfflineScalar, OfflineValue } from './schema/offline-row.js';
export type { CollectionType, FeatureDefinition, SageMakerFeatureType } from './schema/feature-spec.js';
export { FINGERPRINT_FEATURE, RESERVED_FEATURE_NAMES } from './schema/names.js';
export { epochMillis, epochSeconds, isoTimestamp } from './schema/time.js';
export type {
  AggregateValues,
  AggregationsOf,
  AnyFeatureColumns,
  AnyFeatureGroup,
  AnyFeatureSelection,
  AnyRequestFeatures,
  AnyObjectSchema,
  AnySchema,
  BatchOptions,
  BatchResult,
  DateFeatureName,
  EventTimeFormat,
  FeatureGroup,
  FeatureGroupConfig,
  FeatureSelection,
  GroupRecord,
  IdFeatureName,
  InferFeatures,
  InferRawSource,
  InferSource,
  InferRequest,
  InferRequestOutputs,
  InferTrainingRow,
  OnlineStorageType,
  ProcessFailure,
  ProcessResult,
  ProcessedRecord,
  ReadsOf,
  ReadValues,
  RequestFeatures,
  RequestFeaturesConfig,
  RequestFeaturesOptions,
  SelectionOptions,
} from './schema/types.js';
