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
  /** Redeliveries of one batch before it is given up (MaximumRetryAttempts); default 10. */
  readonly maxRetryAttempts?: number;
  /** Stop a shard after this many empty reads in a row; default 2. */
  readonly idleReads?: number;
  /** A context for each invocation (to exercise the time budget); default none. */
  readonly context?: () => LambdaContext;
}

export interface KinesisEventSourceReport {
  readonly invocations: number;
  readonly records: number;
  /** Records delivered again because the handler reported them (or threw). */
  readonly redelivered: number;
  /** Sequence numbers of records given up after `maxRetryAttempts` (Lambda's on-failure destination). */
  readonly discarded: string[];
}

/**
 * Lambda's Kinesis event source mapping in miniature, for tests and the demo: reads every shard with
 * GetShardIterator/GetRecords, builds the exact Lambda event, invokes the handler and honours
 * `batchItemFailures` by reading again from the lowest reported sequence number.
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
      maxRetryAttempts: z.optional(countSchema()),
      idleReads: z.optional(positiveInteger()),
      context: z.optional(functionSchema('a function returning a Lambda context')),
    }),
    options,
    'runKinesisEventSource options',
  );
  const m = await loadKinesis();
  const { streamName } = options;
  const client = sdkClient<KinesisClient>(options.client) as KinesisClient;
  const batchSize = options.batchSize ?? 100;
  const maxRetries = options.maxRetryAttempts ?? 10;
  const idleReads = options.idleReads ?? 2;
  const description = await client.send(new m.DescribeStreamCommand({ StreamName: streamName }));
  const streamArn = description.StreamDescription?.StreamARN ?? `arn:aws:kinesis:us-east-1:000000000000:stream/${streamName}`;
  const shards = (description.StreamDescription?.Shards ?? []).map((s) => s.ShardId as string);
  let invocations = 0;
  let records = 0;
  let redelivered = 0;
  const discarded: string[] = [];

  const iterator = async (shardId: string, type: 'TRIM_HORIZON' | 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER', sequence?: string) =>
    (
      await client.send(
        new m.GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: type, ...(sequence ? { StartingSequenceNumber: sequence } : {}) }),
      )
    ).ShardIterator;

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

  // Shards are read concurrently, as Lambda does with one poller per shard.
  await mapConcurrent(shards, shards.length, async (shardId) => {
    let shardIterator = await iterator(shardId, 'TRIM_HORIZON');
    let idle = 0;
    let attempts = 0;
    while (shardIterator && idle < idleReads) {
      const page = await client.send(new m.GetRecordsCommand({ ShardIterator: shardIterator, Limit: batchSize }));
      const batch = page.Records ?? [];
      if (batch.length === 0) {
        idle++;
        shardIterator = page.NextShardIterator;
        continue;
      }
      idle = 0;
      invocations++;
      records += batch.length;
      let failedAt: string | undefined;
      try {
        const response = await options.handler(toEvent(shardId, batch), options.context?.());
        const reported = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        // Lambda checkpoints before the lowest reported sequence number and reads again from it.
        failedAt = batch.find((r) => reported.has(r.SequenceNumber ?? ''))?.SequenceNumber;
      } catch {
        failedAt = batch[0]?.SequenceNumber;
      }
      if (failedAt === undefined) {
        attempts = 0;
        shardIterator = page.NextShardIterator;
        continue;
      }
      const from = batch.findIndex((r) => r.SequenceNumber === failedAt);
      if (++attempts > maxRetries) {
        discarded.push(...batch.slice(from).map((r) => r.SequenceNumber ?? ''));
        attempts = 0;
        shardIterator = await iterator(shardId, 'AFTER_SEQUENCE_NUMBER', batch[batch.length - 1]?.SequenceNumber);
        continue;
      }
      redelivered += batch.length - from;
      records -= batch.length - from;
      shardIterator = await iterator(shardId, 'AT_SEQUENCE_NUMBER', failedAt);
    }
  });
  return { invocations, records, redelivered, discarded };
}
