import type { KinesisClient, _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import type { BatchResponse, KinesisStreamEvent, LambdaContext } from '../lambda/events.js';
import { loadKinesis } from '../aws/sdk.js';
import { mapConcurrent } from '../util/concurrency.js';
import { type AwsClient, sdkClient } from '../aws/clients.js';
import { awsClient } from '../aws/options.js';
import { checkOptions, countSchema, expected, functionSchema, positiveInteger } from '../util/options.js';
import * as z from 'zod/mini';

export interface KinesisEventSourceOptions {
  /** A Kinesis client (for kinesalite, give it `requestHandler: new NodeHttpHandler()`: HTTP/1.1 only). */
  readonly client: AwsClient;
  readonly streamName: string;
  /** The Lambda handler, e.g. `kinesisHandler(group, { store })`. */
  readonly handler: (event: KinesisStreamEvent, context?: LambdaContext) => Promise<BatchResponse | void>;
  /** Records per invocation (the mapping's BatchSize); default 100. */
  readonly batchSize?: number;
  /**
   * How long a batch gathers records before it is invoked short of `batchSize`
   * (MaximumBatchingWindowInSeconds; fractions allowed here); default 0, invoke with what was read.
   */
  readonly batchingWindowSeconds?: number;
  /**
   * Batches of one shard processed at once (ParallelizationFactor, 1 to 10); default 1. Records go to a
   * batch by a hash of their partition key, so one key's records stay in order, one batch at a time.
   */
  readonly parallelizationFactor?: number;
  /** Redeliveries of one batch before it is given up (MaximumRetryAttempts); default 10. */
  readonly maxRetryAttempts?: number;
  /** Stop a shard after this many empty reads in a row (once `signal` is aborted, when given); default 2. */
  readonly idleReads?: number;
  /** Milliseconds to wait after a read that found no more; default 0, or 100 with `signal` (a live stream). */
  readonly pollIntervalMs?: number;
  /** Keep polling a live stream until this signal is aborted, then stop once the shards are drained. */
  readonly signal?: AbortSignal;
  /** A context for each invocation (to exercise the time budget); default none. */
  readonly context?: () => LambdaContext;
  /** Called after each invocation, e.g. to chart iterator age. */
  readonly onInvoke?: (invocation: KinesisInvocation) => void;
}

/** One handler invocation, as Lambda's metrics would show it. */
export interface KinesisInvocation {
  readonly shardId: string;
  readonly records: number;
  /** IteratorAge: how old the batch's last record was when the batch was invoked, ms. */
  readonly iteratorAgeMs: number;
  readonly durationMs: number;
  /** Records the handler reported (or all, when it threw); they are delivered again. */
  readonly failed: number;
}

export interface KinesisEventSourceReport {
  readonly invocations: number;
  readonly records: number;
  /** Records delivered again because the handler reported them (or threw). */
  readonly redelivered: number;
  /** Sequence numbers of records given up after `maxRetryAttempts` (Lambda's on-failure destination). */
  readonly discarded: string[];
  /** The greatest iterator age of any invocation, ms. */
  readonly maxIteratorAgeMs: number;
}

/** Which of a shard's concurrent batches a partition key goes to (FNV-1a of the key). */
function laneOf(partitionKey: string, lanes: number): number {
  if (lanes === 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < partitionKey.length; i++) hash = Math.imul(hash ^ partitionKey.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The records of one shard waiting for one of its concurrent batches, and that batch's retry count. */
interface Lane {
  queue: KinesisRecord[];
  /** When the oldest waiting record was read (the batching window runs from it). */
  since: number;
  attempts: number;
  busy: boolean;
}

/**
 * Lambda's Kinesis event source mapping in miniature, for tests, the demo and the spike bench: reads
 * every shard with GetShardIterator/GetRecords, gathers batches (BatchSize, batching window), runs up to
 * ParallelizationFactor batches of a shard at once with each partition key in one of them, builds the
 * exact Lambda event, invokes the handler and honours `batchItemFailures` by delivering the batch again
 * from the lowest reported sequence number.
 *
 * ### Example
 * ```ts
 * const report = await runKinesisEventSource({ client: kinesis, streamName: 'card-events', handler: kinesisHandler(cardActivity, { store }) });
 * ```
 */
export async function runKinesisEventSource(options: KinesisEventSourceOptions): Promise<KinesisEventSourceReport> {
  checkOptions(
    z.strictObject({
      client: awsClient(),
      streamName: z.string({ error: expected('a stream name') }),
      handler: functionSchema('a Lambda handler'),
      batchSize: z.optional(positiveInteger()),
      batchingWindowSeconds: z.optional(z.number({ error: expected('seconds, 0 or more') }).check(z.refine((n) => n >= 0 && n <= 300, { error: expected('seconds from 0 to 300') }))),
      parallelizationFactor: z.optional(positiveInteger().check(z.refine((n) => n <= 10, { error: expected('a ParallelizationFactor from 1 to 10') }))),
      maxRetryAttempts: z.optional(countSchema()),
      idleReads: z.optional(positiveInteger()),
      pollIntervalMs: z.optional(countSchema()),
      signal: z.optional(z.custom<AbortSignal>((v) => v instanceof AbortSignal, { error: expected('an AbortSignal') })),
      context: z.optional(functionSchema('a function returning a Lambda context')),
      onInvoke: z.optional(functionSchema('a function called after each invocation')),
    }),
    options,
    'runKinesisEventSource options',
  );
  const m = await loadKinesis();
  const { streamName, signal } = options;
  const client = sdkClient<KinesisClient>(options.client) as KinesisClient;
  const batchSize = options.batchSize ?? 100;
  const windowMs = (options.batchingWindowSeconds ?? 0) * 1000;
  const factor = options.parallelizationFactor ?? 1;
  const maxRetries = options.maxRetryAttempts ?? 10;
  const idleReads = options.idleReads ?? 2;
  const pollMs = options.pollIntervalMs ?? (signal ? 100 : 0);
  // GetRecords returns at most 10,000 records; read ahead no more than two rounds of batches.
  const readLimit = Math.min(10_000, batchSize * factor);
  const maxBuffered = Math.max(2 * readLimit, 1_000);
  const description = await client.send(new m.DescribeStreamCommand({ StreamName: streamName }));
  const streamArn = description.StreamDescription?.StreamARN ?? `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`;
  const shards = (description.StreamDescription?.Shards ?? []).map((s) => s.ShardId as string);
  let invocations = 0;
  let records = 0;
  let redelivered = 0;
  let maxIteratorAgeMs = 0;
  const discarded: string[] = [];

  const toEvent = (shardId: string, batch: KinesisRecord[]): KinesisStreamEvent => ({
    Records: batch.map((r) => ({
      kinesis: {
        kinesisSchemaVersion: '1.0',
        partitionKey: r.PartitionKey ?? '',
        sequenceNumber: r.SequenceNumber ?? '',
        data: Buffer.from(r.Data ?? new Uint8Array()).toString('base64'),
        approximateArrivalTimestamp: (r.ApproximateArrivalTimestamp?.getTime() ?? Date.now()) / 1000,
      },
      eventSource: 'aws:kinesis',
      eventID: `${shardId}:${r.SequenceNumber}`,
      eventSourceARN: streamArn,
      awsRegion: 'us-east-1',
    })),
  });

  /** Invokes the handler with the lane's next batch; a reported record and those after it go back to the lane's head. */
  const invoke = async (shardId: string, lane: Lane) => {
    const batch = lane.queue.splice(0, batchSize);
    lane.since = Date.now();
    const started = Date.now();
    const iteratorAgeMs = Math.max(0, started - (batch[batch.length - 1]?.ApproximateArrivalTimestamp?.getTime() ?? started));
    maxIteratorAgeMs = Math.max(maxIteratorAgeMs, iteratorAgeMs);
    invocations++;
    records += batch.length;
    let failedAt: string | undefined;
    try {
      const response = await options.handler(toEvent(shardId, batch), options.context?.());
      const reported = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      // Lambda checkpoints before the lowest reported sequence number and delivers again from it.
      failedAt = batch.find((r) => reported.has(r.SequenceNumber ?? ''))?.SequenceNumber;
    } catch {
      failedAt = batch[0]?.SequenceNumber;
    }
    const from = failedAt === undefined ? batch.length : batch.findIndex((r) => r.SequenceNumber === failedAt);
    options.onInvoke?.({ shardId, records: batch.length, iteratorAgeMs, durationMs: Date.now() - started, failed: batch.length - from });
    if (failedAt === undefined) {
      lane.attempts = 0;
      return;
    }
    if (++lane.attempts > maxRetries) {
      discarded.push(...batch.slice(from).map((r) => r.SequenceNumber ?? ''));
      lane.attempts = 0;
      return;
    }
    redelivered += batch.length - from;
    records -= batch.length - from;
    lane.queue.unshift(...batch.slice(from));
  };

  // Shards are read concurrently, as Lambda does with one poller per shard.
  await mapConcurrent(shards, shards.length, async (shardId) => {
    const lanes: Lane[] = Array.from({ length: factor }, () => ({ queue: [], since: 0, attempts: 0, busy: false }));
    const buffered = () => lanes.reduce((n, l) => n + l.queue.length, 0);
    const running = new Set<Promise<void>>();
    let shardIterator = (await client.send(new m.GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    let idle = 0;
    let reading = true;

    /** Starts every lane whose batch is full, whose window has passed, or that has records once reading ended. */
    const dispatch = () => {
      for (const lane of lanes) {
        if (lane.busy || lane.queue.length === 0) continue;
        if (lane.queue.length < batchSize && reading && Date.now() - lane.since < windowMs) continue;
        lane.busy = true;
        const run = invoke(shardId, lane).finally(() => {
          lane.busy = false;
          running.delete(run);
        });
        running.add(run);
      }
    };

    /** Milliseconds until the first waiting batch's window closes. */
    const nextDue = () => {
      let due = Number.POSITIVE_INFINITY;
      for (const lane of lanes) if (!lane.busy && lane.queue.length > 0) due = Math.min(due, Math.max(0, lane.since + windowMs - Date.now()));
      return due;
    };

    while (shardIterator && reading) {
      if (buffered() >= maxBuffered) {
        dispatch();
        await Promise.race([...running, sleep(5)]);
        continue;
      }
      const page = await client.send(new m.GetRecordsCommand({ ShardIterator: shardIterator, Limit: readLimit }));
      shardIterator = page.NextShardIterator;
      const batch = page.Records ?? [];
      const now = Date.now();
      for (const record of batch) {
        const lane = lanes[laneOf(record.PartitionKey ?? '', factor)] as Lane;
        if (lane.queue.length === 0) lane.since = now;
        lane.queue.push(record);
      }
      idle = batch.length === 0 ? idle + 1 : 0;
      const settled = buffered() === 0 && running.size === 0;
      if (idle >= idleReads && settled && (signal === undefined || signal.aborted)) reading = false;
      dispatch();
      // Without a window, wait for a free batch before reading on, as Lambda's poller does.
      if (batch.length > 0 && windowMs === 0 && running.size >= factor) await Promise.race(running);
      else if (batch.length < readLimit) {
        const wait = Math.min(pollMs, nextDue());
        if (running.size > 0) await Promise.race([...running, sleep(Math.max(1, wait))]);
        else if (wait > 0) await sleep(wait);
      }
    }
    reading = false;
    while (buffered() > 0 || running.size > 0) {
      dispatch();
      if (running.size > 0) await Promise.race(running);
    }
  });
  return { invocations, records, redelivered, discarded, maxIteratorAgeMs };
}
