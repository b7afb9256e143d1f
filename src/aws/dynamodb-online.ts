import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, NumberValue } from '@aws-sdk/lib-dynamodb';
import { BackendError } from '../errors.js';
import type { FeatureValue, SageMakerRecord } from '../schema/codec.js';
import { checkRecord, expiresAtMs, type GroupSchema, pickFeatures } from '../schema/sagemaker-record.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';
import type { DeleteStatus, OnlineRecord, OnlineStore, OnlineWriteOutcome } from '../store/types.js';
import { beforeDeadline, inOrderPerKey, mapConcurrent } from '../util/concurrency.js';
import { backendError, deadlineError, haltAfterFailure } from './errors.js';
import { loadDynamoDb, loadDynamoDbDocument } from './sdk.js';
import { clientConfig, countAttempts, drainWithRetry, type RetryOptions } from './retry.js';
import { type AwsClient, sdkClient } from './clients.js';
import * as z from 'zod/mini';
import { checkOptions, lazySchema } from '../util/options.js';
import { awsClient, concurrency, retryOptions, tableName } from './options.js';

type Modules = [typeof import('@aws-sdk/client-dynamodb'), typeof import('@aws-sdk/lib-dynamodb')];

const loadModules = (): Promise<Modules> => Promise.all([loadDynamoDb(), loadDynamoDbDocument()]);

const DYNAMODB_ONLINE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  tableName: tableName(),
  client: z.optional(awsClient()),
  concurrency: concurrency(),
  consistentRead: z.optional(z.boolean()),
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
 *
 * ### Example
 * ```ts
 * await ddb.send(new CreateTableCommand(dynamoDbTableDefinition('features')));
 * ```
 */
