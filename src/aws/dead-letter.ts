import { createHash, randomUUID } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { BackendError } from '../errors.js';
import { partitionOf } from '../offline/layout.js';
import { type DeadLetterEntry, type DeadLetterSink, DeadLetterWriteError, deadLetterJson, deadLetterSinkSchema, notWrittenBy, sinkFactory } from '../store/dead-letter.js';
import { type AwsClient, lazyClient, sdkClient } from './clients.js';
import { clientConfig, countAttempts, drainWithRetry, type RetryOptions } from './retry.js';
import { loadS3, loadSqs } from './sdk.js';
import * as z from 'zod/mini';
import { checkOptions, describeValue, expected, lazySchema } from '../util/options.js';
import { awsClient, bucketName, objectKey, retryOptions } from './options.js';

/** SQS takes at most 10 messages per SendMessageBatch. */
const SQS_BATCH_ENTRIES = 10;
/** The maximum message size of queues created before August 2025, and the safe default. */
const DEFAULT_MAX_MESSAGE_BYTES = 262_144;

const MESSAGE_BYTES = "the queue's MaximumMessageSize, a whole number of bytes from 1,024 to 1,048,576";
const SQS_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  queueUrl: z.string({ error: (issue) => `expected the queue's URL (https://sqs.<region>.amazonaws.com/<account>/<name>), got ${issue.input === undefined ? 'undefined (is the environment variable set?)' : describeValue(issue.input)}` }).check(
    z.refine((url) => /^https?:\/\/\S+$/.test(url), { error: (issue) => `expected the queue's URL (https://sqs.<region>.amazonaws.com/<account>/<name>), got ${describeValue(issue.input)}` }),
  ),
  client: z.optional(awsClient()),
  // SetQueueAttributes' MaximumMessageSize: 1,024 to 1,048,576 bytes.
  maxMessageBytes: z.optional(
    z.number({ error: expected(MESSAGE_BYTES) }).check(z.refine((n) => Number.isInteger(n) && n >= 1_024 && n <= 1_048_576, { error: expected(MESSAGE_BYTES) })),
  ),
  oversized: z.optional(deadLetterSinkSchema()),
  retry: z.optional(retryOptions()),
}));

const S3_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  bucket: bucketName(),
  prefix: z.optional(objectKey('prefix')),
  client: z.optional(awsClient()),
  retry: z.optional(retryOptions()),
}));

export interface SqsDeadLetterOptions {
  readonly queueUrl: string;
  readonly client?: AwsClient;
  /**
   * The queue's MaximumMessageSize (default 262,144; queues may allow up to 1,048,576). A dead letter
   * larger than this goes to `oversized`; with no `oversized` sink the write fails and the records are
   * reported for redelivery, never dropped.
   */
  readonly maxMessageBytes?: number;
  /** Where dead letters too large for the queue go, typically `s3DeadLetter(...)`. */
  readonly oversized?: DeadLetterSink;
  readonly retry?: RetryOptions;
}

function sinkError(message: string, cause?: unknown): BackendError {
  return new BackendError('WRITE_FAILED', `dead-letter sink: ${message}`, { retryable: true, ...(cause === undefined ? {} : { cause }) });
}

async function writeTo(sink: DeadLetterSink, entries: readonly DeadLetterEntry[]): Promise<void> {
  if (entries.length > 0) await (typeof sink === 'function' ? sink(entries) : sink.write(entries));
}


/**
 * A dead-letter sink on an SQS queue: one message per poison record, holding the raw payload, the
 * error and the source position as JSON (see `DeadLetterMessage`), with `group` and `errorCode`
 * message attributes for filtering. FIFO queues get the group as MessageGroupId.
 *
 * ### Example
 * ```ts
 * import { s3DeadLetter, sqsDeadLetter } from 'skewless/aws';
 * const store = createFeatureStore({
 *   online: sageMakerOnline(),
 *   offline: false,   // SageMaker writes the offline store itself
 *   deadLetter: sqsDeadLetter({ queueUrl: process.env.DLQ_URL!, oversized: s3DeadLetter({ bucket: 'my-dlq-bucket' }) }),
 * });
 * ```
 */
