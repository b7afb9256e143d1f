import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { dynamoDbOnline, sageMakerOnline } from '../src/aws/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { BackendError, type OnlineStore, type SageMakerRecord } from '../src/index.js';
import { contractGroup, contractRecord, onlineStoreContract } from './contracts/online-store.js';
import { createGroupOnStack } from './fixtures/stack.js';
import { createFeatureTable } from './setup/tables.js';

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
  await createFeatureTable(client, tableName);
  return { store: dynamoDbOnline({ client, tableName }) };
});

describe('after a record of an identifier fails, its later records in the same call are not sent', () => {
  // On equal event times the online store keeps the first record written; a later record sent after an
  // earlier one failed would overtake it when Lambda redelivers the failed one.
  const refused: SageMakerRecord = [...contractRecord('x', '2024-05-01T00:00:01.000Z'), { FeatureName: 'not_a_feature', ValueAsString: '1' }];

  async function expectHalted(store: OnlineStore, id: string) {
    const records = [contractRecord(id, '2024-05-01T00:00:00.000Z', 1), refused.map((f) => (f.FeatureName === 'id' ? { ...f, ValueAsString: id } : f)), contractRecord(id, '2024-05-01T00:00:02.000Z', 3), contractRecord(`${id}-other`, '2024-05-01T00:00:02.000Z', 4)];
    const outcomes = await store.put(contractGroup, records);
    expect(outcomes[0]).toMatch(/applied|accepted/);
    expect(outcomes[1]).toBeInstanceOf(BackendError);
    expect(outcomes[2]).toMatchObject({ code: 'WRITE_FAILED', retryable: true, message: expect.stringMatching(/earlier record of the same identifier/) });
    expect(outcomes[3]).toMatch(/applied|accepted/);
    const amount = (await store.get(contractGroup, id))?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString;
    expect(amount).toBe('1');
  }

  it.each([
    ['sageMakerOnline (PutRecord)', false],
    ['sageMakerOnline (BatchWriteRecord)', true],
  ])('%s', async (_name, batchWrite) => {
    const local = await startLocalStack({ memory: true });
    try {
      await createGroupOnStack(local.clientConfig, contractGroup);
      const store = sageMakerOnline({ client: new SageMakerFeatureStoreRuntimeClient(local.clientConfig), batchWrite, collapse: false });
      await expectHalted(store, `halt-${batchWrite}`);
    } finally {
      await local.close();
    }
  });

  it('dynamoDbOnline', async () => {
    const client = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const tableName = `halt-${Math.random().toString(36).slice(2, 10)}`;
    await createFeatureTable(client, tableName);
    await expectHalted(dynamoDbOnline({ client, tableName }), 'halt-ddb');
  });
});
