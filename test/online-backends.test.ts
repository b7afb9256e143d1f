import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, inject } from 'vitest';
import { dynamoDbOnline, dynamoDbTableDefinition, sageMakerOnline } from '../src/aws/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { contractGroup, onlineStoreContract } from './contracts/online-store.js';

let stack: LocalStack | undefined;
afterAll(async () => {
  await stack?.close();
});

onlineStoreContract('SageMaker Feature Store (local stack, real SDK client)', async () => {
  stack = await startLocalStack({ memory: true });
  await new SageMakerClient(stack.clientConfig).send(
    new CreateFeatureGroupCommand({
      FeatureGroupName: contractGroup.name,
      RecordIdentifierFeatureName: contractGroup.recordIdentifier,
      EventTimeFeatureName: contractGroup.eventTime,
      FeatureDefinitions: [...contractGroup.featureDefinitions],
      OnlineStoreConfig: { EnableOnlineStore: true },
      OfflineStoreConfig: { S3StorageConfig: { S3Uri: 's3://contract/offline' } },
    }),
  );
  return { store: sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(stack.clientConfig) }) };
});

onlineStoreContract('DynamoDB (dynalite, real SDK client)', async () => {
  const client = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const tableName = `features-${Math.random().toString(36).slice(2, 10)}`;
  await client.send(new CreateTableCommand(dynamoDbTableDefinition(tableName)));
  return { store: dynamoDbOnline({ client, tableName }) };
});
