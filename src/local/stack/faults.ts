import * as z from 'zod/mini';
import { ConfigurationError } from '../../errors.js';
import { checkOptions, closestName, expected, lazySchema } from '../../util/options.js';
import { seededRandom } from '../../util/random.js';

/** Faults the local stack injects into one operation (or every operation, under `'*'`). */
export interface FaultSpec {
  /** Share of calls answered with ThrottlingException (0..1). */
  readonly throttleRate?: number;
  /** Share of calls answered with a 500 InternalFailure (0..1). */
  readonly errorRate?: number;
  /** Milliseconds added before answering. */
  readonly latencyMs?: number;
  /** BatchGetRecord / BatchWriteRecord: share of items returned as unprocessed (0..1). */
  readonly unprocessedRate?: number;
  /** Calls per second answered; the ones over it in the same second get ThrottlingException, as a service quota does. */
  readonly tpsLimit?: number;
}

/** Faults per operation name (`PutRecord`, `GetRecord`, `StartQueryExecution`, `GetObject`, ... or `'*'`). */
export interface FaultConfig {
  readonly [operation: string]: FaultSpec | number | undefined;
  /** Seed of the fault dice, so a failing reliability test can be replayed. */
  readonly seed?: number;
}

/** How many faults were injected, per operation and kind; tests read it to check what happened. */
export type FaultCounts = Record<string, { throttled: number; failed: number; unprocessed: number; calls: number }>;

export type FaultDecision = 'throttle' | 'error' | undefined;

const rate = () => z.optional(z.number({ error: expected('a share of calls, 0..1') }).check(z.refine((n) => n >= 0 && n <= 1, { error: expected('a share of calls, 0..1') })));
const atLeast = (min: number, what: string) => z.optional(z.number({ error: expected(what) }).check(z.refine((n) => Number.isFinite(n) && n >= min, { error: expected(what) })));

const FAULT_SPECS = /* @__PURE__ */ lazySchema(() =>
  z.record(
    z.string(),
    z.strictObject(
      { throttleRate: rate(), errorRate: rate(), unprocessedRate: rate(), latencyMs: atLeast(0, 'milliseconds, 0 or more'), tpsLimit: atLeast(1, 'calls per second, 1 or more') },
      { error: expected('fault settings for the operation: { throttleRate, errorRate, unprocessedRate, latencyMs, tpsLimit }') },
    ),
    { error: expected('fault settings per operation, e.g. { PutRecord: { throttleRate: 0.2 }, seed: 42 }') },
  ),
);
const SEED = /* @__PURE__ */ lazySchema(() => z.optional(z.number({ error: expected('a number') })));

/** Every operation the stack answers, by the name its faults are set under (S3 requests as the stack names them), and `'*'` for all. */
export const FAULT_OPERATIONS: readonly string[] = [
  '*',
  ...'PutRecord GetRecord DeleteRecord BatchGetRecord BatchWriteRecord CreateFeatureGroup DescribeFeatureGroup DeleteFeatureGroup ListFeatureGroups'.split(' '),
  ...'StartQueryExecution GetQueryExecution GetQueryResults StopQueryExecution'.split(' '),
  ...'GetObject ListObjectsV2 HeadObject HeadBucket PutObject UploadPart CreateBucket DeleteObject DeleteBucket DeleteObjects MultipartUpload'.split(' '),
  ...'CreateQueue GetQueueUrl ListQueues DeleteQueue PurgeQueue SendMessage SendMessageBatch ReceiveMessage DeleteMessage GetQueueAttributes'.split(' '),
];

/** Faults as `startLocalStack({ faults })` and `setFaults` take them (a spec per operation, and a numeric `seed`), or a ConfigurationError naming `where`. */
export function checkFaults(config: unknown, where: string): FaultConfig {
  // Anything but an object cannot be fault settings: the check refuses it, saying what it is.
  if (typeof config !== 'object' || config === null || Array.isArray(config)) return checkOptions(FAULT_SPECS, config, where) as FaultConfig;
  const { seed, ...operations } = config as Record<string, unknown>;
  checkOptions(SEED, seed, `${where}.seed`);
  checkOptions(FAULT_SPECS, operations, where);
  // A misspelt operation would inject nothing, and a reliability test would pass without its faults.
  const unknown = Object.keys(operations).find((name) => !FAULT_OPERATIONS.includes(name));
  if (unknown !== undefined) {
    const near = closestName(unknown, FAULT_OPERATIONS);
    throw new ConfigurationError('INVALID_CONFIG', `${where}: the local stack has no operation "${unknown}"${near ? ` (did you mean "${near}"?)` : ''}; it answers ${FAULT_OPERATIONS.join(', ')}`);
  }
  return config as FaultConfig;
}

export class FaultInjector {
  private random: () => number;
  readonly counts: FaultCounts = {};
  /** Calls answered in the current one-second window, per operation (for `tpsLimit`). */
  private windows = new Map<string, { second: number; calls: number }>();

  constructor(private config: FaultConfig = {}) {
    this.random = seededRandom(typeof config.seed === 'number' ? config.seed : 1);
  }

  set(config: FaultConfig): void {
    this.config = config;
    this.random = seededRandom(typeof config.seed === 'number' ? config.seed : 1);
    this.windows.clear();
  }

  private overLimit(operation: string, limit: number | undefined): boolean {
    if (limit === undefined) return false;
    const second = Math.floor(Date.now() / 1000);
    const window = this.windows.get(operation);
    if (!window || window.second !== second) {
      this.windows.set(operation, { second, calls: 1 });
      return limit < 1;
    }
    window.calls++;
    return window.calls > limit;
  }

  private spec(operation: string): FaultSpec {
    const own = this.config[operation];
    const all = this.config['*'];
    return { ...(typeof all === 'object' ? all : {}), ...(typeof own === 'object' ? own : {}) };
  }

  private count(operation: string) {
    this.counts[operation] ??= { throttled: 0, failed: 0, unprocessed: 0, calls: 0 };
    return this.counts[operation];
  }

  latency(operation: string): number {
    return this.spec(operation).latencyMs ?? 0;
  }

  /** Rolls the dice for one call. */
  decide(operation: string): FaultDecision {
    const spec = this.spec(operation);
    const count = this.count(operation);
    count.calls++;
    if (this.overLimit(operation, spec.tpsLimit)) {
      count.throttled++;
      return 'throttle';
    }
    const roll = this.random();
    if (roll < (spec.throttleRate ?? 0)) {
      count.throttled++;
      return 'throttle';
    }
    if (roll < (spec.throttleRate ?? 0) + (spec.errorRate ?? 0)) {
      count.failed++;
      return 'error';
    }
    return undefined;
  }

  /** For batch calls: whether one item is left unprocessed. */
  unprocessed(operation: string): boolean {
    const rate = this.spec(operation).unprocessedRate ?? 0;
    if (rate <= 0 || this.random() >= rate) return false;
    this.count(operation).unprocessed++;
    return true;
  }
}
