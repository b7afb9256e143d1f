import type { BackendError } from '../errors.js';
import { checkOptions, lazySchema } from '../util/options.js';
import { retryOptions } from './options.js';

/**
 * How a backend's AWS calls are retried when they fail for a reason that may pass (throttling, 5xx,
 * the network): the retry strategy of the clients skewless creates (`retryStrategy`), and the rounds
 * that re-send a batch call's unprocessed items. A client you pass retries as you configured it; its
 * retries are counted all the same.
 */
export interface RetryOptions {
  /** Attempts in all, the first included; default 6. */
  readonly attempts?: number;
  /** First backoff ceiling in milliseconds; doubles per attempt; default 50. */
  readonly baseDelayMs?: number;
  /** Largest backoff ceiling; default 5,000. */
  readonly maxDelayMs?: number;
  /** Called once per retry (not for the first attempt): how callers count retries for their logs. */
  readonly onRetry?: () => void;
}

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'LimitExceededException',
]);
const TRANSIENT = new Set(['InternalFailure', 'InternalServerError', 'InternalServerException', 'ServiceUnavailable', 'InternalError']);
const NETWORK = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'TimeoutError', 'RequestTimeout']);

interface AwsLikeError {
  readonly name?: string;
  readonly code?: string;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/** True for errors that may pass if the call is made again. */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as AwsLikeError;
  const name = e.name ?? '';
  if (THROTTLING.has(name) || TRANSIENT.has(name) || NETWORK.has(name) || NETWORK.has(e.code ?? '')) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return status >= 500 || status === 429;
}

/**
 * A feature group that does not exist, as AWS says it: `ResourceNotFound` (GetRecord, the control
 * plane) or, from PutRecord and DeleteRecord, `ValidationError` with a "Resource Not Found" message.
 */
export function isGroupNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name = '', message = '' } = error as { name?: string; message?: string };
  return name === 'ResourceNotFound' || (name === 'ValidationError' && /^Resource Not Found/i.test(message));
}

/**
 * Attempts for a "Resource Not Found" on a group: AWS has answered it for a group that exists, and a
 * retry then succeeded (aws/sagemaker-python-sdk issue 2606), so it is retried, but only this often:
 * a group that is really missing fails fast.
 */
const GROUP_NOT_FOUND_ATTEMPTS = 3;

/**
 * Whether a batch call's per-entry "Resource Not Found" (BatchWriteRecord and BatchGetRecord answer a
 * missing group in their Errors, not as the call's error) is sent again: as often as a single call's
 * is retried, `calls` being the batch calls made so far for the entry, this one included. The last
 * call's answer is reported, so a group that is really missing is never left "unprocessed".
 */
export function resendGroupNotFound(said: { name: string; message: string }, calls: number, options: RetryOptions = {}): boolean {
  return isGroupNotFound(said) && calls < Math.min(GROUP_NOT_FOUND_ATTEMPTS, Math.max(1, options.attempts ?? 6));
}

export function isThrottling(error: unknown): boolean {
  return typeof error === 'object' && error !== null && THROTTLING.has((error as AwsLikeError).name ?? '');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full jitter: a random wait up to a ceiling that doubles each retry, so clients backing off do not retry in step. */
function backoff(options: RetryOptions, retry: number): number {
  const base = options.baseDelayMs ?? 50;
  const cap = options.maxDelayMs ?? 5000;
  return Math.random() * Math.min(cap, base * 2 ** (retry - 1));
}

/** The token an AWS SDK v3 retry strategy hands its retry middleware: how many retries so far, and the wait before the next. */
interface RetryToken {
  getRetryCount(): number;
  getRetryDelay(): number;
}

const RETRY_OPTIONS = /* @__PURE__ */ lazySchema(retryOptions);

/**
 * The AWS SDK v3 retry strategy of the clients skewless creates (the SDK's `RetryStrategyV2`, written
 * here so no retry package is bundled): retries throttling, 5xx and network errors, and a group's
 * "Resource Not Found" up to three attempts, with full-jitter backoff; never a refusal that cannot
 * pass. It is the only retry layer: the SDK sends each attempt and reports their number in
 * `$metadata.attempts`. Give it to a client you pass for the same behaviour; otherwise your client
 * retries as you configured it.
 *
 * ### Example
 * ```ts
 * const client = new DynamoDBClient({ retryStrategy: retryStrategy({ attempts: 8, maxDelayMs: 2_000 }) });
 * const online = dynamoDbOnline({ client, tableName: 'features' });
 * ```
 */
export function retryStrategy(options: RetryOptions = {}) {
  checkOptions(RETRY_OPTIONS, options, 'retryStrategy options');
  const attempts = Math.max(1, options.attempts ?? 6);
  const token = (retries: number, delay: number): RetryToken => ({ getRetryCount: () => retries, getRetryDelay: () => delay });
  return {
    acquireInitialRetryToken: async (_scope: string): Promise<RetryToken> => token(0, 0),
    refreshRetryTokenForRetry: async (previous: RetryToken, info: { readonly error?: unknown }): Promise<RetryToken> => {
      const retries = previous.getRetryCount() + 1;
      const again = isRetryable(info.error) || (isGroupNotFound(info.error) && retries < GROUP_NOT_FOUND_ATTEMPTS);
      // Throwing ends the attempts: the SDK then throws the call's own error.
      if (retries >= attempts || !again) throw info.error;
      return token(retries, backoff(options, retries));
    },
    recordSuccess: (_token: RetryToken): void => {},
  };
}

/** The constructor options of a client skewless creates: its retry strategy, from the backend's `retry` option. */
export function clientConfig(options: RetryOptions | undefined): { retryStrategy: ReturnType<typeof retryStrategy> } {
  return { retryStrategy: retryStrategy(options) };
}

/**
 * Sends one SDK call and counts its retries (`$metadata.attempts` - 1, as the SDK reports them, for
 * the caller's `onRetry`), whether it succeeds or fails. A failure is thrown as `failure` turns it
 * (a BackendError naming the call), or as the SDK threw it.
 */
export async function countAttempts<T>(call: () => Promise<T>, options: RetryOptions = {}, failure?: (error: unknown) => BackendError): Promise<T> {
  const count = (metadata: { attempts?: number } | undefined) => {
    for (let retry = 1; retry < (metadata?.attempts ?? 1); retry++) options.onRetry?.();
  };
  try {
    const output = await call();
    count((output as { $metadata?: { attempts?: number } } | undefined)?.$metadata);
    return output;
  } catch (error) {
    count((error as { $metadata?: { attempts?: number } } | undefined)?.$metadata);
    throw failure ? failure(error) : error;
  }
}

/**
 * Calls `call` again while it returns leftovers (UnprocessedKeys, UnprocessedIdentifiers, failed
 * batch entries), with the same backoff: a service's partial answer, which no SDK retries. `call`
 * sends through the `send` it is given, so the SDK's own retries are counted too.
 */
export async function drainWithRetry<T>(
  items: readonly T[],
  call: (items: readonly T[], send: <R>(request: () => Promise<R>) => Promise<R>) => Promise<readonly T[]>,
  options: RetryOptions = {},
): Promise<readonly T[]> {
  const send = <R>(request: () => Promise<R>) => countAttempts(request, options);
  const attempts = Math.max(1, options.attempts ?? 6);
  let left = items;
  for (let attempt = 1; left.length > 0 && attempt <= attempts; attempt++) {
    if (attempt > 1) {
      options.onRetry?.();
      await sleep(backoff(options, attempt - 1));
    }
    left = await call(left, send);
  }
  return left;
}
