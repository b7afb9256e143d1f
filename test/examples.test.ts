import { describe, expect, it } from 'vitest';
import { processEvents } from '../examples/quickstart/card-activity.js';
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
  it('processes synthetic transactions and reports the poison it planted', () => {
    const lines: string[] = [];
    const summary = runDemo((line) => lines.push(line), 5000);
    // The generator breaks two events in every thousand (a string amount, a zoneless time).
    expect(summary).toMatchObject({ processed: 5000, valid: 4990, poison: 10 });
    expect(lines.join('\n')).toContain(summary.fingerprint);
    expect(lines.join('\n')).toContain('SourceValidationError');
  });
});
