// Two Lambdas on MSK, one per topic; both write the online store SageMaker serves pricing from. They
// fail at cold start, with a message naming the variable, when their environment is incomplete.
import { createFeatureStore, type FeatureStore } from 'skewless';
import { dynamoDbAggregationState, sageMakerOnline, sqsDeadLetter } from 'skewless/aws';
import { kafkaHandler } from 'skewless/lambda';
import { driverSupply, rideDemand } from './features.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the surge-pricing Lambdas need the environment variable ${name}`);
  return value;
}

function awsStore(): FeatureStore {
  return createFeatureStore({
    online: sageMakerOnline(),
    offline: false,
    aggregationState: dynamoDbAggregationState({ tableName: required('STATE_TABLE') }),
    deadLetter: sqsDeadLetter({ queueUrl: required('DEAD_LETTER_QUEUE_URL') }),
  });
}

/** Event source mapping on the `ride-requests` topic. */
export const requestsHandler = kafkaHandler(rideDemand, { store: awsStore() });
/** Event source mapping on the `driver-pings` topic. */
export const pingsHandler = kafkaHandler(driverSupply, { store: awsStore() });
