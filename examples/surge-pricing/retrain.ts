// The weekly retraining set: every cell every 5 minutes of the last week, with demand and supply as
// they were at that moment, and the observed surge (the label) next to them.
import { type FeatureStore, trainingSet } from 'skewless';
import { driverSupply, rideDemand } from './features.js';

export interface SurgeLabel {
  readonly geohash: string;
  readonly at: Date;
  readonly surge_multiplier: number;
}

export async function weeklyTrainingSet(store: FeatureStore, labels: readonly SurgeLabel[], out: string) {
  return trainingSet(store, {
    spine: labels,
    entityKey: 'geohash',
    timestamp: 'at',
    features: [
      rideDemand.select('requests_5m', 'riders_5m', 'requests_1h').with({ prefix: 'demand_', maxAge: '5m' }),
      driverSupply.select('available_drivers_5m').with({ prefix: 'supply_', maxAge: '5m' }),
    ],
    output: { parquet: out },
  });
}
