import { afterEach, describe, expect, it, vi } from 'vitest';
import { BackendError, ConfigurationError, count, type SourcePosition, createFeatureStore, type DeadLetterEntry, defineFeatureGroup, type FeatureStore } from '../src/index.js';
import { dynamoDbStreamHandler, firehoseTransform, type HandlerOptions, kinesisHandler, sqsHandler } from '../src/lambda/index.js';
import type { KinesisStreamEvent, LambdaContext, SqsEvent } from '../src/lambda/events.js';
import type { OnlineStore } from '../src/store/types.js';
import { dynamoDbStreamEvent, firehoseEvent, kinesisEvent, memoryAggregationState, memoryOnline, sqsEvent } from '../src/testing/index.js';
import { cardActivity, cardActivityFields, cardVelocity } from './fixtures/groups.js';
import { storeWithBrokenSink } from './fixtures/stores.js';

// The one batch flow every ingestion handler shares (src/lambda/batch.ts): decoding, the time
// budget, slices, deletes in order with puts, poison, what is reported for redelivery, and the
// batch's log line. Memory stores only, so these run under each mutant of `npm run mutation`.

const NOON = Date.UTC(2024, 4, 1, 12);

/** A card transaction as the producer sends it, `second` seconds after noon. */
const txn = (card: string, second = 0, extra: Record<string, unknown> = {}) => ({
  card_id: card,
  amount_cents: 100 + second,
  country: 'FR',
  ts: new Date(NOON + second * 1000).toISOString(),
  ...extra,
});

/** A feature store on memory backends; what its dead-letter sink receives is kept in `dead`. */
function storeWithSink(online: OnlineStore = memoryOnline()): { store: FeatureStore; dead: DeadLetterEntry[] } {
  const dead: DeadLetterEntry[] = [];
  const store = createFeatureStore({ online, offline: false, deadLetter: (entries) => void dead.push(...entries) });
  return { store, dead };
}

/** The JSON log lines a handler writes. */
function logInto(lines: Record<string, unknown>[]): (line: string) => void {
  return (line) => void lines.push(JSON.parse(line) as Record<string, unknown>);
}

