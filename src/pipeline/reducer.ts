import type { SourcePosition } from '../errors.js';
import type { AggregationInput, CompiledAggregation, CompiledAggregations } from '../schema/aggregation-spec.js';
import { addToPartials, partialsValue } from '../util/exact-sum.js';

/** An input value as the state keeps it: JSON-safe (bigint as text, dates as epoch ms). */
type Held = string | number | boolean | null;

/** Statistics of one input feature over the events merged into a bucket. */
interface BucketStats {
  /** Events with a value. */
  n: number;
  /** Exact sum, as partials. */
  s?: number[];
  lo?: number;
  hi?: number;
  /** Distinct values seen, as text, at most the largest `distinctCount` bound. */
  d?: string[];
  /** The latest values, as [event time, value], oldest first, at most the largest `last` n. */
  l?: [number, Held][];
}

/** Events merged by compaction: every event whose time falls in [start, start + resolution). */
interface Bucket {
  /** Start of the bucket, epoch ms: merged events count as happening at this instant. */
  s: number;
  /** Events in it. */
  c: number;
  f: BucketStats[];
}

/**
 * One entity's aggregation state: what its longest window (plus the allowed lateness) still needs.
 * Plain JSON, so a DynamoDB item or a local table holds it as one value.
 */
export interface EntityState {
  /** Format version. */
  readonly v: 1;
  /** Greatest event time applied, epoch ms; null before the first event. */
  t: number | null;
  /**
   * Last applied position per stream (a shard, a partition, a partition key of a shard): a record at
   * or before it is not applied again.
   */
  p: Record<string, string>;
  /**
   * Greatest event time of the records each stream of `p` has given. A stream whose records are all
   * more than the allowed lateness older than the entity's newest event is let go: a redelivery of
   * one of them is late, so it cannot change the state. A state saved before it was kept gets it
   * from `resumeState`.
   */
  q: Record<string, number>;
  /** Raw events in processing order: [event time, ...input values]. */
  e: Held[][];
  /** Compacted events, by bucket start. */
  b: Bucket[];
}

/** A state as a state store holds it: one saved before `q` was kept lacks it. */
export type StoredEntityState = Omit<EntityState, 'q'> & { readonly q?: Record<string, number> };

/** What applying one record gave. */
export type AggregateOutcome =
  | { readonly status: 'applied' | 'late'; readonly values: Record<string, unknown> }
  /** Its position was applied before (a redelivered record): the state is unchanged. */
  | { readonly status: 'duplicate' };

/** Where a record sits in its stream, for the redelivery guard; undefined where the source has no order. */
export interface StreamOrder {
  readonly stream: string;
  readonly seq: string;
  /** The shard a partition key's stream belongs to: the stream a state saved before partition keys were kept has for it. */
  readonly shard?: string;
}

/** The ordered position of a record, from the fields its source sets. */
export function streamOrderOf(position: SourcePosition | undefined): StreamOrder | undefined {
  if (!position) return undefined;
  if (position.sequenceNumber !== undefined) {
    // A Kinesis shard, a FIFO message group, a DynamoDB stream: sequence numbers are ordered within
    // it. Lambda reads a shard in several batches at once (ParallelizationFactor) and keeps only each
    // partition key in order (a DynamoDB stream's item key): one entity's records from two partition
    // keys may come in either order, so each partition key is a stream of its own.
    // https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html, .../with-ddb.html
    const within = position.shardId ?? position.messageGroupId;
    const shard = `${position.source ?? 'stream'}:${within ?? ''}`;
    if (position.partitionKey === undefined) return { stream: shard, seq: position.sequenceNumber };
    // A state saved before kept the shard's position; a DynamoDB stream's records name no shard, and
    // its one position compared records of all shards, so it is no guide.
    return { stream: `${shard}#${position.partitionKey}`, seq: position.sequenceNumber, ...(within === undefined ? {} : { shard }) };
  }
  if (position.offset !== undefined && position.topic !== undefined) {
    return { stream: `${position.source ?? 'kafka'}:${position.topic}-${position.partition ?? 0}`, seq: position.offset };
  }
  return undefined;
}

const DIGITS = /^\d+$/;

