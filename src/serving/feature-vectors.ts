// Feature vectors for inference: the training rule evaluated at the read's instant against the online
// store, so a served row and the training row built for the same instant are the same row.
import { BackendError, DataError, SkewlessError } from '../errors.js';
import { decodeFailure, MAX_RECORD_IDENTIFIER_BYTES } from '../schema/codec.js';
import type { AnyFeatureColumns, AnyFeatureGroup, InferTrainingRow } from '../schema/types.js';
import { backendsOf, type FeatureStore } from '../store/feature-store.js';
import type { OnlineRecord, OnlineStore } from '../store/types.js';
import { ageLimitMs, buildTrainingPlan, isKeyValue, type JoinStep, notAKey, replacedColumn, replacedIn, spineKey, type WrittenColumn, writtenColumns } from '../sql/plan.js';
import type { FeatureListPlan } from '../request-features/brand.js';
import { featureListSchema, planFeatures } from '../selections.js';
import { checkOptions, describeValue, durationSchema, expected, lazySchema } from '../util/options.js';
import * as z from 'zod/mini';

export type EntityRow = Readonly<Record<string, unknown>>;

export interface FeatureVectorOptions<E extends object = EntityRow, F extends readonly AnyFeatureColumns[] = readonly AnyFeatureColumns[]> {
  /**
   * One row per vector wanted, holding the record identifiers, the request data request features read
   * (the transaction being scored, say), and any other columns, kept as they are.
   */
  readonly entities: readonly E[];
  /** The entity column with the record identifier (a selection's `key` overrides it). */
  readonly entityKey: string;
  /**
   * The same selections and request features a training set takes, with the same `key`, `prefix` and
   * `maxAge` options; request features take their request values from the entity rows.
   */
  readonly features: F;
  /** Default `maxAge` for selections without their own, e.g. `'30d'`. */
  readonly maxAge?: string;
  /**
   * A failed read: `'throw'` (default) throws its `BackendError`; `'null'` leaves that group's columns
   * null for the rows it concerned (and the outputs of request features reading it) and lists it in
   * `failures`, so nothing failed reads as a missing entity.
   */
  readonly onFailure?: 'throw' | 'null';
}

/** A read that failed: which group, for which entity rows (0-based), and why. */
export interface FeatureVectorFailure {
  readonly group: string;
  readonly rows: readonly number[];
  readonly error: BackendError;
}

export interface FeatureVectors<Row> {
  /** One row per entity row, in order, duplicates kept: the entity's columns, then each selected feature's. */
  readonly rows: Row[];
  /** The instant the rule was evaluated at (the store's clock): the training row for it is the same row. */
  readonly at: Date;
  /** Reads that failed, with `onFailure: 'null'`; empty otherwise. */
  readonly failures: readonly FeatureVectorFailure[];
}

const featureVectorOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  entities: z.array(z.custom<object>((row) => typeof row === 'object' && row !== null, { error: expected('an entity row object') }), {
    error: expected('a list of entity rows, e.g. [{ card_id: "c1" }]'),
  }),
  entityKey: z.string({ error: expected('the entity column with the record identifier') }),
  features: featureListSchema('feature vectors'),
  maxAge: z.optional(durationSchema()),
  onFailure: z.optional(z.enum(['throw', 'null'], { error: expected("'throw' or 'null'") })),
}));

/**
 * The columns the selections read off each entity row are there: a missing one is named, with the
 * columns that are. A column a feature would be written to is refused: the caller's value would be replaced.
 */
function checkEntityColumns(entities: readonly EntityRow[], steps: readonly JoinStep[], written: ReadPlan['written']): void {
  entities.forEach((entity, row) => {
    const clash = replacedIn(entity, written);
    if (clash) throw new DataError('INVALID_ENTITIES', `entity row ${row} ${replacedColumn(clash)}`, { row, column: clash.column });
    for (const step of steps) {
      if (Object.hasOwn(entity, step.key)) {
        const value = entity[step.key];
        if (isKeyValue(value)) continue;
        throw new DataError('INVALID_ENTITIES', `entity row ${row}: ${notAKey(step.key, value)}`, { row, column: step.key });
      }
      throw new DataError(
        'INVALID_ENTITIES',
        `entity row ${row} has no column "${step.key}" (the record identifier of "${step.group}": entityKey, or the selection's key); its columns: ${Object.keys(entity).join(', ') || '(none)'}`,
        { row, column: step.key },
      );
    }
  });
}

