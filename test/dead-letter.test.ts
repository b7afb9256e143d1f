import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { createFeatureStore, type DeadLetterEntry, deadLetterMessage, DeadLetterWriteError, type FeatureStore } from '../src/index.js';
import { firehoseTransform, kafkaHandler, kinesisHandler, sqsHandler } from '../src/lambda/index.js';
import { firehoseEvent, kafkaEvent, kinesisEvent, memoryOnline, sqsEvent } from '../src/testing/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { deadLetterContract } from './contracts/dead-letter.js';
import { cardActivity } from './fixtures/groups.js';

let stack: LocalStack | undefined;
afterAll(async () => {
  await stack?.close();
});

deadLetterContract('the local stack', async () => {
  stack = await startLocalStack({ memory: true });
  return {
    sqs: new SQSClient(stack.clientConfig),
    s3: new S3Client({ ...stack.clientConfig, forcePathStyle: true }),
    queueUrlOf: (name) => `${(stack as LocalStack).endpoint}/000000000000/${name}`,
  };
}, { refusesMissingBucket: true });

describe('dead letters say how to read raw back', () => {
  const refused = cardActivity.process(null);
  if (refused.ok) throw new Error('null must be refused');
  const message = (raw: unknown, source?: string) => deadLetterMessage({ group: 'card-activity', raw, error: refused.error, position: source ? { source } : undefined }, new Date(0));
  const valid = { card_id: 'c1', amount_cents: 100, country: 'FR', ts: '2024-05-01T00:00:00Z' };
  const badJson = '{"card_id":';
  const notBase64 = '!!!not base64!!!';
  /** The stored form of each dead letter a handler wrote for `event`, in record order. */
  const letters = async (run: (store: FeatureStore, sink: (entries: readonly DeadLetterEntry[]) => void) => Promise<unknown>) => {
    const dead: DeadLetterEntry[] = [];
    const sink = (entries: readonly DeadLetterEntry[]) => void dead.push(...entries);
    await run(createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: sink }), sink);
    return dead.sort((x, y) => (x.position?.index ?? 0) - (y.position?.index ?? 0)).map((entry) => deadLetterMessage(entry, new Date(0)));
  };
  const undecoded = (text: string) => ({ raw: text, rawEncoding: 'json' });
  const inBase64 = (bytes: string) => ({ raw: Buffer.from(bytes).toString('base64'), rawEncoding: 'base64' });

  it("marks a Kinesis payload base64, as it arrived, whether it failed to parse or the pipeline refused it: decoded, it is the record's bytes", async () => {
    const event = kinesisEvent([badJson, { ...valid, amount_cents: 'lots' }, valid]);
    const stored = await letters((store) => kinesisHandler(cardActivity, { store, log: false })(event));
    expect(stored).toMatchObject([inBase64(badJson), inBase64(JSON.stringify({ ...valid, amount_cents: 'lots' }))]);
    expect(Buffer.from(stored[0]?.raw as string, 'base64').toString('utf8')).toBe(badJson);
  });

  it('keeps Kinesis data that is no base64 as the text it is, not claimed to be base64', async () => {
    const event = kinesisEvent(['placeholder']);
    (event.Records[0] as { kinesis: { data: string } }).kinesis.data = notBase64;
    expect(await letters((store) => kinesisHandler(cardActivity, { store, log: false })(event))).toMatchObject([undecoded(notBase64)]);
  });

  it('marks a Kafka value base64 the same way', async () => {
    const event = kafkaEvent([badJson, { ...valid, country: 7 }, 'placeholder']);
    const records = Object.values(event.records)[0] as unknown as { value: string }[];
    (records[2] as { value: string }).value = notBase64;
    const stored = await letters((store) => kafkaHandler(cardActivity, { store, log: false })(event));
    expect(stored).toMatchObject([inBase64(badJson), inBase64(JSON.stringify({ ...valid, country: 7 })), undecoded(notBase64)]);
  });

  it("marks a Firehose record's data base64, unless it is no base64", async () => {
    const event = firehoseEvent([badJson, { ...valid, ts: 'yesterday' }, 'placeholder']);
    (event.records[2] as { data: string }).data = notBase64;
    const stored = await letters((_, deadLetter) => firehoseTransform(cardActivity, { deadLetter, log: false })(event));
    expect(stored).toMatchObject([inBase64(badJson), inBase64(JSON.stringify({ ...valid, ts: 'yesterday' })), undecoded(notBase64)]);
  });

  it('keeps an SQS body as the text it is', async () => {
    const stored = await letters((store) => sqsHandler(cardActivity, { store, log: false })(sqsEvent([badJson])));
    expect(stored).toMatchObject([undecoded(badJson)]);
  });

  it("keeps an event's value as the JSON it is", () => {
    expect(message({ card_id: 7 }, 'backfill')).toMatchObject({ raw: { card_id: 7 }, rawEncoding: 'json' });
  });

  it('takes the encoding from the entry, never from the source name: text a sink is handed as it is stays json', () => {
    const data = Buffer.from(badJson).toString('base64');
    expect(message(data, 'kinesis')).toMatchObject({ raw: data, rawEncoding: 'json' });
    expect(deadLetterMessage({ group: 'card-activity', raw: data, rawEncoding: 'base64', error: refused.error, position: undefined }, new Date(0))).toMatchObject({ raw: data, rawEncoding: 'base64' });
  });

  it('writes bytes as base64', () => {
    expect(message(new Uint8Array([0, 255, 1]))).toMatchObject({ raw: 'AP8B', rawEncoding: 'base64' });
  });

  it('stamps the message now when no time is given, and names a wrong argument instead of failing inside', () => {
    const before = Date.now();
    const stamped = deadLetterMessage({ group: 'card-activity', raw: valid, error: refused.error, position: undefined });
    expect(Date.parse(stamped.deadLetteredAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(stamped.deadLetteredAt)).toBeLessThanOrEqual(Date.now());
    const entry = { group: 'card-activity', raw: valid, error: refused.error, position: undefined };
    expect(() => deadLetterMessage(entry, 'now' as never)).toThrow(/^deadLetterMessage\[1\]: expected a valid Date, got "now"$/);
    expect(() => deadLetterMessage({ group: 'card-activity', raw: valid } as never)).toThrow(/^deadLetterMessage\[0\]\.error: expected a SkewlessError, got undefined$/);
    expect(() => deadLetterMessage(undefined as never)).toThrow(/^deadLetterMessage\[0\]: expected a dead-letter entry: \{ group, raw, error, position \}, got undefined$/);
  });
});

