// The serving face: an HTTP request (API Gateway HTTP API or a Lambda function URL) in, feature vectors
// out. The reading is `featureVectors`'; this file only turns the request and the answer into HTTP.
import * as zc from 'zod/v4/core';
import * as z from 'zod/mini';
import { BackendError, ConfigurationError, DataError, SkewlessError, type SkewlessIssue } from '../errors.js';
import type { AnyFeatureColumns, AnySchema } from '../schema/types.js';
import { featureVectors, readPlanOf } from '../serving/feature-vectors.js';
import { replacedColumn, replacedIn } from '../sql/plan.js';
import type { FeatureStore } from '../store/feature-store.js';
import { checkOptions, describeValue, durationSchema, expected, functionSchema, lazySchema, objectWith } from '../util/options.js';
import { featureListSchema } from '../selections.js';
import { isRequestFeatures, requestFeaturesInternals } from '../request-features/brand.js';

/** The part of an API Gateway HTTP API (payload 2.0) or function URL event the handler reads. */
export interface HttpRequestEvent {
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
}

export interface HttpResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface FeatureVectorHandlerOptions<F extends readonly AnyFeatureColumns[] = readonly AnyFeatureColumns[]> {
  /** Where vectors are read: `createFeatureStore({ online: sageMakerOnline(), offline: false })`. */
  readonly store: FeatureStore;
  /**
   * The schema of one request (the JSON body, or each element of a JSON array body): its fields are the
   * entity columns — the record identifiers and any request data, e.g. the transaction being scored.
   * Fields request features read that this schema leaves out are taken from the body as sent, and
   * checked by the request features' own schemas.
   */
  readonly request: AnySchema;
  /** The request field with the record identifier (a selection's `key` overrides it). */
  readonly entityKey: string;
  /** Selections and request features, as `featureVectors` takes them. */
  readonly features: F;
  /** Default `maxAge` for selections without their own. */
  readonly maxAge?: string;
  /** One JSON line per request; default `console.log`, `false` for none. */
  readonly log?: false | ((line: string) => void);
}

const handlerOptions = /* @__PURE__ */ lazySchema(() => z.strictObject(
  {
    store: objectWith(['backends', 'now'], 'a feature store made by createFeatureStore'),
    request: z.custom<AnySchema>((value) => typeof value === 'object' && value !== null && '_zod' in value, { error: expected('a zod schema of the request body') }),
    entityKey: z.string({ error: expected('the request field with the record identifier') }),
    features: featureListSchema('a feature vector'),
    maxAge: z.optional(durationSchema()),
    log: z.optional(z.union([z.literal(false), functionSchema('a function')], { error: expected('false or a function of the log line') })),
  },
  { error: expected('handler options: { store, request, entityKey, features }') },
));

/** JSON with bigints as decimal strings (JSON numbers lose digits past 2^53) and Dates as ISO-8601. */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Set ? [...v] : v));
}

function respond(statusCode: number, body: unknown): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: toJson(body) };
}

/** A 400 answer: what was wrong with the request, never a stack trace. */
function badRequest(message: string, issues: readonly SkewlessIssue[] = []): HttpResponse {
  return respond(400, { error: 'INVALID_REQUEST', message, issues: issues.map(({ code, path, message: text }) => ({ code, path, message: text })) });
}

/**
 * The request's entity rows, or the 400 that says why there are none. `requestFields` are the fields
 * request features read: one the schema did not keep is taken from the body as sent (the request
 * features' schemas check it when they run).
 */
