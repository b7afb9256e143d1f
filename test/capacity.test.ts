import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ASSUMED,
  type CapacityInput,
  KINESIS_EVENT_RECORD_OVERHEAD_BYTES,
  KINESIS_MAX_RECORD_BYTES,
  MEASURED,
  type MeasuredFigures,
  parseRate,
  planCapacity,
  sizeCapacity,
} from '../src/aws/capacity.js';
import { recordBytes } from '../src/schema/codec.js';
import { featureRecordBytes, sourceEventBytes } from '../src/schema/record-size.js';
import { ConfigurationError, defineFeatureGroup, SkewlessError } from '../src/index.js';
import { toStreamCloudFormation } from '../src/aws/index.js';
import { kinesisEvent } from '../src/testing/index.js';
import { cardActivity } from '../src/cli/demo-groups.js';
import { cardActivity as cardRows, cardVelocity, everyType } from './fixtures/groups.js';

// The arithmetic of `skewless plan --rate` at the edges of the limits it is built on: Kinesis 1 MB/s or
// 1,000 records/s per shard, ParallelizationFactor 1 to 10, a 6 MB Lambda payload, SageMaker's write
// units per started KB and 500 per identifier, DynamoDB's write units per started KB and a new
// on-demand table's warm throughput.

const input = (recordsPerSecond: number, overrides: Partial<CapacityInput> = {}): CapacityInput => ({
  recordsPerSecond,
  streamRecordBytes: 100,
  featureRecordBytes: 300,
  onlineStorageType: 'Standard',
  ...overrides,
});

/** Figures for an invocation of `ms` of CPU per record (all of it the write path's), to put concurrency where a case needs it. */
function cpuPerRecord(ms: number): MeasuredFigures {
  return { ...MEASURED, handlerRecordsPerSecond: { value: Number.POSITIVE_INFINITY, source: 'test' }, batchWriteCpuMsPerRecord: { value: ms, source: 'test' } };
}
const fast = cpuPerRecord(0.001);
/** Calls that take no time in flight, so only CPU counts. */
const noLatency = { ...ASSUMED, serviceLatencyMs: 0 };

describe('Kinesis shards', () => {
  it('fits exactly 1,000 records/s in one shard and takes two for 1,001', () => {
    expect(sizeCapacity(input(1_000)).kinesis).toMatchObject({ shards: 1, shardsForRecords: 1, boundBy: 'records' });
    expect(sizeCapacity(input(1_001)).kinesis).toMatchObject({ shards: 2, shardsForRecords: 2, boundBy: 'records' });
  });

  it('counts bytes when records are large: 1,000 records/s of 1,000 bytes is one shard (1 MB/s), of 1,001 bytes two', () => {
    expect(sizeCapacity(input(1_000, { streamRecordBytes: 1_000 })).kinesis).toMatchObject({ shards: 1, bytesPerSecond: 1_000_000 });
    expect(sizeCapacity(input(1_000, { streamRecordBytes: 1_001 })).kinesis).toMatchObject({ shards: 2, shardsForRecords: 1, shardsForBytes: 2, boundBy: 'bytes' });
    expect(sizeCapacity(input(500, { streamRecordBytes: 4_000 })).kinesis).toMatchObject({ shards: 2, shardsForRecords: 1, shardsForBytes: 2, boundBy: 'bytes' });
  });

  it("says what share of each shard's 2 MB/s of reads the event source mapping takes", () => {
    expect(sizeCapacity(input(1_000, { streamRecordBytes: 1_000 })).kinesis.readShare).toBe(0.5);
  });

  it('never plans fewer than one shard, even at one record a minute', () => {
    expect(sizeCapacity(input(1 / 60), fast).kinesis.shards).toBe(1);
  });
});

