import type { RecordOutcome, WriteSummary } from './feature-store.js';

/** The counts of a write's outcomes. */
export function summarize(outcomes: RecordOutcome[], retried: number, late = 0): WriteSummary {
  const counts = { applied: 0, stale: 0, accepted: 0, duplicate: 0, poison: 0, failed: 0 };
  for (const outcome of outcomes) counts[outcome.status]++;
  return { outcomes, ...counts, retried, late };
}
