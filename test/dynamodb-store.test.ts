import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { dynamoDbItemCodec, dynamoDbOnline, dynamoDbTableDefinition, s3Offline } from '../src/aws/index.js';
import { createFeatureStore, defineFeatureGroup } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { dynamoDbContract } from './contracts/dynamodb.js';

const sessions = defineFeatureGroup({
  name: 'user-sessions',
  recordIdentifier: 'user_id',
  eventTime: 'seen_at',
  ttl: { Unit: 'Days', Value: 7 },
  source: z.object({ user_id: z.bigint(), seen_at: z.date(), pages: z.number().int() }),
  features: z.object({ user_id: z.bigint(), seen_at: z.date(), pages: z.number().int() }),
  transform: (e) => e,
});

let stack: LocalStack;
let ddb: DynamoDBClient;
const tableName = 'skewless-online';

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  ddb = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  await ddb.send(new CreateTableCommand(dynamoDbTableDefinition(tableName)));
});
afterAll(async () => {
  await stack.close();
});

dynamoDbContract('dynalite', {
  client: () => new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
  normalizesNumbers: true,
});

describe('createFeatureStore on DynamoDB (dynalite) and S3 (local stack)', () => {
  it('writes online with the group\'s TTL attribute and every record offline as Parquet', async () => {
    const store = createFeatureStore({
      online: dynamoDbOnline({ client: ddb, tableName }),
      offline: s3Offline({ client: new S3Client(stack.clientConfig), bucket: 'lake', prefix: 'features' }),
    });
    const seen = new Date(Date.now() - 60_000);
    const id = 2n ** 60n + 7n;
    const summary = await store.ingest(sessions, [
      { user_id: id, seen_at: seen, pages: 3 },
      { user_id: id, seen_at: new Date(seen.getTime() - 1000), pages: 1 },
    ]);
    expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'stale']);
    expect(await store.get(sessions, id)).toEqual({ user_id: id, seen_at: seen, pages: 3 });
    const item = await ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: `user-sessions#${id}` } } }));
    const expiresMs = seen.getTime() + 7 * 86_400_000;
    expect(item.Item?.['expires_at']).toEqual({ N: String(Math.ceil(expiresMs / 1000)) });
    expect(item.Item?.['features']?.M?.['user_id']).toEqual({ N: String(id) });
    // The DynamoDB encoding is exactly what the store keeps: one encoding, not two.
    expect(item.Item?.['features']?.M).toEqual(dynamoDbItemCodec(sessions).toItem({ user_id: id, seen_at: seen, pages: 3 }));
    expect(dynamoDbItemCodec(sessions).fromItem(item.Item?.['features']?.M ?? {})).toEqual({ user_id: id, seen_at: seen, pages: 3 });
    const { offline } = await store.backends();
    const rows = (await offline?.scan(sessions)) ?? [];
    expect(rows.map((r) => r['pages']).sort()).toEqual([1n, 3n]);
    await store.close();
  });
});