describe('the event source mapping and Lambda', () => {
  it('raises ParallelizationFactor until the invocations carry the rate half busy', () => {
    // 2 ms a record at 1,000 records/s: 2 invocations busy, 4 planned; one shard takes them all.
    const plan = sizeCapacity(input(1_000), cpuPerRecord(2), noLatency);
    expect(plan.lambda).toMatchObject({ msPerRecord: 2, busyInvocations: 2, maxConcurrency: 4 });
    expect(plan.eventSourceMapping.ParallelizationFactor).toBe(4);
    expect(plan.kinesis.shards).toBe(1);
  });

  it('caps ParallelizationFactor at 10 and adds shards for the invocations beyond', () => {
    // 20 ms a record at 1,000 records/s: 20 busy, 40 planned: four shards of 10, where writes need one.
    const plan = sizeCapacity(input(1_000), cpuPerRecord(20), noLatency);
    expect(plan.eventSourceMapping.ParallelizationFactor).toBe(10);
    expect(plan.kinesis).toMatchObject({ shards: 4, shardsForRecords: 1, shardsForConcurrency: 4, boundBy: 'concurrency' });
    expect(plan.lambda.maxConcurrency).toBe(40);
  });

  it('keeps ParallelizationFactor at 1 when the shards already carry the rate', () => {
    expect(sizeCapacity(input(5_000), fast, noLatency).eventSourceMapping.ParallelizationFactor).toBe(1);
  });

  it('counts calls in flight when they take longer than the CPU', () => {
    // One BatchWriteRecord per 25 records, 16 calls in flight at 10 ms: 0.025 ms a record, over the
    // 0.001 ms of CPU; with aggregations a conditional write per record, a BatchWriteItem of marks per
    // 25 and a read per 50 more: (0.04 + 1 + 0.04 + 0.02) × 10 / 16 = 0.688 ms.
    expect(sizeCapacity(input(100), fast).lambda.msPerRecord).toBe(0.025);
    expect(sizeCapacity(input(100, { stateItemBytes: 800 }), { ...fast, aggregatedPipelineRecordsPerSecond: fast.plainPipelineRecordsPerSecond, stateCallCpuMs: { value: 0, source: 'test' } }).lambda.msPerRecord).toBe(0.688);
  });

  it("batches what one invocation receives in a one-second window, in hundreds, at least Lambda's default 100", () => {
    expect(sizeCapacity(input(10), fast).eventSourceMapping).toMatchObject({ BatchSize: 100, MaximumBatchingWindowInSeconds: 1 });
    // 2 ms a record: 4 invocations share the one shard's 1,000 records/s.
    expect(sizeCapacity(input(1_000), cpuPerRecord(2), noLatency).eventSourceMapping.BatchSize).toBe(300);
  });

  it("keeps a batch within Lambda's 6 MB payload (data base64, plus each record's fields)", () => {
    const plan = sizeCapacity(input(1_000, { streamRecordBytes: 900_000 }), fast);
    expect(plan.eventSourceMapping.BatchSize).toBe(Math.floor(6_000_000 / (1_200_000 + KINESIS_EVENT_RECORD_OVERHEAD_BYTES)));
  });

  it("prices a record's fields in the payload at no less than a Kinesis event holds", () => {
    const [record] = kinesisEvent([{}]).Records;
    expect(JSON.stringify({ ...record, kinesis: { ...record?.kinesis, data: '' } }).length).toBeLessThan(KINESIS_EVENT_RECORD_OVERHEAD_BYTES);
  });

  it('gives one vCPU (1,769 MB) and says freshness is the batching window plus a full batch', () => {
    const plan = sizeCapacity(input(1_000), cpuPerRecord(2), noLatency);
    expect(plan.lambda.memoryMb).toBe(1_769);
    expect(plan.freshness).toEqual({ batchingWindowSeconds: 1, processingSecondsPerBatch: 0.6, boundSeconds: 1.6 });
  });
});