const sequenceNumbers = (event: KinesisStreamEvent) => event.Records.map((r) => r.kinesis.sequenceNumber);
const reported = (response: { batchItemFailures: { itemIdentifier: string }[] }) => response.batchItemFailures.map((f) => f.itemIdentifier);
/** A Lambda context with this much time left in the invocation. */
const timeLeft = (ms: number) => ({ getRemainingTimeInMillis: () => ms });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('building a handler', () => {
  // First in the file: it builds the options schema (built once, on first use), so under each mutant
  // of that schema it is this test that meets the mutated schema.
  it('checks the options: each wrong one named with what it got and what it takes, each documented one accepted', () => {
    const { store } = storeWithSink();
    const outcome = (options: unknown): string => {
      try {
        kinesisHandler(cardActivity, options as HandlerOptions);
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        return (error as Error).message;
      }
    };
    expect(outcome(5)).toBe('Kinesis handler options: expected handler options: { store, ... }, got 5');
    // The store where its options go: said in one line, not as a dozen unknown options (its methods).
    expect(outcome(store)).toBe('Kinesis handler options: expected { store, ... }, got the store itself: pass { store }');
    expect(outcome({ store: {} })).toBe('Kinesis handler options.store: expected a feature store made by createFeatureStore (an object with ingest, deadLetter, delete), got an object');
    expect(outcome({ store: { ingest() {}, deadLetter() {} } })).toMatch(/^Kinesis handler options\.store: expected a feature store/);
    expect(outcome({ store, decode: 'json' })).toBe('Kinesis handler options.decode: expected a function of the payload bytes, got "json"');
    expect(outcome({ store, safetyMarginMs: 1.5 })).toBe('Kinesis handler options.safetyMarginMs: expected a whole number of milliseconds, got 1.5');
    expect(outcome({ store, log: true })).toBe('Kinesis handler options.log: expected false or a function of the log line, got true');
    expect(outcome({ store, metrics: { namespace: 7 } })).toBe('Kinesis handler options.metrics.namespace: expected a CloudWatch namespace, got 7');
    expect(outcome({ store, discardPoison: 'yes' })).toBe('Kinesis handler options.discardPoison: expected true or false, got "yes"');
    expect(outcome({ store, deleteMode: 'SoftDelete' })).toBe('unknown option Kinesis handler options.deleteMode; known: store, decode, safetyMarginMs, log, metrics, discardPoison');
    expect(outcome({ store, logg: false })).toBe('unknown option Kinesis handler options.logg (did you mean "log"?); known: store, decode, safetyMarginMs, log, metrics, discardPoison');
    const accepted = [
      { store },
      { store, log: false },
      { store, log: () => {}, decode: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')), safetyMarginMs: 0, metrics: { namespace: 'Skewless' }, discardPoison: false },
      { store, discardPoison: true },
    ];
    for (const options of accepted) expect(outcome(options)).toBe('accepted');
  });

  it("checks DynamoDB Streams' deleteMode, which only that handler takes", () => {
    const { store } = storeWithSink();
    expect(() => dynamoDbStreamHandler(cardActivity, { store, deleteMode: 'soft' as never })).toThrow(
      /^DynamoDB Streams handler options\.deleteMode: expected 'SoftDelete' or 'HardDelete', got "soft"$/,
    );
    for (const deleteMode of ['SoftDelete', 'HardDelete'] as const) expect(dynamoDbStreamHandler(cardActivity, { store, deleteMode })).toBeTypeOf('function');
  });

  it('refuses a store without a dead-letter sink, naming the source and the group', () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    expect(() => kinesisHandler(cardActivity, { store })).toThrow(
      new ConfigurationError(
        'INVALID_CONFIG',
        'Kinesis handler of group "card-activity": the store has no dead-letter sink, so poison records would be lost. ' +
          'Pass deadLetter: sqsDeadLetter({ queueUrl }) (or s3DeadLetter, or a function) to createFeatureStore, or discardPoison: true to drop them on purpose',
      ),
    );
  });

  it('refuses a store without a dead-letter sink when discardPoison is false', () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    expect(() => kinesisHandler(cardActivity, { store, discardPoison: false })).toThrow(/no dead-letter sink/);
  });

  it('builds over a store without a sink when told to discard poison', () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    expect(kinesisHandler(cardActivity, { store, discardPoison: true })).toBeTypeOf('function');
  });

  it('builds over a store with a sink', () => {
    expect(kinesisHandler(cardActivity, { store: storeWithSink().store })).toBeTypeOf('function');
  });

  it('names the handler when the group is not a feature group', () => {
    expect(() => kinesisHandler({} as typeof cardActivity, { store: storeWithSink().store })).toThrow(/Kinesis handler/);
  });

  const store = storeWithSink().store;
  const { ingest, deadLetter, delete: remove } = store;
  it.each<[string, unknown, string]>([
    ['options that are not an object', 'fast', 'Kinesis handler options: expected handler options: { store, ... }, got'],
    ['a store without ingest', { store: { deadLetter, delete: remove } }, 'Kinesis handler options.store: expected a feature store made by createFeatureStore'],
    ['a store without deadLetter', { store: { ingest, delete: remove } }, 'Kinesis handler options.store: expected a feature store made by createFeatureStore'],
    ['a store without delete', { store: { ingest, deadLetter } }, 'Kinesis handler options.store: expected a feature store made by createFeatureStore'],
    ['a decoder that is not a function', { store, decode: 'json' }, 'Kinesis handler options.decode: expected a function of the payload bytes'],
    ['a safety margin that is not a whole number', { store, safetyMarginMs: 1.5 }, 'Kinesis handler options.safetyMarginMs: expected a whole number of milliseconds'],
    ['a log that is neither false nor a function', { store, log: true }, 'Kinesis handler options.log: expected false or a function of the log line'],
    ['metrics without a namespace', { store, metrics: {} }, 'Kinesis handler options.metrics.namespace: expected a CloudWatch namespace'],
    ['an unknown metrics option', { store, metrics: { namespace: 'Fraud', dimension: 'x' } }, 'unknown option Kinesis handler options.metrics.dimension'],
    ['discardPoison that is not a boolean', { store, discardPoison: 'yes' }, 'Kinesis handler options.discardPoison: expected true or false'],
    ['an unknown option', { store, safetyMargin: 100 }, 'unknown option Kinesis handler options.safetyMargin (did you mean "safetyMarginMs"?)'],
  ])('refuses %s', (_, options, message) => {
    expect(() => kinesisHandler(cardActivity, options as HandlerOptions)).toThrow(message);
  });

  it('takes a delete mode and every other option it knows', () => {
    const options = { store, decode: (bytes: Buffer) => JSON.parse(bytes.toString('utf8')), safetyMarginMs: 100, log: false, metrics: { namespace: 'Fraud' }, discardPoison: true, deleteMode: 'HardDelete' } as const;
    expect(dynamoDbStreamHandler(cardActivity, options)).toBeTypeOf('function');
  });
});

