import { AssertionError } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBackfill } from '../backfill/backfill.js';
import { ndjsonFile } from '../backfill/sources/index.js';
import type { SourcePosition } from '../errors.js';
import { kinesisHandler } from '../lambda/handlers.js';
import type { SageMakerRecord } from '../schema/codec.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { createFeatureStore } from '../store/feature-store.js';
import type { DeadLetterEntry } from '../store/dead-letter.js';
import type { OfflineStore, OfflineWrite } from '../store/types.js';
import { seededRandom, seededShuffle } from '../util/random.js';
import { checkOptions, expected, lazySchema, positiveInteger } from '../util/options.js';
import { requireGroup } from '../feature-group.js';
import * as z from 'zod/mini';
import { kinesisEvent, streamPayloads } from './events.js';
import { memoryAggregationState, memoryOnline } from './memory-store.js';

const EVENTS = /* @__PURE__ */ lazySchema(() => streamPayloads('an array of raw events'));

export interface ParityOptions {
  /**
   * Records per Kinesis batch on the streaming side; default 500. `'random'` cuts the stream at
   * random points (batch boundaries must not matter).
   */
  readonly batchSize?: number | 'random';
  /** Rows per backfill chunk; default 1,000. */
  readonly chunkSize?: number;
  /**
   * Also deliver a random tail of some batches a second time with the same sequence numbers, as
   * Lambda does after a timeout: aggregates must count each record once, and a poison event counts
   * once. Offline is at-least-once, so a redelivered record written again with the same values is no
   * difference. Default false.
   */
  readonly redeliver?: boolean;
  /** Seed of the random batch boundaries and redeliveries; default 1. */
  readonly seed?: number;
}

export interface ParityReport {
  /** Records both paths wrote, identical one for one. */
  readonly records: number;
  /** Events both paths refused as poison. */
  readonly poison: number;
  /** Events the stream was handed a second time (`redeliver`); 0 without it. */
  readonly redelivered: number;
  /** Dead-letter entries the stream wrote: a poison event in a redelivered tail is dead-lettered each time it arrives. */
  readonly deadLettered: number;
}

/**
 * An offline store that only remembers what was appended, in order. While `redelivering`, a record
 * identical to one appended before is left out: offline is at-least-once, and a redelivered event may
 * add a second row with the same values; one with other values is kept, for the comparison to find.
 */
function capturingOffline(): OfflineStore & { readonly records: SageMakerRecord[]; redelivering: boolean } {
  const records: SageMakerRecord[] = [];
  const seen = new Set<string>();
  const capture = {
    records,
    redelivering: false,
    async append(_group: AnyFeatureGroup, writes: readonly OfflineWrite[]) {
      for (const w of writes) {
        const text = JSON.stringify(w.record);
        if (capture.redelivering && seen.has(text)) continue;
        seen.add(text);
        records.push(w.record);
      }
    },
    async scan() {
      return [];
    },
    async close() {},
  };
  return capture;
}

function firstDifference(a: SageMakerRecord, b: SageMakerRecord): string {
  const left = new Map(a.map((f) => [f.FeatureName, JSON.stringify(f.ValueAsString ?? f.ValueAsStringList)]));
  const right = new Map(b.map((f) => [f.FeatureName, JSON.stringify(f.ValueAsString ?? f.ValueAsStringList)]));
  for (const name of new Set([...left.keys(), ...right.keys()])) {
    if (left.get(name) !== right.get(name)) return `feature "${name}": stream ${left.get(name) ?? '(absent)'}, backfill ${right.get(name) ?? '(absent)'}`;
  }
  return 'the features are the same but in a different order';
}

