import { CreateTableCommand, type DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { dynamoDbTableDefinition } from '../../src/aws/index.js';

/**
 * Creates the table `dynamoDbOnline` and `dynamoDbAggregationState` expect and returns once it is
 * ACTIVE. CreateTable is asynchronous: the table is CREATING when the call returns and a request
 * before it turns ACTIVE fails with ResourceNotFoundException (DynamoDB API reference, CreateTable;
 * dynalite follows it on a timer, so a loaded machine loses that race).
 */
export async function createFeatureTable(client: DynamoDBClient, tableName: string): Promise<string> {
  await client.send(new CreateTableCommand(dynamoDbTableDefinition(tableName)));
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: tableName });
  return tableName;
}
