// The audit applied to whole feature vectors: on a sample of entities, the vector served now against
// the training row built for the same instant, column by column.
import { ConfigurationError } from '../errors.js';
import type { AnyFeatureColumns, AnyFeatureSelection } from '../schema/types.js';
import { featureVectors, readPlanOf } from '../serving/feature-vectors.js';
import { spineKey } from '../sql/plan.js';
import { backendsOf, type FeatureStore } from '../store/feature-store.js';
import { trainingSet } from '../training/training-set.js';
import { checkOptions, countSchema, durationSchema, expected, lazySchema, positiveInteger } from '../util/options.js';
import { featureListSchema } from '../selections.js';
import * as z from 'zod/mini';
import { equalValues, sampleIds } from './audit.js';

export interface VectorAuditOptions {
  /** The entity rows to audit; default a sample of the first selection's identifiers from the offline store. */
  readonly entities?: readonly Readonly<Record<string, unknown>>[];
  /** How many identifiers to sample when `entities` is not given; default 1,000. */
  readonly sample?: number;
  /** Seed of the sample; default 1. */
  readonly seed?: number;
  /** The entity column with the record identifier (a selection's `key` overrides it). */
  readonly entityKey: string;
  /** Selections and request features, as `featureVectors` and `trainingSet` take them. */
  readonly features: readonly AnyFeatureColumns[];
  readonly maxAge?: string;
  /** Numbers closer than this count as equal; default 0 (exact). */
  readonly tolerance?: number;
  /** Differing cells listed with their values (all are counted); default 50. */
  readonly examples?: number;
}

/** One cell where the served vector and the training row differ. */
export interface VectorDifference {
  readonly row: number;
  readonly entity: Readonly<Record<string, unknown>>;
  readonly column: string;
  readonly served: unknown;
  readonly trained: unknown;
}

export interface VectorAuditReport {
  /** The instant both sides were built for. */
  readonly at: Date;
  readonly sampled: number;
  /** Entity rows whose served vector equals the training row in every column. */
  readonly consistent: number;
  /** consistent / sampled; undefined when nothing was sampled (never "100% of nothing"). */
  readonly consistencyRate: number | undefined;
  /**
   * Entity rows where a column read from the store has a value, served or trained (for a list of
   * request features alone, a column of their outputs): rows of nulls alone agree without showing
   * anything (an entity nothing was ingested for).
   */
  readonly rowsWithValues: number;
  /** Per feature column: rows where served and trained differ. */
  readonly mismatches: Readonly<Record<string, number>>;
  readonly examples: readonly VectorDifference[];
}

const entityRows = () => z.array(z.custom<object>((row) => typeof row === 'object' && row !== null, { error: expected('an entity row object') }));

/** The options of a vector comparison that say what is read: the vector audit's, and all of `expectServingParity`'s. */
const vectorReadFields = () => ({
  entities: z.optional(entityRows()),
  entityKey: z.string({ error: expected('the entity column with the record identifier') }),
  features: featureListSchema('a vector audit'),
  maxAge: z.optional(durationSchema()),
});

/** `expectServingParity`'s options, checked under its own name before the audit it runs: its entities are given, never sampled. */
export const servingParityOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({ ...vectorReadFields(), entities: entityRows() }));

const vectorAuditOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  ...vectorReadFields(),
  sample: z.optional(positiveInteger()),
  seed: z.optional(z.int({ error: expected('a whole number') })),
  tolerance: z.optional(z.number({ error: expected('a number, 0 or more') }).check(z.gte(0))),
  examples: z.optional(countSchema()),
}));