function readRequest(event: HttpRequestEvent | undefined, schema: AnySchema, requestFields: readonly string[]): { rows: Record<string, unknown>[]; many: boolean } | HttpResponse {
  const given: unknown = event?.body;
  // A direct invoke or a test harness may put an object where API Gateway and function URLs put text.
  if (given !== undefined && given !== null && typeof given !== 'string') return badRequest(`the body is ${describeValue(given)}, not text: send JSON text, as API Gateway and function URLs deliver it`);
  const text = given ? (event?.isBase64Encoded ? Buffer.from(given, 'base64').toString('utf8') : given) : '';
  if (text.trim() === '') return badRequest('the request has no body: send a JSON object (one vector) or an array of them');
  let body: unknown;
  try {
    // A byte-order mark before the JSON is no part of it, as the stream decoders read it.
    body = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (error) {
    return badRequest(`the body is not JSON: ${(error as Error).message}`);
  }
  const many = Array.isArray(body);
  const rows: Record<string, unknown>[] = [];
  const issues: SkewlessIssue[] = [];
  for (const [index, item] of (many ? (body as unknown[]) : [body]).entries()) {
    let parsed: zc.util.SafeParseResult<unknown>;
    try {
      parsed = zc.safeParse(schema, item);
    } catch (error) {
      // A refinement that throws (or needs async parsing) is the schema's failure on this request.
      return badRequest(`the request schema could not check request ${index}: ${(error as Error).message}`);
    }
    if (parsed.success) {
      const row = parsed.data as Record<string, unknown>;
      const sent = typeof item === 'object' && item !== null ? (item as Record<string, unknown>) : {};
      for (const field of requestFields) if (!(field in row) && field in sent) row[field] = sent[field];
      rows.push(row);
    }
    else for (const issue of parsed.error.issues) issues.push({ code: issue.code, path: many ? [index, ...issue.path] : issue.path, message: issue.message });
  }
  if (issues.length > 0) return badRequest('the request does not match the request schema', issues);
  return { rows, many };
}

/** A failed read as HTTP: 503 when retrying may help (throttling, timeouts), else 502; the group is named. */
function backendFailure(error: BackendError): HttpResponse {
  return respond(error.retryable ? 503 : 502, { error: error.code, group: error.group, message: error.message });
}

/**
 * A Lambda handler that serves feature vectors over HTTP (API Gateway HTTP API, payload 2.0, or a
 * function URL). The JSON body is one request object (answered with `{ at, vector }`) or an array of
 * them (`{ at, vectors }`); each is checked with the `request` schema and read with `featureVectors`,
 * so the vector is the training row for (request, `at`). bigint values are sent as decimal strings
 * and dates as ISO-8601. A body that is not JSON or does not match the schema is a 400 with the
 * schema's issues; a failed read is a 503 (retryable) or 502 naming the group — never a vector with
 * silent nulls. Request features in `features` take their request values from the body (fields the
 * `request` schema leaves out as sent), and request data their schemas refuse is a 400 with the issues.
 *
 * ### Example
 * ```ts
 * import { featureVectorHandler } from 'skewless/lambda';
 * export const handler = featureVectorHandler({
 *   store: createFeatureStore({ online: sageMakerOnline(), offline: false }),
 *   request: z.object({ card_id: z.string(), merchant_id: z.string(), amount: z.number() }),
 *   entityKey: 'card_id',
 *   features: [cardActivity.select('amount', 'txn_count_1h'), merchantRisk.select('score').with({ key: 'merchant_id' })],
 * });
 * ```
 */
export function featureVectorHandler<const F extends readonly AnyFeatureColumns[]>(options: FeatureVectorHandlerOptions<F>) {
  checkOptions(handlerOptions, options, 'featureVectorHandler options');
  // What would fail every request fails here instead: columns two selections (or request features)
  // both produce, and a request schema without a field a read takes its identifier from.
  const plan = readPlanOf(options.features, options.entityKey, options.maxAge);
  const def = options.request._zod.def as { type: string; shape?: Record<string, unknown> };
  if (def.type !== 'object' || def.shape === undefined) {
    throw new ConfigurationError('INVALID_CONFIG', `featureVectorHandler: request must be a z.object(...) schema, got a ${def.type} schema`);
  }
  for (const step of plan.joins) {
    if (Object.hasOwn(def.shape, step.key)) continue;
    throw new ConfigurationError('INVALID_CONFIG', `featureVectorHandler: the request schema has no field "${step.key}", the record identifier of "${step.group}" (entityKey, or the selection's key); its fields: ${Object.keys(def.shape).join(', ')}`);
  }
  const replaced = replacedIn(def.shape, plan.written);
  if (replaced) throw new ConfigurationError('INVALID_CONFIG', `featureVectorHandler: the request schema ${replacedColumn(replaced, 'field')}`);
  const requestFields = [...new Set(options.features.filter(isRequestFeatures).flatMap((f) => requestFeaturesInternals(f).requestFields))];
  const log = options.log === false ? undefined : (options.log ?? ((line: string) => console.log(line)));
  return async (event: HttpRequestEvent): Promise<HttpResponse> => {
    const started = Date.now();
    const request = readRequest(event, options.request, requestFields);
    let response: HttpResponse;
    let entities = 0;
    if ('statusCode' in request) response = request;
    else {
      entities = request.rows.length;
      try {
        const { rows, at } = await featureVectors(options.store, {
          entities: request.rows,
          entityKey: options.entityKey,
          features: options.features,
          ...(options.maxAge !== undefined ? { maxAge: options.maxAge } : {}),
        });
        response = respond(200, request.many ? { at, vectors: rows } : { at, vector: rows[0] });
      } catch (error) {
        // A read that failed is the backend's; a request the schema let through but the read refused is
        // the caller's; anything else (a stored value that cannot be decoded) is ours.
        if (error instanceof BackendError) response = backendFailure(error);
        else if (error instanceof DataError) {
          // Request data the read refused (request features' schemas among it): its issues, placed as the body's.
          const row = error.row ?? 0;
          response = badRequest(error.message, error.issues.map((issue) => ({ ...issue, path: request.many ? [row, ...issue.path] : issue.path })));
        }
        else if (error instanceof SkewlessError) response = respond(500, { error: error.code, message: error.message });
        else throw error;
      }
    }
    // Counts and codes only: no identifiers or request values reach the log.
    log?.(JSON.stringify({ level: response.statusCode >= 500 ? 'warn' : 'info', message: 'skewless feature vectors', status: response.statusCode, entities, durationMs: Date.now() - started }));
    return response;
  };
}
