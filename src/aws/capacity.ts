import * as z from 'zod/mini';
import { ConfigurationError } from '../errors.js';
import { aggregationInputBytes, ASSUMED_STRING_BYTES, featureRecordBytes, recordIdentifierBytes, sourceEventBytes } from '../schema/record-size.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { requireGroup } from '../feature-group.js';
import { checkOptions, describeValue, expected, lazySchema, positiveInteger } from '../util/options.js';
import { STATE_ITEM_OVERHEAD_BYTES, stateItemKey } from './aggregation-state.js';

// Sizing a deployment from a target rate: pure arithmetic over the services' documented limits and
// the per-core figures the benchmarks measured. Every "MB" and "KB" of a limit is read as 10^6 and
// 10^3 bytes, the smaller reading, so what is planned holds under either.

// --- Kinesis Data Streams ---
/** Writes per shard: 1 MB/s or 1,000 records/s (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html). */
export const KINESIS_SHARD_WRITE_BYTES_PER_SECOND = 1_000_000;
export const KINESIS_SHARD_WRITE_RECORDS_PER_SECOND = 1_000;
/** Reads per shard, shared by its standard consumers: 2 MB/s (https://docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html). */
export const KINESIS_SHARD_READ_BYTES_PER_SECOND = 2_000_000;
/** GetRecords calls per shard per second (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html). */
export const KINESIS_SHARD_GET_RECORDS_PER_SECOND = 5;
/**
 * The largest record: 1 MiB, the data (before base64) and the partition key together
 * (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html).
 */
export const KINESIS_MAX_RECORD_BYTES = 1_048_576;

// --- Lambda ---
/** Kinesis event source mapping: BatchSize up to 10,000, ParallelizationFactor 1 to 10 (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html). */
export const ESM_MAX_BATCH_SIZE = 10_000;
export const ESM_MAX_PARALLELIZATION_FACTOR = 10;
/** A stream's BatchSize over 10 needs MaximumBatchingWindowInSeconds of at least 1 (https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html). */
export const ESM_BATCHING_WINDOW_SECONDS = 1;
/** Lambda polls each shard once a second and cuts a batch at 6 MB of payload (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html). */
export const LAMBDA_PAYLOAD_BYTES = 6_000_000;
/** At 1,769 MB a function has the equivalent of one vCPU (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html). */
export const LAMBDA_MB_PER_VCPU = 1_769;
/**
 * What one Kinesis record costs in the invocation payload besides its data: the event's fields
 * (sequence number, ARNs, ids; a record of skewless/testing's kinesisEvent with empty data is under
 * this), the data itself being base64 (4 bytes per 3).
 */
export const KINESIS_EVENT_RECORD_OVERHEAD_BYTES = 700;

// --- SageMaker Feature Store ---
/**
 * One write request unit per started KB of the record, at least 1; at most 500 WRU/s per record
 * identifier; 40,000 provisioned WCU per feature group; 10,000 TPS per API per account, a soft limit
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html).
 */
export const SAGEMAKER_WRITE_UNIT_BYTES = 1_000;
export const SAGEMAKER_WRITE_UNITS_PER_IDENTIFIER_PER_SECOND = 500;
export const SAGEMAKER_MAX_PROVISIONED_WRITE_UNITS = 40_000;
export const SAGEMAKER_API_TPS = 10_000;
/** BatchWriteRecord takes 1 to 25 entries (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_BatchWriteRecord.html). */
export const SAGEMAKER_BATCH_WRITE_ENTRIES = 25;

// --- DynamoDB ---
/**
 * A write unit per started KB, a PutItem or UpdateItem counting the larger item of before and after; a
 * strongly consistent read unit per started 4 KB (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
 */
export const DYNAMODB_WRITE_UNIT_BYTES = 1_000;
export const DYNAMODB_READ_UNIT_BYTES = 4_000;
/**
 * A new on-demand table starts warm at 4,000 write and 12,000 read units/s
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html).
 */
export const DYNAMODB_ON_DEMAND_WARM_WRITE_UNITS = 4_000;
export const DYNAMODB_ON_DEMAND_WARM_READ_UNITS = 12_000;