describe('SageMaker Feature Store', () => {
  it('charges one write unit per started KB of the record, at least one', () => {
    expect(sizeCapacity(input(100, { featureRecordBytes: 10 })).sageMaker.writeUnitsPerRecord).toBe(1);
    expect(sizeCapacity(input(100, { featureRecordBytes: 1_000 })).sageMaker).toMatchObject({ writeUnitsPerRecord: 1, writeUnitsPerSecond: 100 });
    expect(sizeCapacity(input(100, { featureRecordBytes: 1_001 })).sageMaker).toMatchObject({ writeUnitsPerRecord: 2, writeUnitsPerSecond: 200 });
  });

  it('recommends on-demand for a peak and gives the provisioned units, up to the 40,000 WCU a group can provision', () => {
    expect(sizeCapacity(input(40_000)).sageMaker).toMatchObject({ throughputMode: 'OnDemand', provisioned: { ProvisionedWriteCapacityUnits: 40_000 } });
    expect(sizeCapacity(input(40_001)).sageMaker.provisioned).toEqual({ unavailable: '40,001 WCU is over the 40,000 a feature group can provision' });
  });

  it('offers no provisioned throughput to an InMemory online store', () => {
    expect(sizeCapacity(input(100, { onlineStorageType: 'InMemory' })).sageMaker).toMatchObject({
      throughputMode: 'OnDemand',
      provisioned: { unavailable: 'SageMaker offers provisioned throughput only for Standard online stores' },
    });
  });

  it('writes 25 records a BatchWriteRecord call and notes calls over the 10,000 TPS soft quota', () => {
    expect(sizeCapacity(input(10_001)).sageMaker).toMatchObject({ batchWriteRecordCallsPerSecond: 401, putRecordCallsPerSecond: 10_001 });
    expect(sizeCapacity(input(250_000)).notes.filter((n) => n.includes('BatchWriteRecord'))).toEqual([]);
    const notes = sizeCapacity(input(250_001)).notes.filter((n) => n.includes('BatchWriteRecord'));
    expect(notes).toEqual(["10,001 BatchWriteRecord calls/s of 25 records is over SageMaker's 10,000 TPS per API per account (a soft limit): ask for an increase"]);
  });
});

describe('the aggregation state table', () => {
  it('is sized only for a group with aggregations', () => {
    expect(sizeCapacity(input(1_000)).aggregationState).toBeUndefined();
    const state = sizeCapacity(input(1_000, { stateItemBytes: 800 })).aggregationState;
    // One conditional PutItem per entity per batch, every record its own entity, and a one-unit mark
    // of its outbox written; a cold read takes the state item and the mark.
    expect(state).toEqual({ itemBytes: 800, writeUnitsPerWrite: 1, writesPerSecond: 1_000, writeUnitsPerSecond: 2_000, readUnitsPerSecond: 2_000, billingMode: 'PAY_PER_REQUEST' });
  });

  it('charges a write unit per started KB of the item and a strongly consistent read unit per started 4 KB', () => {
    expect(sizeCapacity(input(100, { stateItemBytes: 1_000 })).aggregationState).toMatchObject({ writeUnitsPerWrite: 1, writeUnitsPerSecond: 200, readUnitsPerSecond: 200 });
    expect(sizeCapacity(input(100, { stateItemBytes: 1_001 })).aggregationState).toMatchObject({ writeUnitsPerWrite: 2, writeUnitsPerSecond: 300, readUnitsPerSecond: 200 });
    expect(sizeCapacity(input(100, { stateItemBytes: 4_001 })).aggregationState).toMatchObject({ writeUnitsPerWrite: 5, writeUnitsPerSecond: 600, readUnitsPerSecond: 300 });
  });

  it("stays on-demand within a new on-demand table's 4,000 WCU/s and is provisioned above it", () => {
    expect(sizeCapacity(input(2_000, { stateItemBytes: 800 })).aggregationState?.billingMode).toBe('PAY_PER_REQUEST');
    const over = sizeCapacity(input(2_001, { stateItemBytes: 800 }));
    expect(over.aggregationState).toMatchObject({ billingMode: 'PROVISIONED', writeUnitsPerSecond: 4_002 });
    expect(over.notes).toContain(
      'the state table needs 4,002 WCU/s and 4,002 RCU/s, over what a new on-demand table takes at once (4,000 WCU/s, 12,000 RCU/s): provision them, or keep on-demand with WarmThroughput set to them',
    );
  });

  it('costs an invocation the reducer and the state calls: fewer records per invocation than without', () => {
    const without = sizeCapacity(input(1_000)).lambda.recordsPerSecondPerInvocation;
    expect(sizeCapacity(input(1_000, { stateItemBytes: 800 })).lambda.recordsPerSecondPerInvocation).toBeLessThan(without / 2);
  });
});