export const sqsDeadLetter: (options: SqsDeadLetterOptions) => DeadLetterSink = /* @__PURE__ */ sinkFactory(makeSqsDeadLetter, 'sqsDeadLetter({ queueUrl })');

function makeSqsDeadLetter(options: SqsDeadLetterOptions): DeadLetterSink {
  // Typically an environment variable that is not set: say so at cold start, not at the first poison record.
  checkOptions(SQS_OPTIONS, options, 'sqsDeadLetter options');
  const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const fifo = options.queueUrl.endsWith('.fifo');
  const retry = options.retry ?? {};
  const client = lazyClient(sdkClient<SQSClient>(options.client), () => loadSqs().then((m) => new m.SQSClient(clientConfig(retry))));

  return {
    async write(entries) {
      const at = new Date();
      const messages: { entry: DeadLetterEntry; body: string; bytes: number }[] = [];
      const tooLarge: DeadLetterEntry[] = [];
      for (const entry of entries) {
        const body = deadLetterJson(entry, at);
        const bytes = Buffer.byteLength(body);
        if (bytes > max) tooLarge.push(entry);
        else messages.push({ entry, body, bytes });
      }
      // What was not sent, and why: the rest of the write still goes, and the failure names only these.
      const unsent: DeadLetterEntry[] = [];
      const reasons: string[] = [];
      let cause: unknown;
      if (tooLarge.length > 0 && !options.oversized) {
        unsent.push(...tooLarge);
        reasons.push(`${tooLarge.length} dead letter(s) exceed the queue's ${max}-byte message limit and no oversized sink is set`);
      } else if (tooLarge.length > 0 && options.oversized) {
        try {
          await writeTo(options.oversized, tooLarge);
        } catch (error) {
          // The oversized sink's own account of what it did not take, or all of them.
          unsent.push(...(notWrittenBy(error, tooLarge) ?? tooLarge));
          reasons.push(`the oversized sink failed: ${(error as Error)?.message ?? String(error)}`);
          cause = error;
        }
      }

      // Batches of at most 10 messages and at most `max` bytes in all.
      const batches: (typeof messages)[] = [];
      let current: typeof messages = [];
      let size = 0;
      for (const message of messages) {
        if (current.length === SQS_BATCH_ENTRIES || size + message.bytes > max) {
          batches.push(current);
          current = [];
          size = 0;
        }
        current.push(message);
        size += message.bytes;
      }
      if (current.length > 0) batches.push(current);

      let throttled = 0;
      if (batches.length > 0) {
        const [m, c] = await Promise.all([loadSqs(), client()]);
        for (const [b, batch] of batches.entries()) {
          const byId = new Map(batch.map((message, i) => [String(i), message]));
          let left: readonly string[];
          try {
            left = await drainWithRetry(
              [...byId.keys()],
              async (ids, send) => {
                const result = await send(() => c.send(
                  new m.SendMessageBatchCommand({
                    QueueUrl: options.queueUrl,
                    Entries: ids.map((id) => {
                      const { entry, body } = byId.get(id) as (typeof batch)[number];
                      return {
                        Id: id,
                        MessageBody: body,
                        MessageAttributes: {
                          group: { DataType: 'String', StringValue: entry.group },
                          errorCode: { DataType: 'String', StringValue: entry.error.code },
                        },
                        ...(fifo ? { MessageGroupId: entry.group, MessageDeduplicationId: createHash('sha256').update(body).digest('hex') } : {}),
                      };
                    }),
                  }),
                ));
                const failed = result.Failed ?? [];
                const permanent = failed.find((f) => f.SenderFault);
                if (permanent) throw new Error(`SQS refused a dead letter: ${permanent.Code}: ${permanent.Message}`);
                return failed.map((f) => f.Id as string);
              },
              retry,
            );
          } catch (error) {
            // Which of this batch went is not known: it and every later batch count as not sent.
            unsent.push(...batches.slice(b).flatMap((rest) => rest.map((message) => message.entry)));
            reasons.push(`SendMessageBatch failed: ${(error as Error)?.message ?? String(error)}`);
            cause ??= error;
            break;
          }
          unsent.push(...left.map((id) => (byId.get(id) as (typeof batch)[number]).entry));
          throttled += left.length;
        }
      }
      if (throttled > 0) reasons.unshift(`${throttled} dead letter(s) still not sent to SQS after retries`);
      if (unsent.length > 0) throw new DeadLetterWriteError(`dead-letter sink: ${reasons.join('; ')}`, unsent, cause === undefined ? {} : { cause });
    },
  };
}

