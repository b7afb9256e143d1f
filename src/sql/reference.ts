import { parseEventTime } from '../schema/sagemaker-record.js';
import { FINGERPRINT_FEATURE } from '../schema/names.js';
import type { OfflineStoredRow } from '../store/types.js';
import { ageLimitMs, type JoinStep, spineKey, spineTime, type TrainingPlan } from './plan.js';

/** An offline row with what the rule orders by, read once. */
interface Candidate {
  readonly eventTimeMs: number;
  readonly invocationMs: number;
  readonly writeMs: number;
  readonly row: OfflineStoredRow;
}

/** Orders by text as SQL engines do: by Unicode code point (= UTF-8 bytes), not UTF-16 units. */
function compareText(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function compareValues(a: unknown, b: unknown): number {
  const aNull = a === null || a === undefined;
  const bNull = b === null || b === undefined;
  if (aNull || bNull) return aNull === bNull ? 0 : aNull ? -1 : 1; // null is the least
  if (typeof a === 'string' && typeof b === 'string') return compareText(a, b);
  return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
}

/**
 * The tie-break after the three times and the delete marker: the other scalar feature values. Not
 * the identifier (equal among the rows compared), the event time (its instant is compared already;
 * only its spelling could differ) or the fingerprint (rows equal in every feature give the same
 * training row whichever is taken), so an engine sorts no text it does not need to.
 */
export function tieBreakColumns(step: Pick<JoinStep, 'definitions' | 'recordIdentifier' | 'eventTime'>): string[] {
  const skip = new Set([step.recordIdentifier, step.eventTime, FINGERPRINT_FEATURE]);
  return step.definitions.filter((d) => !d.CollectionType && !skip.has(d.FeatureName)).map((d) => d.FeatureName);
}

/**
 * The rule's order, ascending, so the row a spine row takes is the last of those it may take: event
 * time ascending; among equal event times the first written last, i.e. (API invocation time, write
 * time, is_deleted, the other feature values) descending.
 */
function comparator(step: Pick<JoinStep, 'definitions' | 'recordIdentifier' | 'eventTime'>): (a: Candidate, b: Candidate) => number {
  const columns = tieBreakColumns(step);
  return (a, b) => {
    const byEvent = a.eventTimeMs - b.eventTimeMs;
    if (byEvent !== 0) return byEvent;
    const byTime = b.invocationMs - a.invocationMs || b.writeMs - a.writeMs;
    if (byTime !== 0) return byTime;
    const byDeleted = Number(b.row.is_deleted) - Number(a.row.is_deleted);
    if (byDeleted !== 0) return byDeleted;
    for (const column of columns) {
      const c = compareValues(b.row[column], a.row[column]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

function timeMs(value: unknown): number {
  return value instanceof Date ? value.getTime() : Number.NaN;
}

function candidateOf(step: Pick<JoinStep, 'eventTimeType' | 'eventTime'>, row: OfflineStoredRow): Candidate | undefined {
  const eventTimeMs = parseEventTime(step.eventTimeType, String(row[step.eventTime]));
  return eventTimeMs === undefined ? undefined : { eventTimeMs, invocationMs: timeMs(row.api_invocation_time), writeMs: timeMs(row.write_time), row };
}

/**
 * Of one identifier's rows, the one the rule takes when every row counts (no t, no `maxAge`, no
 * TTL): the greatest event time, the first written among equals. A delete marker when one wins;
 * undefined for no rows.
 */
export function latestByRule(step: Pick<JoinStep, 'definitions' | 'recordIdentifier' | 'eventTime' | 'eventTimeType'>, rows: readonly OfflineStoredRow[]): OfflineStoredRow | undefined {
  const order = comparator(step);
  let best: Candidate | undefined;
  for (const row of rows) {
    const c = candidateOf(step, row);
    if (c && (best === undefined || order(c, best) > 0)) best = c;
  }
  return best?.row;
}

/**
 * The executable specification of the point-in-time join: per group, rows indexed by identifier and
 * sorted by the rule's order; per spine row, a binary search to the last row at or before t and a
 * walk back past rows the options exclude. Returns, per join step, the chosen row of every spine row
 * (null when none qualifies, or the chosen one is a delete marker or expired by t).
 */
export function referenceJoin(plan: TrainingPlan, spine: readonly Readonly<Record<string, unknown>>[], rows: ReadonlyMap<string, readonly OfflineStoredRow[]>): (OfflineStoredRow | null)[][] {
  const times = spine.map((row, i) => spineTime(row[plan.timestamp], i, plan.timestamp));
  return plan.joins.map((step) => {
    const byKey = new Map<string, Candidate[]>();
    for (const row of rows.get(step.group) ?? []) {
      const candidate = candidateOf(step, row);
      const key = spineKey(row[step.recordIdentifier]);
      if (candidate === undefined || key === undefined) continue;
      const list = byKey.get(key) ?? [];
      list.push(candidate);
      byKey.set(key, list);
    }
    const order = comparator(step);
    for (const list of byKey.values()) list.sort(order);
    // A row expired by t counts as too old: every row older than it expired earlier still.
    const limit = ageLimitMs(step);

    return spine.map((spineRow, i) => {
      const list = byKey.get(spineKey(spineRow[step.key]) ?? '\u0000none');
      if (!list) return null;
      const t = times[i] as number;
      // The last candidate with event time <= t (< t when not inclusive).
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const et = (list[mid] as Candidate).eventTimeMs;
        if (plan.inclusive ? et <= t : et < t) lo = mid + 1;
        else hi = mid;
      }
      for (let j = lo - 1; j >= 0; j--) {
        const c = list[j] as Candidate;
        if (limit !== undefined && c.eventTimeMs <= t - limit) break;
        if (plan.knowledgeTime && c.writeMs > t) continue;
        return c.row.is_deleted ? null : c.row;
      }
      return null;
    });
  });
}