/**
 * Runs the same events down both paths skewless promises are one: the streaming path (the Kinesis
 * Lambda handler, events JSON-encoded as a producer would send them) and the backfill path (the
 * events as an NDJSON history file through `backfill`). Throws an AssertionError naming the first
 * record and feature that differ, so it works as-is in vitest, jest or node:test. Events must be
 * JSON values (what a stream carries), in the order the stream receives them: for a group with
 * aggregations the backfill replays them in that order, and `batchSize: 'random'` with `redeliver`
 * checks that batch boundaries and redelivered batches change no aggregate.
 *
 * ### Example
 * ```ts
 * import { expectParity } from 'skewless/testing';
 * it('streams and backfills the same features', async () => {
 *   await expectParity(cardActivity, sampleEvents);
 * });
 * ```
 */
export async function expectParity(group: AnyFeatureGroup, events: readonly unknown[], options: ParityOptions = {}): Promise<ParityReport> {
  requireGroup(group, 'expectParity');
  checkOptions(EVENTS, events, 'expectParity events');
  checkOptions(
    z.strictObject({
      batchSize: z.optional(z.union([positiveInteger(), z.literal('random')], { error: expected("a positive whole number or 'random'") })),
      chunkSize: z.optional(positiveInteger()),
      redeliver: z.optional(z.boolean()),
      seed: z.optional(z.number({ error: expected('a number') })),
    }),
    options,
    'expectParity options',
  );
  const random = seededRandom(options.seed ?? 1);
  const nextSize = () => (options.batchSize === 'random' ? 1 + Math.floor(random() * 60) : (options.batchSize ?? 500));

  // Streaming: the handler a user deploys, over a store that captures what reaches the offline tier.
  const streamed = capturingOffline();
  const streamDead: DeadLetterEntry[] = [];
  const store = createFeatureStore({
    online: memoryOnline(),
    offline: streamed,
    aggregationState: memoryAggregationState(),
    deadLetter: (entries) => void streamDead.push(...entries),
  });
  const handler = kinesisHandler(group, { store, log: false });
  let redelivered = 0;
  for (let i = 0; i < events.length; ) {
    const size = nextSize();
    const event = kinesisEvent(events.slice(i, i + size));
    i += size;
    const response = await handler(event);
    if (response.batchItemFailures.length > 0) throw new AssertionError({ message: `expectParity: the streaming path reported ${response.batchItemFailures.length} write failures` });
    if (options.redeliver && random() < 0.5) {
      streamed.redelivering = true;
      const tail = event.Records.slice(Math.floor(random() * event.Records.length));
      redelivered += tail.length;
      const again = await handler({ Records: tail });
      streamed.redelivering = false;
      if (again.batchItemFailures.length > 0) throw new AssertionError({ message: 'expectParity: a redelivered batch reported write failures' });
    }
  }
  await store.close();

  // Backfill: the same events as a history file.
  const dir = mkdtempSync(join(tmpdir(), 'skewless-parity-'));
  const filled = capturingOffline();
  let backfillPoison = 0;
  try {
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
    // The history file holds the events in the order the stream received them.
    const summary = await runBackfill(
      group,
      { from: ndjsonFile(file), concurrency: 1, chunkSize: options.chunkSize ?? 1000, order: 'source' },
      { offline: filled, online: undefined, dir, now: Date.now },
    );
    backfillPoison = summary.poison;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  // A redelivered tail dead-letters its poison again: one event, by its shard and sequence number.
  const streamPoison = new Set(streamDead.map((entry) => `${entry.position?.shardId}/${entry.position?.sequenceNumber}`)).size;
  if (streamPoison !== backfillPoison) {
    throw new AssertionError({
      message: `expectParity: ${streamPoison} events were poison when streamed, ${backfillPoison} when backfilled`,
      actual: backfillPoison,
      expected: streamPoison,
    });
  }
  const count = Math.max(streamed.records.length, filled.records.length);
  // Nothing written is nothing compared: an empty fixture, or a source schema that fits none of it.
  if (count === 0) {
    throw new AssertionError({
      message: `expectParity: no event became a record (${events.length} events, ${backfillPoison} poison), so nothing was compared${backfillPoison > 0 ? `; the first poison: ${streamDead[0]?.error.message}` : ''}`,
      actual: 0,
      expected: 'at least one record',
    });
  }
  for (let i = 0; i < count; i++) {
    const a = streamed.records[i];
    const b = filled.records[i];
    if (a && b && JSON.stringify(a) === JSON.stringify(b)) continue;
    const what = !a ? 'only the backfill wrote it' : !b ? 'only the stream wrote it' : firstDifference(a, b);
    throw new AssertionError({ message: `expectParity: written record ${i} differs: ${what}`, actual: b, expected: a, operator: 'deepStrictEqual' });
  }
  return { records: count, poison: backfillPoison, redelivered, deadLettered: streamDead.length };
}

export interface DeterminismOptions {
  /** Seed of the shuffled run; default 1. */
  readonly seed?: number;
}

/** An event's outcome: its encoded record, or `REFUSED` and the error's code. */
type Outcome = string;
const REFUSED = 'refused ';

function outcomeOf(group: AnyFeatureGroup, raw: unknown, position: SourcePosition): Outcome {
  const result = group.process(raw, position);
  return result.ok ? JSON.stringify(result.encoded) : `${REFUSED}${result.error.code}`;
}

/**
 * Fails if a group's output depends on anything but the event: runs every event four times, with
 * `Date.now` and `Math.random` held still — once, again alike, again with the clock a day on and
 * other random numbers, and once more alike in a shuffled order — and throws an AssertionError
 * naming the first event whose record changed and the likely cause (state kept between calls or
 * `new Date()`; the clock or randomness).
 *
 * ### Example
 * ```ts
 * it('has a pure transform', () => checkDeterminism(cardActivity, sampleEvents));
 * ```
 */
export function checkDeterminism(group: AnyFeatureGroup, events: readonly unknown[], options: DeterminismOptions = {}): void {
  requireGroup(group, 'checkDeterminism');
  checkOptions(EVENTS, events, 'checkDeterminism events');
  checkOptions(z.strictObject({ seed: z.optional(z.number({ error: expected('a number') })) }), options, 'checkDeterminism options');
  // Each pass holds the clock (`Date.now`) and `Math.random` still; the first two alike, the third
  // a day later with other numbers, so a difference says which it was.
  const realNow = Date.now;
  const realRandom = Math.random;
  const start = realNow();
  const run = (now: number, seed: number, indexes: Iterable<number> = events.keys()): Outcome[] => {
    const random = seededRandom(seed);
    const outcomes = new Array<Outcome>(events.length);
    try {
      Date.now = () => now;
      Math.random = () => random();
      for (const index of indexes) outcomes[index] = outcomeOf(group, structuredClone(events[index]), { index });
    } finally {
      Date.now = realNow;
      Math.random = realRandom;
    }
    return outcomes;
  };
  const first = run(start, 1);
  // Events all refused (or none) check no transform: the fixture does not fit the source schema.
  if (first.every((outcome) => outcome.startsWith(REFUSED))) {
    throw new AssertionError({
      message: `checkDeterminism: no event became a record (${events.length} events${first[0] ? `, the first refused: ${first[0].slice(REFUSED.length)}` : ''}), so nothing was checked`,
      actual: 0,
      expected: 'at least one record',
    });
  }
  const differs = (outcomes: Outcome[], cause: string) => {
    const changed = outcomes.findIndex((o, i) => o !== first[i]);
    if (changed < 0) return;
    throw new AssertionError({ message: `checkDeterminism: event ${changed} gave a different record ${cause}`, actual: outcomes[changed], expected: first[changed] });
  };

  // `new Date()` cannot be held still, but it sees a later millisecond.
  const later = realNow() + 2;
  while (realNow() < later) {
    // wait for the clock to move
  }
  differs(run(start, 1), 'when run again with the same clock and random numbers (does the transform keep state between calls, or call new Date()?)');
  differs(run(start + 86_400_000, 0x5eed), 'when run again (does the transform read the clock or randomness?)');
  differs(run(start, 1, seededShuffle(events.keys(), options.seed ?? 1)), 'in another processing order (does the transform keep state between calls?)');
}
