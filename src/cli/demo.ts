import { createHash } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { audit } from '../audit/audit.js';
import { backfill } from '../backfill/backfill.js';
import { ndjsonFile } from '../backfill/sources/index.js';
import { kinesisHandler } from '../lambda/handlers.js';
import type { BatchResponse, KinesisStreamEvent } from '../lambda/events.js';
import { sqsDeadLetter } from '../aws/dead-letter.js';
import { loadSqs } from '../aws/sdk.js';
import { type LocalStack, startLocalStack } from '../local/stack/server.js';
import { localStores } from '../local/stores.js';
import { type DeadLetterEntry, deadLetterJson } from '../store/dead-letter.js';
import { createFeatureStore, DEFAULT_DIR } from '../store/feature-store.js';
import { kinesisEvent } from '../testing/events.js';
import { trainingSet } from '../training/training-set.js';
import { seededRandom } from '../util/random.js';
import { progressLine, progressWriter } from './backfill.js';
import { cardActivity } from './demo-groups.js';
import { prepareDemoFolder } from './demo-folder.js';

const COUNTRIES = ['US', 'US', 'US', 'US', 'FR', 'DE', 'BR'];
const MCCS = ['5411', '5812', '5999', '4111', '7995'];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** What `runDemo` writes into its folder, and so what its next run replaces. */
const DEMO_FILES = ['store', 'history.ndjson', 'dead-letter.ndjson', 'train.parquet'];

/** Demo sizes; the tests run it smaller. */
export interface DemoOptions {
  /**
   * Where the demo keeps its stores and files: a new or empty folder, or one an earlier demo made (it
   * holds a `.skewless-demo` file), whose files from that run are replaced. A folder holding anything
   * else is refused with a ConfigurationError, never emptied. Default `.skewless/demo`.
   */
  readonly dir?: string;
  readonly cards?: number;
  /** Transactions over the 30 days of history backfilled. */
  readonly historyEvents?: number;
  /** Transactions streamed: a quiet hour, then a spike of `spikeEvents` in ten minutes. */
  readonly quietEvents?: number;
  readonly spikeEvents?: number;
  /** Chargeback labels in the training set. */
  readonly labels?: number;
  /** Progress bars go here (stderr in the CLI); default nowhere. */
  readonly progress?: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>;
  /** The clock the synthetic times are laid out from; default now. */
  readonly now?: number;
}

export interface DemoSummary {
  readonly group: string;
  readonly fingerprint: string;
  readonly dir: string;
  readonly streamed: { readonly records: number; readonly invocations: number; readonly redelivered: number; readonly poison: number; readonly recordsPerSecond: number };
  readonly backfilled: { readonly records: number; readonly written: number; readonly poison: number; readonly recordsPerSecond: number; readonly rejectsFile: string | undefined };
  readonly trainingSet: { readonly rows: number; readonly file: string; readonly matchRate: number | undefined; readonly fraudRate: number };
  readonly audit: { readonly sampled: number; readonly consistencyRate: number | undefined };
  readonly durationMs: number;
}

/** Synthetic card transactions as a producer would send them, with a few malformed ones mixed in. */
export function syntheticTransactions(count: number, options: { readonly seed?: number; readonly from?: number; readonly spanMs?: number; readonly cards?: number } = {}): Record<string, unknown>[] {
  const random = seededRandom(options.seed ?? 7);
  const from = options.from ?? Date.UTC(2024, 4, 1);
  const span = options.spanMs ?? count * 1000;
  const cards = options.cards ?? 500;
  const events: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const event: Record<string, unknown> = {
      card_id: `card-${Math.floor(random() * cards)}`,
      amount_cents: Math.floor(random() * random() * 80_000) + 50,
      currency: 'USD',
      country: COUNTRIES[Math.floor(random() * COUNTRIES.length)],
      merchant_id: `m-${Math.floor(random() * 2000)}`,
      mcc: MCCS[Math.floor(random() * MCCS.length)],
      ts: new Date(from + Math.floor((i * span) / count)).toISOString(),
    };
    // One event in a thousand is broken the ways real producers break them.
    if (i % 1000 === 999) event['amount_cents'] = String(event['amount_cents']);
    if (i % 1000 === 499) event['ts'] = String(event['ts']).slice(0, 19);
    events.push(event);
  }
  return events;
}