/** Entity rows of sampled identifiers of the first selection's group; other selections must be keyed by the same column. */
async function sampleEntities(store: FeatureStore, options: VectorAuditOptions, selections: readonly AnyFeatureSelection[]): Promise<Record<string, unknown>[]> {
  const keyed = selections.find((s) => s.options.key !== undefined && s.options.key !== options.entityKey);
  if (keyed) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `selection of "${keyed.group.name}" reads its identifier from "${keyed.options.key}", which a sample of "${selections[0]?.group.name}" identifiers does not have: pass entities`,
    );
  }
  const { offline } = await store.backends();
  if (!offline) throw new ConfigurationError('INVALID_CONFIG', 'a vector audit compares with the offline store, and the store has none');
  const group = (selections[0] as AnyFeatureSelection).group;
  const ids = (await offline.scan(group)).map((row) => spineKey(row[group.recordIdentifier])).filter((id): id is string => id !== undefined);
  return sampleIds(ids, options.sample ?? 1000, options.seed ?? 1).map((id) => ({ [options.entityKey]: id }));
}

/**
 * The audit for whole feature vectors: for a sample of entities, the vector `featureVectors` serves
 * now against the training row `trainingSet` builds for the same instant from the offline store,
 * cell by cell. Every difference is skew a model would meet in production; offline rows not yet
 * delivered (SageMaker takes up to 15 minutes) show up as differences too, so audit a while after
 * the last writes, or with `audit` per group, which names causes.
 *
 * ### Example
 * ```ts
 * import { auditVectors } from 'skewless';
 * const report = await auditVectors(store, { entityKey: 'card_id', sample: 500,
 *   features: [cardActivity.select('amount', 'txn_count_1h')] });
 * report.consistencyRate;   // 1 when every served vector is its training row
 * ```
 */
export async function auditVectors(store: FeatureStore, options: VectorAuditOptions): Promise<VectorAuditReport> {
  checkOptions(vectorAuditOptions, options, 'auditVectors options');
  // First: with entities given, nothing else here reaches the store and refuses a wrong one by name.
  await backendsOf(store, 'auditVectors');
  const plan = readPlanOf(options.features, options.entityKey, options.maxAge);
  const entities = options.entities ? [...options.entities] : await sampleEntities(store, options, plan.list.selections);
  const maxAge = options.maxAge !== undefined ? { maxAge: options.maxAge } : {};
  const served = await featureVectors(store, { entities, entityKey: options.entityKey, features: options.features, ...maxAge });
  const instant = '__skewless_audited_at';
  const { rows: trained } = await trainingSet(store, {
    spine: entities.map((entity) => ({ ...entity, [instant]: served.at })),
    entityKey: options.entityKey,
    timestamp: instant,
    features: options.features,
    ...maxAge,
  });
  const tolerance = options.tolerance ?? 0;
  const maxExamples = options.examples ?? 50;
  // Exactly the listed features' columns and the request features' outputs: an entity column is the
  // caller's, whatever its name, and reads only request features take are not in the rows.
  const stored = plan.columns.slice(0, plan.list.listed).flat();
  const columns = [...stored, ...plan.list.outputs.map((output) => output.name)];
  const mismatches: Record<string, number> = Object.fromEntries(columns.map((column) => [column, 0]));
  const examples: VectorDifference[] = [];
  let consistent = 0;
  let rowsWithValues = 0;
  const hasValue = (value: unknown) => value !== null && value !== undefined;
  served.rows.forEach((row, r) => {
    const entity = entities[r] as Record<string, unknown>;
    const servedRow = row as Record<string, unknown>;
    const trainedRow = trained[r] as Record<string, unknown>;
    if ((stored.length > 0 ? stored : columns).some((column) => hasValue(servedRow[column]) || hasValue(trainedRow[column]))) rowsWithValues++;
    let same = true;
    for (const column of columns) {
      if (equalValues(servedRow[column], trainedRow[column], tolerance)) continue;
      same = false;
      mismatches[column] = (mismatches[column] as number) + 1;
      if (examples.length < maxExamples) examples.push({ row: r, entity, column, served: servedRow[column], trained: trainedRow[column] });
    }
    if (same) consistent++;
  });
  return {
    at: served.at,
    sampled: entities.length,
    consistent,
    consistencyRate: entities.length === 0 ? undefined : consistent / entities.length,
    rowsWithValues,
    mismatches,
    examples,
  };
}
