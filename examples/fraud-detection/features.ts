// The fraud-detection feature group: row features of each card transaction and the card's velocity.
// One definition: the ingestion Lambda, the backfill and the training-set script all import it.
import { z } from 'zod';
import { count, defineFeatureGroup, distinctCount, isoTimestamp, max, sum } from 'skewless';

export const cardTransactions = defineFeatureGroup({
  name: 'fraud-card-transactions',
  description: 'Card transactions with per-card velocity, for fraud scoring',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({
    card_id: z.string(),
    amount_cents: z.number().int().nonnegative(),
    country: z.string().length(2),
    merchant_id: z.string(),
    mcc: z.string(),
    ts: isoTimestamp(),
  }),
  features: z.object({
    card_id: z.string().min(1),
    event_time: z.date(),
    amount: z.number(),
    is_foreign: z.boolean(),
    merchant_id: z.string(),
    is_gambling: z.boolean(),
  }),
  transform: (e) => ({
    card_id: e.card_id,
    event_time: e.ts,
    amount: e.amount_cents / 100,
    is_foreign: e.country !== 'US',
    merchant_id: e.merchant_id,
    is_gambling: e.mcc === '7995',
  }),
  // Velocity: the same values in the Lambda (state in DynamoDB) and in backfills.
  aggregations: {
    txn_count_1h: count({ window: '1h' }),
    txn_count_24h: count({ window: '24h' }),
    amount_sum_24h: sum('amount', { window: '24h' }),
    amount_max_7d: max('amount', { window: '7d' }),
    merchants_24h: distinctCount('merchant_id', { window: '24h', limit: 50 }),
  },
  allowedLateness: '10m',
});