/** What a call reads and the columns it writes, which depend on its `features` list alone. */
export interface ReadPlan {
  /** The list it was built from, to tell a features array changed in place from the same one. */
  readonly features: readonly AnyFeatureColumns[];
  readonly list: FeatureListPlan;
  readonly joins: readonly JoinStep[];
  readonly groups: readonly AnyFeatureGroup[];
  /** Per join: the output column of each selected feature, in the order of `step.features`. */
  readonly columns: readonly (readonly string[])[];
  /** Per join: the features fetched from the online store (the selected ones and the event time). */
  readonly fetched: readonly (readonly string[])[];
  /** Every column written onto an entity row (selections read for request features among them), with what writes it. */
  readonly written: readonly WrittenColumn[];
}

const readPlans = /* @__PURE__ */ new WeakMap<readonly AnyFeatureColumns[], Map<string, ReadPlan>>();

/**
 * The read plan for a features array, built once per array, entityKey and maxAge: building it (the
 * column names, the duplicate-column check) was most of the CPU a single-entity call spent, and a
 * serving handler passes the same array on every request. Selections and request features are
 * frozen, so the same objects in the same order give the same plan.
 */
export function readPlanOf(features: readonly AnyFeatureColumns[], entityKey: string, maxAge: string | undefined): ReadPlan {
  const key = `${entityKey}\u0000${maxAge ?? ''}`;
  const cached = readPlans.get(features)?.get(key);
  if (cached && cached.features.length === features.length && cached.features.every((f, i) => f === features[i])) return cached;
  const list = planFeatures(features, entityKey, maxAge);
  const { joins } = buildTrainingPlan({ timestamp: '', entityKey, features: list.selections });
  const groups = list.selections.map((selection) => selection.group);
  const plan: ReadPlan = {
    features: [...features],
    list,
    joins,
    groups,
    columns: joins.map((step) => step.features.map((feature) => `${step.prefix}${feature}`)),
    fetched: joins.map((step, i) => [...new Set([...step.features, (groups[i] as AnyFeatureGroup).eventTime])]),
    written: writtenColumns(joins, list.outputs),
  };
  const plans = readPlans.get(features) ?? new Map<string, ReadPlan>();
  plans.set(key, plan);
  readPlans.set(features, plans);
  return plan;
}

/** A backend's failure that names no group (a store of the user's own making), given the group whose read it failed. */
function ofGroup(error: BackendError, group: string): BackendError {
  if (error.group !== undefined) return error;
  return new BackendError(error.code, `group "${group}": ${error.message}`, { cause: error, group, retryable: error.retryable, issues: error.issues, position: error.position });
}

/** One group's records for the given identifiers: one GetRecord for a single identifier, batched reads for more. */
async function readRecords(online: OnlineStore, group: AnyFeatureGroup, ids: readonly string[], features: readonly string[]): Promise<Map<string, OnlineRecord>> {
  if (ids.length !== 1) return ids.length === 0 ? new Map() : online.getMany(group, ids, { features });
  const id = ids[0] as string;
  const found = await online.get(group, id, { features });
  return new Map(found ? [[id, found]] : []);
}

/** An identifier no backend can hold (empty, or over SageMaker's 2 KB) has no record: it is not sent. */
function storable(id: string): boolean {
  return id.length > 0 && (id.length * 3 <= MAX_RECORD_IDENTIFIER_BYTES || Buffer.byteLength(id, 'utf8') <= MAX_RECORD_IDENTIFIER_BYTES);
}

/**
 * The training rule for one stored record at `at`: its values, or undefined when the rule gives nulls
 * (event time after `at`, at or before `at - maxAge`, or expired by `at` — by the expiry the backend
 * reports, and by the group's TTL whatever the record was written with, as training applies it). The
 * online store keeps only the latest record, so a record ruled out leaves nothing older to fall back
 * to, as in training.
 */
function visibleValues(group: AnyFeatureGroup, step: JoinStep, found: OnlineRecord, at: number): Record<string, unknown> | undefined {
  if (found.expiresAt !== undefined && found.expiresAt.getTime() <= at) return undefined;
  const values = group.codec.fromRecord(found.record, { partial: true }) as Record<string, unknown>;
  const eventTime = values[group.eventTime];
  // A store that left the event time out of the record: its value cannot be read as a time.
  if (!(eventTime instanceof Date)) throw decodeFailure(group.name, group.eventTime, eventTime);
  const ms = eventTime.getTime();
  const limit = ageLimitMs(step);
  if (ms > at || (limit !== undefined && ms <= at - limit)) return undefined;
  return values;
}