describe('a sink that took some entries of a write', () => {
  const poison = [{ card_id: 'p1' }, { card_id: 'p2' }, { card_id: 'p3' }];
  const statuses = async (deadLetter: (entries: readonly DeadLetterEntry[]) => void) => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter });
    const summary = await store.ingest(cardActivity, poison);
    await store.close();
    return summary.outcomes.map((o) => o.status);
  };

  it('has only the records it names reported, by the very entries it was given', async () => {
    expect(await statuses((entries) => { throw new DeadLetterWriteError('p2 not taken', [entries[1] as DeadLetterEntry]); })).toEqual(['poison', 'failed', 'poison']);
  });

  it('has every record reported when its list is empty, holds copies, or it names none', async () => {
    expect(await statuses(() => { throw new DeadLetterWriteError('?', []); })).toEqual(['failed', 'failed', 'failed']);
    expect(await statuses((entries) => { throw new DeadLetterWriteError('copies', [structuredClone(entries[1]) as DeadLetterEntry]); })).toEqual(['failed', 'failed', 'failed']);
    expect(await statuses(() => { throw Object.assign(new Error('not that class'), { notWritten: [] }); })).toEqual(['failed', 'failed', 'failed']);
  });

  it('is told apart in a handler too: an undecodable record the sink took is dead-lettered, the one it names reported', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: false, deadLetter: (entries) => { throw new DeadLetterWriteError('second not taken', [entries[1] as DeadLetterEntry]); } });
    const event = kinesisEvent(['not json 1', 'not json 2']);
    const response = await kinesisHandler(cardActivity, { store, log: false })(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
    await store.close();
  });
});
