/** How a backend retries a call that failed for a reason that may pass: throttling, 5xx, the network. */
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

export function isThrottling(error: unknown): boolean {
  return typeof error === 'object' && error !== null && THROTTLING.has((error as AwsLikeError).name ?? '');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call`, retrying retryable failures with exponential backoff and full jitter (a random wait
 * up to a ceiling that doubles each attempt), so many clients backing off do not retry in step.
 */
export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 6);
  const base = options.baseDelayMs ?? 50;
  const cap = options.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const again = isRetryable(error) || (isGroupNotFound(error) && attempt < GROUP_NOT_FOUND_ATTEMPTS);
      if (attempt >= attempts || !again) throw error;
      options.onRetry?.();
      await sleep(Math.random() * Math.min(cap, base * 2 ** (attempt - 1)));
    }
  }
}

/** Retries `call` while it returns leftovers (UnprocessedKeys, UnprocessedIdentifiers), with the same backoff. */
export async function drainWithRetry<T>(
  items: readonly T[],
  call: (items: readonly T[]) => Promise<readonly T[]>,
  options: RetryOptions = {},
): Promise<readonly T[]> {
  const attempts = Math.max(1, options.attempts ?? 6);
  const base = options.baseDelayMs ?? 50;
  const cap = options.maxDelayMs ?? 5000;
  let left = items;
  for (let attempt = 1; left.length > 0 && attempt <= attempts; attempt++) {
    if (attempt > 1) {
      options.onRetry?.();
      await sleep(Math.random() * Math.min(cap, base * 2 ** (attempt - 2)));
    }
    left = await withRetry(() => call(left), options);
  }
  return left;
}
