import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BackendError, DecodeError } from '../errors.js';
import type { SageMakerRecord } from '../schema/codec.js';
import { itemToRecord, recordToItem } from '../schema/dynamodb-item.js';
import { checkRecord, expiresAtMs, type GroupSchema, pickFeatures } from '../schema/sagemaker-record.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';
import type { DeleteStatus, OnlineRecord, OnlineStore, OnlineWriteOutcome } from '../store/types.js';
import { beforeDeadline, chunksOf, inOrderPerKey, mapConcurrent } from '../util/concurrency.js';
import { backendError, deadlineError, haltAfterFailure } from './errors.js';
import { loadDynamoDb } from './sdk.js';
import { clientConfig, countAttempts, drainWithRetry, type RetryOptions } from './retry.js';
import { type AwsClient, sdkClient } from './clients.js';
import * as z from 'zod/mini';
import { booleanSchema, checkOptions, lazySchema } from '../util/options.js';
import { awsClient, concurrency, retryOptions, tableName as tableNameSchema } from './options.js';


const DYNAMODB_ONLINE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  tableName: tableNameSchema(),
  client: z.optional(awsClient()),
  concurrency: concurrency(),
  consistentRead: z.optional(booleanSchema()),
  retry: z.optional(retryOptions()),
}));

export interface DynamoDbOnlineOptions {
  readonly tableName: string;
  /** Your client; default one built from the environment. */
  readonly client?: AwsClient;
  /** Conditional writes in flight at once; default 16. */
  readonly concurrency?: number;
  /** Strongly consistent reads (default true), so a read sees every write the rule let through. */
  readonly consistentRead?: boolean;
  readonly retry?: RetryOptions;
}

/**
 * The CreateTable input of the table `dynamoDbOnline` expects: one item per (group, record
 * identifier) under the string key `pk`. Turn on TTL (UpdateTimeToLive) on the `expires_at`
 * attribute to have DynamoDB sweep expired items; reads honour the exact expiry either way.
 * CreateTable returns while the table is still CREATING: wait for it before the first write.
 *
 * ### Example
 * ```ts
 * await ddb.send(new CreateTableCommand(dynamoDbTableDefinition('features')));
 * await waitUntilTableExists({ client: ddb, maxWaitTime: 60 }, { TableName: 'features' });
 * ```
 */
export function dynamoDbTableDefinition(tableName: string) {
  checkOptions(tableNameSchema(true), tableName, 'dynamoDbTableDefinition(tableName)');
  return {
    TableName: tableName,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }],
    BillingMode: 'PAY_PER_REQUEST' as const,
  };
}

const BATCH_GET_LIMIT = 100;

/** A decimal number as DynamoDB reads one: digits with an optional point, an optional exponent. */
const DECIMAL = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const NUMBER_RANGE = 'a DynamoDB number has at most 38 significant digits and is 0 or of a magnitude from 1e-130 to 9.9999999999999999999999999999999999999e+125';

/**
 * Why DynamoDB would refuse `text` as a number, or undefined when it takes it. Worked out on the
 * digits, not a double, so the limits are DynamoDB's exactly (1e126 and 1e-131 are doubles too).
 */
function numberProblem(text: string): string | undefined {
  // Number() also reads hexadecimal and padded text, which DynamoDB refuses. (Text without a digit
  // never gets here: checkRecord refuses it as no number.)
  const match = DECIMAL.exec(text);
  if (!match) return 'is not a decimal number';
  const whole = match[1] as string;
  const digits = whole + (match[2] ?? '');
  const first = digits.search(/[1-9]/);
  if (first < 0) return undefined;
  let last = digits.length - 1;
  while (digits.charCodeAt(last) === 48) last--;
  if (last - first + 1 > 38) return `has ${last - first + 1} significant digits`;
  // The power of ten of the first significant digit: 1.5e300 -> 300, 0.05 -> -2.
  const magnitude = whole.length - first - 1 + Number(match[3] ?? 0);
  if (magnitude > 125) return 'is too large';
  if (magnitude < -130) return 'is too small';
  return undefined;
}

/** The refusal of a record with a number DynamoDB cannot store, before it is sent: never retried. */
function unstorableNumber(group: GroupSchema, definitions: ReadonlyMap<string, FeatureDefinition>, record: SageMakerRecord): BackendError | undefined {
  for (const feature of record) {
    // An Integral fits in 64 bits (at most 19 digits, within DynamoDB's 38); a String is text.
    // A feature the group does not declare is put's to refuse (INVALID_REQUEST), not this check's.
    if (definitions.get(feature.FeatureName)?.FeatureType !== 'Fractional') continue;
    for (const text of feature.ValueAsStringList ?? [feature.ValueAsString as string]) {
      const problem = numberProblem(text);
      if (problem === undefined) continue;
      const message = `feature ${feature.FeatureName}: ${text} ${problem}: ${NUMBER_RANGE}`;
      return new BackendError('INVALID_VALUE', `group "${group.name}": ${message}`, {
        group: group.name,
        issues: [{ code: 'invalid_value', path: [feature.FeatureName], message }],
      });
    }
  }
  return undefined;
}

