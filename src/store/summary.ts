import type { RecordOutcome, WriteSummary } from './feature-store.js';

/** Counts a write reports beside its outcomes. */
export interface WriteCounts {
  readonly retried: number;
  readonly late?: number;
  readonly conflicts?: number;
  readonly reemitted?: number;
}

/** The counts of a write's outcomes. */
export function summarize(outcomes: RecordOutcome[], counts: WriteCounts): WriteSummary {
  const statuses = { applied: 0, stale: 0, accepted: 0, duplicate: 0, poison: 0, failed: 0 };
  for (const outcome of outcomes) statuses[outcome.status]++;
  return { outcomes, ...statuses, retried: counts.retried, late: counts.late ?? 0, conflicts: counts.conflicts ?? 0, reemitted: counts.reemitted ?? 0 };
}