/** An SQS queue on the local stack as the dead-letter sink, when `@aws-sdk/client-sqs` is installed. */
async function localDeadLetterQueue(stack: LocalStack): Promise<{ url: string; sink: { write(entries: readonly DeadLetterEntry[]): Promise<void> }; depth(): Promise<number>; close(): void } | undefined> {
  const sqs = await loadSqs().catch(() => undefined);
  if (!sqs) return undefined;
  const client = new sqs.SQSClient(stack.clientConfig);
  const { QueueUrl } = await client.send(new sqs.CreateQueueCommand({ QueueName: 'card-activity-dead-letter' }));
  const url = QueueUrl as string;
  const sink = sqsDeadLetter({ queueUrl: url, client });
  return {
    url,
    sink: { write: (entries) => Promise.resolve(typeof sink === 'function' ? sink(entries) : sink.write(entries)) },
    async depth() {
      const { Attributes } = await client.send(new sqs.GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return Number(Attributes?.['ApproximateNumberOfMessages'] ?? 0);
    },
    close: () => client.destroy(),
  };
}

/** The shard of a partition key among `shards` equal hash ranges, as Kinesis assigns it (MD5 of the key). */
export function shardOfKey(key: string, shards: number): number {
  const hash = createHash('md5').update(key).digest();
  return Math.min(shards - 1, Math.floor(((hash[0] as number) * 256 + (hash[1] as number)) / (65_536 / shards)));
}

/**
 * Lambda's Kinesis event source mapping, in process: the events split into shards by partition key,
 * each shard read in batches in order, a batch's reported records (and the rest of the shard) sent
 * again. Returns what it delivered.
 */
async function streamThroughShards(
  events: readonly Record<string, unknown>[],
  options: { readonly shards: number; readonly batchSize: number; readonly partitionKey: (event: Record<string, unknown>) => string },
  handler: (event: KinesisStreamEvent) => Promise<BatchResponse>,
): Promise<{ invocations: number; records: number; redelivered: number }> {
  const byShard = Array.from({ length: options.shards }, () => [] as Record<string, unknown>[]);
  for (const event of events) byShard[shardOfKey(options.partitionKey(event), options.shards)]?.push(event);
  let invocations = 0;
  let redelivered = 0;
  await Promise.all(
    byShard.map(async (shardEvents, shard) => {
      const shardId = `shardId-${String(shard).padStart(12, '0')}`;
      const records = kinesisEvent(shardEvents, { shardId, partitionKey: (e) => options.partitionKey(e as Record<string, unknown>) }).Records;
      for (let at = 0, attempts = 0; at < records.length; ) {
        const batch = records.slice(at, at + options.batchSize);
        invocations++;
        const reported = new Set((await handler({ Records: batch })).batchItemFailures.map((f) => f.itemIdentifier));
        const failed = batch.findIndex((r) => reported.has(r.kinesis.sequenceNumber));
        if (failed < 0 || ++attempts > 10) {
          at += batch.length;
          attempts = 0;
        } else {
          redelivered += batch.length - failed;
          at += failed;
        }
      }
    }),
  );
  return { invocations, records: events.length, redelivered };
}

/** Whether a label says fraud: rarer for domestic small purchases, likelier for big foreign ones. */
function chargeback(event: Record<string, unknown>, random: () => number): boolean {
  const cents = Number(event['amount_cents']);
  const risk = 0.01 + (event['country'] !== 'US' ? 0.05 : 0) + (cents > 40_000 ? 0.08 : 0) + (event['mcc'] === '7995' ? 0.05 : 0);
  return random() < risk;
}

/**
 * The main job, on the embedded local default: the fraud-detection group (row and velocity features)
 * backfilled over 30 days of history, then a quiet hour and a spike of live transactions streamed
 * through Kinesis and the very Lambda handler a user deploys, then a point-in-time training set with
 * chargeback labels written to Parquet, and an audit of online against offline.
 */
export async function runDemo(print: (line: string) => void, options: DemoOptions = {}): Promise<DemoSummary> {
  const started = Date.now();
  const dir = resolve(options.dir ?? join(DEFAULT_DIR, 'demo'));
  prepareDemoFolder(dir, DEMO_FILES);
  const cards = options.cards ?? 800;
  const now = options.now ?? Date.now();
  const liveStart = now - 2 * HOUR;
  // One progress display per step: each starts its bar (and its every-10% lines) from zero.
  const progressOf = () => progressWriter(options.progress ?? { isTTY: false, write: () => true });
  let progress = progressOf();
  // The local stack stands in for AWS around the Lambda: its SQS queue is the dead-letter queue.
  const stack = await startLocalStack({ memory: true });
  const deadLetterQueue = await localDeadLetterQueue(stack);
  const deadLetterFile = join(dir, 'dead-letter.ndjson');
  let deadLettered = 0;
  const store = createFeatureStore({
    ...localStores({ dir: join(dir, 'store') }),
    deadLetter: async (entries) => {
      if (deadLetterQueue) await deadLetterQueue.sink.write(entries);
      else appendFileSync(deadLetterFile, entries.map((e) => `${deadLetterJson(e, new Date())}\n`).join(''));
      deadLettered += entries.length;
    },
  });
  const deadLetterPlace = deadLetterQueue ? `SQS queue ${deadLetterQueue.url}` : deadLetterFile;

  print(`skewless demo: feature group "${cardActivity.name}" (fingerprint ${cardActivity.fingerprint})`);
  print(`  features: ${cardActivity.featureNames.join(', ')}`);
  print(`  velocity: ${Object.entries(cardActivity.aggregations).map(([name, a]) => `${name} = ${a.kind}(${a.feature ?? ''}) over ${a.window}`).join('; ')}`);
  print(`  stores: ${join(dir, 'store')} (embedded DuckDB online store, Parquet offline store, aggregation state)`);
  print(`  local AWS stack: ${stack.endpoint} (SageMaker Feature Store, Athena, S3, SQS); dead letters: ${deadLetterPlace}`);

  try {
    // 1. History: 30 days before the stream began, backfilled through the same pipeline.
    const history = syntheticTransactions(options.historyEvents ?? 60_000, { seed: 1, from: liveStart - 30 * DAY, spanMs: 30 * DAY - HOUR, cards });
    const historyFile = join(dir, 'history.ndjson');
    writeFileSync(historyFile, `${history.map((e) => JSON.stringify(e)).join('\n')}\n`);
    print('');
    print(`1. backfill: ${history.length.toLocaleString('en-US')} transactions over 30 days from ${historyFile}`);
    const filled = await backfill(store, cardActivity, {
      from: ndjsonFile(historyFile),
      to: 'both',
      onProgress: (p) => progress.update(`   ${progressLine(p.fraction, p.done, p.recordsPerSecond, p.etaSeconds, p.poison)}`, p.fraction),
    });
    progress.end();
    print(`   ${filled.written.toLocaleString('en-US')} records offline, the latest per card online; ${filled.poison} poison rows in ${filled.rejectsFile ?? '(none)'}; ${filled.recordsPerSecond.toLocaleString('en-US')} records/s`);

    // 2. Live: a quiet hour, then a spike, through Kinesis and the ingestion Lambda's handler.
    const quiet = syntheticTransactions(options.quietEvents ?? 1_500, { seed: 2, from: liveStart, spanMs: HOUR, cards });
    const spike = syntheticTransactions(options.spikeEvents ?? 15_000, { seed: 3, from: liveStart + HOUR, spanMs: 10 * 60_000, cards });
    const live = [...quiet, ...spike];
    print('');
    print(`2. stream: a quiet hour (${quiet.length.toLocaleString('en-US')} transactions), then a spike (${spike.length.toLocaleString('en-US')} in ten minutes)`);
    const handler = kinesisHandler(cardActivity, { store, log: false });
    let handled = 0;
    const poisonBefore = deadLettered;
    progress = progressOf();
    const counting = async (event: KinesisStreamEvent): Promise<BatchResponse> => {
      const response = await handler(event);
      handled += event.Records.length - response.batchItemFailures.length;
      const seconds = (Date.now() - streamStarted) / 1000;
      progress.update(`   ${progressLine(handled / live.length, handled, Math.round(handled / Math.max(seconds, 0.001)), undefined, deadLettered - poisonBefore)}`, handled / live.length);
      return response;
    };
    const streamStarted = Date.now();
    print('   producer -> 2 shards (partition key card_id) -> event source mapping (in process) -> kinesisHandler -> store');
    const report = await streamThroughShards(live, { shards: 2, batchSize: 1000, partitionKey: (e) => String(e['card_id']) }, counting);
    progress.end();
    const streamSeconds = (Date.now() - streamStarted) / 1000;
    const streamPoison = deadLettered - poisonBefore;
    const busiest = await store.get(cardActivity, String(spike[spike.length - 1]?.['card_id']));
    print(`   ${report.records.toLocaleString('en-US')} records in ${report.invocations} invocations (${report.redelivered} redelivered), ${streamPoison} poison records to ${deadLetterPlace}${deadLetterQueue ? ` (${await deadLetterQueue.depth()} messages waiting)` : ''}; ${Math.round(report.records / streamSeconds).toLocaleString('en-US')} records/s`);
    if (busiest) {
      print(`   online now for ${busiest.card_id}: amount ${busiest.amount}, txn_count_1h ${busiest.txn_count_1h}, amount_sum_24h ${busiest.amount_sum_24h.toFixed(2)}, merchants_24h ${busiest.merchants_24h}`);
    }

    // 3. A training set: chargeback labels joined point-in-time (each label sees only what was known before it).
    const random = seededRandom(4);
    const labelled = [...history, ...live].filter((e) => typeof e['amount_cents'] === 'number' && String(e['ts']).length > 19);
    const labels = Array.from({ length: Math.min(options.labels ?? 5_000, labelled.length) }, () => {
      const e = labelled[Math.floor(random() * labelled.length)] as Record<string, unknown>;
      return { card_id: String(e['card_id']), label_time: new Date(Date.parse(String(e['ts'])) + 1000), is_fraud: chargeback(e, random) };
    });
    const trainFile = join(dir, 'train.parquet');
    print('');
    print(`3. training set: ${labels.length.toLocaleString('en-US')} chargeback labels joined as of each label's time`);
    const { summary } = await trainingSet(store, {
      spine: labels,
      entityKey: 'card_id',
      timestamp: 'label_time',
      features: [cardActivity.select('amount', 'is_foreign', 'mcc', 'txn_count_1h', 'amount_sum_24h', 'amount_max_24h', 'merchants_24h').with({ prefix: '' })],
      output: { parquet: trainFile },
    });
    const matchRate = summary.matchRate[cardActivity.name];
    const fraudRate = labels.filter((l) => l.is_fraud).length / Math.max(1, labels.length);
    print(`   ${summary.rows.toLocaleString('en-US')} rows -> ${trainFile}; ${matchRate === undefined ? 'no labels' : `${(matchRate * 100).toFixed(1)}% of labels found features`}; ${(fraudRate * 100).toFixed(1)}% fraud`);

    // 4. The audit: is online what offline says it should be?
    print('');
    print('4. audit: online records against the offline store, for a sample of cards');
    // The embedded offline store writes at once, so there is no delivery delay to wait out.
    const audited = await audit(store, cardActivity, { sample: 500, availabilityDelay: '0s' });
    print(audited.consistencyRate === undefined ? '   no cards sampled: the offline store has none' : `   ${(audited.consistencyRate * 100).toFixed(2)}% of ${audited.sampled} cards agree on every feature`);

    const durationMs = Date.now() - started;
    print('');
    print(`done in ${(durationMs / 1000).toFixed(1)} s. Try: npx skewless audit <your definitions> ${cardActivity.name} --html audit.html`);
    return {
      group: cardActivity.name,
      fingerprint: cardActivity.fingerprint,
      dir,
      streamed: { records: report.records, invocations: report.invocations, redelivered: report.redelivered, poison: streamPoison, recordsPerSecond: Math.round(report.records / streamSeconds) },
      backfilled: { records: filled.records, written: filled.written, poison: filled.poison, recordsPerSecond: filled.recordsPerSecond, rejectsFile: filled.rejectsFile },
      trainingSet: { rows: summary.rows, file: trainFile, matchRate, fraudRate },
      audit: { sampled: audited.sampled, consistencyRate: audited.consistencyRate },
      durationMs,
    };
  } finally {
    await store.close();
    deadLetterQueue?.close();
    await stack.close();
  }
}
