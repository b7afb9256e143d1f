import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { z } from 'zod';
import { dynamoDbItemCodec, dynamoDbOnline, s3Offline } from '../src/aws/index.js';
import { BackendError, backfill, ConfigurationError, createFeatureStore, type DeadLetterEntry, DecodeError, defineFeatureGroup, isoTimestamp, type SageMakerRecord, trainingSet } from '../src/index.js';
import { dynamoDbStreamHandler, kinesisHandler } from '../src/lambda/index.js';
import { dynamoDbStreamEvent, kinesisEvent, memoryAggregationState, memoryOffline } from '../src/testing/index.js';
import { txn, velocity } from './contracts/aggregation-state.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { dynamoDbContract } from './contracts/dynamodb.js';
import { contractGroup, contractRecord } from './contracts/online-store.js';
import { createFeatureTable } from './setup/tables.js';
import { cardActivity } from './fixtures/groups.js';

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
// A name of its own per run: the mutation run starts this file many times against one dynalite,
// and a second CreateTable of one name would fail the file's setup and skip every test in it.
const tableName = `skewless-online-${Math.random().toString(36).slice(2, 10)}`;

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  await new S3Client(stack.clientConfig).send(new CreateBucketCommand({ Bucket: 'lake' }));
  ddb = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  await createFeatureTable(ddb, tableName);
});
afterAll(async () => {
  await stack.close();
});

