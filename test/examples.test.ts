import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processEvents } from '../examples/quickstart/card-activity.js';
import { runFraudExample } from '../examples/fraud-detection/local.js';
import { runDemo } from '../src/cli/demo.js';

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
  it('backfills, streams through kinesalite and the handler, builds a training set and audits, on the embedded stores', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-demo-'));
    try {
      const lines: string[] = [];
      const summary = await runDemo((line) => lines.push(line), { dir, cards: 100, historyEvents: 3000, quietEvents: 300, spikeEvents: 1700, labels: 400 });
      // The generator breaks two events in every thousand (a string amount, a zoneless time).
      expect(summary).toMatchObject({
        streamedVia: 'kinesalite',
        backfilled: { records: 3000, written: 2994, poison: 6 },
        streamed: { records: 2000, poison: 3, redelivered: 0 },
        trainingSet: { rows: 400, matchRate: 1 },
        audit: { consistencyRate: 1 },
      });
      expect(summary.audit.sampled).toBe(100);
      expect(existsSync(summary.trainingSet.file)).toBe(true);
      expect(readFileSync(join(dir, 'dead-letter.ndjson'), 'utf8').trim().split('\n')).toHaveLength(3);
      const text = lines.join('\n');
      expect(text).toContain(summary.fingerprint);
      expect(text).toContain('100.00% of 100 cards agree on every feature');
      expect(text).toMatch(/online now for card-\d+: amount [\d.]+, txn_count_1h \d+/);
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
  });
});
