import { ConfigurationError } from '../errors.js';
import { quoteIdentifier as q } from './quote.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';
import { ageLimitMs, type JoinStep, type TrainingPlan } from './plan.js';
import { tieBreakColumns } from './reference.js';

/** How a dialect turns stored times into epoch milliseconds (BIGINT). */
export interface Dialect {
  readonly name: 'duckdb' | 'trino';
  /** The group's event time column: ISO-8601 text (String) or epoch seconds (Fractional). */
  eventTimeMs(column: string, type: FeatureDefinition['FeatureType']): string;
  /** A TIMESTAMP column (write_time, api_invocation_time). */
  timestampMs(column: string): string;
  /** Whether the dialect has `ASOF JOIN` (DuckDB does, Trino and so Athena do not). */
  readonly asof: boolean;
}

/**
 * DuckDB's SQL (the local offline store): ASOF JOIN where the plan allows it.
 *
 * ### Example
 * ```ts
 * const sql = renderTrainingSql(plan, { spine: 'spine_keys', groups: new Map([['card-activity', 'card_rows']]) }, DUCKDB);
 * ```
 */
export const DUCKDB: Dialect = {
  name: 'duckdb',
  eventTimeMs: (column, type) => (type === 'Fractional' ? `CAST(round(${column} * 1000) AS BIGINT)` : `epoch_ms(CAST(${column} AS TIMESTAMPTZ))`),
  timestampMs: (column) => `epoch_ms(${column})`,
  asof: true,
};

/**
 * Trino's SQL (Athena): window functions, as Athena has no ASOF JOIN.
 *
 * ### Example
 * ```ts
 * const sql = renderTrainingSql(plan, { spine: 'labels', groups: new Map([['card-activity', 'card_activity_table']]) }, TRINO);
 * ```
 */
export const TRINO: Dialect = {
  name: 'trino',
  eventTimeMs: (column, type) =>
    type === 'Fractional' ? `CAST(round(${column} * 1000) AS BIGINT)` : `CAST(round(to_unixtime(from_iso8601_timestamp(${column})) * 1000) AS BIGINT)`,
  timestampMs: (column) => `CAST(round(to_unixtime(${column}) * 1000) AS BIGINT)`,
  asof: false,
};

/**
 * What a rendered query reads: the spine as `(__row BIGINT, __t BIGINT epoch ms, __k0 VARCHAR, ...)`
 * (one key column per join step) and each group's offline rows.
 */
export interface SqlSources {
  readonly spine: string;
  readonly groups: ReadonlyMap<string, string>;
  /**
   * The spine's time range, when the group sources are Glue tables partitioned by event time
   * (`year`/`month`/`day`/`hour` text columns): only partitions that can hold a chosen row are read.
   */
  readonly partitions?: { readonly fromMs: number; readonly toMs: number };
  /** Further spine columns to pass through to the result, after `__row` (an engine writing the whole row needs them). */
  readonly carry?: readonly string[];
}

/** `YYYYMMDDHH` of an instant, UTC: the order of a row's partition columns concatenated. */
function hourKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');
}

/** Partitions of event times a step can choose from: at most the latest spine time, and with maxAge or a TTL not before the earliest minus it. */
function partitionFilter(step: JoinStep, range: NonNullable<SqlSources['partitions']>): string {
  const hour = 'concat(year, month, day, hour)';
  const upper = `${hour} <= '${hourKey(range.toMs)}'`;
  const limit = ageLimitMs(step);
  return limit === undefined ? upper : `${hour} >= '${hourKey(range.fromMs - limit)}' AND ${upper}`;
}

/** Output column of step `i`'s feature `n`, and whether step `i` matched. */
export const featureColumn = (step: number, feature: number) => `__f${step}_${feature}`;
export const matchedColumn = (step: number) => `__m${step}`;

/**
 * The rule's order, most preferred first: the latest event time, and among equal event times the
 * first written (the least API invocation time, write time, delete flag, feature values; null the
 * least); without the event time where rows already share one.
 */
function orderBy(step: JoinStep, prefix: string, withEventTime = true): string {
  // A double sorted on as itself comes back from DuckDB's sort with -0 as 0 (its sort keys have one
  // zero): sort on a copy, in the same order, and the value keeps its sign.
  const fractional = new Set(step.definitions.filter((d) => d.FeatureType === 'Fractional').map((d) => d.FeatureName));
  const key = (c: string) => (fractional.has(c) ? `(${prefix}${q(c)} + 0.0)` : `${prefix}${q(c)}`);
  const ties = tieBreakColumns(step).map((c) => `${key(c)} ASC NULLS FIRST`);
  return [...(withEventTime ? [`${prefix}__et DESC`] : []), `${prefix}__ai ASC`, `${prefix}__wt ASC`, `${prefix}__del ASC`, ...ties].join(', ');
}

