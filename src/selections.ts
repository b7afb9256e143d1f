// What training sets, feature vectors and the serving handler share about a list of selections.
import * as z from 'zod/mini';
import { isFeatureGroup } from './feature-group.js';
import type { AnyFeatureSelection } from './schema/types.js';
import { expected, lazySchema } from './util/options.js';

/** A selection made by `group.select(...)`, as an option schema (training sets and feature vectors take lists of them). */
export const selectionSchema = /* @__PURE__ */ lazySchema(() => z.custom<AnyFeatureSelection>(
  (value) => typeof value === 'object' && value !== null && isFeatureGroup((value as Partial<AnyFeatureSelection>).group) && Array.isArray((value as Partial<AnyFeatureSelection>).features),
  { error: expected("a selection made by group.select('feature', ...)") },
));

/** The selections, each with `maxAge` where it has none of its own and a default is given. */
export function withDefaultMaxAge(features: readonly AnyFeatureSelection[], maxAge: string | undefined): readonly AnyFeatureSelection[] {
  return maxAge === undefined ? features : features.map((s) => (s.options.maxAge === undefined ? s.with({ maxAge }) : s));
}
