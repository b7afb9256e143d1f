import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processEvents } from '../examples/quickstart/card-activity.js';
import { runFraudExample } from '../examples/fraud-detection/local.js';
import { geohash } from '../examples/surge-pricing/features.js';
import { runSurgeExample } from '../examples/surge-pricing/local.js';
import { handler as firehoseHandler, pageViews } from '../examples/firehose-offline/transform.js';
import { createFeatureStore, offlineRowCodec, trainingSet } from '../src/index.js';
import { localOffline, localOnline } from '../src/local/index.js';
import { firehoseEvent } from '../src/testing/index.js';
import { runDemo } from '../src/cli/demo.js';
import { runSpikeDemo } from '../src/cli/demo-spike.js';
import { planCapacity } from '../src/aws/capacity.js';
import { cardActivity as demoGroup } from '../src/cli/demo-groups.js';

describe('examples/quickstart', () => {
  it('turns valid events into records and bad ones into readable poison', () => {
    const { records, poison } = processEvents([
      { card_id: 'card-1', amount_cents: 1250, country: 'FR', ts: '2024-05-01T12:00:00Z' },
      { card_id: 'card-2', amount_cents: '12.50', country: 'US', ts: '2024-05-01T12:00:00Z' },
    ]);
    expect(records).toEqual([{ card_id: 'card-1', event_time: new Date('2024-05-01T12:00:00Z'), amount: 12.5, is_foreign: true }]);
    expect(poison).toHaveLength(1);
    expect(poison[0]).toContain('amount_cents');
  });
});