function groupRows(step: JoinStep, index: number, source: string, dialect: Dialect, partitions: SqlSources['partitions']): string {
  const columns = [...new Set([...tieBreakColumns(step), ...step.features])].map(q);
  const where = partitions ? ` WHERE ${partitionFilter(step, partitions)}` : '';
  return `g${index} AS (SELECT CAST(${q(step.recordIdentifier)} AS VARCHAR) AS __k, ${dialect.eventTimeMs(q(step.eventTime), step.eventTimeType)} AS __et, ${dialect.timestampMs('api_invocation_time')} AS __ai, ${dialect.timestampMs('write_time')} AS __wt, is_deleted AS __del, ${columns.join(', ')} FROM ${source}${where})`;
}

/**
 * Renders the plan as one SELECT returning `__row`, and per step `__m<i>` and `__f<i>_<n>`, one row
 * per spine row in spine order. Where the dialect has ASOF JOIN and the plan allows it (no
 * knowledge-time filter, which is not monotonic in event time), each group is first reduced to one
 * row per (identifier, event time) by the tie-break and ASOF-joined; otherwise candidates are
 * ranked with a window function. Names enter the SQL only through `quoteIdentifier`; the only
 * literals are integers.
 *
 * ### Example
 * ```ts
 * const sql = renderTrainingSql(plan, { spine: 'labels', groups: new Map([['card-activity', '"sagemaker_featurestore"."card_activity_1714000000"']]) }, TRINO);
 * ```
 */
export function renderTrainingSql(plan: TrainingPlan, sources: SqlSources, dialect: Dialect): string {
  const ctes: string[] = [`s AS (SELECT * FROM ${sources.spine})`];
  const asof = dialect.asof && !plan.knowledgeTime;
  const selects: string[] = ['s.__row AS __row', ...(sources.carry ?? []).map((column) => `s.${q(column)}`)];
  const joins: string[] = [];
  plan.joins.forEach((step, i) => {
    const source = sources.groups.get(step.group);
    if (source === undefined) {
      throw new ConfigurationError('INVALID_CONFIG', `renderTrainingSql: sources.groups has no table for group "${step.group}" (it has ${[...sources.groups.keys()].map((g) => `"${g}"`).join(', ') || 'none'})`);
    }
    ctes.push(groupRows(step, i, source, dialect, sources.partitions));
    const before = plan.inclusive ? '<=' : '<';
    // maxAge and the group's TTL as one bound: a row expired at t is as unusable as one too old.
    const limit = ageLimitMs(step);
    const p = `p${i}`;
    if (asof) {
      // The spine's identifiers numbered, so both sorts below compare integers, not text, and rows
      // of identifiers the spine does not hold drop out first. Then one row per (identifier, event
      // time), the one the tie-break prefers, carrying only what the output needs; then each spine
      // row takes the latest at or before its time.
      ctes.push(`i${i} AS (SELECT __k, row_number() OVER () AS __id FROM (SELECT DISTINCT __k${i} AS __k FROM s WHERE __k${i} IS NOT NULL))`);
      const keep = ['__id', '__et', '__del', ...step.features.map(q)].join(', ');
      ctes.push(`d${i} AS (SELECT ${keep} FROM g${i} JOIN i${i} USING (__k) QUALIFY row_number() OVER (PARTITION BY __id, __et ORDER BY ${orderBy(step, '', false)}) = 1)`);
      joins.push(`LEFT JOIN i${i} ON i${i}.__k = s.__k${i} ASOF LEFT JOIN d${i} ${p} ON i${i}.__id = ${p}.__id AND ${p}.__et ${before} s.__t`);
    } else {
      const conditions = [`g.__k = s.__k${i}`, `g.__et ${before} s.__t`];
      if (limit !== undefined) conditions.push(`g.__et > s.__t - ${Math.trunc(limit)}`);
      if (plan.knowledgeTime) conditions.push('g.__wt <= s.__t');
      ctes.push(`c${i} AS (SELECT s.__row AS __row, g.*, row_number() OVER (PARTITION BY s.__row ORDER BY ${orderBy(step, 'g.')}) AS __rank FROM s JOIN g${i} g ON ${conditions.join(' AND ')})`);
      ctes.push(`${p} AS (SELECT * FROM c${i} WHERE __rank = 1)`);
      joins.push(`LEFT JOIN ${p} ON ${p}.__row = s.__row`);
    }
    // ASOF found the latest event at or before t; if even that is too old or expired, nothing qualifies.
    const fresh = asof && limit !== undefined ? ` AND ${p}.__et > s.__t - ${Math.trunc(limit)}` : '';
    const matched = `(${p}.__et IS NOT NULL AND NOT ${p}.__del${fresh})`;
    selects.push(`${matched} AS ${matchedColumn(i)}`);
    step.features.forEach((feature, n) => selects.push(`CASE WHEN ${matched} THEN ${p}.${q(feature)} END AS ${featureColumn(i, n)}`));
  });
  return `WITH ${ctes.join(',\n')}\nSELECT ${selects.join(', ')}\nFROM s ${joins.join(' ')}\nORDER BY s.__row`;
}