/**
 * One item per (group, record identifier), in the low-level form: `pk` (S), `event_time_ms` (N),
 * `event_time` (S), `deleted` (BOOL, soft deletes), `expires_at` (N, epoch seconds for DynamoDB's TTL
 * sweeper), `expires_at_ms` (N, the exact expiry reads honour, since the sweeper runs late) and
 * `features` (M, the record's attribute values).
 */
type StoredItem = Record<string, AttributeValue>;

const number = (value: number): AttributeValue => ({ N: String(value) });

/**
 * The BackendError of a failed DynamoDB call. A missing table is named as the table: DynamoDB's
 * ResourceNotFoundException would otherwise read as a missing feature group.
 */
export function dynamoDbError(error: unknown, tableName: string, group: string, action: 'write' | 'read'): BackendError {
  const name = (error as { name?: string } | undefined)?.name;
  if (name !== 'ResourceNotFoundException') return backendError(error, group, action);
  return new BackendError(
    action === 'write' ? 'WRITE_FAILED' : 'READ_FAILED',
    `group "${group}": ${action} failed: DynamoDB table "${tableName}" does not exist in this account and region, or is not ACTIVE yet (${name}: ${(error as Error).message})`,
    { cause: error, retryable: false, group },
  );
}

/** What a failed read throws: a stored value its feature's type cannot read is the data's fault (`DecodeError`, as in every online store), anything else the call's. */
function readError(error: unknown, tableName: string, group: string): Error {
  return error instanceof DecodeError ? error : dynamoDbError(error, tableName, group, 'read');
}

function keyOf(group: GroupSchema, id: string): string {
  return `${group.name}#${id}`;
}

/**
 * DynamoDB as the online store, with the write rule as one conditional write per record:
 * `attribute_not_exists(pk) OR event_time_ms < :new` (an expired item counts as absent). No
 * transactions, so it runs on dynalite and on tables shared with other writers.
 *
 * ### Example
 * ```ts
 * import { dynamoDbOnline } from 'skewless/aws';
 * const store = createFeatureStore({ online: dynamoDbOnline({ tableName: 'features' }), offline: s3Offline({ bucket, prefix }) });
 * ```
 */
