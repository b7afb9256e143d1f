// What a JavaScript caller, an `as any`, a config read from JSON and real files did to 0.1, one case
// each: every one passed silently, returned a wrong answer, lost data or crashed with a TypeError.
// Each now fails at the door with a SkewlessError that names the option or the row and column.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { athenaOffline, dynamoDbOnline, dynamoDbTableDefinition, iamPolicies, retryStrategy, runAthenaQuery, s3DeadLetter, s3Offline, s3OfflineTable, s3ParquetFile, s3Spine, sageMakerOnline, sqsDeadLetter, toCloudFormation, toCreateFeatureGroupInput } from '../src/aws/index.js';
import { dynamoDbStreamHandler, firehoseTransform, kafkaHandler, kinesisHandler, sqsHandler } from '../src/lambda/index.js';
import { localStores } from '../src/local/index.js';
import {
  audit,
  backfill,
  backfillShard,
  ConfigurationError,
  DefinitionError,
  count,
  createFeatureStore,
  csvFile,
  DataError,
  defineFeatureGroup,
  defineRequestFeatures,
  featureVectors,
  isoTimestamp,
  parquetFile,
  SkewlessError,
  trainingSet,
} from '../src/index.js';
import { kafkaEvent, kinesisEvent, memoryOnline, sqsEvent } from '../src/testing/index.js';
import { cardActivity, cardVelocity, validCardEvent } from './fixtures/groups.js';

const dir = mkdtempSync(join(tmpdir(), 'skewless-corpus-'));
const stores: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function localStore() {
  const store = createFeatureStore(localStores({ memory: true }));
  stores.push(store);
  return store;
}

/** The error a call throws (or rejects with), for assertions on its class and message. */
async function errorOf(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

async function configurationError(call: () => unknown, message: RegExp): Promise<void> {
  const error = await errorOf(call);
  expect(error).toBeInstanceOf(ConfigurationError);
  expect((error as Error).message).toMatch(message);
}

const anyOptions = <T>(value: unknown) => value as T;
/** Text (a temporary path, say) as it reads inside a RegExp. */
const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const cardConfig = {
  name: 'cards',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({ card_id: z.string(), amount_cents: z.number().int(), ts: isoTimestamp() }),
  features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e: { card_id: string; amount_cents: number; ts: Date }) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100 }),
};