// --- skewless ---
/** Calls `sageMakerOnline` and `dynamoDbAggregationState` keep in flight by default (their `concurrency`). */
const CALLS_IN_FLIGHT = 16;
/** BatchGetItem reads at most 100 keys (the state store's chunk). */
const BATCH_GET_KEYS = 100;
/** BatchWriteItem: at most 25 put or delete requests a call. */
const BATCH_WRITE_ITEMS = 25;

/** A figure the benchmarks measured, and where it comes from. */
export interface Measured {
  readonly value: number;
  readonly source: string;
}

/** The per-core figures a plan is computed from (bench/results.json; see bench/lambda.mjs, bench/aws.mjs, bench/aggregations.mjs). */
export interface MeasuredFigures {
  /** kinesisHandler into an in-memory store, records/s on one core. */
  readonly handlerRecordsPerSecond: Measured;
  /** Client CPU of one PutRecord call through sageMakerOnline, ms. */
  readonly putRecordCpuMs: Measured;
  /** CPU per record of kinesisHandler writing with sageMakerOnline's default (BatchWriteRecord, collapsed), handler included, ms. */
  readonly batchWriteCpuMsPerRecord: Measured;
  /** The pipeline without aggregates and with the bench group's four, records/s on one core. */
  readonly plainPipelineRecordsPerSecond: Measured;
  readonly aggregatedPipelineRecordsPerSecond: Measured;
  /** The aggregating pipeline when every record is the same entity, records/s on one core. */
  readonly hotEntityRecordsPerSecond: Measured;
  /** Handler CPU per DynamoDB call of the aggregation state (the entity's state and outbox encoded, the SDK call), ms. */
  readonly stateCallCpuMs: Measured;
}

/** Where the figures come from: one run of `npm run bench`. */
export const MEASURED_IN = 'bench/results.json of 2026-12-01 (AMD EPYC, Node v20.20.2)';

/** The figures in bench/results.json; a test holds them equal to the file. */
export const MEASURED: MeasuredFigures = {
  handlerRecordsPerSecond: { value: 150_498, source: 'lambda.recordsPerSecond (bench/lambda.mjs: a warm kinesisHandler over 10,000-record batches of a 12-feature group, one core)' },
  putRecordCpuMs: { value: 0.811, source: "aws.putClientCpuMsPerCall (bench/aws.mjs: sageMakerOnline's PutRecord calls against the local stack, client CPU only)" },
  batchWriteCpuMsPerRecord: {
    value: 0.0597,
    source: 'writePath.batchWriteCollapse.cpuMsPerRecord (bench/write-path.mjs: kinesisHandler + sageMakerOnline, BatchWriteRecord collapsed, against the local stack; handler included)',
  },
  plainPipelineRecordsPerSecond: { value: 133_188, source: 'aggregations.plainRecordsPerSecond (bench/aggregations.mjs: processBatch without aggregates)' },
  aggregatedPipelineRecordsPerSecond: { value: 18_018, source: 'aggregations.aggregatedRecordsPerSecond (bench/aggregations.mjs: processBatch with four aggregates over 2,000 cards)' },
  hotEntityRecordsPerSecond: { value: 6_105, source: 'aggregations.hotEntityRecordsPerSecond (bench/aggregations.mjs: four aggregates, every record one card)' },
  stateCallCpuMs: {
    value: 1.767,
    source: 'aggregations.stateCallCpuMs (bench/aggregations.mjs: warm kinesisHandler batches with state on dynalite in its own process, less the same batches without aggregates and the reducer, per DynamoDB call)',
  },
};

/** What a plan assumes where nothing was measured: each says so in the plan's assumptions. */
export interface CapacityAssumptions {
  /** One service round trip (PutRecord, a DynamoDB call), ms. */
  readonly serviceLatencyMs: number;
  /** The share of its time an invocation may be busy: the rest is headroom to drain a backlog. */
  readonly targetUtilisation: number;
}

export const ASSUMED: CapacityAssumptions = {
  serviceLatencyMs: 10,
  // Half busy: after a burst, the backlog drains at least as fast as it built up.
  targetUtilisation: 0.5,
};

