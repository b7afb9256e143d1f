// Request features: one definition of what a model computes from request data at the row's time, run
// by training sets (request values from spine columns) and feature vectors (from the call) alike.
import type * as zc from 'zod/v4/core';
import * as z from 'zod/mini';
import { ConfigurationError, DefinitionError } from '../errors.js';
import { isFeatureSelection } from '../feature-group.js';
import { computeRequestFingerprint } from '../schema/fingerprint.js';
import { type FeatureSpec, readFeatureSpec } from '../schema/feature-spec.js';
import { isValidName } from '../schema/names.js';
import type {
  AnyFeatureSelection,
  AnyObjectSchema,
  AnyRequestFeatures,
  ReadsOf,
  RequestFeatures,
  RequestFeaturesConfig,
  RequestFeaturesOptions,
} from '../schema/types.js';
import { checkOptions, describeValue, expected, functionSchema, lazySchema } from '../util/options.js';
import { INTERNALS, REQUEST_FEATURES, type RequestFeaturesInternals } from './brand.js';
import { planFeatureList } from './plan.js';

const isObjectSchema = (value: unknown): value is AnyObjectSchema =>
  typeof value === 'object' && value !== null && '_zod' in value && (value as AnyObjectSchema)._zod.def.type === 'object';

const definitionSchema = /* @__PURE__ */ lazySchema(() => z.strictObject({
  name: z.string({ error: expected('a name') }).check(z.refine(isValidName, { error: expected('1-64 letters, digits, - and _, starting and ending with a letter or digit') })),
  request: z.custom<AnyObjectSchema>(isObjectSchema, { error: expected('a zod object schema of the request data, e.g. z.object({ amount: z.number() })') }),
  reads: z.optional(z.record(z.string(), z.custom<AnyFeatureSelection>(
    isFeatureSelection,
    { error: expected("a selection made by group.select('feature', ...)") },
  ), { error: expected("the selections the transform reads, by name: { card: cardActivity.select('amount_avg_24h') }") })),
  features: z.custom<AnyObjectSchema>(isObjectSchema, { error: expected('a zod object schema of the outputs, e.g. z.object({ amount_vs_avg: z.number().nullable() })') }),
  transform: functionSchema('the transform: (request, reads) => outputs'),
  helpers: z.optional(z.array(functionSchema('a function the transform calls'))),
  description: z.optional(z.string({ error: expected('a description') })),
  version: z.optional(z.union([z.string(), z.number().check(z.refine(Number.isFinite))], { error: expected('a string or a finite number') })),
}));

const withOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({ prefix: z.optional(z.string({ error: expected('a column prefix') })) }));

type RawConfig = RequestFeaturesConfig<string, AnyObjectSchema, AnyObjectSchema, ReadsOf>;

function shapeOf(schema: AnyObjectSchema): Record<string, zc.$ZodType> {
  return (schema._zod.def as unknown as { shape: Record<string, zc.$ZodType> }).shape;
}

/** Each output as a training file types it; an invalid name or a type no column holds fails here, not at the first row. */
function outputSpecs(name: string, features: AnyObjectSchema): FeatureSpec[] {
  return Object.entries(shapeOf(features)).map(([feature, schema]) => {
    if (!isValidName(feature)) {
      throw new DefinitionError('INVALID_NAME', `request features "${name}": output name "${feature}" is invalid: use 1-64 letters, digits, - and _, starting and ending with a letter or digit`, { group: name, feature });
    }
    try {
      return readFeatureSpec(name, feature, schema, { dateAsEpoch: false, collectionsAllowed: true });
    } catch {
      throw new DefinitionError(
        'UNSUPPORTED_TYPE',
        `request features "${name}": output "${feature}" has a type no training column holds: use string, enum, number, number().int(), bigint, boolean, date, or an array of string/number`,
        { group: name, feature },
      );
    }
  });
}

