import { ConfigurationError } from '../errors.js';
import { FINGERPRINT_FEATURE } from '../schema/names.js';
import { eventTimeTypeOf, parseEventTime } from '../schema/sagemaker-record.js';
import { parseDuration } from '../schema/time.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { backendsOf, type FeatureStore } from '../store/feature-store.js';
import { checkOptions, countSchema, durationSchema, expected, lazySchema, positiveInteger } from '../util/options.js';
import * as z from 'zod/mini';
import { requireGroup } from '../feature-group.js';
import type { OfflineStoredRow } from '../store/types.js';
import { buildTrainingPlan, type JoinStep, spineKey } from '../sql/plan.js';
import { latestByRule } from '../sql/reference.js';
import { seededShuffle } from '../util/random.js';

import { AUDIT_CAUSES, type AuditCause } from './causes.js';
import { offlineRowCodec } from '../group-codecs.js';

export type { AuditCause };

export interface AuditOptions {
  /** The identifiers to audit, or how many to pick from the offline store (deterministic for `seed`); default 1,000. */
  readonly sample?: number | readonly (string | number | bigint)[];
  /** Seed of the sample; default 1. */
  readonly seed?: number;
  /** The moment audited; default now, by the store's clock (`createFeatureStore({ now })`), as serving reads it. */
  readonly at?: Date;
  /**
   * How long offline rows take to appear: default the offline store's own `availabilityDelay` (`'0s'`
   * for the embedded store), else `'15m'` (SageMaker documents up to 15 minutes).
   */
  readonly availabilityDelay?: string;
  /** Numbers closer than this count as equal; default 0 (exact). */
  readonly tolerance?: number;
  /** Inconsistent identifiers listed with their values (all are counted); default 50. */
  readonly examples?: number;
}

const identifier = /* @__PURE__ */ lazySchema(() => z.union([z.string().check(z.minLength(1, { error: expected('a non-empty record identifier') })), z.int(), z.bigint()]));
const auditOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  sample: z.optional(
    z.union([positiveInteger(), z.array(identifier()).check(z.minLength(1, { error: expected('a non-empty list of identifiers') }))], { error: expected('how many identifiers to sample (a positive whole number) or a non-empty list of identifiers') }),
  ),
  seed: z.optional(z.int({ error: expected('a whole number') })),
  at: z.optional(z.date({ error: expected('a valid Date') })),
  availabilityDelay: z.optional(durationSchema()),
  tolerance: z.optional(z.number({ error: expected('a number, 0 or more') }).check(z.gte(0))),
  examples: z.optional(countSchema()),
}));

/** The distribution of online - offline for a number feature, over the identifiers where both had it. */
export interface NumberDifferences {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  /** Mean absolute difference. */
  readonly meanAbs: number;
}

export interface FeatureAudit {
  /** Identifiers where online and offline agree on this feature (both absent counts as agreeing). */
  readonly match: number;
  readonly mismatch: number;
  /** Offline has a value, online has no record. */
  readonly missingOnline: number;
  /** Online has a value, offline has no row. */
  readonly missingOffline: number;
  /** match / sampled; undefined when nothing was sampled, like the report's `consistencyRate`. */
  readonly matchRate: number | undefined;
  /** mismatch / sampled; undefined when nothing was sampled. */
  readonly mismatchRate: number | undefined;
  readonly differences?: NumberDifferences;
}

export interface AuditExample {
  readonly id: string;
  readonly cause: AuditCause;
  /** The features that differ. */
  readonly features: readonly string[];
  readonly online: Record<string, unknown> | undefined;
  readonly offline: Record<string, unknown> | undefined;
}

/** What `audit` returns: how consistent online and offline are, per feature, and why they differ. */
export interface AuditReport {
  readonly group: string;
  readonly fingerprint: string;
  readonly at: Date;
  /** Offline rows written after this are not expected to be visible yet (`at` - availability delay). */
  readonly visibleUntil: Date;
  readonly sampled: number;
  /**
   * Identifiers of a `sample` list that neither store has ever had (no offline row, no online
   * record): a typo or another group's, left out of `sampled` and the rates rather than counted as
   * agreeing.
   */
  readonly unknown: readonly string[];
  /**
   * Sampled identifiers whose stored record was written by another definition of the group, by that
   * definition's fingerprint (the online record's, else the offline row's): `{}` when every record is
   * this definition's. Both stores may agree on such a record, and still lack a feature added since.
   */
  readonly otherDefinitions: Readonly<Record<string, number>>;
  /** Identifiers whose every feature agrees (or that neither side has now, deleted or expired on both). */
  readonly consistent: number;
  /** consistent / sampled; undefined when nothing was sampled (an offline store without rows): never "100% of nothing". */
  readonly consistencyRate: number | undefined;
  readonly features: Readonly<Record<string, FeatureAudit>>;
  /** Inconsistent identifiers by cause. */
  readonly causes: Readonly<Record<AuditCause, number>>;
  readonly examples: readonly AuditExample[];
  readonly durationMs: number;
}