/**
 * Feature vectors for inference from the store's online tier: for each entity row, each selection's
 * features as the training rule gives them at the read's instant `at` — the latest record if its event
 * time is at most `at`, newer than `at - maxAge`, and not expired by `at` (the group's TTL, or one given
 * per write); null when deleted, missing or ruled out. The same selections, column names, types and
 * nulls as `trainingSet`, so a served row equals the training row built for (entity, `at`) — except
 * where the online store cannot know: a latest record dated after `at` hides older ones (served null,
 * trained as the older record), and a HardDelete forgets the deleted event time. Groups are
 * read concurrently, one GetRecord per group for one entity and batched reads for many, fetching
 * only the selected features. Request features in the list run over each row after the reads, with
 * their request values from the entity row: the transform a training set runs, on the same values.
 *
 * ### Example
 * ```ts
 * import { featureVectors } from 'skewless';
 * const { rows, at } = await featureVectors(store, {
 *   entities: [{ card_id: 'c1', merchant_id: 'm9' }],
 *   entityKey: 'card_id',
 *   features: [cardActivity.select('amount', 'txn_count_1h').with({ maxAge: '30d' }),
 *              merchantRisk.select('score').with({ key: 'merchant_id', prefix: 'merchant_' })],
 * });
 * rows[0]['card-activity__amount'];   // number | null, as in a training row
 * ```
 */
export async function featureVectors<E extends object, const F extends readonly AnyFeatureColumns[]>(
  store: FeatureStore,
  options: FeatureVectorOptions<E, F>,
): Promise<FeatureVectors<InferTrainingRow<E, F>>> {
  checkOptions(featureVectorOptions, options, 'featureVectors options');
  const entities = options.entities as readonly EntityRow[];
  const plan = readPlanOf(options.features, options.entityKey, options.maxAge);
  checkEntityColumns(entities, plan.joins, plan.written);
  const { online } = await backendsOf(store, 'featureVectors');
  const failures: FeatureVectorFailure[] = [];
  // Per join step, the entity rows whose read failed (`onFailure: 'null'`): request features reading it give nulls there.
  const failed = new Map<number, ReadonlySet<number>>();

  const reads = await Promise.all(
    plan.joins.map(async (step, i) => {
      const group = plan.groups[i] as AnyFeatureGroup;
      const keys = entities.map((entity) => spineKey(entity[step.key]));
      const ids = [...new Set(keys.filter((key): key is string => key !== undefined && storable(key)))];
      try {
        return { group, keys, found: await readRecords(online, group, ids, plan.fetched[i] as readonly string[]) };
      } catch (cause) {
        // Only a failed read is reported per group; a store that cannot work at all (a missing peer,
        // a wrong option) fails the call whatever onFailure says.
        if (cause instanceof SkewlessError && !(cause instanceof BackendError)) throw cause;
        const error = cause instanceof BackendError ? ofGroup(cause, group.name) : new BackendError('READ_FAILED', `group "${group.name}": read failed: ${cause instanceof Error ? cause.message : describeValue(cause)}`, { cause, group: group.name, retryable: true });
        if (options.onFailure !== 'null') throw error;
        const rows = keys.flatMap((key, row) => (key === undefined ? [] : [row]));
        failures.push({ group: group.name, rows, error });
        failed.set(i, new Set(rows));
        return { group, keys, found: new Map<string, OnlineRecord>() };
      }
    }),
  );
  // The instant is taken after the reads: whatever a backend hid as expired has expired by then, so
  // the rule at `at` agrees with what was read.
  const at = store.now();
  const values = reads.map(({ group, keys, found }, i) => {
    const step = plan.joins[i] as JoinStep;
    const byId = new Map<string, Record<string, unknown> | undefined>();
    for (const [id, record] of found) byId.set(id, visibleValues(group, step, record, at));
    return keys.map((key) => (key === undefined ? undefined : byId.get(key)));
  });

  // Each row made in one go from its entries: a row grown one computed key at a time turns into a
  // slow dictionary-mode object past a dozen keys in V8, and that was half of the CPU per row.
  const rows = entities.map((entity, r) => {
    const entries: [string, unknown][] = Object.entries(entity);
    plan.joins.forEach((step, i) => {
      const found = values[i]?.[r];
      const names = plan.columns[i] as readonly string[];
      step.features.forEach((feature, f) => entries.push([names[f] as string, found?.[feature] ?? null]));
    });
    const row: Record<string, unknown> = Object.fromEntries(entries);
    if (plan.list.hasRequestFeatures) plan.list.completeRow(row, r, 'feature-vectors', (step) => failed.get(step)?.has(r) === true);
    return row;
  });
  return { rows: rows as InferTrainingRow<E, F>[], at: new Date(at), failures };
}