describe('the demo', () => {
  it('--spike: streams a rate profile in real time through the mapping planCapacity prescribes, losing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-spike-'));
    try {
      const lines: string[] = [];
      const summary = await runSpikeDemo((line) => lines.push(line), { dir, rate: 500, seconds: [1, 3, 1], cards: 400 });
      const esm = planCapacity(demoGroup, { rate: 500 }).eventSourceMapping;
      expect(summary.plan).toMatchObject({ batchSize: esm.BatchSize, parallelizationFactor: esm.ParallelizationFactor, windowSeconds: esm.MaximumBatchingWindowInSeconds });
      // 10 + 1,500 + 10 events at 10/s, 500/s, 10/s, all offered however busy the process (it offered
      // 1,333 when a tick ran past the spike's end); every one reached the offline store.
      expect(summary.produced).toBe(1_520);
      expect(summary.offline).toBe(summary.produced);
      expect(summary.phases.map((p) => [p.name, p.offeredPerSecond])).toEqual([
        ['calm', 10],
        ['spike', 500],
        ['after', 10],
      ]);
      const spike = summary.phases[1];
      expect(spike?.processedPerSecond).toBeGreaterThan(0);
      // The two hot cards are sampled: their spike events were seen online.
      const fresh = spike?.freshnessMs;
      expect(fresh).toBeDefined();
      expect(fresh && fresh.p50 <= fresh.p99 && fresh.p99 <= fresh.max).toBe(true);
      expect(lines.join('\n')).toMatch(/\d[\d,]* produced, [\d,]+ offline \(0 lost\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('backfills, streams through shards and the handler, builds a training set and audits, on the embedded stores', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-demo-'));
    try {
      const lines: string[] = [];
      let progress = '';
      const summary = await runDemo((line) => lines.push(line), {
        dir,
        cards: 100,
        historyEvents: 3000,
        quietEvents: 300,
        spikeEvents: 1700,
        labels: 400,
        progress: { isTTY: false, write: (text: string) => ((progress += text), true) },
      });
      // The generator breaks two events in every thousand (a string amount, a zoneless time).
      expect(summary).toMatchObject({
        backfilled: { records: 3000, written: 2994, poison: 6 },
        streamed: { records: 2000, poison: 3, redelivered: 0 },
        trainingSet: { rows: 400, matchRate: 1 },
        audit: { consistencyRate: 1 },
      });
      expect(summary.audit.sampled).toBe(100);
      expect(existsSync(summary.trainingSet.file)).toBe(true);
      // Poison went to the dead-letter queue: an SQS queue on the local stack.
      expect(lines.join('\n')).toMatch(/3 poison records to SQS queue http:\/\/127\.0\.0\.1:\d+\/\d+\/card-activity-dead-letter \(3 messages waiting\)/);
      const text = lines.join('\n');
      expect(text).toContain(summary.fingerprint);
      expect(text).toContain('100.00% of 100 cards agree on every feature');
      expect(text).toMatch(/online now for card-\d+: amount [\d.]+, txn_count_1h \d+/);
      // The stream's progress counts the poison it sends to the dead-letter queue.
      expect(progress.trim().split('\n').at(-1)).toMatch(/100%\s+2,000 rows .* poison 3$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('examples/fraud-detection', () => {
  it('backfills, streams, trains and audits against the local stack and dynalite', async () => {
    const summary = await runFraudExample({ history: 800, live: 300, labels: 100 });
    expect(summary).toMatchObject({ backfilled: 800, streamed: 300, reported: 0, matchRate: 1, consistencyRate: 1 });
    expect(summary.trainingRows).toBeGreaterThanOrEqual(100);
    expect(existsSync(summary.trainingFile)).toBe(true);
    // The scoring Lambda's vector: the card's velocity as stored and the transaction measured against it.
    expect(Object.keys(summary.scored)).toEqual([
      'card_id', 'amount', 'country',
      'fraud-card-transactions__txn_count_1h', 'fraud-card-transactions__merchants_24h',
      'txn-vs-card__amount_vs_avg_24h', 'txn-vs-card__above_7d_max', 'txn-vs-card__newly_abroad',
    ]);
    expect(summary.scored['fraud-card-transactions__txn_count_1h']).toEqual(expect.any(Number));
    expect(summary.scored['txn-vs-card__amount_vs_avg_24h']).toEqual(expect.any(Number));
  });
});

describe('examples/surge-pricing', () => {
  it('computes geohashes as the reference encoding does', () => {
    // Known values of the standard geohash algorithm.
    expect(geohash(57.64911, 10.40744, 11)).toBe('u4pruydqqvj');
    expect(geohash(40.7128, -74.006, 6)).toBe('dr5reg');
  });

  it('serves 5-minute demand and supply per cell from two Kafka topics and builds the retraining set', async () => {
    const summary = await runSurgeExample({ minutes: 30 });
    // Minutes 16-29 are the surge. The last five minutes of the busy cell: 12 requests a minute; all 5 of its drivers were free at some point.
    expect(summary.busiest).toMatchObject({ requests_5m: 60, available_drivers_5m: 5 });
    expect(summary).toMatchObject({ requests: 30 * 9 + 14 * 9, pings: 30 * 15, demandMatchRate: 1, supplyMatchRate: 1 });
    expect(summary.trainingRows).toBe(4 * 3);
    // The pricing Lambda serves the busiest cell the features the store holds now (its parity with the training row is checked inside).
    expect(summary.served).toEqual({
      geohash: summary.busiest.geohash,
      'ride-demand__requests_5m': 60,
      'ride-demand__riders_5m': expect.any(Number),
      'driver-supply__available_drivers_5m': 5,
    });
  });
});

describe('examples/firehose-offline', () => {
  it('turns clickstream events into offline rows Firehose partitions into the store layout, readable by training sets', async () => {
    const at = Date.UTC(2024, 4, 1, 9);
    const views = Array.from({ length: 50 }, (_, i) => ({
      session_id: `s-${i % 10}`,
      url: `https://shop.example.com/p/${i}?utm=x`,
      referrer: i % 2 ? 'https://www.google.com/' : undefined,
      ms_on_page: 1000 * i,
      at: new Date(at + i * 60_000).toISOString(),
    }));
    const response = await firehoseHandler(firehoseEvent([...views, { session_id: 'broken' }]));
    expect(response.records.map((r) => r.result)).toEqual([...views.map(() => 'Ok'), 'ProcessingFailed']);
    const first = response.records[0] as { data: string; metadata?: { partitionKeys: Record<string, string> } };
    expect(first.metadata?.partitionKeys).toEqual({ year: '2024', month: '05', day: '01', hour: '09' });

    // Firehose delivers the rows (here: straight into the local offline store, as its Parquet conversion would).
    const offline = await localOffline({ memory: true });
    const rows = response.records.filter((r) => r.result === 'Ok').map((r) => JSON.parse(Buffer.from(r.data, 'base64').toString('utf8')) as Record<string, unknown>);
    await offline.append(
      pageViews,
      rows.map((row) => ({
        record: pageViews.codec.toRecord(offlineRowCodec(pageViews).fromRow(row)),
        writeTime: new Date(String(row['write_time'])),
        apiInvocationTime: new Date(String(row['api_invocation_time'])),
        isDeleted: false,
      })),
    );
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline });
    const { rows: training } = await trainingSet(store, {
      spine: [{ session_id: 's-3', t: new Date(at + 30 * 60_000) }],
      entityKey: 'session_id',
      timestamp: 't',
      features: [pageViews.select('path', 'from_search', 'seconds_on_page')],
    });
    // Session s-3's latest view by minute 30 was view 23: path without the query, from Google, 23 s.
    expect(training[0]).toMatchObject({ 'page-views__path': '/p/23', 'page-views__from_search': true, 'page-views__seconds_on_page': 23 });
    await store.close();
  });
});
