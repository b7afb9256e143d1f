// Two Lambdas on MSK, one per topic; both write the online store SageMaker serves pricing from.
import { createFeatureStore, type FeatureStore } from 'skewless';
import { dynamoDbAggregationState, sageMakerOnline } from 'skewless/aws';
import { kafkaHandler } from 'skewless/lambda';
import { driverSupply, rideDemand } from './features.js';

function awsStore(): FeatureStore {
  return createFeatureStore({
    online: sageMakerOnline(),
    offline: false,
    aggregationState: dynamoDbAggregationState({ tableName: process.env['STATE_TABLE'] ?? 'surge-state' }),
  });
}

/** Event source mapping on the `ride-requests` topic. */
export const requestsHandler = kafkaHandler(rideDemand, { store: awsStore() });
/** Event source mapping on the `driver-pings` topic. */
export const pingsHandler = kafkaHandler(driverSupply, { store: awsStore() });