function make(config: RawConfig, fingerprint: string, internals: RequestFeaturesInternals, options: RequestFeaturesOptions): AnyRequestFeatures {
  const features = {
    name: config.name,
    request: config.request,
    reads: Object.freeze({ ...(config.reads ?? {}) }),
    features: config.features,
    transform: config.transform,
    description: config.description,
    version: config.version,
    featureNames: Object.freeze(internals.outputs.map((o) => o.name)),
    fingerprint,
    options: Object.freeze({ ...options }),
    with: (next: RequestFeaturesOptions) => make(config, fingerprint, internals, { ...options, ...checkOptions(withOptions, next, `request features "${config.name}" .with options`) }),
  };
  // Not enumerable, so a spread copy is not mistaken for the definition.
  Object.defineProperty(features, REQUEST_FEATURES, { value: true, enumerable: false });
  Object.defineProperty(features, INTERNALS, { value: internals, enumerable: false });
  return Object.freeze(features) as unknown as AnyRequestFeatures;
}

/**
 * Defines request features: outputs computed from request data (the transaction being scored, say) and
 * stored features, by one pure transform that training sets and feature vectors both run. List them in
 * `features` beside selections: `trainingSet` takes the request values from spine columns, `featureVectors`
 * from the entity rows of the call, and either result gets the outputs as `<name>__<feature>` columns
 * (or `<prefix><feature>` with `.with({ prefix })`). The reads are joined as selections are, as of the
 * row's time, and handed to the transform under the names given here; their columns are not in the
 * result unless the same selection is listed too. Checked here: a bad definition fails at startup with
 * a {@link DefinitionError}.
 *
 * ### Example
 * ```ts
 * import { z } from 'zod';
 * import { defineRequestFeatures } from 'skewless';
 *
 * export const amountVsHistory = defineRequestFeatures({
 *   name: 'amount-vs-history',
 *   request: z.object({ amount: z.number() }),
 *   reads: { card: cardActivity.select('amount_avg_24h') },
 *   features: z.object({ amount_vs_avg_24h: z.number().nullable() }),
 *   transform: (request, { card }) => ({
 *     amount_vs_avg_24h: card.amount_avg_24h ? request.amount / card.amount_avg_24h : null,
 *   }),
 * });
 * ```
 */
export function defineRequestFeatures<const N extends string, Req extends AnyObjectSchema, Out extends AnyObjectSchema, const R extends ReadsOf = {}>(
  config: RequestFeaturesConfig<N, Req, Out, R>,
): RequestFeatures<N, Req, R, Out> {
  const name = typeof (config as { name?: unknown } | undefined)?.name === 'string' ? (config as { name: string }).name : describeValue((config as { name?: unknown } | undefined)?.name);
  try {
    checkOptions(definitionSchema, config, `request features "${name}"`);
  } catch (error) {
    // A definition that cannot work is a DefinitionError, as for groups.
    if (error instanceof ConfigurationError) throw new DefinitionError('INVALID_OPTION', error.message, { group: name });
    throw error;
  }
  const raw = config as unknown as RawConfig;
  const internals: RequestFeaturesInternals = {
    requestFields: Object.freeze(Object.keys(shapeOf(raw.request))),
    outputs: Object.freeze(outputSpecs(raw.name, raw.features)),
    planList: planFeatureList,
  };
  const fingerprint = computeRequestFingerprint({
    name: raw.name,
    request: raw.request,
    features: raw.features,
    reads: Object.fromEntries(
      Object.entries(raw.reads ?? {}).map(([read, selection]) => [read, { group: selection.group.name, features: selection.features, key: selection.options.key, maxAge: selection.options.maxAge }]),
    ),
    transform: raw.transform as (...args: never[]) => unknown,
    helpers: raw.helpers ?? [],
    version: raw.version,
  });
  return make(raw, fingerprint, internals, {}) as unknown as RequestFeatures<N, Req, R, Out>;
}
