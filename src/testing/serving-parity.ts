import { AssertionError } from 'node:assert';
import { type EntityRow, type FeatureVectorOptions, featureVectors } from '../serving/feature-vectors.js';
import type { AnyFeatureColumns } from '../schema/types.js';
import type { FeatureStore } from '../store/feature-store.js';
import { trainingSet } from '../training/training-set.js';

export interface ServingParityReport {
  /** The read's instant both sides were built for. */
  readonly at: Date;
  /** Entity rows compared, all equal. */
  readonly rows: number;
  /** Feature columns compared per row. */
  readonly columns: number;
}

/** The spine column holding the read's instant; named so no entity column can be it. */
const INSTANT = '__skewless_served_at';

/** Values compared as a model sees them: Dates by instant, -0 apart from 0 (a double keeps its sign). */
function same(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a instanceof Set && b instanceof Set) return same([...a], [...b]);
  return Object.is(a, b);
}

function show(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Set) return `Set ${JSON.stringify([...value])}`;
  return Object.is(value, -0) ? '-0' : JSON.stringify(value);
}

/**
 * Serves a feature vector for each entity from the store's online tier, builds the training row for
 * (entity, the read's instant) from its offline tier, and checks they are the same row, column by
 * column, request features' outputs included (their request values are the entity rows' columns). Throws an AssertionError naming the first entity row and column that differ, so it works
 * as-is in vitest, jest or node:test. Run it after ingesting (and, on AWS, once SageMaker has
 * delivered the offline rows): the two sides read different stores, so this is the end-to-end proof
 * that what a model is trained on is what it is served.
 *
 * ### Example
 * ```ts
 * import { expectServingParity } from 'skewless/testing';
 * await store.ingest(cardActivity, events);
 * await expectServingParity(store, {
 *   entities: [{ card_id: 'c1' }, { card_id: 'c2' }],
 *   entityKey: 'card_id',
 *   features: [cardActivity.select('amount', 'txn_count_1h')],
 * });
 * ```
 */
export async function expectServingParity<E extends object, const F extends readonly AnyFeatureColumns[]>(
  store: FeatureStore,
  options: Omit<FeatureVectorOptions<E, F>, 'onFailure'>,
): Promise<ServingParityReport> {
  const served = await featureVectors(store, options);
  const spine = (options.entities as readonly EntityRow[]).map((entity) => ({ ...entity, [INSTANT]: served.at }));
  const { rows: trained } = await trainingSet(store, {
    spine,
    entityKey: options.entityKey,
    timestamp: INSTANT,
    features: options.features,
    ...(options.maxAge !== undefined ? { maxAge: options.maxAge } : {}),
  });
  const entityColumns = new Set(Object.keys(options.entities[0] ?? {}));
  let columns = 0;
  served.rows.forEach((row, r) => {
    const training = trained[r] as Record<string, unknown>;
    const names = Object.keys(row).filter((name) => !entityColumns.has(name));
    columns = names.length;
    for (const name of names) {
      const a = (row as Record<string, unknown>)[name];
      const b = training[name];
      if (same(a, b)) continue;
      throw new AssertionError({
        message: `serving parity: entity row ${r}, column "${name}": served ${show(a)}, training row for ${served.at.toISOString()} ${show(b)}`,
        actual: a,
        expected: b,
        operator: 'expectServingParity',
      });
    }
  });
  return { at: served.at, rows: served.rows.length, columns };
}