// First in the file: the option schema is built on first use, and the mutation run counts only the
// test that builds it as covering its messages.
describe('dynamoDbOnline options', () => {
  it('refuses a bad option with its path, and takes the documented ones', () => {
    const refused = (options: unknown) => {
      const error = (() => {
        try {
          dynamoDbOnline(options as Parameters<typeof dynamoDbOnline>[0]);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ConfigurationError);
      return (error as Error).message;
    };
    expect(refused({ tableName: 5 })).toMatch(/^dynamoDbOnline options\.tableName: expected /);
    expect(refused({ tableName: 'features', consistentRead: 'yes' })).toBe('dynamoDbOnline options.consistentRead: expected true or false, got "yes"');
    expect(refused({ tableName: 'features', tablename: 'features' })).toMatch(/^unknown option dynamoDbOnline options\.tablename/);
    const client = new DynamoDBClient({ endpoint: inject('dynamoEndpoint'), region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    expect(dynamoDbOnline({ tableName: 'features', client, concurrency: 4, consistentRead: false, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } })).toHaveProperty('put');
  });
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

describe('a backfill to DynamoDB', () => {
  it('rejects a record DynamoDB cannot hold as poison in both tiers, naming the feature and the range, as ingest does', async () => {
    const readings = defineFeatureGroup({
      name: 'readings',
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string(), x: z.number(), ts: isoTimestamp() }),
      features: z.object({ id: z.string(), t: z.date(), x: z.number() }),
      transform: (e) => ({ id: e.id, t: e.ts, x: e.x }),
    });
    const online = dynamoDbOnline({ client: ddb, tableName });
    const offline = memoryOffline();
    const dead: unknown[] = [];
    const store = createFeatureStore({ online, offline, deadLetter: (entries) => void dead.push(...entries) });
    const rejects = join(mkdtempSync(join(tmpdir(), 'skewless-ddb-backfill-')), 'rejects.ndjson');
    const events = [
      { id: 'r-1', x: 1, ts: '2024-05-01T00:00:00Z' },
      // Newer than the record before it, and unstorable: the older one is what DynamoDB keeps.
      { id: 'r-1', x: 1e300, ts: '2024-05-01T00:01:00Z' },
      { id: 'r-2', x: 5e-324, ts: '2024-05-01T00:00:00Z' },
      { id: 'r-3', x: 2.5, ts: '2024-05-01T00:00:00Z' },
    ];
    const summary = await backfill(store, readings, { from: events, to: 'both', rejects });
    expect(summary).toMatchObject({ records: 4, written: 2, poison: 2, online: { applied: 2, stale: 0, accepted: 0, failed: 0 }, rejectsFile: rejects });
    const lines = readFileSync(rejects, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { raw: { x: number }; error: { code: string; message: string } });
    expect(lines.map((l) => [l.raw.x, l.error.code])).toEqual([
      [1e300, 'FEATURE_VALIDATION'],
      [5e-324, 'FEATURE_VALIDATION'],
    ]);
    expect(lines[0]?.error.message).toMatch(/^group "readings": feature x: 1e\+300 is too large: /);
    expect(await store.get(readings, 'r-1')).toMatchObject({ x: 1 });
    expect(await store.get(readings, 'r-2')).toBeUndefined();
    expect((await offline.scan(readings)).map((row) => row['x']).sort()).toEqual([1, 2.5]);
    // The rejects file is where a backfill's poison goes, not the store's dead-letter sink.
    expect(dead).toEqual([]);
    // The question the backfill asks, answered as put answers it.
    expect(online.unstorable?.(readings, [{ FeatureName: 'id', ValueAsString: 'a' }, { FeatureName: 't', ValueAsString: '2024-05-01T00:00:00Z' }, { FeatureName: 'x', ValueAsString: '1' }])).toBeUndefined();
    await store.close();
  });
});

describe('a backfill to DynamoDB with chunks written together', () => {
  it('keeps online the record of the earliest chunk among records of one event time, the one the training set takes', async () => {
    const scores = defineFeatureGroup({
      name: `scores-${randomUUID().slice(0, 8)}`,
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string(), x: z.number(), ts: isoTimestamp() }),
      features: z.object({ id: z.string(), t: z.date(), x: z.number() }),
      transform: (e) => ({ id: e.id, t: e.ts, x: e.x }),
    });
    // Four chunks of the same 100 identifiers at one event time: chunk k says x = k.
    const ts = '2024-05-01T00:00:00.000Z';
    const ids = Array.from({ length: 100 }, (_, i) => `s-${i}`);
    const events = [0, 1, 2, 3].flatMap((k) => ids.map((id) => ({ id, x: k, ts })));
    // A clock held still, as in tests: the chunks' rows are dated apart all the same.
    const store = createFeatureStore({ online: dynamoDbOnline({ client: ddb, tableName }), offline: memoryOffline(), now: () => Date.parse('2024-06-01T00:00:00Z') });
    const summary = await backfill(store, scores, { from: events, to: 'both', chunkSize: ids.length, concurrency: 4 });
    expect(summary.online).toEqual({ applied: 100, stale: 300, accepted: 0, failed: 0 });
    const online = await store.getMany(scores, ids);
    expect([...online.values()].map((r) => r.x)).toEqual(ids.map(() => 0));
    const { rows } = await trainingSet(store, { spine: ids.map((id) => ({ id, at: new Date(ts) })), entityKey: 'id', timestamp: 'at', features: [scores.select('x')] });
    expect(rows.map((r) => r[`${scores.name}__x`])).toEqual(ids.map(() => 0));
    await store.close();
  });
});

describe('ingest of a group with aggregations on DynamoDB', () => {
  it('dead-letters a record DynamoDB cannot hold instead of keeping it in the outbox, so the entity goes on and a redelivery is all duplicates', async () => {
    const online = dynamoDbOnline({ client: ddb, tableName });
    const dead: DeadLetterEntry[] = [];
    const store = createFeatureStore({ online, offline: false, aggregationState: memoryAggregationState(), deadLetter: (entries) => void dead.push(...entries) });
    const card = `card-${randomUUID().slice(0, 8)}`;
    // 5e-324 is below DynamoDB's smallest magnitude; added to the 1-hour sum it leaves 1, which DynamoDB holds.
    const events = [txn(card, 0, 1), txn(card, 1, 5e-324), txn(card, 2, 2)];
    // Positions on one shard, as a Kinesis batch has: the state's redelivery guard reads them.
    const position = (index: number) => ({ source: 'kinesis', index, shardId: 'shardId-000000000000', sequenceNumber: String(1000 + index) });
    const first = await store.ingest(velocity, events, { position });
    expect(first.outcomes.map((o) => o.status)).toEqual(['applied', 'poison', 'applied']);
    expect(dead.map((d) => [d.error.code, d.error.message.split(': ').slice(1, 2)[0]])).toEqual([['FEATURE_VALIDATION', 'feature amount']]);
    expect(dead[0]?.error.message).toMatch(/: 5e-324 is too small: /);
    // The redelivered batch: the state holds all three, nothing is written again or failed.
    const again = await store.ingest(velocity, events, { position });
    expect(again.outcomes.map((o) => o.status)).toEqual(['duplicate', 'duplicate', 'duplicate']);
    // Its event still counts in the windows, as the state aggregated it before the store was asked.
    expect(await store.get(velocity, card)).toMatchObject({ amount: 2, n_1h: 3, sum_1h: 3 });
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

/**
 * An HTTP proxy in front of dynalite that can answer a request itself, as DynamoDB does under load:
 * `answer` sees each request's operation (from X-Amz-Target) and JSON body and returns a reply, or
 * undefined to pass the request on. Every request is kept in `seen`. With `leaveOut`, a passed-on
 * answer loses those members (optional ones, which DynamoDB may omit).
 */
async function dynamoDbProxy(
  answer: (operation: string, body: Record<string, unknown>) => { readonly status: number; readonly body: unknown } | undefined = () => undefined,
  leaveOut: readonly string[] = [],
) {
  const upstream = new URL(inject('dynamoEndpoint'));
  const seen: { operation: string; body: Record<string, unknown> }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
      const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
      seen.push({ operation, body });
      const reply = answer(operation, body);
      if (reply) {
        res.writeHead(reply.status, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify(reply.body));
        return;
      }
      const onward = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (reply) => {
        const parts: Buffer[] = [];
        reply.on('data', (chunk: Buffer) => parts.push(chunk));
        reply.on('end', () => {
          const answered = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as Record<string, unknown>;
          for (const member of leaveOut) delete answered[member];
          // A changed body would fail the checksum the client verifies: the header goes with it.
          const { 'x-amz-crc32': _crc, 'content-length': _length, ...headers } = reply.headers;
          res.writeHead(reply.statusCode ?? 502, headers);
          res.end(JSON.stringify(answered));
        });
      });
      onward.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { client, seen, close };
}

const dynamoDbFault = (type: string, message: string) => ({ status: 400, body: { __type: `com.amazonaws.dynamodb.v20120810#${type}`, message } });

describe('dynamoDbOnline against DynamoDB\'s answers, counted by hand', () => {
  const amount = (value: string, id = `n-${Math.random().toString(36).slice(2, 8)}`): SageMakerRecord => contractRecord(id, '2024-05-01T00:00:00Z', 0).map((f) => (f.FeatureName === 'amount' ? { ...f, ValueAsString: value } : f));

  it('checks Fractional numbers on their digits against DynamoDB\'s range, and leaves text alone', async () => {
    const online = dynamoDbOnline({ client: ddb, tableName });
    const storable = [
      `1${'0'.repeat(40)}`, // one significant digit: trailing zeros do not count
      `${'12345678901234567890123456789012345678'}00`, // 38 significant digits, then zeros
      `0.00${'12345678901234567890123456789012345678'}`, // leading zeros do not count either
      '0.5e126', // 5e125: the magnitude is the first significant digit's
    ];
    expect(await online.put(contractGroup, storable.map((v) => amount(v)))).toEqual(storable.map(() => 'applied'));
    const refused = await online.put(contractGroup, [amount('0x1A'), amount(' 1.5'), amount(`0.00${'123456789012345678901234567890123456789'}`)]);
    const problem = (outcome: unknown) => (outcome as BackendError).message.split(': ').slice(2, 3)[0];
    // Number() reads hex and padded text; DynamoDB takes neither.
    expect(refused.map(problem)).toEqual(['0x1A is not a decimal number', ' 1.5 is not a decimal number', `0.00${'123456789012345678901234567890123456789'} has 39 significant digits`]);
    expect(refused[0]).toMatchObject({ code: 'INVALID_VALUE', group: 'contract-group', issues: [{ code: 'invalid_value', path: ['amount'] }] });
    // unstorable, asked before any write, answers as put does: nothing for a storable record, put's error for the others.
    expect(storable.map((v) => online.unstorable?.(contractGroup, amount(v)))).toEqual(storable.map(() => undefined));
    const asked = ['0x1A', ' 1.5', `0.00${'123456789012345678901234567890123456789'}`].map((v) => online.unstorable?.(contractGroup, amount(v, 'same')));
    expect(asked.map((e) => [e?.code, e?.message])).toEqual(refused.map((e) => [(e as BackendError).code, (e as BackendError).message]));
    // A feature the group does not declare is put's to refuse, not this check's.
    expect(online.unstorable?.(contractGroup, [...amount('1'), { FeatureName: 'undeclared', ValueAsString: '1e300' }])).toBeUndefined();
    // A String feature may hold any text.
    const textual = contractRecord('0x1A', '2024-05-01T00:00:00Z');
    expect(await online.put(contractGroup, [textual])).toEqual(['applied']);
  });

  it('refuses before sending: a record without its identifier, a write after the deadline, a delete at no time', async () => {
    const { client, seen, close } = await dynamoDbProxy();
    const online = dynamoDbOnline({ client, tableName });
    const [noId] = await online.put(contractGroup, [contractRecord('x', '2024-05-01T00:00:00Z').filter((f) => f.FeatureName !== 'id')]);
    expect(noId).toMatchObject({ name: 'BackendError', code: 'INVALID_REQUEST', group: 'contract-group', message: expect.stringMatching(/^group "contract-group": .*\bid\b/) });
    const late = await online.put(contractGroup, [contractRecord('late-1', '2024-05-01T00:00:00Z'), contractRecord('late-2', '2024-05-01T00:00:00Z')], { deadline: Date.now() - 1 });
    expect(late.map((o) => (o as BackendError).code)).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
    await expect(online.delete(contractGroup, 'late-1', 'yesterday', 'SoftDelete')).rejects.toMatchObject({ code: 'INVALID_REQUEST', group: 'contract-group', message: expect.stringMatching(/^group "contract-group": /) });
    expect(seen).toEqual([]);
    await close();
  });

  it('counts the SDK\'s retries of a throttled write, and reads consistently unless told otherwise', async () => {
    let throttled = 0;
    const { client, seen, close } = await dynamoDbProxy((operation) => (operation === 'PutItem' && throttled++ === 0 ? dynamoDbFault('ThrottlingException', 'Rate of requests exceeds the allowed throughput.') : undefined));
    let retries = 0;
    const online = dynamoDbOnline({ client, tableName });
    expect(await online.put(contractGroup, [contractRecord('retried', '2024-05-01T00:00:00Z')], { onRetry: () => void retries++ })).toEqual(['applied']);
    expect(retries).toBe(1);
    await online.get(contractGroup, 'retried');
    await online.getMany(contractGroup, ['retried']);
    await dynamoDbOnline({ client, tableName, consistentRead: false }).get(contractGroup, 'retried');
    const reads = seen.filter((r) => r.operation !== 'PutItem').map((r) => [r.operation, r.body['ConsistentRead'] ?? (r.body['RequestItems'] as Record<string, { ConsistentRead: boolean }>)[tableName]?.ConsistentRead]);
    expect(reads).toEqual([
      ['GetItem', true],
      ['BatchGetItem', true],
      ['GetItem', false],
    ]);
    await close();
  });

  it('reads keys DynamoDB left unprocessed again, and fails THROTTLED when they stay so', async () => {
    const online = dynamoDbOnline({ client: ddb, tableName });
    await online.put(contractGroup, [contractRecord('u-1', '2024-05-01T00:00:00Z'), contractRecord('u-2', '2024-05-01T00:00:00Z')]);
    const unprocessed = (body: Record<string, unknown>) => ({ status: 200, body: { UnprocessedKeys: body['RequestItems'] } });
    let answered = 0;
    // The second answer, from dynalite, arrives without UnprocessedKeys, an optional member.
    const once = await dynamoDbProxy((operation, body) => (operation === 'BatchGetItem' && answered++ === 0 ? unprocessed(body) : undefined), ['UnprocessedKeys']);
    const found = await dynamoDbOnline({ client: once.client, tableName, retry: { baseDelayMs: 1 } }).getMany(contractGroup, ['u-1', 'u-2']);
    expect([...found.keys()].sort()).toEqual(['u-1', 'u-2']);
    await once.close();
    const never = await dynamoDbProxy((operation, body) => (operation === 'BatchGetItem' ? unprocessed(body) : undefined));
    await expect(dynamoDbOnline({ client: never.client, tableName, retry: { attempts: 2, baseDelayMs: 1 } }).getMany(contractGroup, ['u-1', 'u-2'])).rejects.toMatchObject({
      code: 'THROTTLED',
      retryable: true,
      group: 'contract-group',
      message: 'group "contract-group": 2 keys still unprocessed after retries',
    });
    expect(never.seen.filter((r) => r.operation === 'BatchGetItem')).toHaveLength(2);
    await never.close();
  });

  it('stops sending an identifier\'s records after one fails, whichever feature a record lists first', async () => {
    let failed = 0;
    const { client, close } = await dynamoDbProxy((operation) => (operation === 'PutItem' && failed++ === 0 ? dynamoDbFault('ValidationException', 'One or more parameter values were invalid') : undefined));
    const online = dynamoDbOnline({ client, tableName });
    // The identifier is the record's last feature here.
    const reversed = (eventTime: string, value: number) => [...contractRecord('halted', eventTime, value, String(value))].reverse();
    const outcomes = await online.put(contractGroup, [reversed('2024-05-01T00:00:00Z', 1), reversed('2024-05-01T00:00:01Z', 2)]);
    expect(outcomes.map((o) => (o as BackendError).code)).toEqual(['WRITE_FAILED', 'WRITE_FAILED']);
    expect((outcomes[0] as BackendError).message).toContain('One or more parameter values were invalid');
    expect((outcomes[1] as BackendError).message).toBe('group "contract-group": not written, an earlier record of the same identifier was not written (WRITE_FAILED)');
    expect(await online.get(contractGroup, 'halted')).toBeUndefined();
    await close();
  });

  it('leaves expired and deleted records out of a read of many, and gives an expiry only to a record that has one', async () => {
    const online = dynamoDbOnline({ client: ddb, tableName });
    const now = Date.now();
    const at = (ms: number) => new Date(ms).toISOString();
    await online.put(contractGroup, [contractRecord('m-expired', at(now - 7_200_000))], { ttl: { Unit: 'Hours', Value: 1 } });
    await online.put(contractGroup, [contractRecord('m-expiring', at(now - 60_000))], { ttl: { Unit: 'Hours', Value: 1 } });
    await online.put(contractGroup, [contractRecord('m-lasting', at(now - 60_000)), contractRecord('m-deleted', at(now - 60_000))]);
    expect(await online.delete(contractGroup, 'm-deleted', at(now), 'SoftDelete')).toBe('deleted');
    const found = await online.getMany(contractGroup, ['m-expired', 'm-expiring', 'm-lasting', 'm-deleted']);
    expect([...found.keys()].sort()).toEqual(['m-expiring', 'm-lasting']);
    expect(found.get('m-expiring')?.expiresAt).toEqual(new Date(now - 60_000 + 3_600_000));
    expect(Object.keys(found.get('m-lasting') ?? {})).toEqual(['record']);
    expect(Object.keys((await online.get(contractGroup, 'm-lasting')) ?? {})).toEqual(['record']);
    // A soft delete keeps the key, marked deleted, at the delete's time.
    const item = await ddb.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: 'contract-group#m-deleted' } } }));
    expect(item.Item).toEqual({ pk: { S: 'contract-group#m-deleted' }, event_time_ms: { N: String(now) }, event_time: { S: at(now) }, deleted: { BOOL: true } });
  });

  it('names a missing table with its group and cause, and any other failure as itself', async () => {
    const missing = dynamoDbOnline({ client: ddb, tableName: `${tableName}-missing`, retry: { attempts: 1 } });
    const [outcome] = await missing.put(contractGroup, [contractRecord('t-1', '2024-05-01T00:00:00Z')]);
    expect(outcome).toMatchObject({ retryable: false, group: 'contract-group', cause: expect.objectContaining({ name: 'ResourceNotFoundException' }), message: expect.stringMatching(/^group "contract-group": write failed: DynamoDB table /) });
    await expect(missing.get(contractGroup, 't-1')).rejects.toMatchObject({ message: expect.stringMatching(/^group "contract-group": read failed: DynamoDB table /) });
    await expect(missing.getMany(contractGroup, ['t-1'])).rejects.toMatchObject({ message: expect.stringMatching(/^group "contract-group": read failed: DynamoDB table /) });
    const { client, close } = await dynamoDbProxy((operation) => (operation === 'GetItem' || operation === 'BatchGetItem' ? dynamoDbFault('ValidationException', 'The provided key element does not match the schema') : undefined));
    const refusing = dynamoDbOnline({ client, tableName });
    for (const read of [() => refusing.get(contractGroup, 'x'), () => refusing.getMany(contractGroup, ['x'])]) {
      const error = await read().catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'READ_FAILED', message: expect.stringContaining('The provided key element does not match the schema') });
      expect((error as Error).message).not.toContain('does not exist');
    }
    await close();
    // A handler over the missing table reports its records for redelivery, and its log line says why.
    const lines: Record<string, unknown>[] = [];
    const cards = defineFeatureGroup({ name: 'missing-table-cards', recordIdentifier: 'id', eventTime: 'at', source: z.object({ id: z.string(), at: isoTimestamp() }), features: z.object({ id: z.string(), at: z.date() }), transform: (e) => e });
    const store = createFeatureStore({ online: missing, offline: false, deadLetter: () => {} });
    const handler = kinesisHandler(cards, { store, log: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const response = await handler(kinesisEvent([{ id: 't-1', at: '2024-05-01T00:00:00Z' }]));
    expect(response.batchItemFailures).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', reported: 1, reasons: { 'WRITE_FAILED ResourceNotFoundException': 1 } });
  });

  it('throws a stored value its feature cannot read as a DecodeError, as every online store does, not as a failed call', async () => {
    const online = dynamoDbOnline({ client: ddb, tableName });
    expect(await online.put(contractGroup, [contractRecord('bad-1', '2024-05-01T00:00:00Z')])).toEqual(['applied']);
    // An item written by other code: the Fractional feature held as text.
    await ddb.send(new UpdateItemCommand({ TableName: tableName, Key: { pk: { S: 'contract-group#bad-1' } }, UpdateExpression: 'SET features.amount = :s', ExpressionAttributeValues: { ':s': { S: 'twelve' } } }));
    for (const read of [() => online.get(contractGroup, 'bad-1'), () => online.getMany(contractGroup, ['bad-1'])]) {
      const error = await read().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DecodeError);
      expect(error).toMatchObject({ code: 'DECODE_FAILED', message: expect.stringContaining('"amount"') });
    }
  });

  it('deletes, on a DynamoDB Streams REMOVE, an item its definition can no longer read, instead of failing the shard', async () => {
    const store = createFeatureStore({ online: dynamoDbOnline({ client: ddb, tableName }), offline: false, deadLetter: () => {} });
    const id = `undecodable-${randomUUID()}`;
    await store.ingest(cardActivity, [{ card_id: id, amount_cents: 100, country: 'FR', ts: '2024-05-01T10:00:00.500Z' }]);
    await ddb.send(new UpdateItemCommand({ TableName: tableName, Key: { pk: { S: `card-activity#${id}` } }, UpdateExpression: 'SET features.amount = :s', ExpressionAttributeValues: { ':s': { S: 'twelve' } } }));
    await expect(store.get(cardActivity, id)).rejects.toBeInstanceOf(DecodeError);
    // Removed in the item's own second: deleted at that second's end, the latest the REMOVE can be.
    const event = dynamoDbStreamEvent([{ eventName: 'REMOVE', keys: { card_id: id }, at: new Date('2024-05-01T10:00:00.700Z') }]);
    expect(await dynamoDbStreamHandler(cardActivity, { store, log: false })(event)).toEqual({ batchItemFailures: [] });
    expect(await store.get(cardActivity, id)).toBeUndefined();
    await store.close();
  });

  it('destroys on close the client it made, and never the one it was given', async () => {
    const destroyed = vi.spyOn(DynamoDBClient.prototype, 'destroy');
    try {
      const given = dynamoDbOnline({ client: ddb, tableName });
      await given.get(contractGroup, 'anyone');
      await given.close();
      expect(destroyed).not.toHaveBeenCalled();
      vi.stubEnv('AWS_ENDPOINT_URL_DYNAMODB', inject('dynamoEndpoint'));
      vi.stubEnv('AWS_REGION', 'us-east-1');
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'x');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'y');
      const unused = dynamoDbOnline({ tableName });
      await unused.close();
      expect(destroyed).not.toHaveBeenCalled();
      const own = dynamoDbOnline({ tableName });
      await own.get(contractGroup, 'anyone');
      await own.close();
      expect(destroyed).toHaveBeenCalledTimes(1);
    } finally {
      vi.unstubAllEnvs();
      destroyed.mockRestore();
    }
  });
});
