// What training sets, feature vectors and the serving handler share about a `features` list.
import * as z from 'zod/mini';
import { isFeatureSelection } from './feature-group.js';
import { type FeatureListPlan, isRequestFeatures, requestFeaturesInternals } from './request-features/brand.js';
import type { AnyFeatureColumns, AnyFeatureSelection } from './schema/types.js';
import { expected } from './util/options.js';
import { withMaxAge } from './sql/plan.js';

/** A `features` list as an option schema: selections made by `group.select(...)` and request features, at least one. */
export function featureListSchema(what: string) {
  const item = z.custom<AnyFeatureColumns>((value) => isFeatureSelection(value) || isRequestFeatures(value), {
    error: expected("a selection made by group.select('feature', ...) or request features made by defineRequestFeatures"),
  });
  return z.array(item, { error: expected('a list of selections') }).check(z.minLength(1, { error: `${what} needs at least one feature selection` }));
}

/**
 * What to join for a `features` list and what to run over each joined row. A list with request
 * features is planned by the code they bring; a list of selections alone is just those selections
 * (each with the default `maxAge`), so a program without request features carries none of that code.
 */
export function planFeatures(features: readonly AnyFeatureColumns[], entityKey: string, maxAge: string | undefined): FeatureListPlan {
  const request = features.find(isRequestFeatures);
  if (request) return requestFeaturesInternals(request).planList(features, entityKey, maxAge);
  const selections = (features as readonly AnyFeatureSelection[]).map((s) => withMaxAge(s, maxAge));
  return { selections, listed: selections.length, outputs: [], hidden: [], hasRequestFeatures: false, completeRow() {} };
}
