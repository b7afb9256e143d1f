import { pipelineOf } from '../feature-group.js';
import { compareSequence, emptyState, type EntityState } from '../pipeline/reducer.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { BackfillSource } from './sources/index.js';

/**
 * The order a backfill replays each entity's events in, which decides its aggregates (as arrival
 * order does in the stream):
 * - `{ arrival: 'col' }`: by the raw events' `col` (epoch ms, an ISO time, or a sequence number as
 *   digits), events without it by their event time; the default is `{ arrival: 'arrival' }`.
 * - `'event-time'`: by event time.
 * - `'source'`: in the order the source holds them (a history exported in arrival order).
 * Ties keep source order.
 */
export type ProcessingOrder = 'event-time' | 'source' | { readonly arrival: string };

/** An event as the replay keeps it: only what the reducer reads. */
type Kept = [ordinal: number, eventTimeMs: number, key: number | string, inputs: unknown[]];

export interface ReplayResult {
  /** Each input row's aggregate values, by its ordinal in the source (rows read, unreadable ones included). */
  readonly values: Map<number, { readonly values: Record<string, unknown>; readonly late: boolean }>;
  readonly late: number;
  /** Each entity's state after its whole history: where the stream continues from. */
  readonly states: Map<string, EntityState>;
}

function arrivalKey(raw: unknown, column: string, eventTimeMs: number): number | string {
  const value = (raw as Record<string, unknown> | null)?.[column];
  if (Number.isFinite(value)) return value as number;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'string') {
    if (/^\d+$/.test(value)) return value;
    const ms = Date.parse(value);
    if (!Number.isNaN(ms)) return ms;
  }
  if (value instanceof Date) return value.getTime();
  return eventTimeMs;
}

function compareKeys(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return compareSequence(a, b);
  return typeof a === 'number' ? -1 : 1;
}

/**
 * Pass one of an aggregation backfill: reads the whole source through validation and the transform,
 * keeps each entity's events (only the features the aggregates read), and replays every entity in
 * processing order through the stream's reducer. Pass two (the usual chunked backfill) attaches the
 * values to the records. Memory grows with the number of events (tens of bytes each).
 */
export async function replayAggregations(group: AnyFeatureGroup, source: BackfillSource, order: ProcessingOrder = { arrival: 'arrival' }): Promise<ReplayResult> {
  const pipeline = pipelineOf(group);
  const reducer = pipeline.reducer;
  const values: ReplayResult['values'] = new Map();
  const states = new Map<string, EntityState>();
  if (!reducer) return { values, late: 0, states };
  const inputs = pipeline.aggregationInputs;
  const entities = new Map<string, Kept[]>();
  let ordinal = 0;
  for await (const block of source.read(group)) {
    const raws: unknown[] = [];
    const ordinals: number[] = [];
    for (const item of block.items) {
      if (item.unreadable === undefined) {
        raws.push(item.raw);
        ordinals.push(ordinal);
      }
      ordinal++;
    }
    for (const { index, record, id } of pipeline.prepareBatch(raws).prepared) {
      const at = ordinals[index] as number;
      const t = (record[group.eventTime] as Date).getTime();
      const key = order === 'source' ? at : order === 'event-time' ? t : arrivalKey(raws[index], order.arrival, t);
      const kept: Kept = [at, t, key, inputs.map((name) => record[name])];
      const list = entities.get(id);
      if (list) list.push(kept);
      else entities.set(id, [kept]);
    }
  }
  let late = 0;
  for (const [id, events] of entities) {
    // Events are kept in source order and the sort is stable: ties stay in source order.
    if (order !== 'source') events.sort((x, y) => compareKeys(x[2], y[2]));
    const state = emptyState();
    states.set(id, state);
    for (const [at, t, , held] of events) {
      const record: Record<string, unknown> = {};
      inputs.forEach((name, i) => {
        record[name] = held[i];
      });
      const outcome = reducer.apply(state, t, record);
      if (outcome.status === 'duplicate') continue;
      if (outcome.status === 'late') late++;
      values.set(at, { values: outcome.values, late: outcome.status === 'late' });
    }
  }
  return { values, late, states };
}
