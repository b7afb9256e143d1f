import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3DeadLetter, sqsDeadLetter } from '../src/aws/index.js';
import { createFeatureStore, type DeadLetterMessage } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { type LocalStack, localOnline, startLocalStack } from '../src/local/index.js';
import { kinesisEvent } from '../src/testing/index.js';
import { cardActivity, validCardEvent } from './fixtures/groups.js';

let stack: LocalStack;
let sqs: SQSClient;
let s3: S3Client;
beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  sqs = new SQSClient(stack.clientConfig);
  s3 = new S3Client({ ...stack.clientConfig, forcePathStyle: true });
});
afterAll(async () => {
  sqs.destroy();
  s3.destroy();
  await stack.close();
});

const quiet = { log: false as const };

async function receiveAll(queueUrl: string): Promise<DeadLetterMessage[]> {
  const out: DeadLetterMessage[] = [];
  for (;;) {
    const page = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
    if (!page.Messages?.length) return out;
    for (const m of page.Messages) {
      expect(m.MessageAttributes?.['group']?.StringValue).toBe('card-activity');
      out.push(JSON.parse(m.Body as string) as DeadLetterMessage);
    }
  }
}

describe('sqsDeadLetter', () => {
  it('sends every poison record with its raw payload, error and position, in batches of at most 10', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'card-dlq' }));
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline: false, deadLetter: sqsDeadLetter({ client: sqs, queueUrl: QueueUrl as string }) });
    const payloads = Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? `not json ${i}` : { ...validCardEvent, card_id: `c${i}`, amount_cents: 'x' }));
    const event = kinesisEvent(payloads);
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
    expect(response.batchItemFailures).toEqual([]);
    const messages = await receiveAll(QueueUrl as string);
    expect(messages).toHaveLength(25);
    const bySequence = new Map(messages.map((m) => [m.position?.sequenceNumber, m]));
    event.Records.forEach((record) => {
      const message = bySequence.get(record.kinesis.sequenceNumber);
      expect(message?.error.code).toBe('SOURCE_VALIDATION');
      expect(message?.raw).toBe(record.kinesis.data);
      expect(message?.position?.shardId).toBe(record.eventID.split(':')[0]);
    });
    await store.close();
  });

  it('sends dead letters larger than the queue allows to the oversized sink', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'small-dlq' }));
    const oversized: unknown[] = [];
    const sink = sqsDeadLetter({ client: sqs, queueUrl: QueueUrl as string, maxMessageBytes: 2000, oversized: (entries) => void oversized.push(...entries) });
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline: false, deadLetter: sink });
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(kinesisEvent(['small', `big ${'x'.repeat(5000)}`]));
    expect(response.batchItemFailures).toEqual([]);
    expect(oversized).toHaveLength(1);
    expect(await receiveAll(QueueUrl as string)).toHaveLength(1);
    await store.close();
  });

  it('reports the records when the queue does not exist, instead of dropping them', async () => {
    const store = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: false,
      deadLetter: sqsDeadLetter({ client: sqs, queueUrl: `${stack.endpoint}/000000000000/no-such-queue`, retry: { attempts: 1 } }),
    });
    const event = kinesisEvent([{ ...validCardEvent, card_id: 'fine' }, 'poison']);
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
    expect(await store.get(cardActivity, 'fine')).toBeDefined();
    await store.close();
  });

  it('also oversized with no sink for them: reported, not dropped', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'tiny-dlq' }));
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline: false, deadLetter: sqsDeadLetter({ client: sqs, queueUrl: QueueUrl as string, maxMessageBytes: 100 }) });
    const event = kinesisEvent(['poison']);
    const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
    expect(response.batchItemFailures).toHaveLength(1);
    await store.close();
  });
});

describe('s3DeadLetter', () => {
  it('writes one NDJSON object per write under the group and hour prefix, keeping bytes exact', async () => {
    await s3.send(new (await import('@aws-sdk/client-s3')).CreateBucketCommand({ Bucket: 'dlq-bucket' }));
    const sink = s3DeadLetter({ client: s3, bucket: 'dlq-bucket', prefix: 'dlq' });
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline: false, deadLetter: sink });
    const event = kinesisEvent(['one', 'two', { ...validCardEvent, card_id: 'ok' }]);
    await kinesisHandler(cardActivity, { store, ...quiet })(event);
    const refused = cardActivity.process(null);
    if (refused.ok) throw new Error('null must be refused');
    await store.deadLetter([{ group: 'card-activity', raw: new Uint8Array([0, 255, 1]), error: refused.error, position: undefined }]);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'dlq-bucket', Prefix: 'dlq/card-activity/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key as string);
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) expect(key).toMatch(/^dlq\/card-activity\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/\d{8}T\d{9}Z-[0-9a-f-]{36}\.ndjson$/);
    const lines: DeadLetterMessage[] = [];
    for (const key of keys) {
      const object = await s3.send(new GetObjectCommand({ Bucket: 'dlq-bucket', Key: key }));
      const text = await object.Body?.transformToString();
      lines.push(...(text ?? '').trim().split('\n').map((l) => JSON.parse(l) as DeadLetterMessage));
    }
    expect(lines.filter((l) => l.rawEncoding === 'json').map((l) => l.raw)).toEqual(expect.arrayContaining([event.Records[0]?.kinesis.data, event.Records[1]?.kinesis.data]));
    const bytes = lines.find((l) => l.rawEncoding === 'base64');
    expect(Buffer.from(bytes?.raw as string, 'base64')).toEqual(Buffer.from([0, 255, 1]));
    await store.close();
  });
});
