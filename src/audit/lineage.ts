import { FINGERPRINT_FEATURE } from '../schema/names.js';
import { eventTimeTypeOf, parseEventTime } from '../schema/sagemaker-record.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { backendsOf, type FeatureStore } from '../store/feature-store.js';
import { checkOptions, expected, lazySchema, positiveInteger } from '../util/options.js';
import * as z from 'zod/mini';
import { requireGroup } from '../feature-group.js';
import { spineKey } from '../sql/plan.js';
import { sampleIds } from './audit.js';

/** Records written by one version of the code (one fingerprint), with when. */
export interface LineageEntry {
  /** `skewless_fingerprint`, or `(none)` for records without one (lineage off, or written by other tools). */
  readonly fingerprint: string;
  /** True for the fingerprint of the group as defined now. */
  readonly current: boolean;
  readonly records: number;
  readonly firstEventTime: Date | undefined;
  readonly lastEventTime: Date | undefined;
  /** Offline only: when the rows were written. */
  readonly firstWriteTime?: Date | undefined;
  readonly lastWriteTime?: Date | undefined;
}

export interface LineageReport {
  readonly group: string;
  readonly fingerprint: string;
  /** Every offline row (delete markers excluded), by fingerprint, oldest first. */
  readonly offline: readonly LineageEntry[];
  /** The online records of `onlineSampled` identifiers (online stores cannot be listed), by fingerprint. */
  readonly online: readonly LineageEntry[];
  readonly onlineSampled: number;
}

export interface LineageOptions {
  /** Identifiers read online; default 1,000. */
  readonly sample?: number;
  readonly seed?: number;
}

class Tally {
  private readonly entries = new Map<string, { records: number; firstEvent: number; lastEvent: number; firstWrite: number; lastWrite: number }>();

  add(fingerprint: string, eventMs: number, writeMs: number): void {
    const e = this.entries.get(fingerprint) ?? { records: 0, firstEvent: Infinity, lastEvent: -Infinity, firstWrite: Infinity, lastWrite: -Infinity };
    e.records++;
    if (eventMs < e.firstEvent) e.firstEvent = eventMs;
    if (eventMs > e.lastEvent) e.lastEvent = eventMs;
    if (writeMs < e.firstWrite) e.firstWrite = writeMs;
    if (writeMs > e.lastWrite) e.lastWrite = writeMs;
    this.entries.set(fingerprint, e);
  }

  list(current: string, withWrites: boolean): LineageEntry[] {
    const date = (ms: number) => (Number.isFinite(ms) ? new Date(ms) : undefined);
    return [...this.entries]
      .map(([fingerprint, e]) => ({
        fingerprint,
        current: fingerprint === current,
        records: e.records,
        firstEventTime: date(e.firstEvent),
        lastEventTime: date(e.lastEvent),
        ...(withWrites ? { firstWriteTime: date(e.firstWrite), lastWriteTime: date(e.lastWrite) } : {}),
      }))
      .sort((a, b) => (a.firstWriteTime?.getTime() ?? a.firstEventTime?.getTime() ?? 0) - (b.firstWriteTime?.getTime() ?? b.firstEventTime?.getTime() ?? 0));
  }
}

const lineageOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({ sample: z.optional(positiveInteger()), seed: z.optional(z.int({ error: expected('a whole number') })) }));

/**
 * Which fingerprints (versions of the code) wrote a group's records, offline (every row but delete markers) and online
 * (a sample), with counts and time ranges: where a new transform went live, and whether old records remain.
 *
 * ### Example
 * ```ts
 * import { lineage } from 'skewless';
 * const { offline: versions, online } = await lineage(store, cardActivity);
 * ```
 */
export async function lineage(store: FeatureStore, group: AnyFeatureGroup, options: LineageOptions = {}): Promise<LineageReport> {
  requireGroup(group, 'lineage');
  checkOptions(lineageOptions, options, 'lineage options');
  const { online, offline } = await backendsOf(store, 'lineage');
  const eventTimeType = eventTimeTypeOf(group);
  const offlineTally = new Tally();
  const ids = new Set<string>();
  for (const row of offline ? await offline.scan(group) : []) {
    if (row.is_deleted) continue;
    const id = spineKey(row[group.recordIdentifier]);
    if (id !== undefined) ids.add(id);
    const fingerprint = typeof row[FINGERPRINT_FEATURE] === 'string' ? (row[FINGERPRINT_FEATURE] as string) : '(none)';
    offlineTally.add(fingerprint, parseEventTime(eventTimeType, String(row[group.eventTime])) ?? Number.NaN, row.write_time.getTime());
  }
  const sampled = sampleIds(ids, options.sample ?? 1000, options.seed ?? 1);
  const onlineTally = new Tally();
  for (const { record } of (await online.getMany(group, sampled)).values()) {
    const fingerprint = record.find((f) => f.FeatureName === FINGERPRINT_FEATURE)?.ValueAsString ?? '(none)';
    const eventMs = parseEventTime(eventTimeType, record.find((f) => f.FeatureName === group.eventTime)?.ValueAsString ?? '') ?? Number.NaN;
    onlineTally.add(fingerprint, eventMs, Number.NaN);
  }
  return {
    group: group.name,
    fingerprint: group.fingerprint,
    offline: offlineTally.list(group.fingerprint, true),
    online: onlineTally.list(group.fingerprint, false),
    onlineSampled: sampled.length,
  };
}