describe('the time budget of the invocation', () => {
  it('writes nothing and reports every record when less than the default 3,000 ms margin is left', async () => {
    const { store } = storeWithSink();
    const event = kinesisEvent([txn('card-1'), txn('card-2')]);
    const response = await kinesisHandler(cardActivity, { store, log: false })(event, timeLeft(2000));
    expect(reported(response)).toEqual(sequenceNumbers(event));
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
  });

  it('writes when more than the default margin is left', async () => {
    const { store } = storeWithSink();
    const event = kinesisEvent([txn('card-1'), txn('card-2')]);
    const response = await kinesisHandler(cardActivity, { store, log: false })(event, timeLeft(4000));
    expect(reported(response)).toEqual([]);
    expect(await store.get(cardActivity, 'card-2')).toMatchObject({ card_id: 'card-2' });
  });

  it('keeps the margin it is given instead of the default', async () => {
    const { store } = storeWithSink();
    const event = kinesisEvent([txn('card-1')]);
    expect(reported(await kinesisHandler(cardActivity, { store, log: false, safetyMarginMs: 500 })(event, timeLeft(2000)))).toEqual([]);
    const late = kinesisEvent([txn('card-1', 1)]);
    expect(reported(await kinesisHandler(cardActivity, { store, log: false, safetyMarginMs: 2500 })(late, timeLeft(2000)))).toEqual(sequenceNumbers(late));
  });

  it('reports a record whose write would start exactly at the deadline', async () => {
    // The clock stands still: the deadline (start + 3,000 ms left - 3,000 ms margin) is now.
    vi.useFakeTimers({ toFake: ['Date'], now: NOON + 60_000 });
    const { store } = storeWithSink();
    const event = kinesisEvent([txn('card-1')]);
    expect(reported(await kinesisHandler(cardActivity, { store, log: false })(event, timeLeft(3000)))).toEqual(sequenceNumbers(event));
  });

  it('has no budget without a context, or with one that cannot tell the time left', async () => {
    const { store } = storeWithSink();
    const handler = kinesisHandler(cardActivity, { store, log: false });
    expect(reported(await handler(kinesisEvent([txn('card-1')])))).toEqual([]);
    // `{}` as a unit test passes it: no getRemainingTimeInMillis.
    expect(reported(await handler(kinesisEvent([txn('card-2')]), {} as LambdaContext))).toEqual([]);
    expect(reported(await handler(kinesisEvent([txn('card-3')]), timeLeft(Number.NEGATIVE_INFINITY)))).toEqual([]);
    expect([...(await store.getMany(cardActivity, ['card-1', 'card-2', 'card-3'])).keys()]).toEqual(['card-1', 'card-2', 'card-3']);
  });

  it('leaves a removed item in place and reports its REMOVE when the budget is spent', async () => {
    const { store } = storeWithSink();
    await store.ingest(cardActivity, [txn('card-1')]);
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 60_000) }]);
    const response = await dynamoDbStreamHandler(cardActivity, { store, log: false })(event, timeLeft(2000));
    expect(reported(response)).toEqual([event.Records[0]?.dynamodb.SequenceNumber]);
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ card_id: 'card-1' });
  });

  it('deletes when the budget leaves time for it', async () => {
    const { store } = storeWithSink();
    await store.ingest(cardActivity, [txn('card-1')]);
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 60_000) }]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event, timeLeft(60_000)))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
  });

  it('reports a REMOVE that would start exactly at the deadline', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOON + 120_000 });
    const { store } = storeWithSink();
    await store.ingest(cardActivity, [txn('card-1')]);
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 60_000) }]);
    const response = await dynamoDbStreamHandler(cardActivity, { store, log: false })(event, timeLeft(3000));
    expect(reported(response)).toEqual([event.Records[0]?.dynamodb.SequenceNumber]);
  });
});

