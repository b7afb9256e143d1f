// The training set: chargeback labels joined point-in-time with the card's features on Athena.
import { type FeatureStore, trainingSet } from 'skewless';
import { cardTransactions } from './features.js';

export interface Chargeback {
  readonly card_id: string;
  readonly decided_at: Date;
  readonly is_fraud: boolean;
}

export async function buildTrainingSet(store: FeatureStore, labels: readonly Chargeback[], out: string) {
  return trainingSet(store, {
    spine: labels,
    entityKey: 'card_id',
    timestamp: 'decided_at',
    features: [
      cardTransactions
        .select('amount', 'is_foreign', 'is_gambling', 'txn_count_1h', 'txn_count_24h', 'amount_sum_24h', 'amount_max_7d', 'merchants_24h')
        .with({ prefix: '', maxAge: '30d' }),
    ],
    output: { parquet: out },
  });
}
