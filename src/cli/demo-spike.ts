import { join, resolve } from 'node:path';
import { cpuUsage } from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { planCapacity } from '../aws/capacity.js';
import { kinesisHandler } from '../lambda/handlers.js';
import type { KinesisStreamRecord } from '../lambda/events.js';
import { localStores } from '../local/stores.js';
import { createFeatureStore, DEFAULT_DIR } from '../store/feature-store.js';
import { kinesisEvent } from '../testing/events.js';
import { seededRandom } from '../util/random.js';
import { cardActivity } from './demo-groups.js';
import { shardOfKey } from './demo.js';
import { prepareDemoFolder } from './demo-folder.js';

export interface SpikeDemoOptions {
  /** Where the stores go: as `DemoOptions.dir`, a new, empty or earlier demo's folder (anything else is refused). Default `.skewless/demo-spike`. */
  readonly dir?: string;
  /** The spike's rate, records per second; the calm phases run at 10/s. Default 2,000. */
  readonly rate?: number;
  /** Seconds of the calm, spike and after phases. Default 5, 15, 10. */
  readonly seconds?: readonly [number, number, number];
  readonly cards?: number;
}

/** One phase as measured: what was offered, what went through, and how fresh the online features stayed. */
export interface SpikePhase {
  readonly name: 'calm' | 'spike' | 'after';
  readonly seconds: number;
  readonly offeredPerSecond: number;
  readonly processedPerSecond: number;
  /** Process CPU (producer, mapping, handler, stores, reader) over the records processed, ms. */
  readonly cpuMsPerRecord: number;
  readonly iteratorAgeMaxMs: number;
  /** Event time to readable online, for the sampled cards' events that became visible in the phase. */
  readonly freshnessMs: { readonly p50: number; readonly p99: number; readonly max: number } | undefined;
}

export interface SpikeDemoSummary {
  readonly group: string;
  readonly dir: string;
  /** What `planCapacity` prescribes for the spike's rate: the mapping the demo runs. */
  readonly plan: { readonly shards: number; readonly parallelizationFactor: number; readonly batchSize: number; readonly windowSeconds: number; readonly freshnessBoundSeconds: number };
  readonly phases: readonly SpikePhase[];
  readonly produced: number;
  /** Records in the offline store: every one produced, none lost. */
  readonly offline: number;
  /** From the producer's last event until every lane was empty. */
  readonly drainMs: number;
}

interface Queued {
  readonly record: KinesisStreamRecord;
  readonly arrived: number;
}

const CALM_RATE = 10;
const HOT_CARDS = ['card-hot-1', 'card-hot-2'];
/** Each hot card's share of the spike's events. */
const HOT_SHARE = 0.15;
const SAMPLED = 40;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/**
 * The spike in miniature, on the embedded stores: card transactions at 10/s, then `rate`/s, then
 * 10/s again, stamped with the time they are produced, into lanes (shard × ParallelizationFactor, by
 * partition key) read as Lambda's event source mapping reads them — a batch when BatchSize records
 * wait or the oldest has waited the batching window — by `kinesisHandler`, with the shards, batch
 * size, window and ParallelizationFactor that `planCapacity` prescribes for the rate. A reader polls
 * sampled cards (two of them hot) for freshness. Every lane runs on this one thread, where Lambda
 * gives each invocation its own vCPU.
 */