describe('puts and deletes of one batch', () => {
  const image = (second: number) => txn('card-1', second);
  const at = (second: number) => new Date(NOON + second * 1000);

  it('applies a REMOVE between two puts in stream order: the put after it stays', async () => {
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: image(10), at: at(10) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: at(20) },
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: image(30), at: at(30) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ event_time: at(30), amount: 1.3 });
  });

  it('applies a REMOVE after two puts in stream order: nothing stays', async () => {
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: image(10), at: at(10) },
      { eventName: 'MODIFY', keys: { card_id: 'card-1' }, newImage: image(15), at: at(15) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: at(20) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
  });

  it("deletes an item whose own time lies in the second of its REMOVE, which DynamoDB gives rounded down to the second", async () => {
    for (const deleteMode of ['SoftDelete', 'HardDelete'] as const) {
      const { store } = storeWithSink();
      const at500 = txn('card-1', 10, { ts: new Date(NOON + 10_500).toISOString() });
      const event = dynamoDbStreamEvent([
        { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: at500, at: new Date(NOON + 10_600) },
        { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 10_700) },
      ]);
      expect(event.Records[1]?.dynamodb.ApproximateCreationDateTime).toBe((NOON + 10_000) / 1000);
      expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false, deleteMode })(event))).toEqual([]);
      expect(await store.get(cardActivity, 'card-1'), deleteMode).toBeUndefined();
    }
    // At most the second's last millisecond: an item of that very millisecond is not older, and stays.
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 10, { ts: new Date(NOON + 10_999).toISOString() }), at: new Date(NOON + 10_999) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 10_999) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ event_time: new Date(NOON + 10_999) });
  });

  it("reports a REMOVE whose read of the stored record's time fails, deleting nothing", async () => {
    const online = memoryOnline();
    const { store } = storeWithSink({ ...online, get: async () => { throw new BackendError('READ_FAILED', 'the online store is down', { retryable: true }); } });
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 5), at: at(5) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: at(10) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([event.Records[1]?.dynamodb.SequenceNumber]);
    expect((await online.getMany(cardActivity, ['card-1'])).get('card-1')?.record).toContainEqual({ FeatureName: 'card_id', ValueAsString: 'card-1' });
  });

  it("serves an item created again in its REMOVE's second, after the REMOVE: the delete is just after the removed record, not the second's end", async () => {
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 5), at: at(5) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 10_100) },
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 10, { ts: new Date(NOON + 10_400).toISOString() }), at: new Date(NOON + 10_400) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ event_time: new Date(NOON + 10_400) });
  });

  it("deletes at the REMOVE's second when the stored record is older: a put older than that second stays deleted", async () => {
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 5), at: at(5) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 10_300) },
      // Older than the REMOVE's second, newer than the removed record.
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 7), at: new Date(NOON + 10_400) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
  });

  it("deletes an item whose time is the very start of the REMOVE's second", async () => {
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 10), at: at(10) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: new Date(NOON + 10_300) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
  });

  it('takes a creation time with a fraction of a second as the instant it names', async () => {
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: txn('card-1', 10, { ts: new Date(NOON + 10_500).toISOString() }), at: at(10) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: at(10) },
    ]);
    const remove = event.Records[1] as { dynamodb: { ApproximateCreationDateTime?: number } };
    remove.dynamodb.ApproximateCreationDateTime = (NOON + 10_400) / 1000;
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    // 10.400 is not newer than the item's 10.500: the item stays.
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ event_time: new Date(NOON + 10_500) });
    remove.dynamodb.ApproximateCreationDateTime = (NOON + 10_600) / 1000;
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })({ Records: [event.Records[1] as never] }))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
  });

  it('hard-deletes when told to: a put older than the REMOVE applies after it', async () => {
    const { store } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: image(10), at: at(10) },
      { eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: at(20) },
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: image(5), at: at(25) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false, deleteMode: 'HardDelete' })(event))).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ event_time: at(5) });
  });

  it('dead-letters a refused image after a REMOVE with its own position and raw image', async () => {
    const { store, dead } = storeWithSink();
    const event = dynamoDbStreamEvent([
      { eventName: 'REMOVE', keys: { card_id: 'card-9' }, at: at(20) },
      { eventName: 'INSERT', keys: { card_id: 'card-1' }, newImage: image(30), at: at(30) },
      { eventName: 'INSERT', keys: { card_id: 'card-2' }, newImage: txn('card-2', 30, { amount_cents: 'twelve' }), at: at(30) },
    ]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    const refused = event.Records[2];
    expect(dead).toHaveLength(1);
    expect(dead[0]?.raw).toEqual(refused?.dynamodb.NewImage);
    expect(dead[0]?.position).toMatchObject({ source: 'dynamodb-stream', index: 2, sequenceNumber: refused?.dynamodb.SequenceNumber });
  });

  it('dead-letters a REMOVE without the identifier in its keys, with its keys and position', async () => {
    const { store, dead } = storeWithSink();
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { pk: 'card-1' }, at: at(20) }]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ group: 'card-activity', raw: { pk: { S: 'card-1' } }, position: { index: 0, sequenceNumber: event.Records[0]?.dynamodb.SequenceNumber } });
    // Named as missing (it said "record identifier must be 1..2048 bytes, got 0").
    expect(dead[0]?.error.message).toBe(`a delete without its record identifier: the DynamoDB Streams REMOVE's dynamodb.Keys hold no "card_id"`);
    // The error says where too, as the entry does: formatError prints it.
    expect(dead[0]?.error.position).toEqual(dead[0]?.position);
  });

  it('dead-letters a REMOVE whose identifier is NULL, as one without it (it deletes no record "null")', async () => {
    const { store, dead } = storeWithSink();
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { card_id: null }, at: at(20) }]);
    expect(event.Records[0]?.dynamodb.Keys).toEqual({ card_id: { NULL: true } });
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(dead.map((d) => d.error.message)).toEqual([`a delete without its record identifier: the DynamoDB Streams REMOVE's dynamodb.Keys hold no "card_id"`]);
  });

  it('reports a REMOVE without the identifier when the dead-letter sink is down', async () => {
    const store = storeWithBrokenSink();
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { pk: 'card-1' }, at: at(20) }]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([event.Records[0]?.dynamodb.SequenceNumber]);
  });

  it('reports a REMOVE the online store failed to delete, and dead-letters nothing', async () => {
    const online = memoryOnline();
    online.delete = async () => {
      throw new BackendError('THROTTLED', 'Rate exceeded', { retryable: true, group: 'card-activity' });
    };
    const { store, dead } = storeWithSink(online);
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: at(20) }]);
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([event.Records[0]?.dynamodb.SequenceNumber]);
    expect(dead).toEqual([]);
  });

  it('dead-letters a REMOVE without its creation time (no event time for the delete), and reports it only when the sink is down', async () => {
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { card_id: 'card-1' }, at: at(20) }]);
    delete (event.Records[0]?.dynamodb as { ApproximateCreationDateTime?: number }).ApproximateCreationDateTime;
    const { store, dead } = storeWithSink();
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    expect(dead.map((d) => [d.error.code, d.error.message, d.position?.sequenceNumber, d.error.position?.sequenceNumber])).toEqual([
      ['SOURCE_VALIDATION', 'a delete without its time: a DynamoDB Streams REMOVE needs dynamodb.ApproximateCreationDateTime', event.Records[0]?.dynamodb.SequenceNumber, event.Records[0]?.dynamodb.SequenceNumber],
    ]);
    const sinkDown = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: () => Promise.reject(new Error('queue unreachable')) });
    expect(reported(await dynamoDbStreamHandler(cardActivity, { store: sinkDown, log: false })(event))).toEqual([event.Records[0]?.dynamodb.SequenceNumber]);
  });
});

