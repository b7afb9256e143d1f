import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { dynamoDbAggregationState } from '../src/aws/index.js';
import { type AggregationStateStore, createFeatureStore, type FeatureStore } from '../src/index.js';
import { localAggregationState } from '../src/local/index.js';
import { dynamoDbStreamHandler, kafkaHandler, kinesisHandler } from '../src/lambda/index.js';
import type { KafkaEvent, KinesisStreamEvent } from '../src/lambda/events.js';
import { dynamoDbStreamEvent, kafkaEvent, kinesisEvent, memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';
import { cardActivity, cardVelocity } from './fixtures/groups.js';
import { createFeatureTable } from './setup/tables.js';
import { onlineRefusing } from './fixtures/stores.js';
import { compareSequence, createReducer, emptyState, type EntityState, resumeState, streamOrderOf } from '../src/pipeline/reducer.js';
import { compileAggregations } from '../src/schema/aggregation-spec.js';
import { count } from '../src/index.js';

const START = Date.UTC(2024, 4, 1, 12);

/** A card transaction as the producer sends it; `second` seconds after noon. */
const txn = (card: string, second = 0) => ({ card_id: card, amount_cents: 100 + second, country: 'FR', ts: new Date(START + second * 1000).toISOString() });

/** A store whose online backend refuses the records of the given cards: the handler must report them for redelivery. */
function storeRefusing(...cards: string[]): FeatureStore {
  return createFeatureStore({ online: onlineRefusing(...cards), offline: false });
}

const quiet = { discardPoison: true, log: false } as const;

describe('kinesisHandler reports failures per shard', () => {
  // One event whose records come from two shards, interleaved as an event source mapping could
  // hand them over; each shard's checkpoint is its own.
  function twoShardEvent(): { event: KinesisStreamEvent; seq: (card: string) => string } {
    const a = kinesisEvent([txn('a0'), txn('a1'), txn('a2')], { shardId: 'shardId-000000000000', streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/cards' });
    const b = kinesisEvent([txn('b0'), txn('b1'), txn('b2')], { shardId: 'shardId-000000000001', streamArn: 'arn:aws:kinesis:us-east-1:123456789012:stream/cards' });
    const records = [a.Records[0], b.Records[0], a.Records[1], b.Records[1], a.Records[2], b.Records[2]].map((r) => r!);
    const byCard = new Map(records.map((r) => [JSON.parse(Buffer.from(r.kinesis.data, 'base64').toString('utf8')).card_id as string, r.kinesis.sequenceNumber]));
    return { event: { Records: records }, seq: (card) => byCard.get(card) as string };
  }

  it('names the first failure of the failing shard and that shard\'s later records, and nothing of the other shard', async () => {
    const store = storeRefusing('a1');
    const { event, seq } = twoShardEvent();
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([seq('a1'), seq('a2')]);
    // The other shard went through, also its records that came after the failure in the event.
    for (const card of ['a0', 'b0', 'b1', 'b2']) expect(await store.get(cardActivity, card)).toBeDefined();
    await store.close();
  });

  it('names each shard from its own first failure when both shards fail', async () => {
    const store = storeRefusing('a2', 'b0');
    const { event, seq } = twoShardEvent();
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([seq('b0'), seq('b1'), seq('a2'), seq('b2')]);
    await store.close();
  });
});

describe('kafkaHandler reports failures per topic-partition', () => {
  /** One event holding the records of several topic-partitions, as MSK delivers them (keyed `<topic>-<partition>`). */
  function merged(...events: KafkaEvent[]): KafkaEvent {
    return { ...(events[0] as KafkaEvent), records: Object.assign({}, ...events.map((e) => e.records)) };
  }
  const reported = (response: Awaited<ReturnType<ReturnType<typeof kafkaHandler>>>) => response.batchItemFailures.map((f) => f.itemIdentifier);

  it('keeps two partitions of one topic apart: only the failing partition is reported, from its first failure', async () => {
    const store = storeRefusing('p0-1');
    // The same offsets in both partitions: only the partition tells them apart.
    const event = merged(
      kafkaEvent([txn('p0-0'), txn('p0-1'), txn('p0-2')], { topic: 'card-events', partition: 0, firstOffset: 100 }),
      kafkaEvent([txn('p1-0'), txn('p1-1'), txn('p1-2')], { topic: 'card-events', partition: 1, firstOffset: 100 }),
    );
    const response = await kafkaHandler(cardActivity, { store, ...quiet })(event);
    expect(reported(response)).toEqual([
      { partition: 'card-events-0', offset: 101 },
      { partition: 'card-events-0', offset: 102 },
    ]);
    for (const card of ['p0-0', 'p1-0', 'p1-1', 'p1-2']) expect(await store.get(cardActivity, card)).toBeDefined();
    await store.close();
  });

  it('keeps the same partition number of two topics apart: only the failing topic\'s partition is reported', async () => {
    const store = storeRefusing('cards-0');
    const event = merged(
      kafkaEvent([txn('cards-0'), txn('cards-1')], { topic: 'card-events', partition: 3, firstOffset: 7 }),
      kafkaEvent([txn('refunds-0'), txn('refunds-1')], { topic: 'refund-events', partition: 3, firstOffset: 7 }),
    );
    const response = await kafkaHandler(cardActivity, { store, ...quiet })(event);
    expect(reported(response)).toEqual([
      { partition: 'card-events-3', offset: 7 },
      { partition: 'card-events-3', offset: 8 },
    ]);
    for (const card of ['refunds-0', 'refunds-1']) expect(await store.get(cardActivity, card)).toBeDefined();
    await store.close();
  });
});

/**
 * Where the positions are kept between invocations: each backend of aggregation state. DynamoDB
 * without a cache, so every batch reads the positions back from the table.
 */
const stateBackends: [string, () => Promise<AggregationStateStore>][] = [
  ['memory', async () => memoryAggregationState()],
  ['local DuckDB', () => localAggregationState({ memory: true })],
  [
    'DynamoDB (dynalite)',
    async () => {
      const client = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
      const tableName = `positions-${Math.random().toString(36).slice(2, 10)}`;
      await createFeatureTable(client, tableName);
      // Until the table is ACTIVE, DynamoDB answers ResourceNotFound and the batch is (rightly) reported.
      return dynamoDbAggregationState({ client, tableName, cacheEntities: 0 });
    },
  ],
];

/** A store for a group with aggregations: state per entity, with the last applied position per stream. */
async function statefulStore(openState: () => Promise<AggregationStateStore>): Promise<FeatureStore> {
  return createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: await openState() });
}

/** The batch log line's counts. */
function counting(): { log: (line: string) => void; last: () => { records: number; written: number; duplicate: number; reported: number } } {
  const lines: string[] = [];
  return { log: (line) => lines.push(line), last: () => JSON.parse(lines[lines.length - 1] as string) };
}

async function offlineCounts(store: FeatureStore, card: string): Promise<number[]> {
  const { offline } = await store.backends();
  const rows = (await offline!.scan(cardVelocity)).filter((r) => r['card_id'] === card);
  return rows.map((r) => Number(r['n_1h'])).sort((x, y) => x - y);
}

describe.each(stateBackends)('the redelivery guard compares Kafka offsets as numbers (%s state)', (_name, openState) => {
  it('aggregates and writes offsets 10..89 that arrive after offset 9: none is taken for a redelivery', async () => {
    const store = await statefulStore(openState);
    const logged = counting();
    const handler = kafkaHandler(cardVelocity, { store, discardPoison: true, log: logged.log });
    expect(await handler(kafkaEvent([txn('k', 0)], { topic: 'card-events', partition: 0, firstOffset: 9 }))).toEqual({ batchItemFailures: [] });
    expect((await store.get(cardVelocity, 'k'))?.n_1h).toBe(1);
    const later = Array.from({ length: 80 }, (_, i) => txn('k', i + 1));
    expect(await handler(kafkaEvent(later, { topic: 'card-events', partition: 0, firstOffset: 10 }))).toEqual({ batchItemFailures: [] });
    expect(logged.last()).toMatchObject({ written: 80, duplicate: 0, reported: 0 });
    // Every one of the 81 events counted, each record written with its own count.
    expect((await store.get(cardVelocity, 'k'))?.n_1h).toBe(81);
    expect(await offlineCounts(store, 'k')).toEqual(Array.from({ length: 81 }, (_, i) => i + 1));
    // And a real redelivery of offsets already applied is still recognised.
    await handler(kafkaEvent(later.slice(75), { topic: 'card-events', partition: 0, firstOffset: 85 }));
    expect(logged.last()).toMatchObject({ duplicate: 5 });
    expect((await store.get(cardVelocity, 'k'))?.n_1h).toBe(81);
    await store.close();
  });
});

describe.each(stateBackends)('the redelivery guard compares Kinesis sequence numbers as numbers (%s state)', (_name, openState) => {
  /** A one-shard Kinesis event whose records carry these sequence numbers. */
  function withSequences(payloads: readonly unknown[], sequences: readonly string[]): KinesisStreamEvent {
    const event = kinesisEvent(payloads, { shardId: 'shardId-000000000000' });
    return {
      Records: event.Records.map((r, i) => ({
        ...r,
        kinesis: { ...r.kinesis, sequenceNumber: sequences[i] as string },
        eventID: `shardId-000000000000:${sequences[i]}`,
      })),
    };
  }

  async function run(first: readonly string[], then: readonly string[]) {
    const store = await statefulStore(openState);
    const logged = counting();
    const handler = kinesisHandler(cardVelocity, { store, discardPoison: true, log: logged.log });
    expect(await handler(withSequences(first.map((_, i) => txn('s', i)), first))).toEqual({ batchItemFailures: [] });
    expect(await handler(withSequences(then.map((_, i) => txn('s', first.length + i)), then))).toEqual({ batchItemFailures: [] });
    const result = { ...logged.last(), n: (await store.get(cardVelocity, 's'))?.n_1h };
    await store.close();
    return result;
  }

  it("applies '10' and '11' after '9' (one digit more, so greater, though text would sort it first)", async () => {
    expect(await run(['9'], ['10', '11'])).toMatchObject({ duplicate: 0, n: 3 });
  });

  it('applies a 57-digit sequence number after the greatest 56-digit one', async () => {
    expect(await run(['9'.repeat(56)], [`1${'0'.repeat(56)}`])).toMatchObject({ duplicate: 0, n: 2 });
  });

  it('applies consecutive 56-digit sequence numbers, which a double could not tell apart', async () => {
    // Kinesis numbers are about 5e55: doubles near there are 2^133 apart, so +1 and +2 would compare equal.
    const applied = '49590338271490256608559692538361571095921575989136588898';
    expect(await run([applied], ['49590338271490256608559692538361571095921575989136588899', '49590338271490256608559692538361571095921575989136588900'])).toMatchObject({ duplicate: 0, n: 3 });
  });

  it('takes a shorter, smaller sequence number after a 56-digit one for a redelivery, though text would sort it last', async () => {
    expect(await run(['49590338271490256608559692538361571095921575989136588898'], ['9'])).toMatchObject({ duplicate: 1, n: 1 });
  });
});

describe.each(stateBackends)("one entity's records from several partition keys of a shard (%s state)", (_name, openState) => {
  // Lambda reads a shard in several batches at once when ParallelizationFactor is above 1, and keeps
  // only each partition key in order (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html):
  // an entity's records under two partition keys may come in either order, in two batches.
  it('counts every Kinesis record once, whichever partition key\'s batch runs first, and still knows a redelivery', async () => {
    const store = await statefulStore(openState);
    const logged = counting();
    const handler = kinesisHandler(cardVelocity, { store, discardPoison: true, log: logged.log });
    // A merchant-like entity on a stream partitioned by something else: keys u0 and u1, alternating.
    const event = kinesisEvent(Array.from({ length: 10 }, (_, i) => txn('m', i)), { partitionKey: (_p, i) => `u${i % 2}` });
    const lane = (key: string): KinesisStreamEvent => ({ Records: event.Records.filter((r) => r.kinesis.partitionKey === key) });
    // The later key's batch first: its sequence numbers are above every one of the other batch.
    expect(await handler(lane('u1'))).toEqual({ batchItemFailures: [] });
    expect(await handler(lane('u0'))).toEqual({ batchItemFailures: [] });
    expect(logged.last()).toMatchObject({ written: 5, duplicate: 0 });
    // Each batch redelivered: all of it is a duplicate.
    await handler(lane('u0'));
    expect(logged.last()).toMatchObject({ duplicate: 5 });
    await handler(lane('u1'));
    expect(logged.last()).toMatchObject({ duplicate: 5 });
    // The next event counts all ten before it, once each.
    await handler(kinesisEvent([txn('m', 20)], { partitionKey: () => 'u0' }));
    expect((await store.get(cardVelocity, 'm'))?.n_1h).toBe(11);
    await store.close();
  });

  it('counts every DynamoDB stream record once when the entity is not the table\'s key: each item is in order, items are not', async () => {
    // Cards' transactions from a table keyed by transaction: Lambda keeps each item's changes in order
    // (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html), not two items' changes.
    const store = await statefulStore(openState);
    const logged = counting();
    const handler = dynamoDbStreamHandler(cardVelocity, { store, discardPoison: true, log: logged.log });
    const event = dynamoDbStreamEvent(Array.from({ length: 8 }, (_, i) => ({ eventName: 'INSERT' as const, keys: { txn_id: `t${i}` }, newImage: { txn_id: `t${i}`, ...txn('c', i) } })));
    const half = (rest: number): typeof event => ({ Records: event.Records.filter((_, i) => i % 2 === rest) });
    await handler(half(1));
    await handler(half(0));
    expect(logged.last()).toMatchObject({ written: 4, duplicate: 0 });
    await handler(half(0));
    expect(logged.last()).toMatchObject({ duplicate: 4 });
    await handler(dynamoDbStreamEvent([{ eventName: 'INSERT', keys: { txn_id: 't8' }, newImage: { txn_id: 't8', ...txn('c', 20) } }]));
    expect((await store.get(cardVelocity, 'c'))?.n_1h).toBe(9);
    await store.close();
  });
});

describe.each(stateBackends)('positions let go, as the state is stored (%s state)', (_name, openState) => {
  it("keeps a position per partition key only while its events are within the allowed lateness (5m) of the entity's newest", async () => {
    const store = await statefulStore(openState);
    const handler = kinesisHandler(cardVelocity, { store, discardPoison: true, log: false });
    // A key per record, a minute apart: as a merchant's group on a stream partitioned by card.
    const minutes = Array.from({ length: 12 }, (_, i) => txn('m', i * 60));
    await handler(kinesisEvent(minutes, { partitionKey: (_p, i) => `card-${i}` }));
    const { p, q } = ((await (await store.aggregationState(cardVelocity)).load(cardVelocity, ['m'])).get('m') as { state: EntityState }).state;
    // Newest at minute 11: minutes 6 to 11 are within five minutes of it, 0 to 5 are let go.
    expect(Object.keys(p).map((k) => k.split('#')[1])).toEqual(['card-6', 'card-7', 'card-8', 'card-9', 'card-10', 'card-11']);
    expect(Object.keys(q ?? {})).toEqual(Object.keys(p));
    expect((await store.get(cardVelocity, 'm'))?.n_1h).toBe(12);
    await store.close();
  });
});

describe('the positions a state keeps', () => {
  // A 1h window and 10m of lateness: an event more than 10 minutes older than the newest is late.
  const compiled = compileAggregations({ n_1h: count({ window: '1h' }) }, { group: 'g', specs: [], dateAsEpoch: false, collectionsAllowed: true, allowedLateness: '10m', compaction: undefined });
  const reducer = createReducer(compiled as NonNullable<typeof compiled>);
  const at = (minute: number) => START + minute * 60_000;
  const shard = 'kinesis:shardId-000000000000';
  const order = (key: string, seq: string) => streamOrderOf({ source: 'kinesis', shardId: 'shardId-000000000000', sequenceNumber: seq, partitionKey: key });

  it('keeps the newest event time each partition key gave', () => {
    const state = emptyState();
    reducer.apply(state, at(0), {}, order('a', '1'));
    reducer.apply(state, at(1), {}, order('b', '2'));
    reducer.apply(state, at(-5), {}, order('b', '3'));
    expect(state.p).toEqual({ [`${shard}#a`]: '1', [`${shard}#b`]: '3' });
    expect(state.q).toEqual({ [`${shard}#a`]: at(0), [`${shard}#b`]: at(1) });
  });

  it('lets a partition key go once its newest event is more than the allowed lateness older than the newest, not at exactly that age', () => {
    const state = emptyState();
    reducer.apply(state, at(0), {}, order('a', '1'));
    reducer.apply(state, at(1), {}, order('b', '2'));
    // 10 minutes after a's event: a's events are not late yet, so a stays.
    reducer.apply(state, at(10), {}, order('c', '3'));
    expect(Object.keys(state.p)).toEqual([`${shard}#a`, `${shard}#b`, `${shard}#c`]);
    reducer.apply(state, at(11), {}, order('c', '4'));
    expect(state.p).toEqual({ [`${shard}#b`]: '2', [`${shard}#c`]: '4' });
    expect(state.q).toEqual({ [`${shard}#b`]: at(1), [`${shard}#c`]: at(11) });
  });

  it('takes a redelivery of a position let go for late, leaving the state as it was', () => {
    const state = emptyState();
    reducer.apply(state, at(0), {}, order('a', '1'));
    reducer.apply(state, at(11), {}, order('c', '2'));
    expect(Object.keys(state.p)).toEqual([`${shard}#c`]);
    const events = structuredClone(state.e);
    // a's event again: no position remembers it, but it is late, so the state does not take it.
    expect(reducer.apply(state, at(0), {}, order('a', '1')).status).toBe('late');
    expect(state.e).toEqual(events);
    expect(reducer.apply(state, at(12), {}, order('c', '3'))).toEqual({ status: 'applied', values: { n_1h: 3 } });
  });

  it("reads a Kinesis state saved before partition keys were kept: a partition key new to it is compared with its shard's position, which goes like any other", () => {
    const state = resumeState({ v: 1, t: at(5), p: { [shard]: '50' }, e: [[at(5)]], b: [] });
    // The shard's records are no newer than the state's newest event.
    expect(state.q).toEqual({ [shard]: at(5) });
    // Applied before the upgrade, under the shard's position.
    expect(reducer.apply(state, at(5), {}, order('a', '40')).status).toBe('duplicate');
    expect(reducer.apply(state, at(6), {}, order('a', '60')).status).toBe('applied');
    expect(state.p).toEqual({ [shard]: '50', [`${shard}#a`]: '60' });
    // The shard's records are no newer than the state's newest event then, at(5).
    reducer.apply(state, at(16), {}, order('b', '70'));
    expect(state.p).toEqual({ [`${shard}#a`]: '60', [`${shard}#b`]: '70' });
    reducer.apply(state, at(17), {}, order('b', '71'));
    expect(state.p).toEqual({ [`${shard}#b`]: '71' });
  });

  it("does not compare a DynamoDB stream's records with the one position a state saved before kept: it held every shard's", () => {
    const state = resumeState({ v: 1, t: at(5), p: { 'dynamodb-stream:': '9'.repeat(21) }, e: [[at(5)]], b: [] });
    const item = (key: string, seq: string) => streamOrderOf({ source: 'dynamodb-stream', sequenceNumber: seq, partitionKey: `{"order_id":{"S":"${key}"}}` });
    expect(reducer.apply(state, at(6), {}, item('o-1', '100')).status).toBe('applied');
    expect(reducer.apply(state, at(7), {}, item('o-1', '100')).status).toBe('duplicate');
  });

  it('lets positions go only when the newest event time advances: one resumed already past the line stays until then', () => {
    // Saved under a longer allowed lateness: a's newest event is 15 minutes older than the newest.
    const state = resumeState({ v: 1, t: at(15), p: { [`${shard}#a`]: '1', [`${shard}#b`]: '2' }, q: { [`${shard}#a`]: at(0), [`${shard}#b`]: at(15) }, e: [[at(0)], [at(15)]], b: [] });
    // An event older than the newest, and not late, moves no line: a stays, and its redelivery is a duplicate.
    expect(reducer.apply(state, at(14), {}, order('b', '3')).status).toBe('applied');
    expect(Object.keys(state.p)).toEqual([`${shard}#a`, `${shard}#b`]);
    expect(reducer.apply(state, at(0), {}, order('a', '1')).status).toBe('duplicate');
    reducer.apply(state, at(16), {}, order('b', '4'));
    expect(state.p).toEqual({ [`${shard}#b`]: '4' });
  });

  it('keeps a position a late record gave until the newest event time advances, an event at that very time not moving it', () => {
    const state = emptyState();
    reducer.apply(state, at(20), {}, order('b', '1'));
    // Late, on a partition key new to the state: its position is kept, already behind the line.
    expect(reducer.apply(state, at(5), {}, order('c', '1')).status).toBe('late');
    expect(reducer.apply(state, at(20), {}, order('b', '2')).status).toBe('applied');
    expect(Object.keys(state.p)).toEqual([`${shard}#b`, `${shard}#c`]);
    expect(reducer.apply(state, at(5), {}, order('c', '1')).status).toBe('duplicate');
    reducer.apply(state, at(21), {}, order('b', '3'));
    expect(Object.keys(state.p)).toEqual([`${shard}#b`]);
  });

  it('resumes a stored state as a copy, keeping the event times it has', () => {
    const stored = { v: 1 as const, t: at(5), p: { [`${shard}#a`]: '1' }, q: { [`${shard}#a`]: at(3) }, e: [[at(3)], [at(5)]], b: [] };
    const state = resumeState(stored);
    expect(state).toEqual(stored);
    reducer.apply(state, at(6), {}, order('a', '2'));
    expect(stored).toEqual({ v: 1, t: at(5), p: { [`${shard}#a`]: '1' }, q: { [`${shard}#a`]: at(3) }, e: [[at(3)], [at(5)]], b: [] });
    expect(state.q).toEqual({ [`${shard}#a`]: at(6) });
  });
});

describe("the redelivery guard's stream keys and order", () => {
  it('keys each partition key of a shard as a stream of its own, naming the shard a state saved before them has', () => {
    expect(streamOrderOf({ source: 'kinesis', shardId: 'shardId-000000000001', sequenceNumber: '42', partitionKey: 'card-7' })).toEqual({
      stream: 'kinesis:shardId-000000000001#card-7',
      seq: '42',
      shard: 'kinesis:shardId-000000000001',
    });
    // A DynamoDB stream's records name no shard: no shard position to fall back on.
    expect(streamOrderOf({ source: 'dynamodb-stream', sequenceNumber: '42', partitionKey: '{"id":{"S":"o-1"}}' })).toEqual({ stream: 'dynamodb-stream:#{"id":{"S":"o-1"}}', seq: '42' });
  });

  it('keys each stream as the aggregation state has stored it: a changed key would apply redelivered records again after a deployment', () => {
    expect(streamOrderOf({ source: 'kinesis', shardId: 'shardId-000000000001', sequenceNumber: '42' })).toEqual({ stream: 'kinesis:shardId-000000000001', seq: '42' });
    expect(streamOrderOf({ source: 'sqs', messageGroupId: 'card-7', sequenceNumber: '18' })).toEqual({ stream: 'sqs:card-7', seq: '18' });
    expect(streamOrderOf({ sequenceNumber: '5' })).toEqual({ stream: 'stream:', seq: '5' });
    expect(streamOrderOf({ source: 'msk', topic: 'cards', partition: 3, offset: '9' })).toEqual({ stream: 'msk:cards-3', seq: '9' });
    expect(streamOrderOf({ topic: 'cards', offset: '9' })).toEqual({ stream: 'kafka:cards-0', seq: '9' });
    expect(streamOrderOf({ topic: 'cards', partition: 0, offset: '9' })).toEqual({ stream: 'kafka:cards-0', seq: '9' });
  });

  it('gives no order where the source has none: no position, an offset without a topic, a topic without an offset', () => {
    expect(streamOrderOf(undefined)).toBeUndefined();
    expect(streamOrderOf({ source: 'sqs', messageId: 'm-1' })).toBeUndefined();
    expect(streamOrderOf({ offset: '9' })).toBeUndefined();
    expect(streamOrderOf({ topic: 'cards', partition: 1 })).toBeUndefined();
  });

  it('compares digits by value, leading zeros aside, and anything else as text', () => {
    expect(compareSequence('10', '9')).toBeGreaterThan(0);
    expect(compareSequence('9', '10')).toBeLessThan(0);
    // Every leading zero goes: 0009 is 9.
    expect(compareSequence('0009', '10')).toBeLessThan(0);
    expect(compareSequence('10', '0009')).toBeGreaterThan(0);
    expect(compareSequence('42', '42')).toBe(0);
    // Not digits on one side: as text, where 'a' sorts after '10'.
    expect(compareSequence('a', '10')).toBeGreaterThan(0);
    expect(compareSequence('10', 'a')).toBeLessThan(0);
    expect(compareSequence('b', 'a')).toBe(1);
    expect(compareSequence('a', 'b')).toBe(-1);
    expect(compareSequence('a', 'a')).toBe(0);
  });
});
