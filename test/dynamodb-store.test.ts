import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { z } from 'zod';
import { dynamoDbItemCodec, dynamoDbOnline, s3Offline } from '../src/aws/index.js';
import { createFeatureStore, defineFeatureGroup } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { dynamoDbContract } from './contracts/dynamodb.js';
import { createFeatureTable } from './setup/tables.js';

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
  await createFeatureTable(ddb, tableName);
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

describe('dynamoDbOnline at the instant a record expires', () => {
  // A record is gone from the instant event time + TTL is reached: reads say so, and the write rule
  // must agree, so an older write applies from that very millisecond (a millisecond before, it is stale).
  const online = () => dynamoDbOnline({ client: ddb, tableName });
  const record = (id: bigint, seen: number, pages: number) => sessions.codec.toRecord({ user_id: id, seen_at: new Date(seen), pages });

  async function expiringAt(id: bigint): Promise<number> {
    const seen = Date.now() - 30_000;
    expect(await online().put(sessions, [record(id, seen, 1)], { ttl: { Unit: 'Minutes', Value: 1 } })).toEqual(['applied']);
    return seen + 60_000;
  }

  it('refuses an older write a millisecond before the stored record expires', async () => {
    const id = 901n;
    const expires = await expiringAt(id);
    vi.useFakeTimers({ toFake: ['Date'], now: expires - 1 });
    try {
      expect(await online().put(sessions, [record(id, expires - 61_000, 2)])).toEqual(['stale']);
      expect(await online().get(sessions, String(id))).toBeDefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('applies an older write from the instant the stored record expires, as reads no longer see it', async () => {
    const id = 902n;
    const expires = await expiringAt(id);
    vi.useFakeTimers({ toFake: ['Date'], now: expires });
    try {
      expect(await online().get(sessions, String(id))).toBeUndefined();
      expect(await online().put(sessions, [record(id, expires - 61_000, 2)])).toEqual(['applied']);
      expect((await online().get(sessions, String(id)))?.record).toEqual(record(id, expires - 61_000, 2));
    } finally {
      vi.useRealTimers();
    }
  });
});