/** The numbers `sizeCapacity` works from: a rate and sizes, nothing of a group. */
export interface CapacityInput {
  readonly recordsPerSecond: number;
  /** One Kinesis record: its data and its partition key. */
  readonly streamRecordBytes: number;
  /** One record as SageMaker counts it (feature names and values). */
  readonly featureRecordBytes: number;
  readonly onlineStorageType: 'Standard' | 'InMemory';
  /** For a group with aggregations: one entity's state item with one record in its outbox. */
  readonly stateItemBytes?: number | undefined;
}

/** What `planCapacity` prescribes for one feature group at a target rate. */
export interface CapacityPlan {
  readonly recordsPerSecond: number;
  readonly kinesis: {
    readonly shards: number;
    /** The shards writes need by records, by bytes, and the invocations need (ParallelizationFactor at most 10). */
    readonly shardsForRecords: number;
    readonly shardsForBytes: number;
    readonly shardsForConcurrency: number;
    readonly boundBy: 'records' | 'bytes' | 'concurrency';
    readonly bytesPerSecond: number;
    /** The share of each shard's 2 MB/s read throughput the event source mapping uses. */
    readonly readShare: number;
  };
  readonly eventSourceMapping: {
    readonly BatchSize: number;
    readonly MaximumBatchingWindowInSeconds: number;
    readonly ParallelizationFactor: number;
    readonly StartingPosition: 'TRIM_HORIZON';
    readonly FunctionResponseTypes: readonly ['ReportBatchItemFailures'];
  };
  readonly lambda: {
    readonly memoryMb: number;
    /** Time one invocation spends per record at one vCPU: its CPU, or its calls in flight if they take longer. */
    readonly msPerRecord: number;
    readonly recordsPerSecondPerInvocation: number;
    /** Invocations busy on average at the rate. */
    readonly busyInvocations: number;
    /** Shards × ParallelizationFactor: the most the mapping runs at once. */
    readonly maxConcurrency: number;
  };
  readonly sageMaker: {
    readonly recordBytes: number;
    readonly writeUnitsPerRecord: number;
    readonly writeUnitsPerSecond: number;
    readonly putRecordCallsPerSecond: number;
    readonly batchWriteRecordCallsPerSecond: number;
    readonly throughputMode: 'OnDemand' | 'Provisioned';
    /** Provisioned units at the rate, or why provisioned cannot carry it. */
    readonly provisioned: { readonly ProvisionedWriteCapacityUnits: number } | { readonly unavailable: string };
  };
  /** Only for a group with aggregations. */
  readonly aggregationState: {
    /** A state item with one record in its outbox. */
    readonly itemBytes: number;
    /** Units of one conditional write of a state item. */
    readonly writeUnitsPerWrite: number;
    /** Conditional writes of state items per second; as many marks of an outbox written follow, one unit each. */
    readonly writesPerSecond: number;
    /** Both: the conditional writes and the marks. */
    readonly writeUnitsPerSecond: number;
    /** Strongly consistent reads of a state item and its mark, at worst (no entity cached). */
    readonly readUnitsPerSecond: number;
    readonly billingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  } | undefined;
  readonly freshness: {
    readonly batchingWindowSeconds: number;
    readonly processingSecondsPerBatch: number;
    /** Event on the stream to readable online, at most (steady state). */
    readonly boundSeconds: number;
  };
  /** The most records/s one record identifier can take, what stops it, and each service's ceiling. */
  readonly hotEntity: {
    readonly recordsPerSecond: number;
    readonly limitedBy: string;
    readonly ceilings: Readonly<Partial<Record<'Kinesis' | 'SageMaker' | 'Lambda' | 'aggregates', number>>>;
  };
  readonly notes: readonly string[];
  readonly assumptions: readonly string[];
}

/** What holds one record identifier back, by service. */
const HOT_ENTITY_LIMITS = {
  Kinesis: 'its partition key is one shard, 1 MB/s or 1,000 records/s',
  SageMaker: '500 write units/s per record identifier',
  Lambda: 'one batch of a key at a time, on one vCPU',
  aggregates: "one entity's state on one core",
} as const;

const round = (value: number, digits = 3) => Number(value.toFixed(digits));
const grouped = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 3 });

