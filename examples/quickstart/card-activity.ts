// The quick start of the README: define a feature group once, run its pipeline on raw events.
import { z } from 'zod';
import { defineFeatureGroup, formatError, isoTimestamp, type InferFeatures } from 'skewless';

export const cardActivity = defineFeatureGroup({
  name: 'card-activity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({
    card_id: z.string(),
    amount_cents: z.number().int(),
    country: z.string().length(2),
    ts: isoTimestamp(), // an ISO-8601 string with a zone, parsed to a Date
  }),
  features: z.object({
    card_id: z.string(),
    event_time: z.date(),
    amount: z.number(),
    is_foreign: z.boolean(),
  }),
  transform: (e) => ({
    card_id: e.card_id,
    event_time: e.ts,
    amount: e.amount_cents / 100,
    is_foreign: e.country !== 'US',
  }),
});

export type CardActivity = InferFeatures<typeof cardActivity>;

/** Runs raw events through the group's pipeline and splits them into records and poison. */
export function processEvents(events: readonly unknown[]): { records: CardActivity[]; poison: string[] } {
  const { records, failures } = cardActivity.processBatch(events);
  return {
    records: records.map((r) => r.record),
    poison: failures.map((f) => formatError(f.error)),
  };
}
