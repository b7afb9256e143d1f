import { parseEventTime } from '../schema/sagemaker-record.js';
import { FINGERPRINT_FEATURE } from '../schema/names.js';
import type { OfflineStoredRow } from '../store/types.js';
import { type JoinStep, spineKey, spineTime, type TrainingPlan } from './plan.js';

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

function comparator(step: JoinStep): (a: Candidate, b: Candidate) => number {
  const columns = tieBreakColumns(step);
  return (a, b) => {
    const byTime = a.eventTimeMs - b.eventTimeMs || a.invocationMs - b.invocationMs || a.writeMs - b.writeMs;
    if (byTime !== 0) return byTime;
    const byDeleted = Number(a.row.is_deleted) - Number(b.row.is_deleted);
    if (byDeleted !== 0) return byDeleted;
    for (const column of columns) {
      const c = compareValues(a.row[column], b.row[column]);
      if (c !== 0) return c;
    }
    return 0;
  };
}

function timeMs(value: unknown): number {
  return value instanceof Date ? value.getTime() : Number.NaN;
}

/**
 * The executable specification of the point-in-time join: per group, rows indexed by identifier and
 * sorted by the rule's order; per spine row, a binary search to the last row at or before t and a
 * walk back past rows the options exclude. Returns, per join step, the chosen row of every spine row
 * (null when none qualifies or the chosen one is a delete marker).
 */
export function referenceJoin(plan: TrainingPlan, spine: readonly Readonly<Record<string, unknown>>[], rows: ReadonlyMap<string, readonly OfflineStoredRow[]>): (OfflineStoredRow | null)[][] {
  const times = spine.map((row, i) => spineTime(row[plan.timestamp], i, plan.timestamp));
  return plan.joins.map((step) => {
    const byKey = new Map<string, Candidate[]>();
    for (const row of rows.get(step.group) ?? []) {
      const eventTimeMs = parseEventTime(step.eventTimeType, String(row[step.eventTime]));
      const key = spineKey(row[step.recordIdentifier]);
      if (eventTimeMs === undefined || key === undefined) continue;
      const list = byKey.get(key) ?? [];
      list.push({ eventTimeMs, invocationMs: timeMs(row.api_invocation_time), writeMs: timeMs(row.write_time), row });
      byKey.set(key, list);
    }
    const order = comparator(step);
    for (const list of byKey.values()) list.sort(order);

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
        if (step.maxAgeMs !== undefined && c.eventTimeMs <= t - step.maxAgeMs) break;
        if (plan.knowledgeTime && c.writeMs > t) continue;
        return c.row.is_deleted ? null : c.row;
      }
      return null;
    });
  });
}