/**
 * The arithmetic of a plan, from numbers alone: shards, event source mapping, Lambda concurrency,
 * SageMaker and DynamoDB units, freshness and the hottest identifier's ceiling. `planCapacity` reads
 * the numbers off a group; tests call this with the numbers at the limits' edges. A stream record
 * over Kinesis's 1 MiB cannot be sent at all, so it is refused with a ConfigurationError.
 *
 * ### Example
 * ```ts
 * const plan = sizeCapacity({ recordsPerSecond: 1_001, streamRecordBytes: 200, featureRecordBytes: 300, onlineStorageType: 'Standard' });
 * plan.kinesis.shards;   // 2
 * ```
 */
export function sizeCapacity(input: CapacityInput, measured: MeasuredFigures = MEASURED, assumed: CapacityAssumptions = ASSUMED): CapacityPlan {
  if (!(input.streamRecordBytes > 0 && input.streamRecordBytes <= KINESIS_MAX_RECORD_BYTES)) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `sizeCapacity input.streamRecordBytes: expected the bytes of one Kinesis record, more than 0 and at most ${grouped(KINESIS_MAX_RECORD_BYTES)} (1 MiB, data and partition key together), got ${describeValue(input.streamRecordBytes)}`,
    );
  }
  const rate = input.recordsPerSecond;
  const aggregated = input.stateItemBytes !== undefined;
  const notes: string[] = [];

  // One invocation at one vCPU: the handler, its BatchWriteRecord calls (25 records a call at worst:
  // every record its own identifier), and with aggregations the reducer and the state's save and
  // mark of its outbox written (every record its own entity in its batch, at worst; marks go 25 to a
  // BatchWriteItem) plus a BatchGetItem per 50 entities not cached (their state items and marks). The handler's own figure is counted on top of the write path's, which includes it.
  const writeCalls = 1 / SAGEMAKER_BATCH_WRITE_ENTRIES;
  const stateCalls = aggregated ? 1 + 1 / BATCH_WRITE_ITEMS + 2 / BATCH_GET_KEYS : 0;
  const writeCpuMs = 1000 / measured.handlerRecordsPerSecond.value + measured.batchWriteCpuMsPerRecord.value;
  const cpuMs =
    writeCpuMs +
    (aggregated ? 1000 / measured.aggregatedPipelineRecordsPerSecond.value - 1000 / measured.plainPipelineRecordsPerSecond.value + stateCalls * measured.stateCallCpuMs.value : 0);
  const ioMs = ((writeCalls + stateCalls) * assumed.serviceLatencyMs) / CALLS_IN_FLIGHT;
  const msPerRecord = Math.max(cpuMs, ioMs);
  const busy = (rate * msPerRecord) / 1000;
  const slots = Math.max(1, Math.ceil(busy / assumed.targetUtilisation));

  // Shards: the larger of what writes need, then enough that ParallelizationFactor (at most 10) reaches the invocations.
  const bytesPerSecond = rate * input.streamRecordBytes;
  const shardsForRecords = Math.ceil(rate / KINESIS_SHARD_WRITE_RECORDS_PER_SECOND);
  const shardsForBytes = Math.ceil(bytesPerSecond / KINESIS_SHARD_WRITE_BYTES_PER_SECOND);
  const shardsForConcurrency = Math.ceil(slots / ESM_MAX_PARALLELIZATION_FACTOR);
  const shards = Math.max(1, shardsForRecords, shardsForBytes, shardsForConcurrency);
  const boundBy = shards === shardsForConcurrency && shards > Math.max(shardsForRecords, shardsForBytes) ? 'concurrency' : shardsForBytes > shardsForRecords ? 'bytes' : 'records';
  const parallelization = Math.min(ESM_MAX_PARALLELIZATION_FACTOR, Math.max(1, Math.ceil(slots / shards)));
  const maxConcurrency = shards * parallelization;

  // A batch holds what one of those invocations receives in a batching window, in 100s, at most what
  // fits Lambda's payload.
  const perSlot = rate / maxConcurrency;
  const payloadRecordBytes = Math.ceil((input.streamRecordBytes * 4) / 3) + KINESIS_EVENT_RECORD_OVERHEAD_BYTES;
  const payloadCap = Math.max(1, Math.floor(LAMBDA_PAYLOAD_BYTES / payloadRecordBytes));
  const batchSize = Math.min(ESM_MAX_BATCH_SIZE, payloadCap, Math.max(100, Math.ceil((perSlot * ESM_BATCHING_WINDOW_SECONDS) / 100) * 100));
  const processingSeconds = (batchSize * msPerRecord) / 1000;

  // SageMaker: BatchWriteRecord, 25 records a call (sageMakerOnline's default); every record counts
  // its write units, offline-only ones included (the quotas page does not say they are free).
  const writeUnitsPerRecord = Math.max(1, Math.ceil(input.featureRecordBytes / SAGEMAKER_WRITE_UNIT_BYTES));
  const writeUnitsPerSecond = Math.ceil(rate * writeUnitsPerRecord);
  const putCalls = Math.ceil(rate);
  const batchCalls = Math.ceil(rate / SAGEMAKER_BATCH_WRITE_ENTRIES);
  if (batchCalls > SAGEMAKER_API_TPS) {
    notes.push(`${grouped(batchCalls)} BatchWriteRecord calls/s of ${SAGEMAKER_BATCH_WRITE_ENTRIES} records is over SageMaker's ${grouped(SAGEMAKER_API_TPS)} TPS per API per account (a soft limit): ask for an increase`);
  }
  let provisioned: CapacityPlan['sageMaker']['provisioned'];
  // Provisioned throughput is for Standard online stores only (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-throughput-mode.html).
  if (input.onlineStorageType === 'InMemory') provisioned = { unavailable: 'SageMaker offers provisioned throughput only for Standard online stores' };
  else if (writeUnitsPerSecond > SAGEMAKER_MAX_PROVISIONED_WRITE_UNITS) {
    provisioned = { unavailable: `${grouped(writeUnitsPerSecond)} WCU is over the ${grouped(SAGEMAKER_MAX_PROVISIONED_WRITE_UNITS)} a feature group can provision` };
  } else provisioned = { ProvisionedWriteCapacityUnits: writeUnitsPerSecond };

  // DynamoDB state: per entity per batch, one conditional PutItem (state and outbox, counted at the
  // item with its outbox) and one put of the small item marking that outbox written (one unit); when
  // not cached, a strongly consistent read of both.
  let aggregationState: CapacityPlan['aggregationState'];
  if (input.stateItemBytes !== undefined) {
    const writeUnitsPerWrite = Math.max(1, Math.ceil(input.stateItemBytes / DYNAMODB_WRITE_UNIT_BYTES));
    const writesPerSecond = Math.ceil(rate);
    const stateWriteUnits = writesPerSecond * (writeUnitsPerWrite + 1);
    const readUnits = Math.ceil(rate * (Math.max(1, Math.ceil(input.stateItemBytes / DYNAMODB_READ_UNIT_BYTES)) + 1));
    const onDemand = stateWriteUnits <= DYNAMODB_ON_DEMAND_WARM_WRITE_UNITS && readUnits <= DYNAMODB_ON_DEMAND_WARM_READ_UNITS;
    if (!onDemand) {
      notes.push(
        `the state table needs ${grouped(stateWriteUnits)} WCU/s and ${grouped(readUnits)} RCU/s, over what a new on-demand table takes at once ` +
          `(${grouped(DYNAMODB_ON_DEMAND_WARM_WRITE_UNITS)} WCU/s, ${grouped(DYNAMODB_ON_DEMAND_WARM_READ_UNITS)} RCU/s): provision them, or keep on-demand with WarmThroughput set to them`,
      );
    }
    aggregationState = {
      itemBytes: input.stateItemBytes,
      writeUnitsPerWrite,
      writesPerSecond,
      writeUnitsPerSecond: stateWriteUnits,
      readUnitsPerSecond: readUnits,
      billingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    };
  }

  // One identifier: one shard, as every record of a partition key goes to the same one
  // (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecordsRequestEntry.html), one
  // batch at a time, and SageMaker's units per record identifier.
  const ceilings: Partial<Record<keyof typeof HOT_ENTITY_LIMITS, number>> = {
    Kinesis: Math.floor(Math.min(KINESIS_SHARD_WRITE_RECORDS_PER_SECOND, KINESIS_SHARD_WRITE_BYTES_PER_SECOND / input.streamRecordBytes)),
    SageMaker: Math.floor(SAGEMAKER_WRITE_UNITS_PER_IDENTIFIER_PER_SECOND / writeUnitsPerRecord),
    // Collapsed, an identifier's records in one batch cost a few calls, not one each: its CPU binds.
    Lambda: Math.floor(1000 / writeCpuMs),
    ...(aggregated ? { aggregates: measured.hotEntityRecordsPerSecond.value } : {}),
  };
  const [lowest, hottest] = Object.entries(ceilings).reduce((low, entry) => (entry[1] < low[1] ? entry : low));
  const limitedBy = `${lowest}: ${HOT_ENTITY_LIMITS[lowest as keyof typeof HOT_ENTITY_LIMITS]}`;

  const assumptions = [
    `measured figures from ${MEASURED_IN}, per core`,
    `handler CPU ${round(1000 / measured.handlerRecordsPerSecond.value, 4)} ms per record (${grouped(measured.handlerRecordsPerSecond.value)} records/s): ${measured.handlerRecordsPerSecond.source}`,
    `writes ${measured.batchWriteCpuMsPerRecord.value} ms of CPU per record with sageMakerOnline's default, BatchWriteRecord collapsed: ${measured.batchWriteCpuMsPerRecord.source}`,
    `not planned for: one PutRecord per record (batchWrite: false, or a runtime SDK without BatchWriteRecord), ${measured.putRecordCpuMs.value} ms of client CPU per call: ${measured.putRecordCpuMs.source}`,
    `Lambda polls each shard at a base rate of once a second (faster while it catches up), of the ${KINESIS_SHARD_GET_RECORDS_PER_SECOND} GetRecords calls a shard takes per second; other standard consumers share the rest, and the 2 MB/s`,
    `one bench core is one Lambda vCPU (${grouped(LAMBDA_MB_PER_VCPU)} MB); the handler's JavaScript runs on one thread, so more memory adds no throughput`,
    `${assumed.serviceLatencyMs} ms per service round trip, ${CALLS_IN_FLIGHT} calls in flight: not measured against AWS (the local-stack benches inject 5 to 50 ms)`,
    `invocations sized to be ${assumed.targetUtilisation * 100}% busy, so a backlog drains at least as fast as it built up`,
    ...(aggregated
      ? [
          `aggregates ${round(1000 / measured.aggregatedPipelineRecordsPerSecond.value - 1000 / measured.plainPipelineRecordsPerSecond.value, 4)} ms of CPU per record: ${measured.aggregatedPipelineRecordsPerSecond.source} less ${measured.plainPipelineRecordsPerSecond.source}`,
          `one entity at most ${grouped(measured.hotEntityRecordsPerSecond.value)} records/s through its aggregates: ${measured.hotEntityRecordsPerSecond.source}`,
          `aggregation state ${measured.stateCallCpuMs.value} ms of handler CPU per DynamoDB call: ${measured.stateCallCpuMs.source}`,
          'every record its own entity within its batch (many identifiers, few events each): per record a conditional write of its state item and a mark of its outbox written (25 to a call), both items read when not cached',
        ]
      : []),
  ];

  return {
    recordsPerSecond: rate,
    kinesis: { shards, shardsForRecords, shardsForBytes, shardsForConcurrency, boundBy, bytesPerSecond: Math.ceil(bytesPerSecond), readShare: round(bytesPerSecond / shards / KINESIS_SHARD_READ_BYTES_PER_SECOND) },
    eventSourceMapping: {
      BatchSize: batchSize,
      MaximumBatchingWindowInSeconds: ESM_BATCHING_WINDOW_SECONDS,
      ParallelizationFactor: parallelization,
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    },
    lambda: { memoryMb: LAMBDA_MB_PER_VCPU, msPerRecord: round(msPerRecord), recordsPerSecondPerInvocation: Math.floor(1000 / msPerRecord), busyInvocations: round(busy, 1), maxConcurrency },
    sageMaker: {
      recordBytes: input.featureRecordBytes,
      writeUnitsPerRecord,
      writeUnitsPerSecond,
      putRecordCallsPerSecond: putCalls,
      batchWriteRecordCallsPerSecond: batchCalls,
      // A target rate is a peak: on-demand takes it and what is below it; provisioned units throttle above them and are billed at all times.
      throughputMode: 'OnDemand',
      provisioned,
    },
    aggregationState,
    freshness: {
      batchingWindowSeconds: ESM_BATCHING_WINDOW_SECONDS,
      processingSecondsPerBatch: round(processingSeconds),
      boundSeconds: round(ESM_BATCHING_WINDOW_SECONDS + processingSeconds),
    },
    hotEntity: { recordsPerSecond: hottest, limitedBy, ceilings },
    notes,
    assumptions,
  };
}

