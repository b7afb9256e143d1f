import * as z from 'zod/mini';
import { defineFeatureGroup } from '../feature-group.js';
import { count, distinctCount, max, sum } from '../pipeline/builders.js';
import { isoTimestamp } from '../schema/time.js';

/** The fraud-detection group the demo runs: card transactions in, per-card row and velocity features out. */
export const cardActivity = defineFeatureGroup({
  name: 'card-activity',
  description: 'Per-card transaction features for fraud detection',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({
    card_id: z.string(),
    amount_cents: z.int(),
    currency: z.string().check(z.length(3)),
    country: z.string().check(z.length(2)),
    merchant_id: z.string(),
    mcc: z.string(),
    ts: isoTimestamp(),
  }),
  features: z.object({
    card_id: z.string().check(z.minLength(1)),
    event_time: z.date(),
    amount: z.number(),
    currency: z.string(),
    is_foreign: z.boolean(),
    merchant_id: z.string(),
    mcc: z.string(),
    hour_of_day: z.int(),
  }),
  transform: (e) => ({
    card_id: e.card_id,
    event_time: e.ts,
    amount: e.amount_cents / 100,
    currency: e.currency,
    is_foreign: e.country !== 'US',
    merchant_id: e.merchant_id,
    mcc: e.mcc,
    hour_of_day: e.ts.getUTCHours(),
  }),
  // Velocity: how much and how widely the card was used lately (the same values in the stream and in backfills).
  aggregations: {
    txn_count_1h: count({ window: '1h' }),
    amount_sum_24h: sum('amount', { window: '24h' }),
    amount_max_24h: max('amount', { window: '24h' }),
    merchants_24h: distinctCount('merchant_id', { window: '24h', limit: 100 }),
  },
});