export async function runSpikeDemo(print: (line: string) => void, options: SpikeDemoOptions = {}): Promise<SpikeDemoSummary> {
  const dir = resolve(options.dir ?? join(DEFAULT_DIR, 'demo-spike'));
  // Its stores are all the spike writes, so they are all a rerun may replace.
  prepareDemoFolder(dir, ['store']);
  const rate = options.rate ?? 2_000;
  const [calmSeconds, spikeSeconds, afterSeconds] = options.seconds ?? [5, 15, 10];
  const cards = options.cards ?? 5_000;
  const capacity = planCapacity(cardActivity, { rate });
  const esm = capacity.eventSourceMapping;
  const shards = capacity.kinesis.shards;
  const lanes = Array.from({ length: shards * esm.ParallelizationFactor }, () => [] as Queued[]);
  const windowMs = esm.MaximumBatchingWindowInSeconds * 1000;
  const store = createFeatureStore(localStores({ dir: join(dir, 'store') }));
  // The producer makes no poison; were there any, it would be counted as lost below.
  const handler = kinesisHandler(cardActivity, { store, log: false, discardPoison: true });

  print(`skewless demo --spike: "${cardActivity.name}" at ${CALM_RATE}/s, then ${rate.toLocaleString('en-US')}/s, then ${CALM_RATE}/s (${calmSeconds} s, ${spikeSeconds} s, ${afterSeconds} s)`);
  print(
    `  planCapacity for ${rate.toLocaleString('en-US')}/s: ${shards} shard${shards === 1 ? '' : 's'}, BatchSize ${esm.BatchSize}, window ${esm.MaximumBatchingWindowInSeconds} s, ` +
      `ParallelizationFactor ${esm.ParallelizationFactor}; freshness at most ~${capacity.freshness.boundSeconds} s on AWS`,
  );
  print(`  here: ${lanes.length} lanes on one thread, embedded stores in ${join(dir, 'store')}; ${HOT_CARDS.length} hot cards at ${Math.round(HOT_SHARE * rate)}/s each in the spike`);

  const phases = [
    { name: 'calm' as const, seconds: calmSeconds, rate: CALM_RATE },
    { name: 'spike' as const, seconds: spikeSeconds, rate },
    { name: 'after' as const, seconds: afterSeconds, rate: CALM_RATE },
  ];
  const started = Date.now();
  const ends = phases.reduce<number[]>((at, phase) => [...at, (at[at.length - 1] ?? started) + phase.seconds * 1000], []);
  /** The phase a time falls in; after the last phase's end (the drain), the last. */
  const phaseAt = (time: number) => {
    const index = ends.findIndex((end) => time < end);
    return index === -1 ? phases.length - 1 : index;
  };
  const processed = phases.map(() => 0);
  const iteratorAge = phases.map(() => 0);
  const freshness = phases.map(() => [] as number[]);
  const cpuAtStart = cpuUsage();
  const cpuAtEnd: NodeJS.CpuUsage[] = [];
  const sampled = [...HOT_CARDS, ...Array.from({ length: SAMPLED - HOT_CARDS.length }, (_, i) => `card-${Math.floor((i * cards) / SAMPLED)}`)];
  const pending = new Map(sampled.map((card) => [card, [] as number[]]));
  let produced = 0;
  let producing = true;

  // The producer: every 10 ms, the events due by now at each phase's rate, each its own arrival time.
  // Due is counted over the phases' own spans, so a tick the busy process delayed past a phase's
  // end still offers that phase's events (late, as a backlog): the profile is offered whole, never fewer.
  const offeredBy = (time: number) =>
    phases.reduce((sum, phase, i) => sum + (phase.rate * Math.max(0, Math.min(time, ends[i] as number) - (i === 0 ? started : (ends[i - 1] as number)))) / 1000, 0);
  // Events offered by each phase's end: the n-th event belongs to the first phase whose count exceeds n.
  const offeredByEnd = ends.map((end) => Math.floor(offeredBy(end)));
  const total = offeredByEnd[offeredByEnd.length - 1] as number;
  const random = seededRandom(11);
  const producer = (async () => {
    let phase = 0;
    while (produced < total) {
      const now = Date.now();
      for (; phase < phases.length - 1 && now >= (ends[phase] as number); phase++) cpuAtEnd.push(cpuUsage());
      const byLane = new Map<number, Record<string, unknown>[]>();
      for (const due = Math.min(total, Math.floor(offeredBy(now))); produced < due; ) {
        // An event a late tick makes still has its own phase's mix (the spike's hot cards).
        const { name } = phases[offeredByEnd.findIndex((count) => produced < count)] as (typeof phases)[number];
        const roll = random();
        const card = name === 'spike' && roll < HOT_SHARE * HOT_CARDS.length ? (HOT_CARDS[Math.floor(roll / HOT_SHARE)] as string) : `card-${Math.floor(random() * cards)}`;
        const event = {
          card_id: card,
          amount_cents: Math.floor(random() * 50_000) + 100,
          currency: 'USD',
          country: random() < 0.8 ? 'US' : 'FR',
          merchant_id: `m-${Math.floor(random() * 300)}`,
          mcc: random() < 0.05 ? '7995' : '5411',
          ts: new Date(now).toISOString(),
        };
        pending.get(card)?.push(now);
        // The shard by partition key, then the lane within it by the same key (ParallelizationFactor keeps a key's order).
        const lane = shardOfKey(card, shards) * esm.ParallelizationFactor + shardOfKey(`${card}#lane`, esm.ParallelizationFactor);
        const list = byLane.get(lane) ?? [];
        list.push(event);
        byLane.set(lane, list);
        produced++;
      }
      for (const [lane, events] of byLane) {
        const shardId = `shardId-${String(Math.floor(lane / esm.ParallelizationFactor)).padStart(12, '0')}`;
        for (const record of kinesisEvent(events, { shardId, arrival: new Date(now), partitionKey: (e) => String((e as { card_id: string }).card_id) }).Records) {
          lanes[lane]?.push({ record, arrived: now });
        }
      }
      if (produced < total) await sleep(10);
    }
    // The phase ends the loop did not reach (the last events were due before them): their CPU is read
    // now; the last phase's is read when the backlog has drained.
    while (cpuAtEnd.length < phases.length - 1) cpuAtEnd.push(cpuUsage());
    producing = false;
  })();

  // The mapping: a lane invokes the handler when a batch is full, its oldest record waited the window, or the stream ended.
  const consumers = lanes.map(async (lane) => {
    for (;;) {
      const oldest = lane[0];
      if (oldest === undefined) {
        if (!producing) return;
        await sleep(20);
        continue;
      }
      const now = Date.now();
      if (lane.length < esm.BatchSize && now - oldest.arrived < windowMs && producing) {
        await sleep(Math.min(20, windowMs - (now - oldest.arrived)));
        continue;
      }
      const batch = lane.slice(0, esm.BatchSize);
      iteratorAge[phaseAt(now)] = Math.max(iteratorAge[phaseAt(now)] as number, now - oldest.arrived);
      const response = await handler({ Records: batch.map((q) => q.record) });
      // A reported record and the rest of the batch stay at the head of the lane, redelivered in order.
      const failed = batch.findIndex((q) => response.batchItemFailures.some((f) => f.itemIdentifier === q.record.kinesis.sequenceNumber));
      const done = failed < 0 ? batch.length : failed;
      lane.splice(0, done);
      processed[phaseAt(Date.now())] = (processed[phaseAt(Date.now())] as number) + done;
      if (failed >= 0) await sleep(100);
    }
  });

  // The reader: the sampled cards' online event times, every 100 ms, against the times they were produced at.
  let reading = true;
  const reader = (async () => {
    while (reading) {
      const online = await store.getMany(cardActivity, sampled);
      const now = Date.now();
      for (const [card, times] of pending) {
        const seen = online.get(card)?.event_time.getTime();
        if (seen === undefined) continue;
        while (times.length > 0 && (times[0] as number) <= seen) freshness[phaseAt(now)]?.push(now - (times.shift() as number));
      }
      await sleep(100);
    }
  })();

  await producer;
  const producerEnded = Date.now();
  await Promise.all(consumers);
  const drainMs = Date.now() - producerEnded;
  const cpuDone = cpuUsage();
  reading = false;
  await reader;

  const { offline } = await store.backends();
  const offlineRows = (await offline?.scan(cardActivity))?.length ?? 0;
  await store.close();

  const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
  const result: SpikePhase[] = phases.map((phase, i) => {
    const sorted = [...(freshness[i] as number[])].sort((a, b) => a - b);
    const cpuFrom = cpuMs(i === 0 ? cpuAtStart : (cpuAtEnd[i - 1] as NodeJS.CpuUsage));
    const cpuTo = i === phases.length - 1 ? cpuMs(cpuDone) : cpuMs(cpuAtEnd[i] as NodeJS.CpuUsage);
    const count = processed[i] as number;
    return {
      name: phase.name,
      seconds: phase.seconds,
      offeredPerSecond: phase.rate,
      processedPerSecond: Math.round(count / phase.seconds),
      cpuMsPerRecord: count === 0 ? 0 : Math.round(((cpuTo - cpuFrom) / count) * 1000) / 1000,
      iteratorAgeMaxMs: iteratorAge[i] as number,
      freshnessMs: sorted.length === 0 ? undefined : { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] as number },
    };
  });

  print('');
  print('  phase   offered/s  processed/s  CPU/record  iterator age max  freshness p50 / p99 / max');
  for (const p of result) {
    const fresh = p.freshnessMs ? `${p.freshnessMs.p50} / ${p.freshnessMs.p99} / ${p.freshnessMs.max} ms` : '-';
    print(`  ${p.name.padEnd(6)}  ${String(p.offeredPerSecond).padStart(9)}  ${String(p.processedPerSecond).padStart(11)}  ${`${p.cpuMsPerRecord} ms`.padStart(10)}  ${`${p.iteratorAgeMaxMs} ms`.padStart(16)}  ${fresh}`);
  }
  print('');
  print(`  ${produced.toLocaleString('en-US')} produced, ${offlineRows.toLocaleString('en-US')} offline (${produced - offlineRows} lost); the backlog drained ${drainMs} ms after the last event`);
  return {
    group: cardActivity.name,
    dir,
    plan: { shards, parallelizationFactor: esm.ParallelizationFactor, batchSize: esm.BatchSize, windowSeconds: esm.MaximumBatchingWindowInSeconds, freshnessBoundSeconds: capacity.freshness.boundSeconds },
    phases: result,
    produced,
    offline: offlineRows,
    drainMs,
  };
}