const RATE = /^(\d{1,3}(?:[,_]\d{3})+|\d+)(\.\d+)?\/(s|min)$/;

/**
 * A rate as the CLI takes it, in records per second: `10000/s`, `10_000/s`, `10,000/s` or `600/min`.
 * A number without its unit is refused (per second or per minute is not guessed), as is anything
 * not more than 0. `option` names it in the message.
 *
 * ### Example
 * ```ts
 * parseRate('600/min');   // 10
 * ```
 */
export function parseRate(text: string, option = 'rate'): number {
  if (typeof text !== 'string') {
    throw new ConfigurationError('INVALID_CONFIG', `${option} must be text such as '10000/s' or '600000/min', got ${describeValue(text)}`);
  }
  const trimmed = text.trim().replace(/\s+/g, '');
  const match = RATE.exec(trimmed);
  if (!match) {
    const bare = /^\d[\d,_]*(\.\d+)?$/.test(trimmed);
    throw new ConfigurationError(
      'INVALID_CONFIG',
      bare
        ? `${option}: a rate needs its unit, got ${describeValue(text)}: did you mean '${trimmed}/s' or '${trimmed}/min'?`
        : `${option}: expected records per second or per minute, such as '10000/s' or '600/min', got ${describeValue(text)}`,
    );
  }
  const perUnit = Number(`${(match[1] as string).replace(/[,_]/g, '')}${match[2] ?? ''}`);
  if (!(perUnit > 0)) throw new ConfigurationError('INVALID_CONFIG', `${option}: a rate must be more than 0, got ${describeValue(text)}`);
  return match[3] === 'min' ? perUnit / 60 : perUnit;
}