describe('poison in a run of puts', () => {
  it('dead-letters an undecodable and an invalid record with their raw payloads and positions, and reports neither', async () => {
    const { store, dead } = storeWithSink();
    const event = kinesisEvent([txn('card-1'), '{not json', txn('card-2', 0, { amount_cents: 'twelve' })]);
    expect(reported(await kinesisHandler(cardActivity, { store, log: false })(event))).toEqual([]);
    const [, undecodable, invalid] = event.Records;
    expect(dead.map((d) => [d.raw, d.position?.index, d.position?.sequenceNumber])).toEqual([
      [undecodable?.kinesis.data, 1, undecodable?.kinesis.sequenceNumber],
      [invalid?.kinesis.data, 2, invalid?.kinesis.sequenceNumber],
    ]);
    expect(await store.get(cardActivity, 'card-1')).toMatchObject({ card_id: 'card-1' });
  });

  it('reports an undecodable record, and the shard after it, when the dead-letter sink is down', async () => {
    const event = kinesisEvent([txn('card-1'), '{not json', txn('card-2')]);
    const response = await kinesisHandler(cardActivity, { store: storeWithBrokenSink(), log: false })(event);
    expect(reported(response)).toEqual(sequenceNumbers(event).slice(1));
  });

  it('reports an invalid record when the dead-letter sink is down', async () => {
    const event = kinesisEvent([txn('card-1'), txn('card-2', 0, { amount_cents: 'twelve' })]);
    const response = await kinesisHandler(cardActivity, { store: storeWithBrokenSink(), log: false })(event);
    expect(reported(response)).toEqual(sequenceNumbers(event).slice(1));
  });

  it('runs the decoder it is given, with each record\'s position', async () => {
    const { store } = storeWithSink();
    const seen: unknown[] = [];
    const decode = (bytes: Buffer, position: SourcePosition) => {
      seen.push(position.index);
      return { ...JSON.parse(bytes.toString('utf8')), country: 'US' };
    };
    await kinesisHandler(cardActivity, { store, log: false, decode })(kinesisEvent([txn('card-1'), txn('card-2')]));
    expect(seen).toEqual([0, 1]);
    expect(await store.get(cardActivity, 'card-2')).toMatchObject({ is_foreign: false });
  });

  it('fails the invocation when decode returns a Promise, instead of dead-lettering every record', async () => {
    const { store, dead } = storeWithSink();
    const decode = async (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as unknown;
    const batch = kinesisHandler(cardActivity, { store, log: false, decode })(kinesisEvent([txn('card-1'), txn('card-2')]));
    await expect(batch).rejects.toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG' }));
    await expect(batch).rejects.toThrow(/^group "card-activity": the handler's decode returned a Promise: a decoder is synchronous/);
    expect(dead).toEqual([]);
    expect(await store.get(cardActivity, 'card-1')).toBeUndefined();
    // The same refusal in a Firehose transformation, which would otherwise fail every record.
    const transform = firehoseTransform(cardActivity, { decode, deadLetter: (entries) => void dead.push(...entries), log: false });
    await expect(transform(firehoseEvent([txn('card-1')]))).rejects.toThrow(/the handler's decode returned a Promise/);
    expect(dead).toEqual([]);
    // A decoder that throws still makes its record poison, as before.
    const throwing = () => {
      throw new Error('no schema 7');
    };
    expect(reported(await kinesisHandler(cardActivity, { store, log: false, decode: throwing })(kinesisEvent([txn('card-1')])))).toEqual([]);
    expect(dead.map((d) => d.error.message)).toEqual([expect.stringMatching(/^payload cannot be decoded: no schema 7/)]);
  });

  it('dead-letters each 500-record slice\'s poison before it decodes the next slice', async () => {
    const journal: string[] = [];
    const store = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: (entries) => void journal.push(`dead-letter ${entries.map((e) => e.position?.index).join(',')}`) });
    const payloads = Array.from({ length: 501 }, (_, i) => (i === 0 || i === 500 ? 'poison' : txn(`card-${i}`)));
    const decode = (bytes: Buffer, position: SourcePosition) => {
      if ((position.index ?? 0) >= 499) journal.push(`decode ${position.index}`);
      return JSON.parse(bytes.toString('utf8'));
    };
    await kinesisHandler(cardActivity, { store, log: false, decode })(kinesisEvent(payloads));
    expect(journal).toEqual(['decode 499', 'dead-letter 0', 'decode 500', 'dead-letter 500']);
  });

  it('refuses a standard queue\'s batch for a group with aggregations, writing nothing; a FIFO queue\'s redelivered message counts once', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: memoryAggregationState(), deadLetter: () => {} });
    const handler = sqsHandler(cardVelocity, { store, log: false });
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues-at-least-once-delivery.html
    const standard = sqsEvent([txn('card-1', 1), txn('card-1', 2)]);
    await expect(handler(standard)).rejects.toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG' }));
    await expect(handler(standard)).rejects.toThrow(/^SQS handler of group "card-velocity": the group has aggregations, and Records\[0\] comes from a standard queue \(it has no SequenceNumber\): a standard queue may deliver a message twice/);
    await expect(handler(standard)).rejects.toThrow(/; feed a group with aggregations from an SQS FIFO queue, Kinesis, Kafka or DynamoDB Streams$/);
    // A hand-made message without attributes at all (a user's unit test): the same refusal, not a TypeError.
    const bare = { Records: [{ ...standard.Records[0], attributes: undefined }] } as unknown as SqsEvent;
    await expect(handler(bare)).rejects.toThrow(/Records\[0\] comes from a standard queue \(it has no SequenceNumber\)/);
    expect(await store.get(cardVelocity, 'card-1')).toBeUndefined();
    // One FIFO message without its numbering (a hand-made event) is refused too, naming it.
    const fifo = sqsEvent([txn('card-1', 1), txn('card-1', 2)], { fifo: true, groupOf: () => 'card-1' });
    const unnumbered = { Records: [fifo.Records[0], { ...fifo.Records[1], attributes: { ...fifo.Records[1]?.attributes, SequenceNumber: undefined } }] } as SqsEvent;
    await expect(handler(unnumbered)).rejects.toThrow(/Records\[1\] comes from a standard queue \(it has no SequenceNumber\)/);
    const ungrouped = { Records: [{ ...fifo.Records[0], attributes: { ...fifo.Records[0]?.attributes, MessageGroupId: undefined } }] } as SqsEvent;
    await expect(handler(ungrouped)).rejects.toThrow(/Records\[0\] comes from a standard queue \(it has no MessageGroupId\)/);
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-exactly-once-processing.html
    expect(reported(await handler(fifo))).toEqual([]);
    expect(reported(await handler({ Records: [fifo.Records[1]] } as SqsEvent))).toEqual([]);
    expect(await store.get(cardVelocity, 'card-1')).toMatchObject({ n_1h: 2 });
    // A group without aggregations takes a standard queue's messages as before.
    expect(reported(await sqsHandler(cardActivity, { store, log: false })(sqsEvent([txn('card-2', 1)])))).toEqual([]);
  });

  it('commits a group with aggregations once per batch, not once per 500-record slice', async () => {
    const state = memoryAggregationState();
    const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: state, deadLetter: () => {} });
    const payloads = Array.from({ length: 501 }, (_, i) => txn('card-1', i));
    expect(reported(await kinesisHandler(cardVelocity, { store, log: false })(kinesisEvent(payloads)))).toEqual([]);
    expect(state.items.get('card-velocity#card-1')?.version).toBe(1);
    expect(await store.get(cardVelocity, 'card-1')).toMatchObject({ n_1h: 501 });
  });
});

