// The pricing service's read: a Lambda behind API Gateway answering, per geohash cell, the demand and
// supply features the surge model was trained on — the same columns, types and nulls as its training rows.
import { z } from 'zod';
import type { FeatureStore } from 'skewless';
import { featureVectorHandler } from 'skewless/lambda';
import { driverSupply, rideDemand } from './features.js';

/** A request names a cell: the geohash of precision 6 the features are keyed by. */
export const pricingRequest = z.object({ geohash: z.string().regex(/^[0-9b-hjkmnp-z]{6}$/) });

/** What the surge model reads per cell; window values older than 10 minutes say nothing about now. */
export const pricingFeatures = [
  rideDemand.select('requests_5m', 'riders_5m').with({ maxAge: '10m' }),
  driverSupply.select('available_drivers_5m').with({ maxAge: '10m' }),
] as const;

/** The serving Lambda over any store (the embedded one in `local.ts`, SageMaker's in `serve-lambda.ts`). */
export function pricingHandler(store: FeatureStore, options: { readonly log?: false } = {}) {
  return featureVectorHandler({ store, request: pricingRequest, entityKey: 'geohash', features: pricingFeatures, ...options });
}