describe('the hottest identifier', () => {
  it("is held to SageMaker's 500 write units per second per record identifier", () => {
    expect(sizeCapacity(input(100), fast, noLatency).hotEntity).toMatchObject({ recordsPerSecond: 500, limitedBy: 'SageMaker: 500 write units/s per record identifier' });
    expect(sizeCapacity(input(100, { featureRecordBytes: 2_500 }), fast, noLatency).hotEntity.recordsPerSecond).toBe(166);
  });

  it('is held to one shard when its records are large: every record of a partition key goes to one shard', () => {
    expect(sizeCapacity(input(100, { streamRecordBytes: 5_000 }), fast, noLatency).hotEntity).toMatchObject({ recordsPerSecond: 200, limitedBy: 'Kinesis: its partition key is one shard, 1 MB/s or 1,000 records/s' });
  });

  it('is held to one invocation, which takes one batch of a key at a time', () => {
    expect(sizeCapacity(input(100), cpuPerRecord(4), noLatency).hotEntity).toMatchObject({ recordsPerSecond: 250, limitedBy: 'Lambda: one batch of a key at a time, on one vCPU' });
  });

  it('pays no service round trip per record of the key: collapsed, its records in a batch cost a few calls', () => {
    // 4 ms of CPU a record and 10 ms calls: 1000 / 4 = 250 records/s, as without latency.
    expect(sizeCapacity(input(100), cpuPerRecord(4), { ...ASSUMED, serviceLatencyMs: 10 }).hotEntity).toMatchObject({ recordsPerSecond: 250, limitedBy: expect.stringMatching(/^Lambda/) });
  });

  it("counts the aggregates' measured one-entity rate only for a group with aggregations", () => {
    expect(Object.keys(sizeCapacity(input(100)).hotEntity.ceilings)).toEqual(['Kinesis', 'SageMaker', 'Lambda']);
    expect(sizeCapacity(input(100, { stateItemBytes: 800 })).hotEntity.ceilings.aggregates).toBe(6_105);
  });
});

describe('the figures a plan rests on', () => {
  it('are the ones in bench/results.json', () => {
    const { results } = JSON.parse(readFileSync(new URL('../bench/results.json', import.meta.url), 'utf8')) as { results: Record<string, Record<string, number>> };
    expect({
      handler: MEASURED.handlerRecordsPerSecond.value,
      put: MEASURED.putRecordCpuMs.value,
      batchWrite: MEASURED.batchWriteCpuMsPerRecord.value,
      plain: MEASURED.plainPipelineRecordsPerSecond.value,
      aggregated: MEASURED.aggregatedPipelineRecordsPerSecond.value,
      hot: MEASURED.hotEntityRecordsPerSecond.value,
      stateCall: MEASURED.stateCallCpuMs.value,
    }).toEqual({
      handler: results['lambda']?.['recordsPerSecond'],
      put: results['aws']?.['putClientCpuMsPerCall'],
      batchWrite: (results['writePath'] as unknown as Record<string, Record<string, number>> | undefined)?.['batchWriteCollapse']?.['cpuMsPerRecord'],
      plain: results['aggregations']?.['plainRecordsPerSecond'],
      aggregated: results['aggregations']?.['aggregatedRecordsPerSecond'],
      hot: results['aggregations']?.['hotEntityRecordsPerSecond'],
      stateCall: results['aggregations']?.['stateCallCpuMs'],
    });
  });

  it('are printed with where they come from, and what was assumed says so', () => {
    const { assumptions } = sizeCapacity(input(1_000, { stateItemBytes: 800 }));
    expect(assumptions.some((a) => a.includes('lambda.recordsPerSecond (bench/lambda.mjs'))).toBe(true);
    expect(assumptions.some((a) => a.includes('aws.putClientCpuMsPerCall (bench/aws.mjs'))).toBe(true);
    expect(assumptions.some((a) => a.includes('writePath.batchWriteCollapse.cpuMsPerRecord (bench/write-path.mjs'))).toBe(true);
    expect(assumptions.some((a) => a.startsWith('10 ms per service round trip') && a.includes('not measured against AWS'))).toBe(true);
    expect(assumptions.some((a) => a.includes('aggregations.stateCallCpuMs (bench/aggregations.mjs'))).toBe(true);
  });
});

