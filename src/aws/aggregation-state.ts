import { randomBytes } from 'node:crypto';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BackendError } from '../errors.js';
import type { EntityState } from '../pipeline/reducer.js';
import { type GroupSchema, type PackedRecords, packRecords, unpackRecords } from '../schema/sagemaker-record.js';
import type { AggregationSaveOutcome, AggregationStateStore, AggregationStateUpdate, StoredAggregationState } from '../pipeline/state.js';
import { chunksOf, mapConcurrent } from '../util/concurrency.js';
import { type AwsClient, lazyClient, sdkClient } from './clients.js';
import { dynamoDbError } from './dynamodb-online.js';
import { loadDynamoDb } from './sdk.js';
import { clientConfig, countAttempts, drainWithRetry, type RetryOptions } from './retry.js';
import * as z from 'zod/mini';
import { checkOptions, countSchema, lazySchema } from '../util/options.js';
import { awsClient, concurrency, retryOptions, tableName } from './options.js';

/**
 * DynamoDB's item size limit, attribute names and values together: "400 KB", read as 400,000 bytes.
 * dynalite takes 409,600 and moto 405,000; the smaller reading holds on every implementation.
 */
const MAX_ITEM_BYTES = 400_000;
/**
 * The names `pk`, `v`, `s`, `o`, `n`, the version number (a number's size is at most its digits
 * and 1) and the outbox's 16-character token.
 */
export const STATE_ITEM_OVERHEAD_BYTES = 50;
const BATCH_GET_LIMIT = 100;
/** BatchWriteItem takes at most 25 put or delete requests. */
const BATCH_WRITE_LIMIT = 25;
/** Outboxes saved by this instance and not yet marked written, kept to mark them by their token. */
const UNSETTLED_LIMIT = 10_000;

const STATE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  tableName: tableName(),
  client: z.optional(awsClient()),
  concurrency: concurrency(),
  cacheEntities: z.optional(countSchema()),
  retry: z.optional(retryOptions()),
}));

export interface DynamoDbAggregationStateOptions {
  /** A table with the string partition key `pk` (`dynamoDbTableDefinition(name)` creates one; it may be the online table). */
  readonly tableName: string;
  /** Your client; default one built from the environment. */
  readonly client?: AwsClient;
  /** Conditional writes in flight at once; default 16. */
  readonly concurrency?: number;
  /**
   * Entities whose state is kept in memory between batches (a warm Lambda then reads nothing:
   * one save per entity per batch, and the marks of outboxes written 25 to a call); default 10,000,
   * 0 for none. A stale copy is
   * caught by the version check and read again.
   */
  readonly cacheEntities?: number;
  readonly retry?: RetryOptions;
}

/** Round trips to DynamoDB so far: what the benchmark counts. */
export interface AggregationStateCalls {
  readonly batchGets: number;
  /** Conditional PutItem calls: one per entity per commit. */
  readonly puts: number;
  /**
   * Calls that mark outboxes written: one BatchWriteItem per 25 entities (a conditional UpdateItem
   * per entity for an outbox saved without a token, by an older version of skewless).
   */
  readonly settles: number;
}

/** The key of an entity's state item; `planCapacity` sizes the item from it. */
export const stateItemKey = (groupName: string, id: string) => `agg#${groupName}#${id}`;
const keyOf = (group: GroupSchema, id: string) => stateItemKey(group.name, id);
/** The item that says which outbox of an entity was written: its token (`n`). */
const writtenKeyOf = (group: GroupSchema, id: string) => `agg-written#${group.name}#${id}`;

/** An item as read or written: the state and outbox as JSON text, parsed only when asked for. */
interface Cached {
  readonly state: string;
  readonly version: number;
  /** The outbox when it is not known to be written. */
  readonly pending: string | undefined;
}

/** An outbox not known to be written: the version it was saved with and its token (none if saved by an older version). */
interface Unsettled {
  readonly version: number;
  readonly token: string | undefined;
}

/**
 * Aggregation state in DynamoDB: one item per (group, entity) holding the entity's window state as
 * JSON (`s`), a version (`v`), the records its last commit produced (`o`, the outbox) and a random
 * token naming that outbox (`n`). A batch reads its entities with BatchGetItem (skipped for
 * entities cached from the previous batch), saves each entity's new state and records with one
 * PutItem conditioned on the version it read, writes the records, then marks the outboxes written:
 * a second item per entity holding the token of its last outbox written, put 25 at a time with
 * BatchWriteItem. An outbox counts as written when that item holds its token. No transactions are
 * used: the commit is a single-item conditional write, and a mark that lands late or not at all
 * only makes the next reader write the outbox again (a duplicate offline row with the same values).
 *
 * ### Example
 * ```ts
 * import { dynamoDbAggregationState, sageMakerOnline } from 'skewless/aws';
 * const store = createFeatureStore({ online: sageMakerOnline(), offline: false, aggregationState: dynamoDbAggregationState({ tableName: 'skewless-state' }) });
 * ```
 */
