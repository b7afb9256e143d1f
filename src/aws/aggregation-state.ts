import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BackendError } from '../errors.js';
import type { EntityState } from '../pipeline/aggregate.js';
import type { GroupSchema } from '../schema/sagemaker-record.js';
import type { AggregationSaveOutcome, AggregationStateStore, AggregationStateUpdate, StoredAggregationState } from '../store/types.js';
import { mapConcurrent } from '../util/concurrency.js';
import { optionalModule } from '../util/optional-module.js';
import { lazyClient } from './clients.js';
import { backendError } from './errors.js';
import { drainWithRetry, type RetryOptions, withRetry } from './retry.js';

const loadDynamoDb = /* @__PURE__ */ optionalModule<typeof import('@aws-sdk/client-dynamodb')>(
  () => import('@aws-sdk/client-dynamodb'),
  'dynamoDbAggregationState',
  '@aws-sdk/client-dynamodb',
);

/** DynamoDB's item size limit, less room for the key and version. */
const MAX_STATE_BYTES = 400 * 1024 - 1024;
const BATCH_GET_LIMIT = 100;

export interface DynamoDbAggregationStateOptions {
  /** A table with the string partition key `pk` (`dynamoDbTableDefinition(name)` creates one; it may be the online table). */
  readonly tableName: string;
  /** Your client; default one built from the environment. */
  readonly client?: DynamoDBClient;
  /** Conditional writes in flight at once; default 16. */
  readonly concurrency?: number;
  /**
   * Entities whose state is kept in memory between batches (a warm Lambda then reads nothing:
   * one write per entity per batch); default 10,000, 0 for none. A stale copy is caught by the
   * version check and read again.
   */
  readonly cacheEntities?: number;
  readonly retry?: RetryOptions;
}

/** Round trips to DynamoDB so far: what the benchmark counts. */
export interface AggregationStateCalls {
  readonly batchGets: number;
  readonly puts: number;
}

const keyOf = (group: GroupSchema, id: string) => `agg#${group.name}#${id}`;

/**
 * Aggregation state in DynamoDB: one item per (group, entity) holding the entity's window state as
 * JSON and a version. A batch reads its entities with BatchGetItem (skipped for entities cached from
 * the previous batch) and writes each with one PutItem conditioned on the version it read, so a
 * concurrent or replayed writer cannot overwrite newer state. The stream position inside the state
 * makes a redelivered record count once. No transactions are used.
 *
 * ### Example
 * ```ts
 * import { dynamoDbAggregationState, sageMakerOnline } from 'skewless/aws';
 * const store = createFeatureStore({ online: sageMakerOnline(), offline: false, aggregationState: dynamoDbAggregationState({ tableName: 'skewless-state' }) });
 * ```
 */
export function dynamoDbAggregationState(options: DynamoDbAggregationStateOptions): AggregationStateStore & { calls(): AggregationStateCalls } {
  const { tableName } = options;
  const retry = options.retry ?? {};
  const concurrency = options.concurrency ?? 16;
  const cacheLimit = options.cacheEntities ?? 10_000;
  const client = lazyClient(options.client, async () => new (await loadDynamoDb()).DynamoDBClient({}));
  const cache = new Map<string, { text: string; version: number }>();
  let batchGets = 0;
  let puts = 0;

  const remember = (key: string, text: string, version: number) => {
    if (cacheLimit <= 0) return;
    cache.delete(key);
    cache.set(key, { text, version });
    // Oldest first out: a Map iterates in insertion order.
    if (cache.size > cacheLimit) cache.delete(cache.keys().next().value as string);
  };

  return {
    calls: () => ({ batchGets, puts }),

    async load(group, ids) {
      const ddb = await loadDynamoDb();
      const out = new Map<string, StoredAggregationState>();
      const missing: string[] = [];
      for (const id of ids) {
        const hit = cache.get(keyOf(group, id));
        if (hit) out.set(id, { state: JSON.parse(hit.text) as EntityState, version: hit.version });
        else missing.push(id);
      }
      const idOf = new Map(missing.map((id) => [keyOf(group, id), id]));
      try {
        for (let i = 0; i < missing.length; i += BATCH_GET_LIMIT) {
          const keys = missing.slice(i, i + BATCH_GET_LIMIT).map((id): Record<string, AttributeValue> => ({ pk: { S: keyOf(group, id) } }));
          const left = await drainWithRetry(
            keys,
            async (batch) => {
              batchGets++;
              const result = await (await client()).send(
                new ddb.BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: [...batch], ConsistentRead: true } } }),
              );
              for (const item of result.Responses?.[tableName] ?? []) {
                const key = item['pk']?.S as string;
                const text = item['s']?.S as string;
                const version = Number(item['v']?.N);
                out.set(idOf.get(key) as string, { state: JSON.parse(text) as EntityState, version });
                remember(key, text, version);
              }
              return (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as Record<string, AttributeValue>[];
            },
            retry,
          );
          if (left.length > 0) throw new BackendError('THROTTLED', `group "${group.name}": ${left.length} aggregation states stayed unprocessed after retries`, { retryable: true, group: group.name });
        }
      } catch (error) {
        throw backendError(error, group.name, 'read');
      }
      return out;
    },

    async save(group, updates) {
      const ddb = await loadDynamoDb();
      return mapConcurrent(updates, concurrency, async (update: AggregationStateUpdate): Promise<AggregationSaveOutcome> => {
        const key = keyOf(group, update.id);
        const text = JSON.stringify(update.state);
        const bytes = Buffer.byteLength(text, 'utf8');
        if (bytes > MAX_STATE_BYTES) {
          return new BackendError(
            'WRITE_FAILED',
            `group "${group.name}": the aggregation state of "${update.id}" is ${bytes} bytes, over DynamoDB's 400 KB item limit: ` +
              'lower stateCompaction.maxEntries, or the distinctCount limit',
            { group: group.name },
          );
        }
        const version = (update.expected ?? 0) + 1;
        try {
          await withRetry(() => {
            puts++;
            return (async () =>
              (await client()).send(
                new ddb.PutItemCommand({
                  TableName: tableName,
                  Item: { pk: { S: key }, v: { N: String(version) }, s: { S: text } },
                  ...(update.expected === undefined
                    ? { ConditionExpression: 'attribute_not_exists(pk)' }
                    : { ConditionExpression: 'v = :v', ExpressionAttributeValues: { ':v': { N: String(update.expected) } } }),
                }),
              ))();
          }, retry);
          remember(key, text, version);
          return 'saved';
        } catch (error) {
          cache.delete(key);
          if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return 'conflict';
          return backendError(error, group.name, 'write');
        }
      });
    },

    async close() {
      cache.clear();
      await client.close();
    },
  };
}
