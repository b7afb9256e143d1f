import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { dynamoDbAggregationState } from '../src/aws/index.js';
import { type AggregationStateStore, createFeatureStore, type FeatureStore } from '../src/index.js';
import { localAggregationState } from '../src/local/index.js';
import { kafkaHandler, kinesisHandler } from '../src/lambda/index.js';
import type { KafkaEvent, KinesisStreamEvent } from '../src/lambda/events.js';
import { kafkaEvent, kinesisEvent, memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';
import { cardActivity, cardVelocity } from './fixtures/groups.js';
import { createFeatureTable } from './setup/tables.js';
import { onlineRefusing } from './fixtures/stores.js';
import { compareSequence, streamOrderOf } from '../src/pipeline/reducer.js';

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

describe("the redelivery guard's stream keys and order", () => {
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
