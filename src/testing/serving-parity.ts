import { AssertionError } from 'node:assert';
import { auditVectors, servingParityOptions, type VectorAuditOptions } from '../audit/vectors.js';
import { checkOptions } from '../util/options.js';
import type { AnyFeatureColumns } from '../schema/types.js';
import type { FeatureVectorOptions } from '../serving/feature-vectors.js';
import type { FeatureStore } from '../store/feature-store.js';

export interface ServingParityReport {
  /** The read's instant both sides were built for. */
  readonly at: Date;
  /** Entity rows compared, all equal. */
  readonly rows: number;
  /** Feature columns compared per row. */
  readonly columns: number;
}

function show(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Set) return `Set ${JSON.stringify([...value])}`;
  return JSON.stringify(value) ?? String(value);
}

/**
 * Serves a feature vector for each entity from the store's online tier, builds the training row for
 * (entity, the read's instant) from its offline tier, and checks they are the same row, column by
 * column, request features' outputs included (what `auditVectors` measures, as an assertion). Throws an AssertionError naming the first
 * entity row and column that differ — or that there was nothing to compare: no entities, or none with a
 * value in a store feature's column on either side — so it works as-is in
 * vitest, jest or node:test. Run it after ingesting (and, on AWS, once SageMaker has delivered the
 * offline rows): the two sides read different stores, so this is the end-to-end proof that what a
 * model is trained on is what it is served.
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
  checkOptions(servingParityOptions, options, 'expectServingParity options');
  const report = await auditVectors(store, { ...(options as unknown as VectorAuditOptions), examples: 1 });
  const columns = Object.keys(report.mismatches).length;
  if (report.sampled === 0) {
    throw new AssertionError({ message: 'serving parity: no entities to compare', actual: 0, expected: 'at least one entity row', operator: 'expectServingParity' });
  }
  const first = report.examples[0];
  if (!first && report.rowsWithValues === 0) {
    throw new AssertionError({
      message: `serving parity: none of the ${report.sampled} entity rows has a value in a store feature's column, served or trained (was anything ingested for these entities?), so nothing was compared`,
      actual: 0,
      expected: 'at least one entity row with a value',
      operator: 'expectServingParity',
    });
  }
  if (first) {
    throw new AssertionError({
      message: `serving parity: entity row ${first.row}, column "${first.column}": served ${show(first.served)}, training row for ${report.at.toISOString()} ${show(first.trained)}`,
      actual: first.served,
      expected: first.trained,
      operator: 'expectServingParity',
    });
  }
  return { at: report.at, rows: report.sampled, columns };
}