describe('parseRate', () => {
  it('refuses what is not text, and planCapacity and toStreamCloudFormation refuse what is not a group or a plan, with typed errors', () => {
    expect(() => parseRate(10_000 as never)).toThrow(ConfigurationError);
    expect(() => parseRate(10_000 as never)).toThrow(/rate must be text such as '10000\/s'.*got 10000/);
    expect(() => planCapacity(undefined as never, { rate: '10/s' })).toThrow(SkewlessError);
    expect(() => toStreamCloudFormation(cardRows, undefined as never)).toThrow(/plan must be what planCapacity returned/);
  });

  it('reads records per second or per minute, with thousands separated or not', () => {
    expect(['10000/s', '10_000/s', '10,000/s', ' 10000 / s ', '600000/min'].map((t) => parseRate(t))).toEqual([10_000, 10_000, 10_000, 10_000, 10_000]);
    expect(parseRate('0.5/s')).toBe(0.5);
    expect(parseRate('30/min')).toBe(0.5);
  });

  it.each([
    ['fast', "--rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"fast\""],
    ['10000', "--rate: a rate needs its unit, got \"10000\": did you mean '10000/s' or '10000/min'?"],
    ['0/s', '--rate: a rate must be more than 0, got "0/s"'],
    ['0/min', '--rate: a rate must be more than 0, got "0/min"'],
    ['-5/s', "--rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"-5/s\""],
    ['10000/h', "--rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"10000/h\""],
  ])('refuses %j with a ConfigurationError saying what it takes', (text, message) => {
    expect(() => parseRate(text, '--rate')).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message }));
  });
});