/** How `planCapacity` is asked. */
export interface CapacityOptions {
  /** The target rate: records per second, or text such as `'10000/s'` or `'600/min'`. */
  readonly rate: number | string;
  /**
   * One source event's bytes on the stream, measured; default estimated from the `source` schema. With
   * the partition key it must fit a Kinesis record, at most 1 MiB (1,048,576 bytes).
   */
  readonly recordBytes?: number;
  /** Events one entity has within its longest window (sizes its aggregation state); default 1. */
  readonly entityEvents?: number;
}

const CAPACITY_OPTIONS = /* @__PURE__ */ lazySchema(() => {
  // Built on first use: number formatting loads ICU's locale data, 35 ms of a Lambda's cold start.
  const RECORD_BYTES = `a whole number of bytes, more than 0 and at most ${grouped(KINESIS_MAX_RECORD_BYTES)} (1 MiB, the largest Kinesis record)`;
  return z.strictObject({
    rate: z.union([z.string(), z.number().check(z.refine((n) => Number.isFinite(n) && n > 0, { error: expected('records per second, more than 0') }))], { error: expected("a rate: records per second, or text such as '10000/s'") }),
    recordBytes: z.optional(positiveInteger(RECORD_BYTES).check(z.refine((bytes) => bytes <= KINESIS_MAX_RECORD_BYTES, { error: expected(RECORD_BYTES) }))),
    entityEvents: z.optional(positiveInteger('a whole number of events, more than 0')),
  });
});