export function dynamoDbAggregationState(options: DynamoDbAggregationStateOptions): AggregationStateStore & { calls(): AggregationStateCalls } {
  checkOptions(STATE_OPTIONS, options, 'dynamoDbAggregationState options');
  const { tableName } = options;
  const retry = options.retry ?? {};
  const concurrency = options.concurrency ?? 16;
  const cacheLimit = options.cacheEntities ?? 10_000;
  const client = lazyClient(sdkClient<DynamoDBClient>(options.client), async () => new (await loadDynamoDb()).DynamoDBClient(clientConfig(retry)));
  const cache = new Map<string, Cached>();
  const unsettled = new Map<string, Unsettled>();
  let batchGets = 0;
  let puts = 0;
  let settles = 0;

  const remember = (key: string, item: Cached) => {
    if (cacheLimit <= 0) return;
    cache.delete(key);
    cache.set(key, item);
    // Oldest first out: a Map iterates in insertion order.
    if (cache.size > cacheLimit) cache.delete(cache.keys().next().value as string);
  };
  const owe = (key: string, outbox: Unsettled) => {
    unsettled.delete(key);
    unsettled.set(key, outbox);
    if (unsettled.size > UNSETTLED_LIMIT) unsettled.delete(unsettled.keys().next().value as string);
  };

  const stored = (group: GroupSchema, item: Cached): StoredAggregationState => ({
    state: JSON.parse(item.state) as EntityState,
    version: item.version,
    ...(item.pending === undefined ? {} : { pending: unpackRecords(group, JSON.parse(item.pending) as PackedRecords) }),
  });

  return {
    calls: () => ({ batchGets, puts, settles }),

    async load(group, ids) {
      const ddb = await loadDynamoDb();
      const out = new Map<string, StoredAggregationState>();
      const missing: string[] = [];
      for (const id of ids) {
        const hit = cache.get(keyOf(group, id));
        if (hit) out.set(id, stored(group, hit));
        else missing.push(id);
      }
      // Each entity's state item and the item naming its last outbox written, in one read.
      const found = new Map<string, Record<string, AttributeValue>>();
      const keys = missing.flatMap((id): Record<string, AttributeValue>[] => [{ pk: { S: keyOf(group, id) } }, { pk: { S: writtenKeyOf(group, id) } }]);
      try {
        await mapConcurrent(chunksOf(keys, BATCH_GET_LIMIT), concurrency, async (chunk) => {
          const left = await drainWithRetry(
            chunk,
            async (batch, send) => {
              const c = await client();
              // Counted inside `send`, so the SDK's and our retries are counted too.
              const result = await send(() => {
                batchGets++;
                return c.send(new ddb.BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: [...batch], ConsistentRead: true } } }));
              });
              for (const item of result.Responses?.[tableName] ?? []) found.set(item['pk']?.S as string, item);
              return (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, AttributeValue>[];
            },
            retry,
          );
          if (left.length > 0) throw new BackendError('THROTTLED', `group "${group.name}": ${left.length} aggregation states stayed unprocessed after retries`, { retryable: true, group: group.name });
        });
      } catch (error) {
        throw dynamoDbError(error, tableName, group.name, 'read');
      }
      for (const id of missing) {
        const key = keyOf(group, id);
        const item = found.get(key);
        if (item === undefined) continue;
        const version = Number(item['v']?.N);
        const token = item['n']?.S;
        const written = token !== undefined && found.get(writtenKeyOf(group, id))?.['n']?.S === token;
        const outbox = written ? undefined : item['o']?.S;
        const cached: Cached = { state: item['s']?.S as string, version, pending: outbox };
        if (outbox !== undefined) owe(key, { version, token });
        out.set(id, stored(group, cached));
        remember(key, cached);
      }
      return out;
    },

    async save(group, updates) {
      const ddb = await loadDynamoDb();
      return mapConcurrent(updates, concurrency, async (update: AggregationStateUpdate): Promise<AggregationSaveOutcome> => {
        const key = keyOf(group, update.id);
        const state = JSON.stringify(update.state);
        const pending = update.pending && update.pending.length > 0 ? JSON.stringify(packRecords(group, update.pending)) : undefined;
        const itemBytes = Buffer.byteLength(key, 'utf8') + STATE_ITEM_OVERHEAD_BYTES + Buffer.byteLength(state, 'utf8');
        if (itemBytes > MAX_ITEM_BYTES) {
          return new BackendError(
            'WRITE_FAILED',
            `group "${group.name}": the aggregation state of "${update.id}" makes an item of ${itemBytes} bytes, over DynamoDB's 400 KB item limit: ` +
              `lower stateCompaction.maxEntries, or the distinctCount limit${Object.keys(update.state.p).length > 1 ? `; it also holds ${Object.keys(update.state.p).length} stream positions, one per partition key its records came from within the allowed lateness: partition the stream by the record identifier` : ''}`,
            { group: group.name },
          );
        }
        // The records go in the same item as the state, so both are saved or neither: fewer at a time if they do not fit.
        if (pending !== undefined && itemBytes + Buffer.byteLength(pending, 'utf8') > MAX_ITEM_BYTES) return 'too-large';
        const version = (update.expected ?? 0) + 1;
        const token = pending === undefined ? undefined : randomBytes(12).toString('base64url');
        try {
          await countAttempts(() => {
            puts++;
            return (async () =>
              (await client()).send(
                new ddb.PutItemCommand({
                  TableName: tableName,
                  Item: { pk: { S: key }, v: { N: String(version) }, s: { S: state }, ...(pending === undefined ? {} : { o: { S: pending }, n: { S: token as string } }) },
                  ...(update.expected === undefined
                    ? { ConditionExpression: 'attribute_not_exists(pk)' }
                    : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { N: String(update.expected) } } }),
                }),
              ))();
          }, retry);
          remember(key, { state, version, pending });
          if (pending === undefined) unsettled.delete(key);
          else owe(key, { version, token });
          return 'saved';
        } catch (error) {
          cache.delete(key);
          if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return 'conflict';
          return dynamoDbError(error, tableName, group.name, 'write');
        }
      });
    },

    async settle(group, settled) {
      const ddb = await loadDynamoDb();
      const marks: { key: string; version: number; item: Record<string, AttributeValue> }[] = [];
      const untokened: { key: string; version: number }[] = [];
      const seen = new Set<string>();
      for (const { id, version } of settled) {
        const key = keyOf(group, id);
        // BatchWriteItem refuses a call that names one key twice.
        if (seen.has(key)) continue;
        seen.add(key);
        const outbox = unsettled.get(key);
        // Not this instance's to mark (saved elsewhere since, or forgotten past the limit): the next reader writes it again.
        if (outbox?.version !== version) continue;
        if (outbox.token === undefined) untokened.push({ key, version });
        else marks.push({ key, version, item: { pk: { S: writtenKeyOf(group, id) }, n: { S: outbox.token } } });
      }
      const settledOne = (key: string, version: number) => {
        unsettled.delete(key);
        const hit = cache.get(key);
        if (hit?.version === version) remember(key, { ...hit, pending: undefined });
      };
      // Left unmarked, an outbox is written once more by whoever reads the state next: a duplicate
      // offline row with the same values, never a lost or wrong one.
      const unmarked = (key: string) => {
        unsettled.delete(key);
        cache.delete(key);
      };
      await mapConcurrent(chunksOf(marks, BATCH_WRITE_LIMIT), concurrency, async (chunk) => {
        try {
          const left = await drainWithRetry(
            chunk,
            async (batch, send) => {
              const c = await client();
              const result = await send(() => {
                settles++;
                return c.send(new ddb.BatchWriteItemCommand({ RequestItems: { [tableName]: batch.map((m) => ({ PutRequest: { Item: m.item } })) } }));
              });
              const unprocessed = new Set((result.UnprocessedItems?.[tableName] ?? []).map((r) => r.PutRequest?.Item?.['pk']?.S));
              return batch.filter((m) => unprocessed.has(m.item['pk']?.S));
            },
            retry,
          );
          const failed = new Set(left);
          for (const m of chunk) {
            if (failed.has(m)) unmarked(m.key);
            else settledOne(m.key, m.version);
          }
        } catch {
          for (const m of chunk) unmarked(m.key);
        }
      });
      // An outbox saved without a token (by an older version of skewless) is emptied in place, if its state is unchanged.
      await mapConcurrent(untokened, concurrency, async ({ key, version }) => {
        try {
          await countAttempts(() => {
            settles++;
            return (async () =>
              (await client()).send(
                new ddb.UpdateItemCommand({
                  TableName: tableName,
                  Key: { pk: { S: key } },
                  UpdateExpression: 'REMOVE o',
                  ConditionExpression: 'v = :v',
                  ExpressionAttributeValues: { ':v': { N: String(version) } },
                }),
              ))();
          }, retry);
          settledOne(key, version);
        } catch {
          unmarked(key);
        }
      });
    },

    async close() {
      cache.clear();
      await client.close();
    },
  };
}
