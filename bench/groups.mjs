// The realistic 12-feature group the benchmarks run: a card transaction in, per-card features out.
import { z } from 'zod';
import { count, defineFeatureGroup, distinctCount, isoTimestamp, max, sum } from '../dist/index.js';

export const cardTransactions = defineFeatureGroup({
  name: 'card-transactions',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: z.object({
    card_id: z.string(),
    amount_cents: z.number().int(),
    currency: z.string().length(3),
    country: z.string().length(2),
    merchant_id: z.string(),
    mcc: z.string(),
    channel: z.enum(['pos', 'ecom', 'atm']),
    card_present: z.boolean(),
    device_id: z.string().optional(),
    ip_risk: z.number().min(0).max(1),
    installments: z.number().int().min(1),
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
    channel: z.enum(['pos', 'ecom', 'atm']),
    card_present: z.boolean(),
    device_id: z.string().optional(),
    ip_risk: z.number(),
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
    channel: e.channel,
    card_present: e.card_present,
    device_id: e.device_id,
    ip_risk: e.ip_risk,
    hour_of_day: e.ts.getUTCHours(),
  }),
});

const channels = ['pos', 'ecom', 'atm'];
const countries = ['US', 'US', 'FR', 'DE', 'BR'];
const start = Date.UTC(2024, 4, 1);

/** `count` source events, deterministic, shaped like a payment producer's JSON. */
export function cardEvents(count) {
  const events = [];
  for (let i = 0; i < count; i++) events.push(cardEvent(i));
  return events;
}

/** Event `i` of the deterministic sequence (37 ms apart: 10 million span about four days). */
export function cardEvent(i) {
  return {
    card_id: `card-${(i * 7919) % 100_000}`,
    amount_cents: (i * 104_729) % 500_000,
    currency: 'USD',
    country: countries[i % countries.length],
    merchant_id: `m-${(i * 31) % 20_000}`,
    mcc: String(5000 + (i % 900)),
    channel: channels[i % 3],
    card_present: i % 2 === 0,
    ...(i % 4 === 0 ? {} : { device_id: `dev-${i % 50_000}` }),
    ip_risk: (i % 1000) / 1000,
    installments: 1 + (i % 12),
    ts: new Date(start + i * 37).toISOString(),
  };
}

/** The same group with the fraud example's velocity features: the aggregation benchmark's subject. */
export const cardVelocity = defineFeatureGroup({
  name: 'card-velocity',
  recordIdentifier: 'card_id',
  eventTime: 'event_time',
  source: cardTransactions.source,
  features: cardTransactions.features,
  transform: cardTransactions.transform,
  aggregations: {
    txn_count_1h: count({ window: '1h' }),
    amount_sum_24h: sum('amount', { window: '24h' }),
    amount_max_24h: max('amount', { window: '24h' }),
    merchants_24h: distinctCount('merchant_id', { window: '24h', limit: 50 }),
  },
});