export function dynamoDbOnline(options: DynamoDbOnlineOptions): OnlineStore {
  checkOptions(DYNAMODB_ONLINE_OPTIONS, options, 'dynamoDbOnline options');
  const { tableName } = options;
  const concurrency = options.concurrency ?? 16;
  const consistent = options.consistentRead ?? true;
  const retry = options.retry;
  let clientPromise: Promise<DynamoDBClient> | undefined;
  const ddb = () => {
    clientPromise ??= loadDynamoDb().then((lib) => sdkClient<DynamoDBClient>(options.client) ?? new lib.DynamoDBClient(clientConfig(retry)));
    return clientPromise;
  };

  const expiresAt = (item: StoredItem): number | undefined => (item.expires_at_ms?.N === undefined ? undefined : Number(item.expires_at_ms.N));
  const live = (item: StoredItem | undefined, now: number): item is StoredItem => {
    const expires = item && expiresAt(item);
    return item !== undefined && (expires === undefined || expires > now);
  };

  const toOnline = (group: GroupSchema, item: StoredItem): OnlineRecord | undefined => {
    // A soft-deleted item holds no features.
    const features = item.features?.M;
    if (features === undefined) return undefined;
    const record = itemToRecord(group.name, group.featureDefinitions, features);
    const expires = expiresAt(item);
    return expires === undefined ? { record } : { record, expiresAt: new Date(expires) };
  };

  /** One conditional write; false when the stored item is newer (the write rule said no). */
  const conditionalPut = async (item: StoredItem, eventTimeMs: number, onRetry: (() => void) | undefined): Promise<boolean> => {
    const lib = await loadDynamoDb();
    const client = await ddb();
    try {
      await countAttempts(
        () =>
          client.send(
            new lib.PutItemCommand({
              TableName: tableName,
              Item: item,
              ConditionExpression: 'attribute_not_exists(pk) OR event_time_ms < :t OR expires_at_ms <= :now',
              ExpressionAttributeValues: { ':t': number(eventTimeMs), ':now': number(Date.now()) },
            }),
          ),
        onRetry ? { ...retry, onRetry } : retry,
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  };

  // By group, for the backfill's question about each record.
  const definitionsByGroup = new WeakMap<GroupSchema, ReadonlyMap<string, FeatureDefinition>>();
  const definitionsOf = (group: GroupSchema) => {
    let definitions = definitionsByGroup.get(group);
    if (!definitions) definitionsByGroup.set(group, (definitions = new Map(group.featureDefinitions.map((d) => [d.FeatureName, d]))));
    return definitions;
  };

  return {
    unstorable: (group, record) => unstorableNumber(group, definitionsOf(group), record),

    async put(group, records, putOptions = {}): Promise<OnlineWriteOutcome[]> {
      const definitions = definitionsOf(group);
      const halt = haltAfterFailure<OnlineWriteOutcome>(group.name);
      return inOrderPerKey(
        records,
        (record) => record.find((f) => f.FeatureName === group.recordIdentifier)?.ValueAsString ?? '',
        concurrency,
        async (record): Promise<OnlineWriteOutcome> => {
          if (!beforeDeadline(putOptions.deadline)) return deadlineError(group.name);
          const checked = checkRecord(group, record);
          if (!checked.ok) return new BackendError('INVALID_REQUEST', `group "${group.name}": ${checked.problem.message}`, { group: group.name });
          const unstorable = unstorableNumber(group, definitions, record);
          if (unstorable) return unstorable;
          const expires = expiresAtMs(checked.eventTimeMs, putOptions.ttl);
          const item: StoredItem = {
            pk: { S: keyOf(group, checked.id) },
            event_time_ms: number(checked.eventTimeMs),
            event_time: { S: checked.eventTime },
            features: { M: recordToItem(group.featureDefinitions, record) },
            ...(expires === undefined ? {} : { expires_at: number(Math.ceil(expires / 1000)), expires_at_ms: number(expires) }),
          };
          try {
            return (await conditionalPut(item, checked.eventTimeMs, putOptions.onRetry)) ? 'applied' : 'stale';
          } catch (error) {
            return dynamoDbError(error, tableName, group.name, 'write');
          }
        },
        // A refused value is never written, so the identifier's later records cannot overtake it.
        (result) => (result instanceof BackendError && result.code === 'INVALID_VALUE' ? undefined : halt(result)),
      );
    },

    async get(group, id, getOptions = {}) {
      const lib = await loadDynamoDb();
      const client = await ddb();
      try {
        const result = await countAttempts(() => client.send(new lib.GetItemCommand({ TableName: tableName, Key: { pk: { S: keyOf(group, id) } }, ConsistentRead: consistent })), retry);
        const item = result.Item;
        if (!live(item, Date.now())) return undefined;
        const found = toOnline(group, item);
        return found && { ...found, record: pickFeatures(found.record, getOptions.features) };
      } catch (error) {
        throw readError(error, tableName, group.name);
      }
    },

    async getMany(group, ids, getOptions = {}) {
      const lib = await loadDynamoDb();
      const client = await ddb();
      const unique = [...new Set(ids)];
      const chunks = chunksOf(unique, BATCH_GET_LIMIT);
      const found = new Map<string, OnlineRecord>();
      const prefix = `${group.name}#`;
      const now = Date.now();
      await mapConcurrent(chunks, chunks.length, async (chunk) => {
        try {
          const left = await drainWithRetry(
            chunk.map((id): StoredItem => ({ pk: { S: keyOf(group, id) } })),
            async (keys, send) => {
              const result = await send(() => client.send(
                new lib.BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: [...keys], ConsistentRead: consistent } } }),
              ));
              for (const item of result.Responses?.[tableName] ?? []) {
                if (!live(item, now)) continue;
                const online = toOnline(group, item);
                if (online) found.set((item.pk as { S: string }).S.slice(prefix.length), { ...online, record: pickFeatures(online.record, getOptions.features) });
              }
              return result.UnprocessedKeys?.[tableName]?.Keys ?? [];
            },
            retry,
          );
          if (left.length > 0) {
            throw new BackendError('THROTTLED', `group "${group.name}": ${left.length} keys still unprocessed after retries`, { retryable: true, group: group.name });
          }
        } catch (error) {
          throw readError(error, tableName, group.name);
        }
      });
      return found;
    },

    async delete(group, id, eventTime, mode): Promise<DeleteStatus> {
      const lib = await loadDynamoDb();
      const client = await ddb();
      const checked = checkRecord(group, [
        { FeatureName: group.recordIdentifier, ValueAsString: id },
        { FeatureName: group.eventTime, ValueAsString: eventTime },
      ]);
      if (!checked.ok) throw new BackendError('INVALID_REQUEST', `group "${group.name}": ${checked.problem.message}`, { group: group.name });
      try {
        if (mode === 'HardDelete') {
          await countAttempts(
            () =>
              client.send(
                new lib.DeleteItemCommand({
                  TableName: tableName,
                  Key: { pk: { S: keyOf(group, id) } },
                  ConditionExpression: 'attribute_not_exists(pk) OR event_time_ms < :t OR expires_at_ms <= :now',
                  ExpressionAttributeValues: { ':t': number(checked.eventTimeMs), ':now': number(Date.now()) },
                }),
              ),
            retry,
          );
          return 'deleted';
        }
        // A soft delete keeps the key with the delete's event time, so older writes stay out.
        const applied = await conditionalPut(
          { pk: { S: keyOf(group, id) }, event_time_ms: number(checked.eventTimeMs), event_time: { S: eventTime }, deleted: { BOOL: true } },
          checked.eventTimeMs,
          undefined,
        );
        return applied ? 'deleted' : 'stale';
      } catch (error) {
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return 'stale';
        throw dynamoDbError(error, tableName, group.name, 'write');
      }
    },

    async close() {
      if (!options.client && clientPromise) (await clientPromise).destroy();
    },
  };
}
