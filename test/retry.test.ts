import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../src/errors.js';
import { clientConfig, countAttempts, drainWithRetry, isGroupNotFound, isRetryable, isThrottling, resendGroupNotFound, retryStrategy } from '../src/aws/retry.js';

// The one retry layer, without a server: the strategy the SDK's retry middleware calls, the attempt
// counting from $metadata, and the rounds that re-send unprocessed items. The same code under real
// SDK clients and injected throttling is in aws-store.test.ts and lambda.test.ts.

const awsError = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${name}!`), { name, ...extra });

describe('which errors may pass if sent again', () => {
  it('knows every throttling, transient and network error name the AWS SDKs use', () => {
    const throttling = ['ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException', 'SlowDown', 'LimitExceededException'];
    for (const name of throttling) {
      expect(isThrottling(awsError(name)), name).toBe(true);
      expect(isRetryable(awsError(name)), name).toBe(true);
    }
    for (const name of ['InternalFailure', 'InternalServerError', 'InternalServerException', 'ServiceUnavailable', 'InternalError']) {
      expect(isRetryable(awsError(name)), name).toBe(true);
      expect(isThrottling(awsError(name)), name).toBe(false);
    }
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'TimeoutError', 'RequestTimeout']) {
      expect(isRetryable(awsError(code)), code).toBe(true);
      expect(isRetryable(Object.assign(new Error('network'), { code })), code).toBe(true);
    }
  });

  it('reads only objects: a function or null named like an error is none', () => {
    const named = (name: string) => Object.defineProperty(() => undefined, 'name', { value: name });
    expect(isRetryable(named('ThrottlingException'))).toBe(false);
    expect(isThrottling(named('ThrottlingException'))).toBe(false);
    expect(isGroupNotFound(named('ResourceNotFound'))).toBe(false);
    expect(isThrottling(null)).toBe(false);
    expect(isGroupNotFound(undefined)).toBe(false);
  });

  it('retries throttling, 5xx, 429, network errors and what the SDK marks retryable', () => {
    for (const name of ['ThrottlingException', 'ProvisionedThroughputExceededException', 'SlowDown', 'InternalServerError', 'ServiceUnavailable', 'ECONNRESET', 'TimeoutError']) {
      expect(isRetryable(awsError(name)), name).toBe(true);
    }
    expect(isRetryable(Object.assign(new Error('socket'), { code: 'EPIPE' }))).toBe(true);
    expect(isRetryable(awsError('Whatever', { $retryable: {} }))).toBe(true);
    expect(isRetryable(awsError('Whatever', { $metadata: { httpStatusCode: 500 } }))).toBe(true);
    expect(isRetryable(awsError('Whatever', { $metadata: { httpStatusCode: 503 } }))).toBe(true);
    expect(isRetryable(awsError('Whatever', { $metadata: { httpStatusCode: 429 } }))).toBe(true);
  });

  it('never retries a refusal that cannot pass: validation, access, a 4xx, or what is not an error', () => {
    for (const name of ['ValidationError', 'AccessDeniedException', 'ConditionalCheckFailedException', 'ResourceNotFoundException']) {
      expect(isRetryable(awsError(name, { $metadata: { httpStatusCode: 400 } })), name).toBe(false);
    }
    expect(isRetryable(awsError('Whatever', { $metadata: { httpStatusCode: 499 } }))).toBe(false);
    expect(isRetryable(null)).toBe(false);
    expect(isRetryable('ThrottlingException')).toBe(false);
  });

  it('tells throttling apart from other transient errors', () => {
    expect(isThrottling(awsError('ThrottlingException'))).toBe(true);
    expect(isThrottling(awsError('InternalServerError'))).toBe(false);
    expect(isThrottling(undefined)).toBe(false);
  });

  it('reads a missing group from both of AWS\'s answers, and from nothing else', () => {
    expect(isGroupNotFound(awsError('ResourceNotFound'))).toBe(true);
    expect(isGroupNotFound(Object.assign(new Error("Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name [x]."), { name: 'ValidationError' }))).toBe(true);
    expect(isGroupNotFound(Object.assign(new Error('Value at event_time failed: Resource Not Found'), { name: 'ValidationError' }))).toBe(false);
    expect(isGroupNotFound(Object.assign(new Error('Resource Not Found'), { name: 'AccessDeniedException' }))).toBe(false);
    expect(isGroupNotFound(awsError('ResourceNotFoundException'))).toBe(false);
    expect(isGroupNotFound(null)).toBe(false);
  });
});

describe('resendGroupNotFound: a batch entry answered "Resource Not Found"', () => {
  const notFound = { name: 'ValidationError', message: "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name [g]." };

  it('is sent again until three calls have carried it, or fewer when the client allows fewer attempts', () => {
    expect([1, 2, 3, 4].map((calls) => resendGroupNotFound(notFound, calls))).toEqual([true, true, false, false]);
    expect([1, 2, 3].map((calls) => resendGroupNotFound(notFound, calls, { attempts: 10 }))).toEqual([true, true, false]);
    expect([1, 2].map((calls) => resendGroupNotFound(notFound, calls, { attempts: 2 }))).toEqual([true, false]);
    // One attempt (or a nonsensical 0) is one call: the first answer is the one reported.
    expect(resendGroupNotFound(notFound, 1, { attempts: 1 })).toBe(false);
    expect(resendGroupNotFound(notFound, 1, { attempts: 0 })).toBe(false);
    expect(resendGroupNotFound({ name: 'ResourceNotFound', message: '' }, 2)).toBe(true);
  });

  it('never re-sends an entry refused for another reason', () => {
    expect(resendGroupNotFound({ name: 'ValidationError', message: 'Value at event_time failed' }, 1)).toBe(false);
    expect(resendGroupNotFound({ name: 'ThrottlingException', message: 'Resource Not Found' }, 1)).toBe(false);
  });
});

/** Drives a strategy as the SDK's retry middleware does; returns the delays it asked for, and what ended it. */
async function drive(strategy: ReturnType<typeof retryStrategy>, errors: (attempt: number) => unknown): Promise<{ attempts: number; delays: number[]; thrown: unknown }> {
  let token = await strategy.acquireInitialRetryToken('scope');
  const delays: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const error = errors(attempt);
    if (error === undefined) {
      strategy.recordSuccess(token);
      return { attempts: attempt, delays, thrown: undefined };
    }
    try {
      token = await strategy.refreshRetryTokenForRetry(token, { error });
    } catch (thrown) {
      return { attempts: attempt, delays, thrown };
    }
    expect(token.getRetryCount()).toBe(attempt);
    delays.push(token.getRetryDelay());
  }
}

describe('retryStrategy, the SDK clients\' retry strategy', () => {
  it('sends an always-throttled call exactly `attempts` times, then ends with the call\'s own error', async () => {
    const throttled = awsError('ThrottlingException');
    for (const attempts of [1, 2, 6]) {
      const run = await drive(retryStrategy({ attempts, baseDelayMs: 1 }), () => throttled);
      expect(run.attempts, `attempts ${attempts}`).toBe(attempts);
      expect(run.thrown).toBe(throttled);
    }
    expect((await drive(retryStrategy({ baseDelayMs: 1 }), () => throttled)).attempts).toBe(6);
  });

  it('stops at the first success', async () => {
    const run = await drive(retryStrategy({ baseDelayMs: 1 }), (attempt) => (attempt < 3 ? awsError('InternalServerError') : undefined));
    expect(run).toEqual({ attempts: 3, delays: [expect.any(Number), expect.any(Number)], thrown: undefined });
  });

  it('never retries a refusal, and retries a missing group three attempts in all', async () => {
    const refused = awsError('ValidationError');
    expect(await drive(retryStrategy({ baseDelayMs: 1 }), () => refused)).toEqual({ attempts: 1, delays: [], thrown: refused });
    const missing = awsError('ResourceNotFound');
    expect((await drive(retryStrategy({ attempts: 10, baseDelayMs: 1 }), () => missing)).attempts).toBe(3);
    expect((await drive(retryStrategy({ attempts: 2, baseDelayMs: 1 }), () => missing)).attempts).toBe(2);
  });

  it('waits a random time under a ceiling that doubles from baseDelayMs up to maxDelayMs (full jitter)', async () => {
    const strategy = retryStrategy({ attempts: 8, baseDelayMs: 10, maxDelayMs: 45 });
    const ceilings = [10, 20, 40, 45, 45, 45, 45];
    const seen = ceilings.map(() => 0);
    for (let run = 0; run < 200; run++) {
      const { delays } = await drive(strategy, () => awsError('SlowDown'));
      expect(delays).toHaveLength(7);
      delays.forEach((delay, i) => {
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceilings[i] as number);
        seen[i] = Math.max(seen[i] as number, delay);
      });
    }
    // Jitter over the whole range: the largest waits come close to each ceiling.
    seen.forEach((most, i) => expect(most).toBeGreaterThan((ceilings[i] as number) * 0.8));
  });

  it('refuses options it cannot use, naming them; clientConfig gives a client this strategy', async () => {
    expect(() => retryStrategy({ attempts: 'six' } as never)).toThrow(ConfigurationError);
    expect(() => retryStrategy({ attempts: 'six' } as never)).toThrow(/^retryStrategy options\.attempts: /);
    const config = clientConfig({ attempts: 2, baseDelayMs: 1 });
    expect(Object.keys(config)).toEqual(['retryStrategy']);
    expect((await drive(config.retryStrategy, () => awsError('SlowDown'))).attempts).toBe(2);
    expect((await drive(clientConfig(undefined).retryStrategy, () => awsError('SlowDown'))).attempts).toBe(6);
  });

  it('defaults to a 50 ms first ceiling', async () => {
    let most = 0;
    for (let run = 0; run < 200; run++) most = Math.max(most, ...(await drive(retryStrategy({ attempts: 2 }), () => awsError('SlowDown'))).delays);
    expect(most).toBeLessThan(50);
    expect(most).toBeGreaterThan(40);
  });
});

describe('countAttempts', () => {
  it('calls onRetry once per attempt after the first, as the SDK reports them, on success and on failure', async () => {
    let retries = 0;
    const onRetry = () => void retries++;
    expect(await countAttempts(async () => ({ $metadata: { attempts: 4 }, value: 1 }), { onRetry })).toEqual({ $metadata: { attempts: 4 }, value: 1 });
    expect(retries).toBe(3);
    const error = awsError('ThrottlingException', { $metadata: { attempts: 6 } });
    await expect(countAttempts(() => Promise.reject(error), { onRetry })).rejects.toBe(error);
    expect(retries).toBe(8);
    // No metadata, or one attempt: nothing to count.
    await countAttempts(async () => undefined, { onRetry });
    await countAttempts(async () => ({ $metadata: { attempts: 1 } }), { onRetry });
    await expect(countAttempts(() => Promise.reject(new Error('plain')), { onRetry })).rejects.toThrow('plain');
    // A rejection with no error at all is passed on as it came, not turned into a TypeError.
    await expect(countAttempts(() => Promise.reject(undefined), { onRetry })).rejects.toBeUndefined();
    expect(retries).toBe(8);
  });
});

describe('drainWithRetry', () => {
  afterEach(() => vi.restoreAllMocks());

  it('sends the leftovers again until none are left, counting each round and the SDK\'s attempts', async () => {
    let retries = 0;
    const rounds: (readonly number[])[] = [];
    const left = await drainWithRetry(
      [1, 2, 3, 4],
      async (items, send) => {
        rounds.push(items);
        await send(async () => ({ $metadata: { attempts: 2 } }));
        return items.slice(1);
      },
      { baseDelayMs: 1, onRetry: () => void retries++ },
    );
    expect(left).toEqual([]);
    expect(rounds).toEqual([[1, 2, 3, 4], [2, 3, 4], [3, 4], [4]]);
    // Three rounds after the first, and one SDK retry in each of the four calls.
    expect(retries).toBe(3 + 4);
  });

  it('waits between rounds under a ceiling that doubles from baseDelayMs', async () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999);
    const waits: number[] = [];
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    await drainWithRetry([1], async (items) => items, { attempts: 3, baseDelayMs: 4 });
    for (const call of setTimeoutSpy.mock.calls) waits.push(call[1] as number);
    expect(waits).toEqual([3.996, 7.992]);
  });

  it('gives up after `attempts` rounds and returns what is left', async () => {
    let calls = 0;
    const left = await drainWithRetry(
      ['a', 'b'],
      async (items) => {
        calls++;
        return items;
      },
      { attempts: 3, baseDelayMs: 1 },
    );
    expect(left).toEqual(['a', 'b']);
    expect(calls).toBe(3);
    expect(await drainWithRetry([], async () => ['never'], { baseDelayMs: 1 })).toEqual([]);
  });
});