describe('planCapacity', () => {
  it('sizes the state table for a group with aggregations and none for a group without', () => {
    expect(planCapacity(cardRows, { rate: '1000/s' }).aggregationState).toBeUndefined();
    expect(planCapacity(cardVelocity, { rate: '1000/s' }).aggregationState?.itemBytes).toBeGreaterThan(0);
  });

  it('puts the record identifier on every stream record as its partition key, and a measured size in place of the estimate', () => {
    const estimated = planCapacity(cardRows, { rate: 1_000 });
    expect(estimated.kinesis.bytesPerSecond).toBe(1_000 * (sourceEventBytes(cardRows).bytes + 32));
    expect(planCapacity(cardRows, { rate: 1_000, recordBytes: 1_000 }).kinesis).toMatchObject({ bytesPerSecond: 1_032_000, shards: 2, boundBy: 'bytes' });
    expect(planCapacity(cardRows, { rate: 1_000, recordBytes: 1_000 }).assumptions[0]).toBe('stream record 1000 bytes as given, plus a 32-byte partition key');
  });

  it('names the fields whose size it assumed', () => {
    const { assumptions } = planCapacity(cardRows, { rate: 100 });
    expect(assumptions).toContain('source fields: card_id, country, ts at 32 bytes each (no check bounds them; lists as one element)');
    expect(assumptions).toContain('features: card_id at 32 bytes each (no check bounds them; lists as one element)');
  });

  it('grows the state item with the events an entity holds in its window', () => {
    const one = planCapacity(cardActivity, { rate: 100 }).aggregationState?.itemBytes ?? 0;
    const ten = planCapacity(cardActivity, { rate: 100, entityEvents: 10 }).aggregationState?.itemBytes ?? 0;
    expect(ten - one).toBe(9 * (16 + 24 + 1 + 32 + 3));
  });

  it('refuses options it cannot use, naming them', () => {
    expect(() => planCapacity(cardRows, { rate: 0 })).toThrow(expect.objectContaining({ name: 'ConfigurationError', message: 'planCapacity options.rate: expected records per second, more than 0, got 0' }));
    expect(() => planCapacity(cardRows, { rate: '100/s', recordBytes: 1.5 })).toThrow(expect.objectContaining({ name: 'ConfigurationError', message: expect.stringContaining('recordBytes') }));
  });

  it("refuses a record larger than Kinesis's 1 MiB, data and partition key together (https://docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecord.html)", () => {
    expect(KINESIS_MAX_RECORD_BYTES).toBe(1_048_576);
    for (const recordBytes of [5_000_000, 1_048_577, 0, -300]) {
      expect(() => planCapacity(cardRows, { rate: 10_000, recordBytes })).toThrow(
        expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: expect.stringMatching(/^planCapacity options\.recordBytes: .*1,048,576/) }),
      );
    }
    // The 32-byte partition key counts with the data.
    expect(() => planCapacity(cardRows, { rate: 10_000, recordBytes: 1_048_576 })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: 'planCapacity options.recordBytes: 1,048,576 bytes and a 32-byte partition key are over the 1,048,576 bytes (1 MiB) a Kinesis record holds, data and partition key together' }),
    );
    expect(planCapacity(cardRows, { rate: 10_000, recordBytes: 1_048_576 - 32 }).kinesis.bytesPerSecond).toBe(10_000 * 1_048_576);
  });
});

describe('sizeCapacity', () => {
  it("refuses a stream record over Kinesis's 1 MiB or of no bytes, naming it", () => {
    for (const streamRecordBytes of [5_000_000, 1_048_577, 0, Number.NaN]) {
      expect(() => sizeCapacity(input(10_000, { streamRecordBytes }))).toThrow(
        expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: expect.stringMatching(/^sizeCapacity input\.streamRecordBytes: .*1,048,576/) }),
      );
    }
    expect(sizeCapacity(input(1, { streamRecordBytes: 1_048_576 })).kinesis.shardsForBytes).toBe(2);
  });
});

describe('record sizes read off the schemas', () => {
  it('take each JSON value at the widest its schema allows', () => {
    const group = defineFeatureGroup({
      name: 'sized',
      recordIdentifier: 'id',
      eventTime: 'at',
      source: z.object({ id: z.uuid(), code: z.string().length(3), level: z.enum(['low', 'high']), n: z.number().int(), x: z.number(), ok: z.boolean(), at: z.date() }),
      features: z.object({ id: z.string().max(36), at: z.date() }),
      transform: (e) => ({ id: e.id, at: e.at }),
    });
    const widest = { id: 'x'.repeat(36), code: 'abc', level: 'high', n: '-9223372036854775808', x: '-2.2250738585072014e-308', ok: false, at: new Date(0).toISOString() };
    // The numbers are written unquoted: their text's length is what JSON holds.
    expect(sourceEventBytes(group)).toEqual({ bytes: JSON.stringify(widest).length - 4, assumed: [] });
  });

  it('count no less than the record SageMaker is sent, names and values', () => {
    const long = 'x'.repeat(32);
    const result = cardRows.process({ card_id: long, amount_cents: -123456789, country: long, ts: '2024-05-01T00:00:00.000Z' });
    if (!result.ok) throw result.error;
    expect(recordBytes(result.encoded)).toBeLessThanOrEqual(featureRecordBytes(cardRows).bytes);
  });

  it('count a list as one element and say so', () => {
    expect(featureRecordBytes(everyType).assumed).toEqual(expect.arrayContaining(['tags[]', 'weights[]']));
  });
});
