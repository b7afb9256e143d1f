// The ingestion Lambda: Kinesis (partition key = card_id) -> kinesisHandler -> SageMaker online store
// (SageMaker delivers the offline store itself), velocity state in DynamoDB, poison to an SQS queue.
import { type FeatureStore, createFeatureStore } from 'skewless';
import { dynamoDbAggregationState, sageMakerOnline, sqsDeadLetter } from 'skewless/aws';
import { kinesisHandler } from 'skewless/lambda';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { cardTransactions } from './features.js';

export interface IngestClients {
  readonly runtime?: SageMakerFeatureStoreRuntimeClient;
  readonly dynamoDb?: DynamoDBClient;
  readonly stateTable?: string;
  readonly deadLetterQueueUrl?: string;
}

/** The store the Lambda writes through; clients default to the Lambda's environment. */
export function ingestStore(clients: IngestClients = {}): FeatureStore {
  const queueUrl = clients.deadLetterQueueUrl ?? process.env['DEAD_LETTER_QUEUE_URL'];
  return createFeatureStore({
    online: sageMakerOnline(clients.runtime ? { client: clients.runtime } : {}),
    offline: false,
    aggregationState: dynamoDbAggregationState({
      tableName: clients.stateTable ?? process.env['STATE_TABLE'] ?? 'skewless-state',
      ...(clients.dynamoDb ? { client: clients.dynamoDb } : {}),
    }),
    ...(queueUrl ? { deadLetter: sqsDeadLetter({ queueUrl }) } : {}),
  });
}

/** What the Lambda exports: `handler` in the function's configuration. */
export const handler = kinesisHandler(cardTransactions, { store: ingestStore(), metrics: { namespace: 'FraudFeatures' } });
