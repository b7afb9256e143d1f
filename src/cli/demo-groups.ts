import { z } from 'zod';
import { defineFeatureGroup } from '../define.js';
import { isoTimestamp } from '../schema/time.js';

/** The fraud-detection group the demo runs: card transactions in, per-card features out. */
export const cardActivity = defineFeatureGroup({
  name: 'card-activity',
  description: 'Per-card transaction features for fraud detection',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({
    card_id: z.string(),
    amount_cents: z.number().int(),
    currency: z.string().length(3),
    country: z.string().length(2),
    merchant_id: z.string(),
    mcc: z.string(),
    ts: isoTimestamp(),
  }),
  features: z.object({
    card_id: z.string().min(1),
    event_time: z.date(),
    amount: z.number(),
    currency: z.string(),
    is_foreign: z.boolean(),
    merchant_id: z.string(),
    mcc: z.string(),
    hour_of_day: z.number().int(),
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
});
