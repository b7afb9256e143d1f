// Scoring a transaction: the fraud model's inputs for the card, as its training rows have them, plus
// features of the transaction itself measured against the card's history — one transform that the
// training set runs over the chargeback labels and the scoring Lambda runs over the request.
import { z } from 'zod';
import { defineRequestFeatures, type FeatureStore } from 'skewless';
import { featureVectorHandler } from 'skewless/lambda';
import { cardTransactions } from './features.js';

/** How this transaction compares with the card's last 24 hours and 7 days. */
export const transactionVsCard = defineRequestFeatures({
  name: 'txn-vs-card',
  request: z.object({ amount: z.number().nonnegative(), country: z.string().length(2) }),
  reads: { card: cardTransactions.select('amount_sum_24h', 'txn_count_24h', 'amount_max_7d', 'is_foreign') },
  features: z.object({
    amount_vs_avg_24h: z.number().nullable(),
    above_7d_max: z.boolean().nullable(),
    newly_abroad: z.boolean(),
  }),
  transform: (request, { card }) => ({
    amount_vs_avg_24h: card.amount_sum_24h && card.txn_count_24h ? request.amount / (card.amount_sum_24h / card.txn_count_24h) : null,
    above_7d_max: card.amount_max_7d == null ? null : request.amount > card.amount_max_7d,
    newly_abroad: request.country !== 'US' && card.is_foreign === false,
  }),
});

/** One scoring request: the card and the transaction being authorised. */
export const scoringRequest = z.object({ card_id: z.string().min(1), amount: z.number().nonnegative(), country: z.string().length(2) });

/** The model's inputs: the card's velocity as stored, and the transaction against it. */
export const scoringFeatures = [cardTransactions.select('txn_count_1h', 'merchants_24h').with({ maxAge: '7d' }), transactionVsCard] as const;

/** The scoring Lambda over any store (the local stack's in `local.ts`, SageMaker's in `score-lambda.ts`). */
export function scoringHandler(store: FeatureStore, options: { readonly log?: false } = {}) {
  return featureVectorHandler({ store, request: scoringRequest, entityKey: 'card_id', features: scoringFeatures, ...options });
}