function assumedFields(what: string, fields: readonly string[]): string[] {
  return fields.length === 0 ? [] : [`${what}: ${fields.join(', ')} at ${ASSUMED_STRING_BYTES} bytes each (no check bounds them; lists as one element)`];
}

/**
 * The capacity one feature group needs at a target rate: Kinesis shards, the event source mapping
 * (BatchSize, MaximumBatchingWindowInSeconds, ParallelizationFactor), Lambda memory and concurrency,
 * SageMaker throughput mode and units, the DynamoDB state table for a group with aggregations, the
 * freshness to expect and the hottest identifier's ceiling, with the assumptions it rests on. Sizes
 * come from the group's schemas unless `recordBytes` is given; CPU figures from the benchmarks.
 *
 * ### Example
 * ```ts
 * const plan = planCapacity(cardActivity, { rate: '10000/s' });
 * console.log(plan.kinesis.shards, plan.eventSourceMapping.ParallelizationFactor, plan.freshness.boundSeconds);
 * ```
 */
export function planCapacity(group: AnyFeatureGroup, options: CapacityOptions): CapacityPlan {
  requireGroup(group, 'planCapacity');
  checkOptions(CAPACITY_OPTIONS, options, 'planCapacity options');
  const rate = typeof options.rate === 'string' ? parseRate(options.rate) : options.rate;
  const id = recordIdentifierBytes(group);
  const source = sourceEventBytes(group);
  const features = featureRecordBytes(group);
  // A producer partitions by the record identifier: the key travels with the data and counts with it.
  const streamRecordBytes = (options.recordBytes ?? source.bytes) + id.bytes;
  if (streamRecordBytes > KINESIS_MAX_RECORD_BYTES) {
    const data = options.recordBytes === undefined ? `planCapacity: the source event's estimated ${grouped(source.bytes)} bytes` : `planCapacity options.recordBytes: ${grouped(options.recordBytes)} bytes`;
    throw new ConfigurationError('INVALID_CONFIG', `${data} and a ${id.bytes}-byte partition key are over the ${grouped(KINESIS_MAX_RECORD_BYTES)} bytes (1 MiB) a Kinesis record holds, data and partition key together`);
  }
  let stateItemBytes: number | undefined;
  const sizes = [
    options.recordBytes === undefined
      ? `stream record ${source.bytes} bytes of JSON estimated from the source schema (recordBytes, or --record-bytes, gives a measured size), plus a ${id.bytes}-byte partition key`
      : `stream record ${options.recordBytes} bytes as given, plus a ${id.bytes}-byte partition key`,
    ...(options.recordBytes === undefined ? assumedFields('source fields', source.assumed) : []),
    `SageMaker record ${features.bytes} bytes estimated from the features (names and values, each at the widest its type allows)`,
    ...assumedFields('features', features.assumed),
  ];
  if (Object.keys(group.aggregations).length > 0) {
    const inputs = aggregationInputBytes(group);
    const events = options.entityEvents ?? 1;
    // {"v":1,"t":<ms>,"p":{<shard>#<partition key>:<sequence number>},"q":{<the same>:<ms>},"e":[<events>],"b":[]}:
    // one position, the stream partitioned by the record identifier, a 56-digit sequence number as Kinesis hands them out.
    const position = `kinesis:shardId-${'0'.repeat(12)}#${'k'.repeat(id.bytes)}`;
    const stateBase = JSON.stringify({ v: 1, t: 1_714_521_600_000, p: { [position]: '4'.repeat(56) }, q: { [position]: 1_714_521_600_000 }, e: [], b: [] }).length;
    // [<ms>,<input>,...] and a comma after it: brackets, 13 digits, a comma.
    const eventBytes = 16 + inputs.bytes;
    // The outbox: the record's values, each quoted with a comma, under the features' names.
    const outbox = features.bytes + 6 * group.featureDefinitions.length + 26;
    stateItemBytes = stateItemKey(group.name, '').length + id.bytes + STATE_ITEM_OVERHEAD_BYTES + stateBase + events * eventBytes + outbox;
    sizes.push(
      `state item ${stateItemBytes} bytes: an entity with ${events} event${events === 1 ? '' : 's'} in its longest window (entityEvents, or --entity-events) and one record in its outbox`,
      ...assumedFields('aggregated features', inputs.assumed),
    );
  }
  const plan = sizeCapacity({ recordsPerSecond: rate, streamRecordBytes, featureRecordBytes: features.bytes, onlineStorageType: group.onlineStorageType, stateItemBytes });
  return { ...plan, assumptions: [...sizes, ...plan.assumptions] };
}
