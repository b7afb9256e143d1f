// The ingestion Lambda's store: Kinesis (partition key = card_id) -> kinesisHandler -> SageMaker online
// store (SageMaker delivers the offline store itself), velocity state in DynamoDB, poison to an SQS queue.
// The deployed entry is lambda.ts; local.ts builds the same store against the local stack.
import { type FeatureStore, createFeatureStore } from 'skewless';
import { type AwsClient, dynamoDbAggregationState, sageMakerOnline, sqsDeadLetter } from 'skewless/aws';

export interface IngestClients {
  readonly runtime?: AwsClient;
  readonly dynamoDb?: AwsClient;
  readonly sqs?: AwsClient;
  readonly stateTable: string;
  readonly deadLetterQueueUrl: string;
}

/** The store the Lambda writes through. */
export function ingestStore(clients: IngestClients): FeatureStore {
  return createFeatureStore({
    // BatchWriteRecord, collapsed: an identifier's newest record online, every record offline (README: Throughput
    // into SageMaker). Required here, not just the default: an SDK without it fails loudly instead of falling back.
    online: sageMakerOnline({ batchWrite: true, ...(clients.runtime ? { client: clients.runtime } : {}) }),
    offline: false,
    aggregationState: dynamoDbAggregationState({ tableName: clients.stateTable, ...(clients.dynamoDb ? { client: clients.dynamoDb } : {}) }),
    deadLetter: sqsDeadLetter({ queueUrl: clients.deadLetterQueueUrl, ...(clients.sqs ? { client: clients.sqs } : {}) }),
  });
}
