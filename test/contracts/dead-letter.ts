import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { s3DeadLetter, sqsDeadLetter } from '../../src/aws/index.js';
import { createFeatureStore, type DeadLetterEntry, type DeadLetterMessage, type DeadLetterSink, DeadLetterWriteError } from '../../src/index.js';
import { kinesisHandler } from '../../src/lambda/index.js';
import { kinesisEvent, memoryOnline } from '../../src/testing/index.js';
import { cardActivity, validCardEvent } from '../fixtures/groups.js';

export interface DeadLetterServices {
  readonly sqs: SQSClient;
  readonly s3: S3Client;
  /** The URL a queue named `name` would have, on this server, if it existed. */
  readonly queueUrlOf: (name: string) => string;
}

const quiet = { log: false as const };
const unique = (name: string) => `${name}-${Math.random().toString(36).slice(2, 10)}`;

/**
 * The SQS and S3 dead-letter sinks, run against every implementation of those services we have: each
 * poison record arrives as the documented `DeadLetterMessage`, and a sink that fails has its records
 * reported for redelivery, never dropped.
 */
export function deadLetterContract(
  name: string,
  open: () => Promise<DeadLetterServices>,
  /** S3 refuses a PutObject to a missing bucket; the local stack creates the bucket instead. */
  options: { readonly refusesMissingBucket: boolean },
): void {
  describe(`dead-letter sinks: ${name}`, () => {
    let sqs: SQSClient;
    let s3: S3Client;
    let queueUrlOf: (name: string) => string;

    beforeAll(async () => {
      ({ sqs, s3, queueUrlOf } = await open());
    });

    const storeWith = (deadLetter: DeadLetterSink) => createFeatureStore({ online: memoryOnline(), offline: false, deadLetter });

    const queue = async (prefix: string) => (await sqs.send(new CreateQueueCommand({ QueueName: unique(prefix) }))).QueueUrl as string;

    /** Every message waiting, its body parsed; the attributes must say what the body says. */
    async function receiveAll(queueUrl: string): Promise<DeadLetterMessage[]> {
      const out: DeadLetterMessage[] = [];
      for (;;) {
        const page = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }));
        if (!page.Messages?.length) return out;
        for (const m of page.Messages) {
          const body = JSON.parse(m.Body as string) as DeadLetterMessage;
          expect(m.MessageAttributes?.['group']).toMatchObject({ DataType: 'String', StringValue: body.group });
          expect(m.MessageAttributes?.['errorCode']).toMatchObject({ DataType: 'String', StringValue: body.error.code });
          out.push(body);
        }
      }
    }

    it('sends every poison record with its raw payload, error and position, in batches of at most 10', async () => {
      const queueUrl = await queue('card-dlq');
      const store = storeWith(sqsDeadLetter({ client: sqs, queueUrl }));
      const payloads = Array.from({ length: 25 }, (_, i) => (i % 2 === 0 ? `not json ${i}` : { ...validCardEvent, card_id: `c${i}`, amount_cents: 'x' }));
      const event = kinesisEvent(payloads);
      const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
      expect(response.batchItemFailures).toEqual([]);
      const messages = await receiveAll(queueUrl);
      expect(messages).toHaveLength(25);
      const bySequence = new Map(messages.map((m) => [m.position?.sequenceNumber, m]));
      event.Records.forEach((record, i) => {
        const message = bySequence.get(record.kinesis.sequenceNumber);
        expect(message).toMatchObject({ group: 'card-activity', raw: record.kinesis.data, rawEncoding: 'base64', position: { source: 'kinesis', shardId: record.eventID.split(':')[0] } });
        expect(Buffer.from(message?.raw as string, 'base64').toString('utf8')).toBe(typeof payloads[i] === 'string' ? payloads[i] : JSON.stringify(payloads[i]));
        expect(message?.error).toMatchObject({ name: 'SourceValidationError', code: 'SOURCE_VALIDATION' });
        // Text that is not JSON is validated as the string it is.
        if (i % 2 === 1) expect(message?.error.issues[0]?.path).toEqual(['amount_cents']);
        expect(Date.parse(message?.deadLetteredAt ?? '')).not.toBeNaN();
      });
      await store.close();
    });

    it('sends dead letters larger than the queue allows to the oversized sink', async () => {
      const queueUrl = await queue('small-dlq');
      const oversized: unknown[] = [];
      const store = storeWith(sqsDeadLetter({ client: sqs, queueUrl, maxMessageBytes: 2000, oversized: (entries) => void oversized.push(...entries) }));
      const response = await kinesisHandler(cardActivity, { store, ...quiet })(kinesisEvent(['small', `big ${'x'.repeat(5000)}`]));
      expect(response.batchItemFailures).toEqual([]);
      expect(oversized).toHaveLength(1);
      expect(await receiveAll(queueUrl)).toHaveLength(1);
      await store.close();
    });

    it('reports the records when the queue does not exist, instead of dropping them', async () => {
      const store = storeWith(sqsDeadLetter({ client: sqs, queueUrl: queueUrlOf(unique('no-such-queue')), retry: { attempts: 1 } }));
      const event = kinesisEvent([{ ...validCardEvent, card_id: 'fine' }, 'poison']);
      const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
      expect(await store.get(cardActivity, 'fine')).toBeDefined();
      await store.close();
    });

    it('also oversized with no sink for them: reported, not dropped, and the dead letters that fit still sent', async () => {
      // The smallest MaximumMessageSize a queue takes (SetQueueAttributes: 1,024 to 1,048,576 bytes).
      const queueUrl = await queue('tiny-dlq');
      const store = storeWith(sqsDeadLetter({ client: sqs, queueUrl, maxMessageBytes: 1_024 }));
      const event = kinesisEvent(['poison 1', 'poison 2', `poison ${'x'.repeat(2_000)}`]);
      const lines: Record<string, unknown>[] = [];
      const response = await kinesisHandler(cardActivity, { store, log: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) })(event);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[2]?.kinesis.sequenceNumber }]);
      expect(lines[0]).toMatchObject({ poison: 2, reported: 1 });
      const sent = await receiveAll(queueUrl);
      expect(sent.map((m) => Buffer.from(m.raw as string, 'base64').toString('utf8')).sort()).toEqual(['poison 1', 'poison 2']);
      // Records the source schema refuses, handed to ingest: the one that fits is dead-lettered, the other reported.
      const summary = await store.ingest(cardActivity, [{ card_id: 'p1' }, { card_id: 'p2', note: 'x'.repeat(2_000) }]);
      expect(summary.outcomes.map((o) => o.status)).toEqual(['poison', 'failed']);
      expect(summary.outcomes[1]).toMatchObject({ error: { code: 'WRITE_FAILED', message: expect.stringContaining("1 dead letter(s) exceed the queue's 1024-byte message limit and no oversized sink is set") } });
      expect((await receiveAll(queueUrl)).map((m) => m.raw)).toEqual([{ card_id: 'p1' }]);
      await store.close();
    });

    it("sends the dead letters that fit when the oversized sink fails, and reports what that sink says it did not take, or all it was given", async () => {
      const big = (n: number) => ({ card_id: `big-${n}`, note: 'x'.repeat(2_000) });
      for (const [name, fail, statuses, said] of [
        // It took big-0, not big-1: big-0 counts as dead-lettered.
        ['naming one', (entries: readonly DeadLetterEntry[]) => { throw new DeadLetterWriteError('one not stored', entries.slice(1)); }, ['poison', 'poison', 'poison', 'failed'], 'one not stored'],
        // It says nothing of what it took: neither counts as dead-lettered.
        ['naming none', () => { throw new Error('down'); }, ['failed', 'poison', 'poison', 'failed'], 'down'],
      ] as const) {
        const queueUrl = await queue('small-dlq');
        const store = storeWith(sqsDeadLetter({ client: sqs, queueUrl, maxMessageBytes: 1_024, oversized: fail }));
        const summary = await store.ingest(cardActivity, [big(0), { card_id: 'p1' }, { card_id: 'p2' }, big(1)]);
        expect(summary.outcomes.map((o) => o.status), name).toEqual(statuses);
        expect(summary.outcomes[3], name).toMatchObject({ error: { code: 'WRITE_FAILED', message: expect.stringContaining(`the oversized sink failed: ${said}`) } });
        expect((await receiveAll(queueUrl)).map((m) => m.raw).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), name).toEqual([{ card_id: 'p1' }, { card_id: 'p2' }]);
        await store.close();
      }
    });

    it('writes one NDJSON object per write under the group and hour prefix, keeping bytes exact', async () => {
      const bucket = unique('dlq-bucket');
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const store = storeWith(s3DeadLetter({ client: s3, bucket, prefix: 'dlq' }));
      const event = kinesisEvent(['one', 'two', { ...validCardEvent, card_id: 'ok' }]);
      expect((await kinesisHandler(cardActivity, { store, ...quiet })(event)).batchItemFailures).toEqual([]);
      const refused = cardActivity.process(null);
      if (refused.ok) throw new Error('null must be refused');
      await store.deadLetter([{ group: 'card-activity', raw: new Uint8Array([0, 255, 1]), error: refused.error, position: undefined }]);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dlq/card-activity/' }));
      const keys = (listed.Contents ?? []).map((o) => o.Key as string);
      expect(keys).toHaveLength(2);
      for (const key of keys) expect(key).toMatch(/^dlq\/card-activity\/year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}\/\d{8}T\d{9}Z-[0-9a-f-]{36}\.ndjson$/);
      const lines: DeadLetterMessage[] = [];
      for (const key of keys) {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const text = await object.Body?.transformToString();
        lines.push(...(text ?? '').trim().split('\n').map((l) => JSON.parse(l) as DeadLetterMessage));
      }
      // Kinesis data is base64 text, kept as it arrived; bytes are written as base64: both decode to the payload.
      expect(lines.map((l) => l.rawEncoding)).toEqual(['base64', 'base64', 'base64']);
      const decoded = lines.map((l) => Buffer.from(l.raw as string, 'base64'));
      expect(decoded.map((b) => b.toString('hex')).sort()).toEqual([Buffer.from('one'), Buffer.from('two'), Buffer.from([0, 255, 1])].map((b) => b.toString('hex')).sort());
      await store.close();
    });

    it("still writes the other groups' objects when one group's PutObject fails, and names only that group's entries", async () => {
      const bucket = unique('dlq-bucket');
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      // Neither S3 here refuses one key and takes another: the client refuses the PutObject of one
      // group's object (as a bucket policy denying that prefix would), and sends the rest to S3.
      const refusing = {
        send: (command: { readonly input?: { readonly Key?: string } }) =>
          command.input?.Key?.startsWith('dlq/denied-group/')
            ? Promise.reject(Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }))
            : s3.send(command as never),
        destroy: () => {},
      };
      const sink = s3DeadLetter({ client: refusing, bucket, prefix: 'dlq', retry: { attempts: 1 } });
      const refused = cardActivity.process(null);
      if (refused.ok) throw new Error('null must be refused');
      const entry = (group: string, raw: unknown): DeadLetterEntry => ({ group, raw, error: refused.error, position: undefined });
      const entries = [entry('card-activity', 'a'), entry('denied-group', 'b'), entry('card-activity', 'c'), entry('denied-group', 'd')];
      const failureOf = async (given: readonly DeadLetterEntry[]): Promise<unknown> => {
        try {
          await (typeof sink === 'function' ? sink(given) : sink.write(given));
          return undefined;
        } catch (error) {
          return error;
        }
      };
      const failure = await failureOf(entries);
      expect(failure).toBeInstanceOf(DeadLetterWriteError);
      expect((failure as DeadLetterWriteError).notWritten).toEqual([entries[1], entries[3]]);
      expect((failure as Error).message).toMatch(/^dead-letter sink: PutObject s3:\/\/[^ ]+\/dlq\/denied-group\/.+ failed: Access Denied$/);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'dlq/' }));
      expect((listed.Contents ?? []).map((o) => (o.Key as string).split('/')[1])).toEqual(['card-activity']);
      const written = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: listed.Contents?.[0]?.Key }));
      const lines = ((await written.Body?.transformToString()) ?? '').trim().split('\n').map((l) => JSON.parse(l) as DeadLetterMessage);
      expect(lines.map((l) => l.raw)).toEqual(['a', 'c']);
      // Every group refused: nothing was taken, a plain retryable failure.
      const none = await failureOf([entries[1] as DeadLetterEntry]);
      expect(none).not.toBeInstanceOf(DeadLetterWriteError);
      expect(none).toMatchObject({ code: 'WRITE_FAILED', retryable: true });
    });

    it.skipIf(!options.refusesMissingBucket)('reports the records when the bucket does not exist, instead of dropping them', async () => {
      const store = storeWith(s3DeadLetter({ client: s3, bucket: unique('no-such-bucket'), retry: { attempts: 1 } }));
      const event = kinesisEvent([{ ...validCardEvent, card_id: 'fine' }, 'poison']);
      const response = await kinesisHandler(cardActivity, { store, ...quiet })(event);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[1]?.kinesis.sequenceNumber }]);
      expect(await store.get(cardActivity, 'fine')).toBeDefined();
      await store.close();
    });
  });
}
