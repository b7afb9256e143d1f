// What training sets, feature vectors and the serving handler share about a `features` list.
import * as z from 'zod/mini';
import { isFeatureGroup } from './feature-group.js';
import { isRequestFeatures } from './request-features/define.js';
import type { AnyFeatureColumns, AnyFeatureSelection } from './schema/types.js';
import { expected } from './util/options.js';

function isSelection(value: unknown): value is AnyFeatureSelection {
  return typeof value === 'object' && value !== null && isFeatureGroup((value as Partial<AnyFeatureSelection>).group) && Array.isArray((value as Partial<AnyFeatureSelection>).features);
}

/** A `features` list as an option schema: selections made by `group.select(...)` and request features, at least one. */
export function featureListSchema(what: string) {
  const item = z.custom<AnyFeatureColumns>((value) => isSelection(value) || isRequestFeatures(value), {
    error: expected("a selection made by group.select('feature', ...) or request features made by defineRequestFeatures"),
  });
  return z.array(item, { error: expected('a list of selections') }).check(z.minLength(1, { error: `${what} needs at least one feature selection` }));
}
