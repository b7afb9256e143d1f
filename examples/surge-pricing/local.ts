// Surge pricing on your machine: MSK events built in process go through the two Kafka handlers into the
// embedded stores, then the weekly training set. `npm run example:surge` runs it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createFeatureStore } from 'skewless';
import { kafkaHandler } from 'skewless/lambda';
import { localStores } from 'skewless/local';
import { expectServingParity, kafkaEvent } from 'skewless/testing';
import { driverSupply, geohash, rideDemand } from './features.js';
import { type SurgeLabel, weeklyTrainingSet } from './retrain.js';
import { pricingFeatures, pricingHandler } from './serve.js';

const MINUTE = 60_000;
// Three neighbourhoods: a cell each.
const PLACES = [
  { lat: 40.7128, lon: -74.006 },
  { lat: 40.758, lon: -73.9855 },
  { lat: 40.6782, lon: -73.9442 },
];

export interface SurgeExampleSummary {
  readonly requests: number;
  readonly pings: number;
  readonly trainingRows: number;
  readonly demandMatchRate: number;
  readonly supplyMatchRate: number;
  readonly busiest: { readonly geohash: string; readonly requests_5m: number; readonly available_drivers_5m: number | undefined };
  readonly trainingFile: string;
  /** What the pricing Lambda answered for the busiest cell (the HTTP body's vector). */
  readonly served: Record<string, unknown>;
}

export async function runSurgeExample(options: { readonly minutes?: number; readonly log?: (line: string) => void } = {}): Promise<SurgeExampleSummary> {
  const log = options.log ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'skewless-surge-'));
  // Poison records (none expected) are kept here; on AWS they go to an SQS queue (ingest.ts).
  const deadLetters: unknown[] = [];
  const store = createFeatureStore({ ...localStores({ dir }), deadLetter: (entries) => void deadLetters.push(...entries) });
  const requestsHandler = kafkaHandler(rideDemand, { store, log: false });
  const pingsHandler = kafkaHandler(driverSupply, { store, log: false });
  try {
    const minutes = options.minutes ?? 120;
    const start = Date.now() - minutes * MINUTE;
    let requests = 0;
    let pings = 0;
    // Minute by minute: demand rises in the first place half-way through (a concert lets out).
    for (let m = 0; m < minutes; m++) {
      const at = (s: number) => new Date(start + m * MINUTE + s * 1000).toISOString();
      const batch = PLACES.flatMap((p, k) =>
        Array.from({ length: k === 0 && m > minutes / 2 ? 12 : 3 }, (_, i) => ({ request_id: `r-${m}-${k}-${i}`, rider_id: `rider-${(m * 7 + i) % 40}`, lat: p.lat, lon: p.lon, requested_at: at(i) })),
      );
      const gps = PLACES.flatMap((p, k) =>
        Array.from({ length: 5 }, (_, d) => ({ driver_id: `driver-${k}-${d}`, lat: p.lat, lon: p.lon, status: (m + d) % 3 === 0 ? 'on_trip' : 'available', sent_at: at(d * 10) })),
      );
      await requestsHandler(kafkaEvent(batch, { topic: 'ride-requests' }));
      await pingsHandler(kafkaEvent(gps, { topic: 'driver-pings' }));
      requests += batch.length;
      pings += gps.length;
    }
    log(`streamed ${requests} ride requests and ${pings} driver pings through kafkaHandler`);

    const busiestCell = geohash(PLACES[0]!.lat, PLACES[0]!.lon);
    const demand = await store.get(rideDemand, busiestCell);
    const supply = await store.get(driverSupply, busiestCell);
    log(`online now for ${busiestCell}: ${demand?.requests_5m} requests and ${supply?.available_drivers_5m} free drivers in 5 minutes`);

    // The pricing service asks the serving Lambda for the busiest cell, as API Gateway would call it.
    const response = await pricingHandler(store, { log: false })({ body: JSON.stringify({ geohash: busiestCell }) });
    const served = (JSON.parse(response.body) as { vector: Record<string, unknown> }).vector;
    log(`served for ${busiestCell} (HTTP ${response.statusCode}): ${JSON.stringify(served)}`);
    // ...and it is the training row for this instant: the model sees at inference what it was trained on.
    await expectServingParity(store, { entities: PLACES.map((p) => ({ geohash: geohash(p.lat, p.lon) })), entityKey: 'geohash', features: pricingFeatures });

    // Labels every 5 minutes per cell (the surge the pricing service applied), joined as of their time.
    const labels: SurgeLabel[] = [];
    for (let t = start + 10 * MINUTE; t < start + minutes * MINUTE; t += 5 * MINUTE) {
      for (const p of PLACES) labels.push({ geohash: geohash(p.lat, p.lon), at: new Date(t), surge_multiplier: 1 });
    }
    const trainingFile = join(dir, 'weekly.parquet');
    const { summary } = await weeklyTrainingSet(store, labels, trainingFile);
    log(`training set: ${summary.rows} rows -> ${trainingFile}`);
    return {
      requests,
      pings,
      trainingRows: summary.rows,
      demandMatchRate: summary.matchRate[rideDemand.name] ?? 0,
      supplyMatchRate: summary.matchRate[driverSupply.name] ?? 0,
      busiest: { geohash: busiestCell, requests_5m: demand?.requests_5m ?? 0, available_drivers_5m: supply?.available_drivers_5m },
      trainingFile,
      served,
    };
  } finally {
    await store.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await runSurgeExample({ log: (line) => console.log(line) })));
}
