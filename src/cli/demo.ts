import { formatError } from '../errors.js';
import { seededRandom } from '../util/random.js';
import { cardActivity } from './demo-groups.js';

const COUNTRIES = ['US', 'US', 'US', 'FR', 'DE', 'BR'];
const MCCS = ['5411', '5812', '5999', '4111'];

/** Synthetic card transactions as a Kinesis producer would send them, with a few malformed ones mixed in. */
export function syntheticTransactions(count: number, seed = 7): unknown[] {
  const random = seededRandom(seed);
  const start = Date.UTC(2024, 4, 1);
  const events: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const event: Record<string, unknown> = {
      card_id: `card-${Math.floor(random() * 500)}`,
      amount_cents: Math.floor(random() * 50_000) + 50,
      currency: 'USD',
      country: COUNTRIES[Math.floor(random() * COUNTRIES.length)],
      merchant_id: `m-${Math.floor(random() * 2000)}`,
      mcc: MCCS[Math.floor(random() * MCCS.length)],
      ts: new Date(start + i * 1000).toISOString(),
    };
    // One event in a thousand is broken the ways real producers break them.
    if (i % 1000 === 999) event['amount_cents'] = String(event['amount_cents']);
    if (i % 1000 === 499) event['ts'] = '2024-05-01T12:00:00';
    events.push(event);
  }
  return events;
}

export interface DemoSummary {
  readonly processed: number;
  readonly valid: number;
  readonly poison: number;
  readonly recordsPerSecond: number;
  readonly fingerprint: string;
}

/** The demo: run the group's one pipeline over synthetic transactions and show what it produced. */
export function runDemo(print: (line: string) => void, count = 100_000): DemoSummary {
  print(`skewless demo: feature group "${cardActivity.name}" (fingerprint ${cardActivity.fingerprint})`);
  print(`  features: ${cardActivity.featureDefinitions.map((d) => `${d.FeatureName}:${d.FeatureType}`).join(', ')}`);
  const events = syntheticTransactions(count);
  const started = performance.now();
  const { records, failures } = cardActivity.processBatch(events, {
    position: (index) => ({ source: 'demo', index }),
  });
  const seconds = (performance.now() - started) / 1000;
  const recordsPerSecond = Math.round(count / seconds);
  print(`  processed ${count.toLocaleString('en-US')} events in ${seconds.toFixed(2)} s (${recordsPerSecond.toLocaleString('en-US')} records/s)`);
  print(`  valid: ${records.length.toLocaleString('en-US')}   poison: ${failures.length.toLocaleString('en-US')}`);
  const sample = records[0];
  if (sample) print(`  first encoded SageMaker record: ${JSON.stringify(sample.encoded)}`);
  const firstFailure = failures[0];
  if (firstFailure) {
    print('  first poison record (would go to the dead-letter sink):');
    for (const line of formatError(firstFailure.error).split('\n')) print(`    ${line}`);
  }
  return { processed: count, valid: records.length, poison: failures.length, recordsPerSecond, fingerprint: cardActivity.fingerprint };
}