export interface S3DeadLetterOptions {
  readonly bucket: string;
  /** Key prefix; default `dead-letters`. */
  readonly prefix?: string;
  readonly client?: AwsClient;
  readonly retry?: RetryOptions;
}

/**
 * A dead-letter sink on S3: each write becomes one NDJSON object per group under
 * `<prefix>/<group>/year=YYYY/month=MM/day=DD/hour=HH/` (the time it was dead-lettered), one line per
 * poison record in the `DeadLetterMessage` shape. No size limit: the raw payload is kept whole, so it
 * also serves as the `oversized` sink of `sqsDeadLetter`. Athena can query the prefix as JSON. When
 * some groups' objects are written and another's PutObject fails, it throws `DeadLetterWriteError`
 * naming that group's entries, so only their records are reported; when none is written, a
 * retryable `BackendError` (WRITE_FAILED).
 *
 * ### Example
 * ```ts
 * const store = createFeatureStore({ online: sageMakerOnline(), offline: false, deadLetter: s3DeadLetter({ bucket: 'my-dlq-bucket' }) });
 * ```
 */
export const s3DeadLetter: (options: S3DeadLetterOptions) => DeadLetterSink = /* @__PURE__ */ sinkFactory(makeS3DeadLetter, 's3DeadLetter({ bucket })');

function makeS3DeadLetter(options: S3DeadLetterOptions): DeadLetterSink {
  checkOptions(S3_OPTIONS, options, 's3DeadLetter options');
  const prefix = (options.prefix ?? 'dead-letters').replace(/^\/+|\/+$/g, '');
  const retry = options.retry ?? {};
  const client = lazyClient(sdkClient<S3Client>(options.client), () => loadS3().then((m) => new m.S3Client(clientConfig(retry))));

  return {
    async write(entries) {
      if (entries.length === 0) return;
      const at = new Date();
      const byGroup = new Map<string, DeadLetterEntry[]>();
      for (const entry of entries) {
        const groupEntries = byGroup.get(entry.group) ?? [];
        groupEntries.push(entry);
        byGroup.set(entry.group, groupEntries);
      }
      const [m, c] = await Promise.all([loadS3(), client()]);
      // Every group's object is tried: one that fails leaves only its own entries unwritten.
      const unwritten: DeadLetterEntry[] = [];
      const reasons: string[] = [];
      let cause: unknown;
      for (const [group, groupEntries] of byGroup) {
        const stamp = at.toISOString().replace(/[-:.]/g, '');
        const key = `${prefix ? `${prefix}/` : ''}${group}/${partitionOf(at.getTime())}/${stamp}-${randomUUID()}.ndjson`;
        const body = `${groupEntries.map((entry) => deadLetterJson(entry, at)).join('\n')}\n`;
        try {
          await countAttempts(() => c.send(new m.PutObjectCommand({ Bucket: options.bucket, Key: key, Body: body, ContentType: 'application/x-ndjson' })), retry);
        } catch (error) {
          unwritten.push(...groupEntries);
          reasons.push(`PutObject s3://${options.bucket}/${key} failed: ${(error as Error).message}`);
          cause ??= error;
        }
      }
      if (unwritten.length === entries.length) throw sinkError(reasons.join('; '), cause);
      if (unwritten.length > 0) throw new DeadLetterWriteError(`dead-letter sink: ${reasons.join('; ')}`, unwritten, { cause });
    },
  };
}
