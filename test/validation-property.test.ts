// Every public function's options, tried with values of every wrong type: a call either succeeds on
// a value its documentation allows, or throws a SkewlessError with a code. Never a TypeError from
// inside, never a silent success on a value the documentation does not allow.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  athenaOffline,
  athenaSource,
  backfillShardHandler,
  athenaSpine,
  dynamoDbAggregationState,
  dynamoDbOnline,
  iamPolicies,
  s3DeadLetter,
  s3Offline,
  s3ParquetFile,
  s3Spine,
  sageMakerOnline,
  sqsDeadLetter,
  toCreateFeatureGroupInput,
} from '../src/aws/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { localAggregationState, localOffline, localOnline, localStores, startLocalStack } from '../src/local/index.js';
import {
  audit,
  backfill,
  count,
  createFeatureStore,
  csvFile,
  defineFeatureGroup,
  fileSource,
  fromRecords,
  lineage,
  ndjsonFile,
  planBackfill,
  SkewlessError,
  trainingSet,
} from '../src/index.js';
import { checkDeterminism, expectParity, firehoseEvent, kafkaEvent, kinesisEvent, memoryOnline, runKinesisEventSource, sqsEvent } from '../src/testing/index.js';
import { cardActivity, validCardEvent } from './fixtures/groups.js';

const dir = mkdtempSync(join(tmpdir(), 'skewless-options-'));
const ndjson = join(dir, 'events.ndjson');
writeFileSync(ndjson, `${JSON.stringify(validCardEvent)}\n`);
const closers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const c of closers) await c.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What a caller may pass by mistake: every JSON type, near misses of the documented forms, objects that are not ours. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -1, 1.5, 60, Number.NaN, Number.POSITIVE_INFINITY, '', '60', '10k', '1h', 'sideways', 's3://b/p/', [], {}, () => {}, new Date(Number.NaN)),
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.date(),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.anything(), { maxKeys: 3 }),
);

const isInt = (v: unknown, min = 1) => typeof v === 'number' && Number.isInteger(v) && v >= min;
const isDuration = (v: unknown) => typeof v === 'string' && /^\d+(ms|s|m|h|d|w)$/.test(v.trim());
const isText = (v: unknown) => typeof v === 'string';
/** An S3 key or prefix: text within the bucket, not an s3:// location. */
const isKeyText = (v: unknown) => isText(v) && !(v as string).startsWith('s3://');
const isBool = (v: unknown) => typeof v === 'boolean';
const isFn = (v: unknown) => typeof v === 'function';
const isDate = (v: unknown) => v instanceof Date && !Number.isNaN(v.getTime());
const isBucket = (v: unknown) => typeof v === 'string' && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v);
const isS3Location = (v: unknown) => typeof v === 'string' && /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v);
const optional = (accepts: (v: unknown) => boolean) => (v: unknown) => v === undefined || accepts(v);
/** Text matching `pattern`, or holding a CloudFormation `${…}` placeholder (the plan functions take them). */
const orPlaceholder = (pattern: RegExp) => (v: unknown) => isText(v) && (pattern.test(v as string) || /\$\{[^}]+\}/.test(v as string));
const isPlanS3Uri = (v: unknown) => isText(v) && /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|[^/]*\$\{[^}]+\}[^/]*)(\/.*)?$/.test(v as string);

interface Case {
  readonly name: string;
  /** A call that succeeds with these options. */
  readonly valid: Record<string, unknown>;
  /** For each option: whether the docs allow a value. */
  readonly accepts: Record<string, (value: unknown) => boolean>;
  readonly call: (options: Record<string, unknown>) => unknown;
}

const memoryStore = () => {
  const store = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: () => {} });
  closers.push(store);
  return store;
};
const localStore = () => {
  const store = createFeatureStore(localStores({ memory: true }));
  closers.push(store);
  return store;
};

const retry = optional((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0);

const cardConfig = {
  name: 'cards',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount: z.number() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e: { card_id: string; amount: number }) => ({ card_id: e.card_id, event_time: new Date(0), amount: e.amount }),
};