describe('options silently accepted or crashing in 0.1', () => {
  it("backfill({ to: 'sideways' }) is refused instead of writing online", async () => {
    const store = localStore();
    await configurationError(() => backfill(store, cardActivity, { from: [validCardEvent], to: anyOptions('sideways') }), /backfill options\.to: expected 'offline', 'online' or 'both', got "sideways"/);
    const { online } = await store.backends();
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
    expect(online).toBeDefined();
  });

  it("backfill({ chunkSize: '10k' }) is refused instead of reporting records: 0 as a success", async () => {
    await configurationError(() => backfill(localStore(), cardActivity, { from: [validCardEvent], chunkSize: anyOptions('10k') }), /chunkSize: expected a positive whole number of rows, got "10k"/);
  });

  it('backfill({ from: "data/cards.ndjson" }) names the file sources instead of reading the path as 17 characters', async () => {
    await configurationError(() => backfill(localStore(), cardActivity, { from: anyOptions('data/cards.ndjson') }), /from is the string "data\/cards\.ndjson"; for a file use ndjsonFile\(path\)/);
  });

  it('backfill refuses an array of sources (each would be a poison event, its file never read), and folders given as its files', async () => {
    const csv = join(dir, 'one.csv');
    writeFileSync(csv, 'card_id,amount_cents,country,ts\nc1,1,US,2024-05-01T00:00:00Z\n');
    await configurationError(
      () => backfill(localStore(), cardActivity, { from: anyOptions([csvFile(csv), csvFile(csv)]) }),
      /^backfill: from is an array of sources, and a backfill reads one source: run one backfill per source, or planBackfill\(group, \{ from: \[\.\.\.\] \}\) and backfillShard for each shard$/,
    );
    // A group with aggregations replays each entity's history from one source: the advice says so.
    await configurationError(
      () => backfill(localStore(), cardVelocity, { from: anyOptions([csvFile(csv), csvFile(csv)]) }),
      /^backfill: from is an array of sources, and a backfill reads one source: the group has aggregations, so each entity's whole history must come from that one source: put the events in one file$/,
    );
    const folder = mkdtempSync(join(dir, 'folder-'));
    const written = localStore();
    await configurationError(() => backfill(written, cardActivity, { from: csvFile(csv), checkpoint: folder }), new RegExp(`^backfill options\\.checkpoint: ${literal(folder)} is a folder; give the file to write in it$`));
    await configurationError(() => backfill(written, cardActivity, { from: csvFile(csv), rejects: folder }), new RegExp(`^backfill options\\.rejects: ${literal(folder)} is a folder; give the file to write in it$`));
    // Refused before the run: nothing of it was written.
    const { offline } = await written.backends();
    expect(await offline?.scan(cardActivity)).toEqual([]);
  });

  it('csvFile refuses a quote or a line break as its delimiter, and localStores a file as its folder', async () => {
    writeFileSync(join(dir, 'x.csv'), 'a\n');
    for (const delimiter of ['"', '\n', '\r']) {
      const error = await errorOf(() => csvFile(join(dir, 'x.csv'), { delimiter }));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toBe(`csvFile options.delimiter: expected one character other than a quote or a line break, got ${JSON.stringify(delimiter)}`);
    }
    expect(csvFile(join(dir, 'x.csv'), { delimiter: '\t' }).spec).toMatchObject({ delimiter: '\t' });
    const notAFolder = join(dir, 'history.csv');
    writeFileSync(notAFolder, 'card_id\n');
    await configurationError(() => localStores({ dir: notAFolder }), new RegExp(`^localStores options\\.dir: ${literal(notAFolder)} is a file; give the folder the stores keep their files in \\(made if missing\\)$`));
  });

  it("audit({ sample: 'lots' }) is refused instead of reporting 100% consistency over nothing", async () => {
    await configurationError(() => audit(localStore(), cardActivity, { sample: anyOptions('lots') }), /audit options\.sample: expected .*got "lots"/);
  });

  it('a trainingSet entityKey that is not a spine column is named, with the columns the spine has', async () => {
    const error = await errorOf(() =>
      trainingSet(localStore(), { spine: [{ card: 'card-1', label_time: new Date() }], entityKey: 'card_id', timestamp: 'label_time', features: [cardActivity.select('amount')] }),
    );
    expect(error).toBeInstanceOf(DataError);
    expect(error).toMatchObject({ code: 'INVALID_SPINE', column: 'card_id' });
    expect((error as Error).message).toMatch(/no column "card_id".*its columns: card, label_time/);
  });

  it('a missing timestamp column is named, not reported as "must be a Date, got undefined"', async () => {
    const error = await errorOf(() =>
      trainingSet(localStore(), { spine: [{ card_id: 'card-1', labelled_at: new Date() }], entityKey: 'card_id', timestamp: 'label_time', features: [cardActivity.select('amount')] }),
    );
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(/no column "label_time".*its columns: card_id, labelled_at/);
  });

  it('bad spine data is a DataError with its row and column, not a DefinitionError', async () => {
    const spine = [
      { card_id: 'card-1', label_time: new Date() },
      { card_id: 'card-2', label_time: 'yesterday' },
    ];
    const error = await errorOf(() => trainingSet(localStore(), { spine, entityKey: 'card_id', timestamp: 'label_time', features: [cardActivity.select('amount')] }));
    expect(error).toBeInstanceOf(DataError);
    expect(error).toMatchObject({ code: 'INVALID_SPINE', row: 1, column: 'label_time' });
  });

  it('a selection built by hand (not by group.select) is refused: it has no checked features or options', async () => {
    const handMade = [{ group: cardActivity, features: ['amount'] }, { group: cardActivity, features: ['nope'], options: {} }, { ...cardActivity.select('amount') }];
    for (const selection of handMade) {
      const features = [selection] as never;
      await configurationError(() => trainingSet(localStore(), { spine: [{ card_id: 'c1', t: new Date() }], entityKey: 'card_id', timestamp: 't', features }), /trainingSet options\.features\[0\]: expected a selection made by group\.select/);
      await configurationError(() => featureVectors(localStore(), { entities: [{ card_id: 'c1' }], entityKey: 'card_id', features }), /features\[0\]: expected a selection made by group\.select/);
      const definition = await errorOf(() =>
        defineRequestFeatures({ name: 'r', request: z.object({}), reads: { card: selection as never }, features: z.object({ x: z.number() }), transform: () => ({ x: 1 }) }),
      );
      expect(definition).toBeInstanceOf(DefinitionError);
      expect((definition as Error).message).toMatch(/reads\.card: expected a selection made by group\.select/);
    }
  });

  it('allowedLateness: 60 gets a unit hint, never a TypeError or a guessed unit', async () => {
    const error = await errorOf(() => defineFeatureGroup({ ...cardConfig, allowedLateness: 60, aggregations: { n: count({ window: '1h' }) } } as never));
    expect(error).toBeInstanceOf(SkewlessError);
    expect(error).not.toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(`group "cards": allowedLateness: a duration is text with a unit, got the number 60: did you mean '60s' or '60m'?`);
    const resolution = await errorOf(() => defineFeatureGroup({ ...cardConfig, stateCompaction: { resolution: 30 }, aggregations: { n: count({ window: '1h' }) } } as never));
    expect((resolution as Error).message).toMatch(/^group "cards": stateCompaction\.resolution: a duration is text with a unit/);
  });

  it('ttl given as a duration says the TtlDuration it means', async () => {
    const error = await errorOf(() => defineFeatureGroup({ ...cardConfig, ttl: '30d' } as never));
    expect((error as Error).message).toBe(
      `group "cards": ttl is SageMaker's TtlDuration, { Unit: 'Seconds' | 'Minutes' | 'Hours' | 'Days' | 'Weeks', Value: a positive integer } (for "30d": { Unit: 'Days', Value: 30 }), got "30d"`,
    );
    expect((await errorOf(() => defineFeatureGroup({ ...cardConfig, ttl: '500ms' } as never)) as Error).message).toMatch(/Value: a positive integer \}, got "500ms"$/);
  });

  it('a misspelt option is named before the option it leaves missing, and a missing source says what it takes', async () => {
    await configurationError(() => dynamoDbOnline(anyOptions({ tablename: 'features' })), /^unknown option dynamoDbOnline options\.tablename \(did you mean "tableName"\?\)/);
    await configurationError(() => backfill(localStore(), cardActivity, anyOptions({})), /^backfill options\.from: expected a source \(ndjsonFile, csvFile, parquetFile, s3ParquetFile, athenaSource\) or raw events, got undefined$/);
  });

  it('availabilityDelay: 900 and maxAge: 3600 get the same hint', async () => {
    await configurationError(() => audit(localStore(), cardActivity, { availabilityDelay: anyOptions(900) }), /did you mean '900s' or '900m'\?/);
    await configurationError(() => cardActivity.select('amount').with({ maxAge: anyOptions(3600) }), /did you mean '3600s' or '3600m'\?/);
  });

  it('count({ window: 300 }) says the window is a duration, not that one is required', async () => {
    const error = await errorOf(() => count({ window: anyOptions(300) }));
    expect(error).toBeInstanceOf(SkewlessError);
    expect((error as Error).message).toMatch(/did you mean '300s' or '300m'\?/);
  });

  it("count({ windw: '1h' }) names the misspelt window, not a missing one", async () => {
    const error = await errorOf(() => count(anyOptions({ windw: '1h' })));
    expect(error).toBeInstanceOf(DefinitionError);
    expect((error as Error).message).toBe('count(): unknown option "windw" (did you mean "window"?); known: window');
  });

  it('stateCompaction that is no object, or has a key it does not take, is refused instead of keeping the defaults', async () => {
    const define = (stateCompaction: unknown) => errorOf(() => defineFeatureGroup({ ...cardConfig, stateCompaction, aggregations: { n: count({ window: '1h' }) } } as never));
    const misspelt = await define({ maxEntry: 10 });
    expect(misspelt).toBeInstanceOf(DefinitionError);
    expect((misspelt as Error).message).toBe('group "cards": stateCompaction: unknown option "maxEntry" (did you mean "maxEntries"?); known: maxEntries, resolution');
    expect(((await define(5)) as Error).message).toBe('group "cards": stateCompaction must be an object { maxEntries?, resolution? }, got 5');
    expect(((await define({ foo: 1 })) as Error).message).toMatch(/^group "cards": stateCompaction: unknown option "foo"; known: maxEntries, resolution$/);
  });

  it("createFeatureStore({ online: 'sagemaker' }) is refused when it is built, not at the first get", async () => {
    await configurationError(() => createFeatureStore({ online: anyOptions('sagemaker'), offline: false }), /createFeatureStore options\.online: expected .*got "sagemaker"/);
  });

  it('sqsDeadLetter with an unset environment variable says so, at cold start', async () => {
    await configurationError(() => sqsDeadLetter({ queueUrl: process.env['SKEWLESS_UNSET_QUEUE_URL'] as string }), /queueUrl.*is the environment variable set\?/);
  });

  it('an options bag that is no object is refused in our words, not in zod\'s', async () => {
    await configurationError(() => backfill(localStore(), cardActivity, anyOptions(5)), /^backfill options: expected an object, got 5$/);
    await configurationError(() => dynamoDbOnline(anyOptions('features')), /^dynamoDbOnline options: expected an object, got "features"$/);
  });

  it('a nested value of the wrong type says what was expected and what came, not "Invalid input"', async () => {
    await configurationError(() => backfillShard(localStore(), cardActivity, anyOptions({ group: 7, index: 0, source: { kind: 'ndjson' } })), /^backfillShard shard\.group: expected a string, got 7$/);
    await configurationError(() => backfillShard(localStore(), cardActivity, anyOptions({ group: cardActivity.name, index: 0, source: 'a.ndjson' })), /^backfillShard shard\.source: expected an object, got "a\.ndjson"$/);
  });

  it('a value outside a list, or a sink that is none, says what it takes, not "Invalid input"', async () => {
    await configurationError(() => sageMakerOnline({ targetStores: anyOptions(['Online']) }), /^sageMakerOnline options\.targetStores\[0\]: expected one of "OnlineStore", "OfflineStore", got "Online"$/);
    await configurationError(() => kafkaEvent([validCardEvent], { eventSource: anyOptions('kafka') }), /^kafkaEvent\[1\]\.eventSource: expected one of "aws:kafka", "SelfManagedKafka", got "kafka"$/);
    const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq';
    await configurationError(() => sqsDeadLetter({ queueUrl, oversized: anyOptions('s3://dlq/') }), /^sqsDeadLetter options\.oversized: expected a dead-letter sink: sqsDeadLetter\(\), s3DeadLetter\(\) or a function, got "s3:\/\/dlq\/"$/);
  });

  it("keeps its words when the user's zod speaks another language", async () => {
    z.config(z.locales.de());
    try {
      await configurationError(() => backfill(localStore(), cardActivity, anyOptions(5)), /^backfill options: expected an object, got 5$/);
      await configurationError(() => backfillShard(localStore(), cardActivity, anyOptions({ group: false, index: 0, source: {} })), /^backfillShard shard\.group: expected a string, got false$/);
    } finally {
      z.config(z.locales.en());
    }
  });

  it('a switch given as text or a number is refused, not read as true', async () => {
    const table = { tableName: 'features' };
    await configurationError(() => dynamoDbOnline({ ...table, consistentRead: anyOptions('false') }), /^dynamoDbOnline options\.consistentRead: expected true or false, got "false"$/);
    await configurationError(() => sageMakerOnline({ batchWrite: anyOptions(1) }), /^sageMakerOnline options\.batchWrite: expected true or false, got 1$/);
    await configurationError(() => sageMakerOnline({ collapse: anyOptions('yes') }), /^sageMakerOnline options\.collapse: expected true or false, got "yes"$/);
    await configurationError(() => athenaOffline({ outputLocation: 's3://lake/results/', partitionPruning: anyOptions('on') }), /^athenaOffline options\.partitionPruning: expected true or false, got "on"$/);
  });

  it("athenaOffline's tables, when not a Glue table per group, are refused naming the entry and the shape it takes", async () => {
    const location = { outputLocation: 's3://lake/results/' };
    await configurationError(() => athenaOffline({ ...location, tables: anyOptions(5) }), /^athenaOffline options\.tables: expected the Glue table of each group by its name: \{ \[group\]: \{ database, table \} \}, got 5$/);
    await configurationError(() => athenaOffline({ ...location, tables: anyOptions({ cards: 'lake.cards' }) }), /^athenaOffline options\.tables\.cards: expected a group's Glue table: \{ database, table \}, got "lake\.cards"$/);
    await configurationError(() => athenaOffline({ ...location, tables: anyOptions({ cards: { database: 'lake' } }) }), /^athenaOffline options\.tables\.cards\.table: expected a Glue table name, got undefined$/);
  });

  it('get and delete refuse an identifier that is none (undefined, an object) instead of answering undefined', async () => {
    const store = localStore();
    await configurationError(() => store.get(cardActivity, anyOptions(undefined)), /^get identifier: expected a record identifier: a string or an integer, got undefined$/);
    await configurationError(() => store.get(cardActivity, anyOptions({ id: 1 })), /^get identifier: expected a record identifier: a string or an integer, got an object$/);
    await configurationError(() => store.delete(cardActivity, anyOptions(null), new Date()), /^delete identifier: expected a record identifier: a string or an integer, got null$/);
  });

  it("getMany refuses get's options instead of ignoring them and returning whole records", async () => {
    const store = localStore();
    const getMany = store.getMany as (...args: unknown[]) => Promise<unknown>;
    await configurationError(() => getMany(cardActivity, ['card-1'], { features: ['amount'] }), /^getMany takes no options: it reads whole records, got an object; to read some features, call get\(group, id, \{ features \}\)$/);
    await configurationError(() => getMany(cardActivity, ['card-1'], null), /^getMany takes no options: it reads whole records, got null; /);
    // An explicit undefined (a wrapper passing its arguments on) is no options.
    expect(await getMany(cardActivity, ['card-1'], undefined)).toEqual(new Map());
    expect(await getMany(cardActivity, ['card-1'])).toEqual(new Map());
  });

  it("sqsDeadLetter's maxMessageBytes is a size a queue can have (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html: 1,024 to 1,048,576)", async () => {
    const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq';
    for (const maxMessageBytes of [5_000_000, 1_048_577, 1_023, 0]) {
      await configurationError(() => sqsDeadLetter({ queueUrl, maxMessageBytes }), new RegExp(`^sqsDeadLetter options\\.maxMessageBytes: expected the queue's MaximumMessageSize, a whole number of bytes from 1,024 to 1,048,576, got ${maxMessageBytes}$`));
    }
    for (const maxMessageBytes of [1_024, 1_048_576]) expect(sqsDeadLetter({ queueUrl, maxMessageBytes })).toBeDefined();
  });

  it('a dead-letter sink option refuses the function that makes a sink, which takes one argument as a sink does', async () => {
    const queueUrl = 'https://sqs.us-east-1.amazonaws.com/123456789012/dlq';
    const sqs = 'expected a dead-letter sink, got the function that makes one: call it, as sqsDeadLetter\\(\\{ queueUrl \\}\\)';
    const s3 = 'expected a dead-letter sink, got the function that makes one: call it, as s3DeadLetter\\(\\{ bucket \\}\\)';
    await configurationError(() => createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: sqsDeadLetter as never }), new RegExp(`^createFeatureStore options\\.deadLetter: ${sqs}$`));
    await configurationError(() => sqsDeadLetter({ queueUrl, oversized: s3DeadLetter as never }), new RegExp(`^sqsDeadLetter options\\.oversized: ${s3}$`));
    await configurationError(() => firehoseTransform(cardActivity, { deadLetter: s3DeadLetter as never }), new RegExp(`^Firehose transform options\\.deadLetter: ${s3}$`));
    // What they make is taken, and so is a function of your own.
    expect(createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: sqsDeadLetter({ queueUrl, oversized: s3DeadLetter({ bucket: 'dlq' }) }) })).toBeDefined();
    expect(createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: (entries) => void entries })).toBeDefined();
  });

  it('s3OfflineTable takes a feature group, and dynamoDbTableDefinition a table name DynamoDB takes (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html)', async () => {
    // A misspelt import (features.cardActivty) is undefined: named, not a TypeError reading its name.
    await configurationError(() => s3OfflineTable(undefined as never, { bucket: 'lake', database: 'features' }), /^s3OfflineTable: expected a feature group made by defineFeatureGroup, got undefined$/);
    await configurationError(() => dynamoDbTableDefinition(undefined as never), /^dynamoDbTableDefinition\(tableName\): a DynamoDB table name is required \(is the environment variable set\?\)$/);
    for (const name of ['a b', 'ab', 'x'.repeat(256)]) {
      const error = await errorOf(() => dynamoDbTableDefinition(name));
      expect(error, name).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message, name).toMatch(/^dynamoDbTableDefinition\(tableName\): .*3 to 255 letters, digits, "_", "-" and "\."/);
    }
    for (const name of ['abc', 'features.v2_online-1', 'x'.repeat(255)]) expect(dynamoDbTableDefinition(name).TableName).toBe(name);
  });

  it('unknown option keys are refused, naming the closest known one', async () => {
    await configurationError(() => backfill(localStore(), cardActivity, anyOptions({ from: [validCardEvent], chunksize: 10 })), /unknown option backfill options\.chunksize \(did you mean "chunkSize"\?\)/);
    await configurationError(() => createFeatureStore(anyOptions({ online: memoryOnline(), offline: false, deadletter: () => {} })), /did you mean "deadLetter"\?/);
  });

  it("s3ParquetFile and s3Spine take the object's key, not its s3:// location (which would read an object named \"s3:/…\")", async () => {
    await configurationError(() => s3ParquetFile({ bucket: 'lake', key: 's3://lake/cards/2024.parquet' }), /^s3ParquetFile options\.key: expected an object key within the bucket, got the location "s3:\/\/lake\/cards\/2024\.parquet": pass bucket: 'lake', key: 'cards\/2024\.parquet'$/);
    await configurationError(() => s3Spine({ bucket: 'labels', key: 's3://labels/spine.csv' }), /^s3Spine options\.key: expected an object key within the bucket, got the location "s3:\/\/labels\/spine\.csv": pass bucket: 'labels', key: 'spine\.csv'$/);
    expect(s3ParquetFile({ bucket: 'lake', key: 'cards/s3://odd-but-a-key.parquet' })).toBeDefined();
  });

  it('the plan functions check their options: a misspelt key, a missing role, a wrong TTL unit', async () => {
    await configurationError(() => toCreateFeatureGroupInput(cardActivity, anyOptions({ rolearn: 'arn:aws:iam::123456789012:role/fs' })), /^unknown option toCreateFeatureGroupInput options\.rolearn \(did you mean "roleArn"\?\)/);
    await configurationError(() => toCreateFeatureGroupInput(cardActivity, anyOptions({})), /^toCreateFeatureGroupInput options\.roleArn: an IAM role ARN is required: the role SageMaker assumes to write the offline store$/);
    await configurationError(
      () => toCloudFormation(cardActivity, anyOptions({ roleArn: 'arn:aws:iam::123456789012:role/fs', onlineStore: { ttl: { Unit: 'Months', Value: 1 } } })),
      /^toCloudFormation options\.onlineStore\.ttl\.Unit: expected 'Seconds', 'Minutes', 'Hours', 'Days' or 'Weeks', got "Months"$/,
    );
    await configurationError(() => iamPolicies(cardActivity, anyOptions({ regoin: 'eu-west-1' })), /^unknown option iamPolicies options\.regoin \(did you mean "region"\?\)/);
    await configurationError(() => toCloudFormation(anyOptions({ name: 'cards' }), { roleArn: 'r' }), /^toCloudFormation: expected a feature group made by defineFeatureGroup, got an object$/);
    expect(toCreateFeatureGroupInput(cardActivity, { roleArn: 'arn:aws:iam::123456789012:role/fs', onlineStore: { ttl: { Unit: 'Days', Value: 30 } }, tableFormat: 'Iceberg' }).OnlineStoreConfig?.TtlDuration).toEqual({ Unit: 'Days', Value: 30 });
  });

  it('the plan functions check names and locations: an S3 location without s3:// or with a bucket name S3 refuses, an account id that is a number or too short, an empty region, a short table name', async () => {
    // A bucket name too short (S3 takes 3 to 63 characters) is said to be the reason.
    await configurationError(() => iamPolicies(cardActivity, { offlineStoreS3Uri: 's3://ab/p' }), /^iamPolicies options\.offlineStoreS3Uri: "s3:\/\/ab\/p" is not an S3 location: .*, the bucket 3 to 63 lowercase letters, digits, dots and hyphens$/);
    await configurationError(() => toCreateFeatureGroupInput(cardActivity, anyOptions({ roleArn: 'r', offlineStoreS3Uri: 'features/offline' })), /^toCreateFeatureGroupInput options\.offlineStoreS3Uri: "features\/offline" is not an S3 location: write it as s3:\/\/bucket\/prefix\/, the bucket 3 to 63 lowercase letters, digits, dots and hyphens$/);
    await configurationError(() => iamPolicies(cardActivity, anyOptions({ accountId: 123456789012 })), /^iamPolicies options\.accountId: expected an AWS account id, got 123456789012$/);
    await configurationError(() => iamPolicies(cardActivity, { accountId: '12345' }), /^iamPolicies options\.accountId: "12345" is not an AWS account id: 12 digits$/);
    await configurationError(() => iamPolicies(cardActivity, { region: '' }), /^iamPolicies options\.region: "" is not an AWS region: write it as eu-west-1$/);
    await configurationError(() => iamPolicies(cardActivity, { aggregationStateTable: 'ab' }), /^iamPolicies options\.aggregationStateTable: "ab" is not a DynamoDB table name: 3 to 255 letters/);
    await configurationError(() => iamPolicies(cardActivity, { offlineStoreS3Uri: 'features/${Stage}' }), /^iamPolicies options\.offlineStoreS3Uri: "features\/\$\{Stage\}" is not an S3 location/);
    expect(iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '123456789012' }).ingestion.Statement.length).toBeGreaterThan(0);
  });

  it('CloudFormation placeholders, which a template\'s Fn::Sub replaces, are taken where names and locations go, for the whole value or a part', () => {
    const placeheld = iamPolicies(cardActivity, { region: '${AWS::Region}', accountId: '${AWS::AccountId}', offlineStoreS3Uri: 's3://${LakeBucket}/offline', aggregationStateTable: '${Stage}-state' });
    expect(JSON.stringify(placeheld.training)).toContain('${LakeBucket}');
    expect(toCloudFormation(cardActivity, { roleArn: '${FeatureStoreRole.Arn}', offlineStoreS3Uri: 's3://lake-${Stage}/offline' })).toBeDefined();
  });

  it('a placeholder stands where a valid part would: alone it is no S3 location, and a region plus a placeholder is no region', async () => {
    await configurationError(() => toCreateFeatureGroupInput(cardActivity, { roleArn: 'r', offlineStoreS3Uri: '${OfflineUri}' }), /^toCreateFeatureGroupInput options\.offlineStoreS3Uri: "\$\{OfflineUri\}" is not an S3 location/);
    await configurationError(() => iamPolicies(cardActivity, { region: 'eu-${Suffix}x' }), /^iamPolicies options\.region: "eu-\$\{Suffix\}x" is not an AWS region/);
  });

  it("a region given as a placeholder is the stack's own, and so is the partition", () => {
    const { ingestion } = iamPolicies(cardActivity, { region: '${AWS::Region}', accountId: '123456789012' });
    expect(ingestion.Statement[0]?.Resource).toEqual(['arn:${AWS::Partition}:sagemaker:${AWS::Region}:123456789012:feature-group/card-activity']);
    expect(iamPolicies(cardActivity, { region: 'cn-north-1', accountId: '123456789012' }).ingestion.Statement[0]?.Resource).toEqual(['arn:aws-cn:sagemaker:cn-north-1:123456789012:feature-group/card-activity']);
  });

  it('ingest refuses payloadEncoding without the payload it would describe', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    await configurationError(() => store.ingest(cardActivity, [validCardEvent], { payloadEncoding: 'base64' }), /^ingest options\.payloadEncoding: it says what payload gives, and there is no payload option$/);
  });

  it('runAthenaQuery checks its query: an output location without s3://, a misspelt key, an empty query', async () => {
    const client = { send: async () => ({}), destroy: () => undefined };
    const query = { athena: client, s3: client, query: 'SELECT 1', outputLocation: 's3://results/' };
    await configurationError(() => runAthenaQuery({ ...query, outputLocation: 'results/' }), /^runAthenaQuery\.outputLocation: "results\/" is not an S3 location: write it as s3:\/\/bucket\/prefix\/, the bucket 3 to 63 lowercase letters, digits, dots and hyphens$/);
    await configurationError(() => runAthenaQuery(anyOptions({ ...query, workgroup: 'primary' })), /^unknown option runAthenaQuery\.workgroup \(did you mean "workGroup"\?\)/);
    await configurationError(() => runAthenaQuery({ ...query, query: '' }), /^runAthenaQuery\.query: the query is empty$/);
    await configurationError(() => runAthenaQuery(anyOptions({ ...query, athena: undefined })), /^runAthenaQuery\.athena: expected an AWS SDK v3 client \(an object with send, destroy\), got undefined$/);
  });

  it('retryStrategy checks its options (a misspelt attempts kept the default of 6)', async () => {
    await configurationError(() => retryStrategy(anyOptions({ atempts: 8 })), /^unknown option retryStrategy options\.atempts \(did you mean "attempts"\?\)/);
    await configurationError(() => retryStrategy(anyOptions('8')), /^retryStrategy options: expected an object, got "8"$/);
    expect(retryStrategy({ attempts: 8, baseDelayMs: 10, maxDelayMs: 2_000 })).toHaveProperty('refreshRetryTokenForRetry');
  });

  it('a key prefix is text within the bucket too: an s3:// location there would write objects named "s3:/…"', async () => {
    await configurationError(() => s3Offline({ bucket: 'lake', prefix: 's3://lake/features' }), /^s3Offline options\.prefix: expected a key prefix within the bucket, got the location "s3:\/\/lake\/features": pass bucket: 'lake', prefix: 'features'$/);
    await configurationError(() => s3DeadLetter({ bucket: 'dlq', prefix: 's3://dlq/' }), /^s3DeadLetter options\.prefix: expected a key prefix within the bucket, got the location "s3:\/\/dlq\/": pass bucket: 'dlq', prefix: ''$/);
    expect(s3Offline({ bucket: 'lake', prefix: 'features/v1' })).toBeDefined();
  });

  it("deleteMode is DynamoDB Streams' option: another handler refuses it instead of ignoring it", async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: () => {} });
    for (const [build, source] of [[kinesisHandler, 'Kinesis'], [sqsHandler, 'SQS'], [kafkaHandler, 'Kafka']] as const) {
      await configurationError(() => build(cardActivity, anyOptions({ store, deleteMode: 'HardDelete' })), new RegExp(`^unknown option ${source} handler options\\.deleteMode; known: store, decode, safetyMarginMs, log, metrics, discardPoison$`));
    }
    expect(dynamoDbStreamHandler(cardActivity, { store, deleteMode: 'HardDelete' })).toBeTypeOf('function');
  });

  it("firehoseTransform checks its options when it is built (a log that is no function failed every invocation, after its dead letters)", async () => {
    await configurationError(() => firehoseTransform(cardActivity, anyOptions({ deleteMode: 'HardDelete' })), /^unknown option Firehose transform options\.deleteMode; known: decode, filter, deadLetter, log, metrics$/);
    await configurationError(() => firehoseTransform(cardActivity, anyOptions({ filtr: () => true })), /^unknown option Firehose transform options\.filtr \(did you mean "filter"\?\)/);
    await configurationError(() => firehoseTransform(cardActivity, anyOptions({ log: true })), /^Firehose transform options\.log: expected false or a function of the log line, got true$/);
    await configurationError(() => firehoseTransform(cardActivity, anyOptions({ deadLetter: 'queue-url' })), /^Firehose transform options\.deadLetter: expected a dead-letter sink: sqsDeadLetter\(\), s3DeadLetter\(\) or a function, got "queue-url"$/);
    await configurationError(() => firehoseTransform(anyOptions({ name: 'not a group' }), {}), /^Firehose transform: expected a feature group made by defineFeatureGroup, got an object$/);
    const documented = { decode: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')), filter: () => true, deadLetter: () => {}, log: false as const, metrics: { namespace: 'Clicks' } };
    expect(firehoseTransform(cardActivity, documented)).toBeTypeOf('function');
    expect(firehoseTransform(cardActivity)).toBeTypeOf('function');
  });

  it('the event builders refuse a payload a stream cannot carry, naming it, instead of a TypeError from JSON', async () => {
    await configurationError(() => kinesisEvent([validCardEvent, { ...validCardEvent, amount_cents: 1n }]), /^kinesisEvent\[0\]\[1\]: expected bytes, text or a value JSON can write \(a stream carries bytes\), got a value JSON cannot write \(Do not know how to serialize a BigInt\)$/);
    await configurationError(() => sqsEvent([undefined]), /^sqsEvent\[0\]\[0\]: expected bytes, text or a value JSON can write \(a stream carries bytes\), got undefined, which has no JSON text$/);
    await configurationError(() => kafkaEvent([() => 1]), /^kafkaEvent\[0\]\[0\]: expected bytes, text or a value JSON can write \(a stream carries bytes\), got a function, which has no JSON text$/);
    // Bytes, text, and a Date (JSON writes it as its ISO text) travel.
    expect(kinesisEvent([Buffer.from('{}'), 'text', new Date(0), null]).Records).toHaveLength(4);
  });

  it('a handler called with a context of {} (a unit test) runs the batch instead of failing it', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: () => {} });
    const handler = kinesisHandler(cardActivity, { store, log: false });
    const response = await handler(kinesisEvent([validCardEvent]), anyOptions({}));
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ amount: 12.5 });
  });

  it('memoryOnline keeps the deadline, so the safety margin can be tested with it', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: () => {} });
    const handler = sqsHandler(cardActivity, { store, log: false, safetyMarginMs: 1000 });
    // Less time left than the margin: nothing may start, every record is reported for redelivery.
    const response = await handler(sqsEvent([validCardEvent, { ...validCardEvent, card_id: 'card-2' }]), { getRemainingTimeInMillis: () => 500 } as never);
    expect(response?.batchItemFailures).toHaveLength(2);
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
  });
});