export function dynamoDbTableDefinition(tableName: string) {
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
  const match = DECIMAL.exec(text);
  const whole = match?.[1] ?? '';
  const fraction = match?.[2] ?? '';
  if (!match || whole.length + fraction.length === 0) return 'is not a decimal number';
  const digits = whole + fraction;
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
    const type = definitions.get(feature.FeatureName)?.FeatureType;
    if (type === undefined || type === 'String') continue;
    for (const text of feature.ValueAsStringList ?? [feature.ValueAsString ?? '']) {
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

interface StoredItem {
  readonly pk: string;
  readonly event_time_ms: NumberValue;
  readonly event_time: string;
  readonly deleted?: boolean;
  /** Epoch seconds, for DynamoDB's TTL sweeper. */
  readonly expires_at?: NumberValue;
  /** The exact expiry, which reads honour (the sweeper runs late). */
  readonly expires_at_ms?: NumberValue;
  readonly features?: Record<string, unknown>;
}

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

function keyOf(group: GroupSchema, id: string): string {
  return `${group.name}#${id}`;
}

/** SageMaker record -> the typed `features` map: strings as S, numbers as exact N, lists as L. */
function toAttributes(lib: Modules[1], definitions: ReadonlyMap<string, FeatureDefinition>, record: SageMakerRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const value = (type: FeatureDefinition['FeatureType'], text: string) => (type === 'String' ? text : lib.NumberValue.from(text));
  for (const feature of record) {
    const definition = definitions.get(feature.FeatureName);
    if (!definition) continue;
    out[feature.FeatureName] = definition.CollectionType
      ? (feature.ValueAsStringList ?? []).map((v) => value(definition.FeatureType, v))
      : value(definition.FeatureType, feature.ValueAsString ?? '');
  }
  return out;
}

function toRecord(definitions: readonly FeatureDefinition[], features: Record<string, unknown>): SageMakerRecord {
  const record: SageMakerRecord = [];
  for (const definition of definitions) {
    const value = features[definition.FeatureName];
    if (value === undefined) continue;
    const feature: FeatureValue = definition.CollectionType
      ? { FeatureName: definition.FeatureName, ValueAsStringList: (value as unknown[]).map(String) }
      : { FeatureName: definition.FeatureName, ValueAsString: String(value) };
    record.push(feature);
  }
  return record;
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
  const retry = options.retry ?? {};
  let docPromise: Promise<DynamoDBDocumentClient> | undefined;
  const doc = () => {
    docPromise ??= loadModules().then(([ddb, lib]) =>
      lib.DynamoDBDocumentClient.from(sdkClient<DynamoDBClient>(options.client) ?? new ddb.DynamoDBClient(clientConfig(retry)), {
        marshallOptions: { removeUndefinedValues: true },
        unmarshallOptions: { wrapNumbers: true },
      }),
    );
    return docPromise;
  };

  const live = (item: StoredItem | undefined, now: number): item is StoredItem =>
    item !== undefined && (item.expires_at_ms === undefined || Number(item.expires_at_ms.toString()) > now);

  const toOnline = (group: GroupSchema, item: StoredItem): OnlineRecord | undefined => {
    if (item.deleted || item.features === undefined) return undefined;
    const record = toRecord(group.featureDefinitions, item.features);
    return item.expires_at_ms === undefined ? { record } : { record, expiresAt: new Date(Number(item.expires_at_ms.toString())) };
  };

  /** One conditional write; false when the stored item is newer (the write rule said no). */
  const conditionalPut = async (item: Record<string, unknown>, eventTimeMs: number, onRetry: (() => void) | undefined): Promise<boolean> => {
    const [, lib] = await loadModules();
    const client = await doc();
    try {
      await countAttempts(
        () =>
          client.send(
            new lib.PutCommand({
              TableName: tableName,
              Item: item,
              ConditionExpression: 'attribute_not_exists(pk) OR event_time_ms < :t OR expires_at_ms <= :now',
              ExpressionAttributeValues: { ':t': eventTimeMs, ':now': Date.now() },
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

  return {
    async put(group, records, putOptions = {}): Promise<OnlineWriteOutcome[]> {
      const [, lib] = await loadModules();
      const definitions = new Map(group.featureDefinitions.map((d) => [d.FeatureName, d]));
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
          const item = {
            pk: keyOf(group, checked.id),
            event_time_ms: checked.eventTimeMs,
            event_time: checked.eventTime,
            features: toAttributes(lib, definitions, record),
            ...(expires === undefined ? {} : { expires_at: Math.ceil(expires / 1000), expires_at_ms: expires }),
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
      const [, lib] = await loadModules();
      const client = await doc();
      try {
        const result = await countAttempts(() => client.send(new lib.GetCommand({ TableName: tableName, Key: { pk: keyOf(group, id) }, ConsistentRead: consistent })), retry);
        const item = result.Item as StoredItem | undefined;
        if (!live(item, Date.now())) return undefined;
        const found = toOnline(group, item);
        return found && { ...found, record: pickFeatures(found.record, getOptions.features) };
      } catch (error) {
        throw dynamoDbError(error, tableName, group.name, 'read');
      }
    },

    async getMany(group, ids) {
      const [, lib] = await loadModules();
      const client = await doc();
      const unique = [...new Set(ids)];
      const chunks: string[][] = [];
      for (let i = 0; i < unique.length; i += BATCH_GET_LIMIT) chunks.push(unique.slice(i, i + BATCH_GET_LIMIT));
      const found = new Map<string, OnlineRecord>();
      const prefix = `${group.name}#`;
      const now = Date.now();
      await mapConcurrent(chunks, chunks.length, async (chunk) => {
        try {
          const left = await drainWithRetry(
            chunk.map((id) => ({ pk: keyOf(group, id) })),
            async (keys, send) => {
              const result = await send(() => client.send(
                new lib.BatchGetCommand({ RequestItems: { [tableName]: { Keys: [...keys], ConsistentRead: consistent } } }),
              ));
              for (const item of (result.Responses?.[tableName] ?? []) as StoredItem[]) {
                if (!live(item, now)) continue;
                const online = toOnline(group, item);
                if (online) found.set(item.pk.slice(prefix.length), online);
              }
              return (result.UnprocessedKeys?.[tableName]?.Keys ?? []) as { pk: string }[];
            },
            retry,
          );
          if (left.length > 0) {
            throw new BackendError('THROTTLED', `group "${group.name}": ${left.length} keys still unprocessed after retries`, { retryable: true, group: group.name });
          }
        } catch (error) {
          throw dynamoDbError(error, tableName, group.name, 'read');
        }
      });
      return found;
    },

    async delete(group, id, eventTime, mode): Promise<DeleteStatus> {
      const [, lib] = await loadModules();
      const client = await doc();
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
                new lib.DeleteCommand({
                  TableName: tableName,
                  Key: { pk: keyOf(group, id) },
                  ConditionExpression: 'attribute_not_exists(pk) OR event_time_ms < :t OR expires_at_ms <= :now',
                  ExpressionAttributeValues: { ':t': checked.eventTimeMs, ':now': Date.now() },
                }),
              ),
            retry,
          );
          return 'deleted';
        }
        // A soft delete keeps the key with the delete's event time, so older writes stay out.
        const applied = await conditionalPut({ pk: keyOf(group, id), event_time_ms: checked.eventTimeMs, event_time: eventTime, deleted: true }, checked.eventTimeMs, undefined);
        return applied ? 'deleted' : 'stale';
      } catch (error) {
        if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return 'stale';
        throw dynamoDbError(error, tableName, group.name, 'write');
      }
    },

    async close() {
      if (!options.client && docPromise) (await docPromise).destroy();
    },
  };
}