const CASES: Case[] = [
  {
    name: 'defineFeatureGroup',
    valid: cardConfig,
    accepts: {
      description: optional(isText),
      version: optional((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))),
      eventTimeFormat: optional((v) => v === 'iso' || v === 'epoch-seconds'),
      lineage: optional(isBool),
      onlineStorageType: optional((v) => v === 'Standard' || v === 'InMemory'),
      name: (v) => typeof v === 'string' && /^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$/.test(v),
      recordIdentifier: (v) => v === 'card_id',
      eventTime: (v) => v === 'event_time',
      transform: isFn,
      helpers: optional((v) => Array.isArray(v) && v.every(isFn)),
    },
    call: (options) => defineFeatureGroup(options as never),
  },
  {
    name: 'store.get',
    valid: {},
    accepts: { features: optional((v) => Array.isArray(v) && v.every((f) => f === 'amount' || f === 'card_id' || f === 'event_time' || f === 'is_foreign')) },
    call: (options) => memoryStore().get(cardActivity, 'card-1', options as never),
  },
  {
    name: 'store.ingest',
    valid: {},
    accepts: { ttl: optional((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && ['Seconds', 'Minutes', 'Hours', 'Days', 'Weeks'].includes((v as { Unit?: string }).Unit ?? '') && isInt((v as { Value?: unknown }).Value)), onRetry: optional(isFn), deadline: optional((v) => Number.isFinite(v)) },
    call: (options) => memoryStore().ingest(cardActivity, [validCardEvent], options as never),
  },
  {
    name: 'expectParity',
    valid: {},
    accepts: { batchSize: optional((v) => isInt(v) || v === 'random'), chunkSize: optional((v) => isInt(v)), redeliver: optional(isBool), seed: optional((v) => Number.isFinite(v)) },
    call: (options) => expectParity(cardActivity, [validCardEvent], options as never),
  },
  {
    name: 'backfillShardHandler',
    valid: { store: memoryStore() },
    accepts: { chunkSize: optional((v) => isInt(v)), rejects: optional((v) => typeof v === 'object' && v !== null && !Array.isArray(v) && isBucket((v as { bucket?: unknown }).bucket) && Object.keys(v).every((k) => k === 'bucket')) },
    call: (options) => backfillShardHandler(cardActivity, options as never),
  },
  {
    name: 'startLocalStack',
    valid: { memory: true },
    accepts: { region: optional(isText) },
    call: async (options) => (await startLocalStack(options as never)).close(),
  },
  {
    name: 'backfill',
    valid: { from: [validCardEvent] },
    accepts: {
      to: optional((v) => v === 'offline' || v === 'online' || v === 'both'),
      chunkSize: optional((v) => isInt(v)),
      concurrency: optional((v) => isInt(v)),
      onProgress: optional(isFn),
      order: optional((v) => v === 'event-time' || v === 'source'),
    },
    call: (options) => backfill(localStore(), cardActivity, options as never),
  },
  {
    name: 'audit',
    valid: {},
    accepts: {
      sample: optional((v) => isInt(v) || (Array.isArray(v) && v.length > 0 && v.every((id) => (typeof id === 'string' && id.length > 0) || Number.isSafeInteger(id) || typeof id === 'bigint'))),
      seed: optional((v) => Number.isSafeInteger(v)),
      at: optional(isDate),
      availabilityDelay: optional(isDuration),
      tolerance: optional((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0),
      examples: optional((v) => isInt(v, 0)),
    },
    call: (options) => audit(localStore(), cardActivity, options as never),
  },
  {
    name: 'lineage',
    valid: {},
    accepts: { sample: optional((v) => isInt(v)), seed: optional((v) => Number.isSafeInteger(v)) },
    call: (options) => lineage(localStore(), cardActivity, options as never),
  },
  {
    name: 'trainingSet',
    valid: { spine: [{ card_id: 'card-1', t: new Date(0) }], entityKey: 'card_id', timestamp: 't', features: [cardActivity.select('amount')] },
    accepts: {
      inclusive: optional(isBool),
      maxAge: optional(isDuration),
      knowledgeTime: optional(isBool),
      engine: optional((v) => v === 'auto' || v === 'reference'),
    },
    call: (options) => trainingSet(localStore(), options as never),
  },
  {
    name: 'planBackfill',
    valid: { from: ndjsonFile(ndjson) },
    accepts: { shards: optional((v) => isInt(v)) },
    call: (options) => planBackfill(cardActivity, options as never),
  },
  {
    name: 'selection.with',
    valid: {},
    accepts: { maxAge: optional(isDuration), prefix: optional(isText) },
    call: (options) => cardActivity.select('amount').with(options as never),
  },
  {
    name: 'count',
    valid: { window: '1h' },
    accepts: { window: isDuration },
    call: (options) => count(options as never),
  },
  {
    name: 'createFeatureStore',
    valid: { online: memoryOnline(), offline: false },
    accepts: { deadLetter: optional(isFn), dir: optional(isText), now: optional(isFn) },
    call: (options) => closers.push(createFeatureStore(options as never)),
  },
  {
    name: 'kinesisHandler',
    valid: { store: memoryStore() },
    accepts: {
      safetyMarginMs: optional((v) => isInt(v, 0)),
      log: optional((v) => v === false || isFn(v)),
      discardPoison: optional(isBool),
      deleteMode: optional((v) => v === 'SoftDelete' || v === 'HardDelete'),
      decode: optional(isFn),
    },
    call: (options) => kinesisHandler(cardActivity, options as never),
  },
  {
    name: 'sageMakerOnline',
    valid: {},
    accepts: {
      concurrency: optional((v) => isInt(v)),
      batchWrite: optional(isBool),
      collapse: optional(isBool),
      batchSize: optional((v) => isInt(v) && (v as number) <= 25),
      targetStores: optional((v) => Array.isArray(v) && v.every((s) => s === 'OnlineStore' || s === 'OfflineStore')),
      retry,
    },
    call: (options) => sageMakerOnline(options as never),
  },
  {
    name: 'dynamoDbOnline',
    valid: { tableName: 'features' },
    accepts: { tableName: (v) => typeof v === 'string' && /^[\w.-]{3,255}$/.test(v), concurrency: optional((v) => isInt(v)), consistentRead: optional(isBool), retry },
    call: (options) => dynamoDbOnline(options as never),
  },
  {
    name: 'dynamoDbAggregationState',
    valid: { tableName: 'state' },
    accepts: { tableName: (v) => typeof v === 'string' && /^[\w.-]{3,255}$/.test(v), cacheEntities: optional((v) => isInt(v, 0)) },
    call: (options) => dynamoDbAggregationState(options as never),
  },
  {
    name: 's3Offline',
    valid: { bucket: 'lake' },
    accepts: { bucket: isBucket, prefix: optional(isKeyText), concurrency: optional((v) => isInt(v)) },
    call: (options) => s3Offline(options as never),
  },
  {
    name: 'athenaOffline',
    valid: { outputLocation: 's3://results/' },
    accepts: { outputLocation: isS3Location, workGroup: optional(isText), inlineSpineRows: optional((v) => isInt(v, 0)), stagingLocation: optional(isS3Location), partitionPruning: optional(isBool), onCleanupFailure: optional(isFn) },
    call: (options) => athenaOffline(options as never),
  },
  {
    name: 'sqsDeadLetter',
    valid: { queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq' },
    accepts: { queueUrl: (v) => typeof v === 'string' && /^https?:\/\/\S+$/.test(v), maxMessageBytes: optional((v) => isInt(v, 1_024) && (v as number) <= 1_048_576), oversized: optional(isFn) },
    call: (options) => sqsDeadLetter(options as never),
  },
  {
    name: 's3DeadLetter',
    valid: { bucket: 'dlq-bucket' },
    accepts: { bucket: isBucket, prefix: optional(isKeyText) },
    call: (options) => s3DeadLetter(options as never),
  },
  {
    name: 'toCreateFeatureGroupInput',
    valid: { roleArn: 'arn:aws:iam::123456789012:role/feature-store' },
    accepts: {
      roleArn: (v) => isText(v) && (v as string).length > 0,
      offlineStoreS3Uri: optional(isPlanS3Uri),
      onlineStore: optional((v) => v === false || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0)),
      tableFormat: optional((v) => v === 'Glue' || v === 'Iceberg'),
    },
    call: (options) => toCreateFeatureGroupInput(cardActivity, options as never),
  },
  {
    name: 'iamPolicies',
    valid: {},
    accepts: {
      region: optional(orPlaceholder(/^[a-z]{2,4}(-[a-z]+)+-\d+$/)),
      accountId: optional(orPlaceholder(/^\d{12}$/)),
      offlineStoreS3Uri: optional(isPlanS3Uri),
      resolvedOutputS3Uri: optional(isPlanS3Uri),
      athenaResultsS3Uri: optional(isPlanS3Uri),
      athenaWorkGroup: optional(isText),
      glueDatabase: optional(isText),
      aggregationStateTable: optional(orPlaceholder(/^[\w.-]{3,255}$/)),
    },
    call: (options) => iamPolicies(cardActivity, options as never),
  },
  {
    name: 's3ParquetFile',
    valid: { bucket: 'lake', key: 'a.parquet' },
    accepts: { bucket: isBucket, key: (v) => isKeyText(v) && (v as string).length > 0 },
    call: (options) => s3ParquetFile(options as never),
  },
  {
    name: 's3Spine',
    valid: { bucket: 'labels', key: 'spine.csv' },
    accepts: { bucket: isBucket, key: (v) => isKeyText(v) && /\.(csv|parquet)$/i.test(v as string) },
    call: (options) => s3Spine(options as never),
  },
  {
    name: 'athenaSource',
    valid: { query: 'SELECT 1', outputLocation: 's3://results/' },
    accepts: { query: (v) => typeof v === 'string' && v.length > 0, outputLocation: isS3Location, database: optional(isText), workGroup: optional(isText) },
    call: (options) => athenaSource(options as never),
  },
  {
    name: 'athenaSpine',
    valid: { query: 'SELECT 1', outputLocation: 's3://results/' },
    accepts: { query: (v) => typeof v === 'string' && v.length > 0, outputLocation: isS3Location },
    call: (options) => athenaSpine(options as never),
  },
  {
    name: 'localStores',
    valid: { dir: join(dir, 'local-stores') },
    accepts: { memory: optional(isBool) },
    // Each closed before the next call: a folder holds one open store at a time.
    call: (options) => createFeatureStore(localStores(options as never)).close(),
  },
  {
    name: 'localOnline',
    valid: { dir: join(dir, 'local-online') },
    accepts: { memory: optional(isBool), now: optional(isFn) },
    call: async (options) => (await localOnline(options as never)).close(),
  },
  {
    name: 'localOffline',
    valid: { dir: join(dir, 'local-offline') },
    accepts: { memory: optional(isBool) },
    call: async (options) => (await localOffline(options as never)).close(),
  },
  {
    name: 'localAggregationState',
    valid: { dir: join(dir, 'local-state') },
    accepts: { memory: optional(isBool) },
    call: async (options) => (await localAggregationState(options as never)).close(),
  },
  {
    name: 'csvFile',
    valid: {},
    accepts: { delimiter: optional((v) => typeof v === 'string' && v.length === 1), header: optional((v) => Array.isArray(v) && v.every(isText)) },
    call: (options) => csvFile(ndjson, options as never),
  },
  {
    name: 'fromRecords',
    valid: {},
    accepts: { id: optional(isText) },
    call: (options) => fromRecords([validCardEvent], options as never),
  },
  {
    name: 'kinesisEvent',
    valid: {},
    accepts: { shardId: optional(isText), streamArn: optional(isText), arrival: optional(isDate), partitionKey: optional(isFn) },
    call: (options) => kinesisEvent([validCardEvent], options as never),
  },
  {
    name: 'sqsEvent',
    valid: {},
    accepts: { queueArn: optional(isText), fifo: optional(isBool), sent: optional(isDate) },
    call: (options) => sqsEvent([validCardEvent], options as never),
  },
  {
    name: 'kafkaEvent',
    valid: {},
    accepts: {
      topic: optional(isText),
      partition: optional((v) => isInt(v, 0)),
      firstOffset: optional((v) => isInt(v, 0)),
      eventSource: optional((v) => v === 'aws:kafka' || v === 'SelfManagedKafka'),
      timestamp: optional(isDate),
    },
    call: (options) => kafkaEvent([validCardEvent], options as never),
  },
  {
    name: 'memoryOnline',
    valid: {},
    accepts: { now: optional(isFn) },
    call: (options) => memoryOnline(options as never),
  },
  {
    name: 'checkDeterminism',
    valid: {},
    accepts: { seed: optional((v) => Number.isFinite(v)) },
    call: (options) => checkDeterminism(cardActivity, [validCardEvent], options as never),
  },
];

/** Runs a call; `ok` if it returned (or resolved), else the error it threw. */
async function outcome(call: () => unknown): Promise<{ ok: true } | { ok: false; error: unknown }> {
  try {
    await call();
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  }
}

function expectRefusal(result: { ok: true } | { ok: false; error: unknown }, what: string): void {
  if (result.ok) throw new Error(`${what}: accepted`);
  const error = result.error;
  if (!(error instanceof SkewlessError)) throw new Error(`${what}: threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
  expect(error.code).toMatch(/^[A-Z_]+$/);
  // zod/mini's own word for a value without ours: the message must say what was expected instead.
  expect(error.message, what).not.toMatch(/Invalid input/);
}

describe('every option of every public function, with values of every type', () => {
  it.each(CASES)('$name: a documented value works, any other is a SkewlessError with a code', async ({ name, valid, accepts, call }) => {
    expect((await outcome(() => call({ ...valid }))).ok, `${name} with its valid options`).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(accepts)), anyValue, async (option, value) => {
        const options = { ...valid, [option]: value };
        if (value === undefined) delete options[option];
        const result = await outcome(() => call(options));
        const what = `${name}({ ${option}: ${fc.stringify(value)} })`;
        if ((accepts[option] as (v: unknown) => boolean)(value)) {
          if (!result.ok) throw new Error(`${what}: refused a documented value: ${(result.error as Error).message}`);
        } else expectRefusal(result, what);
      }),
      { numRuns: 40 },
    );
  });

  it.each(CASES)('$name: an unknown option is refused, naming the closest known one', async ({ valid, call, accepts }) => {
    const known = Object.keys(accepts)[0] as string;
    const typo = `${known.slice(0, -1)}${known.endsWith('x') ? 'y' : 'x'}`;
    const result = await outcome(() => call({ ...valid, [typo]: 1 }));
    expectRefusal(result, `unknown option ${typo}`);
    expect(((result as { error: Error }).error as Error).message).toContain(`did you mean "${known}"?`);
  });

  it('a non-object where options go is refused, for every function that takes options', async () => {
    for (const { name, call } of CASES) {
      for (const value of [null, 'options', 42, [1, 2]]) expectRefusal(await outcome(() => call(value as never)), `${name}(${JSON.stringify(value)})`);
    }
  });

  it('file sources refuse a path that is not a file, and a value that is not a path', async () => {
    for (const make of [ndjsonFile, csvFile, fileSource]) {
      for (const value of [join(dir, 'missing.ndjson'), '', 42, null, undefined, {}]) expectRefusal(await outcome(() => make(value as never)), `${make.name}(${fc.stringify(value)})`);
      expect((await outcome(() => make(ndjson))).ok).toBe(true);
    }
    expectRefusal(await outcome(() => firehoseEvent('not an array' as never)), 'firehoseEvent');
    const client = { send: async () => ({}), destroy: () => {} };
    const handler = async () => ({ batchItemFailures: [] });
    for (const bad of [{ client, handler }, { client: {}, streamName: 's', handler }, { client, streamName: 's', handler, batchSize: '100' }, { client, streamName: 's', handler, maxRetries: 3 }]) {
      expectRefusal(await outcome(() => runKinesisEventSource(bad as never)), `runKinesisEventSource(${Object.keys(bad).join(', ')})`);
    }
  });
});