describe('data lost or mistyped in 0.1', () => {
  it('a handler whose store has no dead letter is refused unless poison is discarded by name, which the log reports', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    await configurationError(() => kinesisHandler(cardActivity, { store }), /no dead-letter sink, so poison records would be lost/);
    const lines: string[] = [];
    const handler = kinesisHandler(cardActivity, { store, discardPoison: true, log: (line) => void lines.push(line) });
    expect(await handler(kinesisEvent([{ card_id: 'x' }]))).toEqual({ batchItemFailures: [] });
    expect(JSON.parse(lines[0] as string)).toMatchObject({ poison: 1, discarded: 1 });
  });

  // A source schema written for NDJSON: numbers and ISO text.
  const payments = defineFeatureGroup({
    name: 'payments',
    recordIdentifier: 'card_id',
    eventTime: 'event_time',
    source: z.object({ card_id: z.string(), amount_cents: z.number().int(), ts: isoTimestamp() }),
    features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
    transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100 }),
  });

  /** A Parquet file as DuckDB, Spark and pandas write one: BIGINT and TIMESTAMP columns. */
  function typedParquet(path: string, amounts: readonly bigint[]): string {
    const times = amounts.map((_, i) => new Date(Date.UTC(2024, 4, 1, 12, 0, i)));
    writeFileSync(
      path,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'card_id', data: amounts.map((_, i) => `card-${i}`), type: 'STRING' },
            { name: 'amount_cents', data: [...amounts], type: 'INT64' },
            { name: 'ts', data: times, type: 'TIMESTAMP' },
          ],
        } as never),
      ),
    );
    return path;
  }

  it('a Parquet source with BIGINT and TIMESTAMP columns is read by a schema written for NDJSON', async () => {
    const file = typedParquet(join(dir, 'typed.parquet'), [1250n, 99n, 100_000n]);
    const store = localStore();
    const summary = await backfill(store, payments, { from: parquetFile(file), to: 'both' });
    expect(summary).toMatchObject({ records: 3, written: 3, poison: 0 });
    expect(await store.get(payments, 'card-2')).toEqual({ card_id: 'card-2', event_time: new Date(Date.UTC(2024, 4, 1, 12, 0, 2)), amount: 1000 });
  });

  it('an INT64 that would lose precision as a number is poison with the reason, and the rejects file keeps its type', async () => {
    const file = typedParquet(join(dir, 'lossy.parquet'), [1250n, 2n ** 60n + 1n]);
    const summary = await backfill(localStore(), payments, { from: parquetFile(file) });
    expect(summary).toMatchObject({ records: 2, written: 1, poison: 1 });
    const [reject] = readFileSync(summary.rejectsFile as string, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(reject.error.message).toMatch(/column "amount_cents": the INT64 value 1152921504606846977 is beyond \+-2\^53/);
    expect(reject.raw.amount_cents).toBe('1152921504606846977');
    expect(reject.rawTypes).toEqual({ amount_cents: 'bigint', ts: 'Date' });
  });

  it('a row the source schema refuses after exact conversions is kept in the rejects file as the file holds it', async () => {
    // A negative amount the schema refuses: converted, the row read fine; the rejects keep its INT64 and TIMESTAMP.
    const file = typedParquet(join(dir, 'refused.parquet'), [1250n, -5n]);
    const strict = defineFeatureGroup({
      name: 'payments-strict',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: z.object({ card_id: z.string(), amount_cents: z.number().int().nonnegative(), ts: isoTimestamp() }),
      features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
      transform: (e) => ({ card_id: e.card_id, event_time: e.ts, amount: e.amount_cents / 100 }),
    });
    const summary = await backfill(localStore(), strict, { from: parquetFile(file) });
    expect(summary).toMatchObject({ records: 2, written: 1, poison: 1 });
    const [reject] = readFileSync(summary.rejectsFile as string, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(reject.error.code).toBe('SOURCE_VALIDATION');
    expect(reject.raw.amount_cents).toBe('-5');
    expect(reject.rawTypes).toEqual({ amount_cents: 'bigint', ts: 'Date' });
  });

  it('a NaN or an infinity from a DOUBLE column is kept in the rejects file as its text, not as null', async () => {
    const path = join(dir, 'not-finite.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const duck = await (await DuckDBInstance.create()).connect();
    await duck.run(
      `COPY (SELECT * FROM (VALUES ('a', 'NaN'::DOUBLE), ('b', 'Infinity'::DOUBLE), ('c', '-Infinity'::DOUBLE), ('d', NULL::DOUBLE)) v(card_id, amount_cents)) TO '${path}' (FORMAT parquet)`,
    );
    duck.closeSync();
    const loose = defineFeatureGroup({
      name: 'payments-loose',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: z.object({ card_id: z.string(), amount_cents: z.number() }),
      features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number() }),
      transform: (e) => ({ card_id: e.card_id, event_time: new Date(0), amount: e.amount_cents }),
    });
    const summary = await backfill(localStore(), loose, { from: parquetFile(path) });
    expect(summary).toMatchObject({ records: 4, written: 0, poison: 4 });
    const rejects = readFileSync(summary.rejectsFile as string, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { raw: Record<string, unknown>; rawTypes?: Record<string, string> });
    expect(rejects.map((r) => [r.raw['amount_cents'], r.rawTypes])).toEqual([
      ['NaN', { amount_cents: 'number' }],
      ['Infinity', { amount_cents: 'number' }],
      ['-Infinity', { amount_cents: 'number' }],
      [null, undefined],
    ]);
  });

  it('the CLI exits non-zero when every row was poison', () => {
    // The CLI and a definitions module as they run: bundled from source inside the repository, so
    // their dependencies resolve from its node_modules.
    const scratch = mkdtempSync(join(import.meta.dirname, '.tmp-corpus-'));
    try {
      const src = join(import.meta.dirname, '..', 'src');
      writeFileSync(
        join(scratch, 'groups.ts'),
        `import { z } from 'zod';
         import { defineFeatureGroup, isoTimestamp } from ${JSON.stringify(join(src, 'index.ts'))};
         export const strict = defineFeatureGroup({
           name: 'strict', recordIdentifier: 'id', eventTime: 't',
           source: z.object({ id: z.string(), t: isoTimestamp(), v: z.string() }),
           features: z.object({ id: z.string(), t: z.date(), v: z.string() }),
           transform: (e) => ({ id: e.id, t: e.t, v: e.v }),
         });`,
      );
      const bundle = (entry: string, out: string) => buildSync({ entryPoints: [entry], outfile: join(scratch, out), bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error' });
      bundle(join(scratch, 'groups.ts'), 'groups.mjs');
      bundle(join(src, 'cli', 'index.ts'), 'cli.mjs');
      const data = join(scratch, 'numbers.ndjson');
      writeFileSync(data, `${[1, 2, 3].map((v) => JSON.stringify({ id: `r${v}`, t: '2024-01-01T00:00:00Z', v })).join('\n')}\n`);
      const run = () => spawnSync(process.execPath, [join(scratch, 'cli.mjs'), 'backfill', join(scratch, 'groups.mjs'), 'strict', '--from', data, '--dir', join(scratch, 'store')], { encoding: 'utf8', cwd: scratch });
      const result = run();
      expect(result.stdout).toMatch(/3 rows read, 0 written, 3 poison/);
      expect(result.stderr).toMatch(/every one of the 3 rows was poison/);
      expect(result.status).toBe(1);
      // Run again, it resumes past the end from its checkpoint: no row read now, and still every row poison.
      const again = run();
      expect(again.stdout).toMatch(/resumed from its checkpoint, 0 rows read in this run; in all 0 written, 3 poison/);
      expect(again.stderr).toMatch(/every one of the 3 rows was poison/);
      expect(again.status).toBe(1);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('a ragged, binary or missing CSV spine is a DataError naming the file and line', async () => {
    const features = [cardActivity.select('amount')];
    const ragged = join(dir, 'ragged.csv');
    writeFileSync(ragged, 'card_id,label_time\ncard-1,2024-01-01T00:00:00Z\ncard-2,2024-01-01T00:00:00Z,extra\n');
    const short = join(dir, 'short.csv');
    writeFileSync(short, 'card_id,label_time,label\ncard-1,2024-01-01T00:00:00Z,1\ncard-2,2024-01-01T00:00:00Z\n');
    const binary = join(dir, 'binary.csv');
    writeFileSync(binary, Buffer.from([0x50, 0x4b, 0x03, 0x04, 0xff, 0xfe, 0x00, 0x81]));
    const missing = join(dir, 'missing.csv');
    // Read into rows, the second "card_id" would replace the first: card-2's features for card-1's label.
    const repeated = join(dir, 'repeated.csv');
    writeFileSync(repeated, 'card_id,label_time,card_id\ncard-1,2024-01-01T00:00:00Z,card-2\n');
    for (const [csv, message] of [
      [repeated, /^the spine file .*repeated\.csv, line 1: the header names "card_id" in columns 1 and 3$/],
      [ragged, /ragged\.csv, line 3: 3 fields, but the header names 2/],
      [short, /short\.csv, line 3: 2 fields, but the header names 3/],
      [binary, /binary\.csv is not UTF-8 text/],
      [missing, /cannot read the spine file .*missing\.csv/],
    ] as const) {
      for (const output of [undefined, { parquet: join(dir, 'out.parquet') }]) {
        const error = await errorOf(async () => {
          await trainingSet(localStore(), { spine: { csv }, entityKey: 'card_id', timestamp: 'label_time', features, ...(output ? { output } : {}) });
          throw new Error(`no error for ${csv} ${output ? 'to a file' : 'to rows'}`);
        });
        if (!(error instanceof DataError)) throw error;
        expect(error).toBeInstanceOf(DataError);
        expect((error as Error).message).toMatch(message);
      }
    }
  });
});