/**
 * Whether an online and an offline value are the same: a missing value (undefined or null) only as
 * another missing one, Dates by instant, numbers within `tolerance`, lists item by item.
 */
export function equalValues(a: unknown, b: unknown, tolerance: number): boolean {
  if (a === b || (missing(a) && missing(b))) return true;
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= tolerance || (Number.isNaN(a) && Number.isNaN(b));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equalValues(x, b[i], tolerance));
  return false;
}

/** No value: undefined (left out) or null. */
function missing(value: unknown): boolean {
  return value === undefined || value === null;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Picks `count` identifiers among the offline store's, the same ones for the same seed and data. */
export function sampleIds(ids: Iterable<string>, count: number, seed: number): string[] {
  // Sorted first, so the sample does not depend on the order the store returned the rows in.
  return seededShuffle([...new Set(ids)].sort(), seed).slice(0, count);
}

/**
 * Measures online/offline consistency for a group on a sample of identifiers: reads them online
 * (batched), takes the offline value each should have — the training-set rule applied to the rows
 * visible after the availability delay — compares every feature, and names a cause for each
 * difference it can explain (`fingerprint`, `offline-lag`, `ttl-expired`, `delete-pending`,
 * `late-events`, else `unexplained`).
 *
 * ### Example
 * ```ts
 * import { audit } from 'skewless';
 * const report = await audit(store, cardActivity, { sample: 500 });
 * console.log(report.consistencyRate, report.causes);
 * ```
 */
export async function audit(store: FeatureStore, group: AnyFeatureGroup, options: AuditOptions = {}): Promise<AuditReport> {
  requireGroup(group, 'audit');
  checkOptions(auditOptions, options, 'audit options');
  const started = Date.now();
  const { online, offline } = await backendsOf(store, 'audit');
  if (!offline) throw new ConfigurationError('INVALID_CONFIG', `group "${group.name}": an audit compares online with offline, and the store has no offline tier`);
  const at = options.at ?? new Date(store.now());
  const delay = options.availabilityDelay === undefined ? parseDuration(offline.availabilityDelay ?? '15m', "the offline store's availabilityDelay") : parseDuration(options.availabilityDelay);
  const visibleUntil = new Date(at.getTime() - delay);
  const tolerance = options.tolerance ?? 0;
  const eventTimeType = eventTimeTypeOf(group);

  const rows = await offline.scan(group);
  const rowsById = new Map<string, OfflineStoredRow[]>();
  for (const row of rows) {
    const id = spineKey(row[group.recordIdentifier]);
    if (id === undefined) continue;
    const list = rowsById.get(id);
    if (list) list.push(row);
    else rowsById.set(id, [row]);
  }
  const asked = Array.isArray(options.sample)
    ? [...new Set((options.sample as readonly (string | number | bigint)[]).map(String))]
    : sampleIds(rowsById.keys(), (options.sample as number | undefined) ?? 1000, options.seed ?? 1);
  const found = await online.getMany(group, asked);
  const ids = asked.filter((id) => rowsById.has(id) || found.has(id));
  const unknown = asked.filter((id) => !rowsById.has(id) && !found.has(id));

  // The offline value as of `at`: the rule's row among those written by `visibleUntil`, at any event
  // time (the online store keeps a record whatever its event time); none if it is a delete marker
  // or expired at `at` by the group's TTL, as the online store hides it then.
  const step = buildTrainingPlan({ timestamp: 't', entityKey: 'id', features: [group.select(...group.featureNames)] }).joins[0] as JoinStep;
  const eventMs = (row: Readonly<Record<string, unknown>>) => parseEventTime(eventTimeType, String(row[group.eventTime])) ?? Number.NaN;
  const expiredAt = (ms: number) => step.ttlMs !== undefined && ms + step.ttlMs <= at.getTime();
  const isVisible = (row: OfflineStoredRow) => row.write_time.getTime() <= visibleUntil.getTime();
  const expected = ids.map((id) => {
    const row = latestByRule(step, (rowsById.get(id) ?? []).filter(isVisible));
    return row && !row.is_deleted && !expiredAt(eventMs(row)) ? row : null;
  });

  const names = group.featureNames.filter((n) => n !== group.recordIdentifier);
  const aggregates = new Set(Object.keys(group.aggregations));
  const tallies = new Map(names.map((n) => [n, { match: 0, mismatch: 0, missingOnline: 0, missingOffline: 0, diffs: [] as number[] }]));
  const causes = Object.fromEntries(AUDIT_CAUSES.map((c) => [c, 0])) as Record<AuditCause, number>;
  const examples: AuditExample[] = [];
  const maxExamples = options.examples ?? 50;
  let consistent = 0;

  const otherDefinitions = new Map<string, number>();
  ids.forEach((id, i) => {
    const onlineRecord = found.get(id)?.record;
    const offlineRow = expected[i] ?? null;
    // A side without a fingerprint (written by code that sets none; offline it reads as null) tells nothing.
    const onlineFingerprint = onlineRecord?.find((f) => f.FeatureName === FINGERPRINT_FEATURE)?.ValueAsString;
    const offlineFingerprint = offlineRow?.[FINGERPRINT_FEATURE] ?? undefined;
    const writtenBy = onlineFingerprint ?? offlineFingerprint;
    if (typeof writtenBy === 'string' && writtenBy !== group.fingerprint) otherDefinitions.set(writtenBy, (otherDefinitions.get(writtenBy) ?? 0) + 1);
    const onlineValues = onlineRecord ? (group.codec.fromRecord(onlineRecord, { partial: true }) as Record<string, unknown>) : undefined;
    const offlineValues = offlineRow ? (offlineRowCodec(group).fromRow(offlineRow, { partial: true }) as Record<string, unknown>) : undefined;
    const differing: string[] = [];
    for (const name of names) {
      const tally = tallies.get(name) as NonNullable<ReturnType<typeof tallies.get>>;
      const a = onlineValues?.[name];
      const b = offlineValues?.[name];
      // Neither side: the first branch counts the match (the offline value is undefined).
      if (onlineValues === undefined) {
        if (missing(b)) tally.match++;
        else {
          tally.missingOnline++;
          differing.push(name);
        }
      } else if (offlineValues === undefined) {
        if (missing(a)) tally.match++;
        else {
          tally.missingOffline++;
          differing.push(name);
        }
      } else if (equalValues(a, b, tolerance)) {
        tally.match++;
        if (typeof a === 'number' && typeof b === 'number') tally.diffs.push(a - b);
      } else {
        tally.mismatch++;
        differing.push(name);
        if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint')) tally.diffs.push(Number(a) - Number(b));
      }
    }
    if (differing.length === 0) {
      consistent++;
      return;
    }
    const cause = causeOf();
    causes[cause]++;
    if (examples.length < maxExamples) examples.push({ id, cause, features: differing, online: onlineValues, offline: offlineValues });

    function causeOf(): AuditCause {
      const later = (rowsById.get(id) ?? []).filter((r) => !isVisible(r));
      if (onlineFingerprint !== undefined && offlineFingerprint !== undefined && onlineFingerprint !== offlineFingerprint) return 'fingerprint';
      if (onlineRecord) {
        const onlineMs = parseEventTime(eventTimeType, onlineRecord.find((f) => f.FeatureName === group.eventTime)?.ValueAsString ?? '') ?? Number.NaN;
        if ((!offlineRow || onlineMs > eventMs(offlineRow)) && later.some((r) => !r.is_deleted && eventMs(r) === onlineMs)) return 'offline-lag';
        // Served past the group's TTL: written online with another TTL (or none).
        if (expiredAt(onlineMs)) return 'ttl-expired';
        // Only aggregates differ, so both sides hold a record at one event time: the event time is a
        // feature, and differs whenever the offline row is missing or at another time.
        if (differing.every((n) => aggregates.has(n))) return 'late-events';
        return 'unexplained';
      }
      // Deleted online, and the rule's row over every offline row is a marker: not a visible one,
      // which would have left no offline value.
      if (offlineRow && latestByRule(step, rowsById.get(id) ?? [])?.is_deleted) return 'delete-pending';
      return 'unexplained';
    }
  });

  const features: Record<string, FeatureAudit> = {};
  for (const [name, t] of tallies) {
    const total = ids.length;
    const diffs = [...t.diffs].sort((x, y) => x - y);
    features[name] = {
      match: t.match,
      mismatch: t.mismatch,
      missingOnline: t.missingOnline,
      missingOffline: t.missingOffline,
      matchRate: total === 0 ? undefined : t.match / total,
      mismatchRate: total === 0 ? undefined : t.mismatch / total,
      ...(diffs.length > 0
        ? {
            differences: {
              count: diffs.length,
              min: diffs[0] as number,
              p50: quantile(diffs, 0.5),
              p95: quantile(diffs, 0.95),
              max: diffs[diffs.length - 1] as number,
              meanAbs: diffs.reduce((s, d) => s + Math.abs(d), 0) / diffs.length,
            },
          }
        : {}),
    };
  }
  return {
    group: group.name,
    fingerprint: group.fingerprint,
    at,
    visibleUntil,
    sampled: ids.length,
    unknown,
    otherDefinitions: Object.fromEntries(otherDefinitions),
    consistent,
    consistencyRate: ids.length === 0 ? undefined : consistent / ids.length,
    features,
    causes,
    examples,
    durationMs: Date.now() - started,
  };
}