describe('the log line of a batch', () => {
  it('counts written and poison records, at level info when nothing is reported', async () => {
    const lines: Record<string, unknown>[] = [];
    const { store } = storeWithSink();
    await kinesisHandler(cardActivity, { store, log: logInto(lines) })(kinesisEvent([txn('card-1'), '{not json', txn('card-2', 0, { amount_cents: 'twelve' })]));
    expect(lines).toEqual([
      {
        level: 'info',
        message: 'skewless batch',
        source: 'kinesis',
        group: 'card-activity',
        records: 3,
        written: 1,
        poison: 2,
        retried: 0,
        reported: 0,
        late: 0,
        duplicate: 0,
        conflicts: 0,
        reemitted: 0,
        durationMs: expect.any(Number),
      },
    ]);
  });

  it('gives the batch\'s duration in milliseconds: 0 while the clock stands still', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: NOON + 60_000 });
    const lines: Record<string, unknown>[] = [];
    await kinesisHandler(cardActivity, { store: storeWithSink().store, log: logInto(lines) })(kinesisEvent([txn('card-1')]));
    expect(lines[0]).toMatchObject({ durationMs: 0 });
  });

  it('warns when records are reported for redelivery', async () => {
    const lines: Record<string, unknown>[] = [];
    await kinesisHandler(cardActivity, { store: storeWithBrokenSink(), log: logInto(lines) })(kinesisEvent([txn('card-1'), '{not json']));
    expect(lines[0]).toMatchObject({ level: 'warn', written: 1, poison: 0, reported: 1 });
  });

  it("logs as reported every record Lambda redelivers: on a shard, the failed one and the records after it", async () => {
    const lines: Record<string, unknown>[] = [];
    const response = await kinesisHandler(cardActivity, { store: storeWithBrokenSink(), log: logInto(lines) })(kinesisEvent(['{not json', txn('card-1'), txn('card-2')]));
    expect(response.batchItemFailures).toHaveLength(3);
    expect(lines[0]).toMatchObject({ level: 'warn', written: 2, poison: 0, reported: 3 });
  });

  it('counts a stale record (older than the stored one) as written, not reported', async () => {
    const lines: Record<string, unknown>[] = [];
    const { store } = storeWithSink();
    await kinesisHandler(cardActivity, { store, log: logInto(lines) })(kinesisEvent([txn('card-1', 10), txn('card-1', 5)]));
    expect(lines[0]).toMatchObject({ records: 2, written: 2, reported: 0 });
  });

  it('counts poison dropped by discardPoison as discarded, and leaves the field out when a sink took it', async () => {
    const lines: Record<string, unknown>[] = [];
    const store = createFeatureStore({ online: memoryOnline(), offline: false });
    await kinesisHandler(cardActivity, { store, log: logInto(lines), discardPoison: true })(kinesisEvent(['{not json', 'nor this', txn('card-1')]));
    await kinesisHandler(cardActivity, { store: storeWithSink().store, log: logInto(lines) })(kinesisEvent(['{not json']));
    expect(lines[0]).toMatchObject({ poison: 2, discarded: 2 });
    expect(lines[1]).toMatchObject({ poison: 1 });
    expect(lines[1]).not.toHaveProperty('discarded');
  });

  it('counts the records of a redelivered batch the aggregation state had applied as duplicates', async () => {
    const lines: Record<string, unknown>[] = [];
    const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: memoryAggregationState(), deadLetter: () => {} });
    const handler = kinesisHandler(cardVelocity, { store, log: logInto(lines) });
    const event = kinesisEvent([txn('card-1', 1), txn('card-1', 2), txn('card-2', 3)]);
    await handler(event);
    await handler(event);
    expect(lines[1]).toMatchObject({ written: 3, duplicate: 3, reported: 0 });
  });

  it('counts records older than the allowed lateness as late', async () => {
    const lateGroup = defineFeatureGroup({ name: 'card-velocity-late', ...cardActivityFields, aggregations: { n_1h: count({ window: '1h' }) }, allowedLateness: '1m' });
    const lines: Record<string, unknown>[] = [];
    const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: memoryAggregationState(), deadLetter: () => {} });
    await kinesisHandler(lateGroup, { store, log: logInto(lines) })(kinesisEvent([txn('card-1', 600), txn('card-1', 0), txn('card-1', 1)]));
    expect(lines[0]).toMatchObject({ written: 3, late: 2 });
  });

  it('counts records written again from an outbox left by a batch whose writes failed', async () => {
    const state = memoryAggregationState();
    const refusing = memoryOnline();
    refusing.put = async (group, records) => records.map(() => new BackendError('THROTTLED', 'Rate exceeded', { retryable: true, group: group.name }));
    const first = createFeatureStore({ online: refusing, offline: false, aggregationState: state, deadLetter: () => {} });
    const event = kinesisEvent([txn('card-1', 1), txn('card-1', 2)]);
    expect(reported(await kinesisHandler(cardVelocity, { store: first, log: false })(event))).toEqual(sequenceNumbers(event));

    const lines: Record<string, unknown>[] = [];
    const second = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: state, deadLetter: () => {} });
    await kinesisHandler(cardVelocity, { store: second, log: logInto(lines) })(event);
    expect(lines[0]).toMatchObject({ reemitted: 2, duplicate: 2, reported: 0 });
  });

  it('counts a save that met another instance\'s newer state as a conflict', async () => {
    const state = memoryAggregationState();
    const lines: Record<string, unknown>[] = [];
    const instance = () => createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: state, deadLetter: () => {} });
    // Two instances on one card at once: both read the state, one saves first, the other must read it again.
    await Promise.all([
      kinesisHandler(cardVelocity, { store: instance(), log: logInto(lines) })(kinesisEvent([txn('card-1', 1)])),
      kinesisHandler(cardVelocity, { store: instance(), log: logInto(lines) })(kinesisEvent([txn('card-1', 2)])),
    ]);
    expect(lines.map((l) => l['conflicts'])).toEqual([0, 1]);
    expect(state.items.get('card-velocity#card-1')?.version).toBe(2);
  });

  it('counts the calls the online backend retried', async () => {
    const lines: Record<string, unknown>[] = [];
    const online = memoryOnline();
    const put = online.put.bind(online);
    // A backend that met one throttle per call and retried it, as sageMakerOnline reports through onRetry.
    online.put = async (group, records, options) => {
      options?.onRetry?.();
      return put(group, records, options);
    };
    const { store } = storeWithSink(online);
    const handler = kinesisHandler(cardActivity, { store, log: logInto(lines) });
    await handler(kinesisEvent([txn('card-1'), txn('card-2')]));
    expect(lines[0]).toMatchObject({ retried: 1, written: 2 });
  });

  it('prints CloudWatch metrics in Embedded Metric Format when given a namespace', async () => {
    const lines: Record<string, unknown>[] = [];
    await kinesisHandler(cardActivity, { store: storeWithSink().store, log: logInto(lines), metrics: { namespace: 'Fraud' } })(kinesisEvent([txn('card-1'), '{not json']));
    expect(lines[1]).toEqual({
      _aws: {
        Timestamp: expect.any(Number),
        CloudWatchMetrics: [
          {
            Namespace: 'Fraud',
            Dimensions: [['Group', 'Source']],
            Metrics: [
              { Name: 'Records', Unit: 'Count' },
              { Name: 'Written', Unit: 'Count' },
              { Name: 'Poison', Unit: 'Count' },
              { Name: 'Retried', Unit: 'Count' },
              { Name: 'Reported', Unit: 'Count' },
              { Name: 'DurationMs', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      Group: 'card-activity',
      Source: 'kinesis',
      Records: 2,
      Written: 1,
      Poison: 1,
      Retried: 0,
      Reported: 0,
      DurationMs: lines[0]?.['durationMs'],
    });
  });

  it('prints one line per batch to the console by default, and none with log: false', async () => {
    const printed = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { store } = storeWithSink();
    await kinesisHandler(cardActivity, { store })(kinesisEvent([txn('card-1')]));
    await kinesisHandler(cardActivity, { store, log: false })(kinesisEvent([txn('card-2')]));
    expect(printed).toHaveBeenCalledTimes(1);
    expect(JSON.parse(printed.mock.calls[0]?.[0] as string)).toMatchObject({ message: 'skewless batch', records: 1, written: 1 });
  });
});