/** Compares two sequence numbers: decimal strings by value (they outgrow doubles), others as text. */
export function compareSequence(a: string, b: string): number {
  if (DIGITS.test(a) && DIGITS.test(b)) {
    const x = a.replace(/^0+(?=\d)/, '');
    const y = b.replace(/^0+(?=\d)/, '');
    if (x.length !== y.length) return x.length - y.length;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function hold(kind: AggregationInput['kind'], value: unknown): Held {
  if (value === undefined || value === null) return null;
  if (kind === 'bigint') return (value as bigint).toString();
  if (kind === 'date') return (value as Date).getTime();
  return value as Held;
}

function release(kind: AggregationInput['kind'], value: Held): unknown {
  if (kind === 'bigint') return BigInt(value as string);
  if (kind === 'date') return new Date(value as number);
  return value;
}

function distinctKey(value: Held): string {
  return typeof value === 'string' ? value : String(value);
}

/** A fresh state: an entity nothing has been applied to. */
export function emptyState(): EntityState {
  return { v: 1, t: null, p: {}, q: {}, e: [], b: [] };
}

/**
 * The one reducer the stream and backfills share. `apply` takes an entity's records one at a time
 * in processing order and returns each record's aggregate values: over the entity's events x with
 * x.time in (e.time - window, e.time] applied no later than e. An event more than the allowed
 * lateness older than the newest applied one is late: it is left out of the state (its own values
 * are computed over the state as it is) and reported as late. Compaction and expiry happen after each
 * event, so the state after a sequence of events never depends on how the sequence was batched.
 */
export interface Reducer {
  apply(state: EntityState, eventTimeMs: number, record: Record<string, unknown>, order?: StreamOrder): AggregateOutcome;
}

export function createReducer(compiled: CompiledAggregations): Reducer {
  const { inputs, list, longestWindowMs, allowedLatenessMs, maxEntries, resolutionMs } = compiled;
  const reach = longestWindowMs + allowedLatenessMs;

  const newStats = (input: AggregationInput): BucketStats => {
    const stats: BucketStats = { n: 0 };
    if (input.numeric) stats.s = [];
    if (input.distinctLimit > 0) stats.d = [];
    if (input.lastN > 0) stats.l = [];
    return stats;
  };

  const merge = (bucket: Bucket, entry: Held[]): void => {
    bucket.c++;
    const t = entry[0] as number;
    for (let i = 0; i < inputs.length; i++) {
      const value = entry[i + 1] as Held;
      if (value === null) continue;
      const input = inputs[i] as AggregationInput;
      const stats = bucket.f[i] as BucketStats;
      stats.n++;
      if (input.numeric) {
        const x = value as number;
        addToPartials(stats.s as number[], x);
        if (stats.lo === undefined || x < stats.lo) stats.lo = x;
        if (stats.hi === undefined || x > stats.hi) stats.hi = x;
      }
      if (stats.d) {
        const key = distinctKey(value);
        if (stats.d.length < input.distinctLimit && !stats.d.includes(key)) stats.d.push(key);
      }
      if (stats.l) {
        // Kept oldest first; an equal time goes after (it was processed later).
        let at = stats.l.length;
        while (at > 0 && (stats.l[at - 1] as [number, Held])[0] > t) at--;
        stats.l.splice(at, 0, [t, value]);
        if (stats.l.length > input.lastN) stats.l.shift();
      }
    }
  };

  /** Merges every raw event into buckets of `resolution`; the state is then all buckets. */
  const compact = (state: EntityState): void => {
    const byStart = new Map<number, Bucket>(state.b.map((b) => [b.s, b]));
    for (const entry of state.e) {
      const t = entry[0] as number;
      const start = Math.floor(t / resolutionMs) * resolutionMs;
      let bucket = byStart.get(start);
      if (!bucket) byStart.set(start, (bucket = { s: start, c: 0, f: inputs.map(newStats) }));
      merge(bucket, entry);
    }
    state.e = [];
    state.b = [...byStart.values()].sort((x, y) => x.s - y.s);
  };

  /** Drops what no future non-late event's window can reach. */
  const expire = (state: EntityState): void => {
    const cutoff = (state.t as number) - reach;
    let drop = 0;
    while (drop < state.e.length && ((state.e[drop] as Held[])[0] as number) <= cutoff) drop++;
    if (drop > 0) state.e.splice(0, drop);
    let old = 0;
    while (old < state.b.length && (state.b[old] as Bucket).s <= cutoff) old++;
    if (old > 0) state.b.splice(0, old);
  };

  /**
   * Lets go the positions whose records are all late by now: a redelivery of one is late too, and
   * changes nothing. Only the newest event time moves that line, so it runs when that advances.
   */
  const letGo = (state: EntityState): void => {
    const lateBefore = (state.t as number) - allowedLatenessMs;
    for (const stream in state.q) {
      if ((state.q[stream] as number) >= lateBefore) continue;
      delete state.q[stream];
      delete state.p[stream];
    }
  };

  // Scratch space reused by every event: per-event arrays and sets were most of the reducer's garbage.
  const partials: number[] = [];
  const seen = new Set<string>();

  const valueOf = (a: CompiledAggregation, state: EntityState, at: number): unknown => {
    const from = at - a.windowMs;
    const inWindow = (t: number) => t > from && t <= at;
    const input = inputs[a.input];
    const i = a.input + 1;
    switch (a.kind) {
      case 'count': {
        let n = 0;
        for (const b of state.b) if (inWindow(b.s)) n += b.c;
        for (const e of state.e) if (inWindow(e[0] as number)) n++;
        return n;
      }
      case 'sum':
      case 'avg': {
        partials.length = 0;
        let n = 0;
        for (const b of state.b) {
          if (!inWindow(b.s)) continue;
          const stats = b.f[a.input] as BucketStats;
          n += stats.n;
          for (const p of stats.s as number[]) addToPartials(partials, p);
        }
        for (const e of state.e) {
          if (!inWindow(e[0] as number) || e[i] === null) continue;
          n++;
          addToPartials(partials, e[i] as number);
        }
        const total = partialsValue(partials);
        if (a.kind === 'sum') return total;
        return n === 0 ? undefined : total / n;
      }
      case 'min':
      case 'max': {
        const lowest = a.kind === 'min';
        let best: number | undefined;
        const consider = (x: number | undefined) => {
          if (x !== undefined && (best === undefined || (lowest ? x < best : x > best))) best = x;
        };
        for (const b of state.b) if (inWindow(b.s)) consider(lowest ? (b.f[a.input] as BucketStats).lo : (b.f[a.input] as BucketStats).hi);
        for (const e of state.e) if (inWindow(e[0] as number) && e[i] !== null) consider(e[i] as number);
        return best;
      }
      case 'distinctCount': {
        seen.clear();
        for (const b of state.b) {
          if (!inWindow(b.s)) continue;
          for (const key of (b.f[a.input] as BucketStats).d as string[]) {
            seen.add(key);
            if (seen.size >= a.limit) return a.limit;
          }
        }
        for (const e of state.e) {
          if (!inWindow(e[0] as number) || e[i] === null) continue;
          seen.add(distinctKey(e[i] as Held));
          if (seen.size >= a.limit) return a.limit;
        }
        return seen.size;
      }
      case 'last': {
        // Candidates in processing order: buckets (all merged before any raw event) then raw events.
        const candidates: [number, Held][] = [];
        for (const b of state.b) if (inWindow(b.s)) for (const [, v] of (b.f[a.input] as BucketStats).l as [number, Held][]) candidates.push([b.s, v]);
        for (const e of state.e) if (inWindow(e[0] as number) && e[i] !== null) candidates.push([e[0] as number, e[i] as Held]);
        // Stable: among equal times the later-processed stays later.
        candidates.sort((x, y) => x[0] - y[0]);
        const kind = (input as AggregationInput).kind;
        if (a.n === 1) {
          const latest = candidates[candidates.length - 1];
          return latest === undefined ? undefined : release(kind, latest[1]);
        }
        if (candidates.length === 0) return undefined;
        return candidates
          .slice(-a.n)
          .reverse()
          .map(([, v]) => release(kind, v));
      }
    }
  };

  const valuesOf = (state: EntityState, at: number): Record<string, unknown> => {
    const values: Record<string, unknown> = {};
    for (const a of list) {
      const value = valueOf(a, state, at);
      if (value !== undefined) values[a.name] = value;
    }
    return values;
  };

  return {
    apply(state, eventTimeMs, record, order) {
      if (order) {
        const applied = state.p[order.stream] ?? (order.shard === undefined ? undefined : state.p[order.shard]);
        if (applied !== undefined && compareSequence(order.seq, applied) <= 0) return { status: 'duplicate' };
        state.p[order.stream] = order.seq;
        const newest = state.q[order.stream];
        state.q[order.stream] = newest === undefined || eventTimeMs > newest ? eventTimeMs : newest;
      }
      if (state.t !== null && eventTimeMs < state.t - allowedLatenessMs) {
        return { status: 'late', values: valuesOf(state, eventTimeMs) };
      }
      const entry: Held[] = [eventTimeMs];
      for (const input of inputs) entry.push(hold(input.kind, record[input.name]));
      state.e.push(entry);
      const advanced = state.t === null || eventTimeMs > state.t;
      if (advanced) state.t = eventTimeMs;
      const values = valuesOf(state, eventTimeMs);
      expire(state);
      if (advanced) letGo(state);
      if (state.e.length > maxEntries) compact(state);
      return { status: 'applied', values };
    },
  };
}

/**
 * A stored state, copied to apply records to (states are plain JSON). One saved before each
 * stream's newest event time was kept gets it: a stream's records are no newer than the entity's
 * newest event (a state with positions has applied one).
 */
export function resumeState(stored: StoredEntityState): EntityState {
  const { q, ...state } = structuredClone(stored);
  return { ...state, q: q ?? Object.fromEntries(Object.keys(state.p).map((stream) => [stream, state.t ?? 0])) };
}
