import { DataError, DefinitionError } from '../errors.js';
import { describeValue } from '../util/options.js';
import { eventTimeTypeOf, ttlMs } from '../schema/sagemaker-record.js';
import { MAX_TIME_MS, MIN_TIME_MS, parseDuration, parseIsoInstant } from '../schema/time.js';

export { parseDuration };
import type { AnyFeatureGroup, AnyFeatureSelection } from '../schema/types.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';

/** One group's side of the join: which features, under which names, keyed by which spine column. */
export interface JoinStep {
  readonly group: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly eventTimeType: FeatureDefinition['FeatureType'];
  /** Every feature definition of the group (the tie-break orders by the scalar ones but the identifier and event time). */
  readonly definitions: readonly FeatureDefinition[];
  readonly features: readonly string[];
  /** Output column prefix (`<group>__` by default). */
  readonly prefix: string;
  /** The spine column holding this group's record identifier. */
  readonly key: string;
  /** Rows with event time <= t - maxAge are too old; absent for no limit. */
  readonly maxAgeMs: number | undefined;
  /**
   * The group's TTL: the chosen row is null once event time + TTL has been reached at t, as the
   * online store hides it then; absent when records never expire.
   */
  readonly ttlMs?: number | undefined;
}

/**
 * How old a row may be at t: its event time must be greater than t minus this, or absent for no
 * limit. The tighter of `maxAge` and the group's TTL: an expired chosen row gives null, and so would
 * every older row (they expired earlier), so the TTL filters candidates exactly as `maxAge` does.
 */
export function ageLimitMs(step: Pick<JoinStep, 'maxAgeMs' | 'ttlMs'>): number | undefined {
  if (step.maxAgeMs === undefined) return step.ttlMs;
  return step.ttlMs === undefined ? step.maxAgeMs : Math.min(step.maxAgeMs, step.ttlMs);
}

/** The selection with `maxAge` where it has none of its own and a default is given. */
export function withMaxAge(selection: AnyFeatureSelection, maxAge: string | undefined): AnyFeatureSelection {
  return maxAge === undefined || selection.options.maxAge !== undefined ? selection : selection.with({ maxAge });
}

/** A selection's output column prefix: its own, or `<group>__`. */
export function prefixOf(selection: AnyFeatureSelection): string {
  return selection.options.prefix ?? `${selection.group.name}__`;
}

/**
 * The point-in-time join as data: what every engine renders. For each spine row (key k, time t) and
 * each step, of the group's rows with id = k, event time <= t (< t when not inclusive), event time
 * > t - maxAge, and write time <= t when `knowledgeTime`, the row with the greatest event time and,
 * among rows sharing it, the first written: the least by (API invocation time, write time,
 * is_deleted, the other feature values), as the online store keeps the first of equal event times.
 * Null features if that row is a delete marker, has expired by t (the group's TTL), or there is
 * none. One output row per spine row, in spine order.
 */
export interface TrainingPlan {
  readonly kind: 'point-in-time-join';
  /** The spine column holding each row's time. */
  readonly timestamp: string;
  readonly inclusive: boolean;
  readonly knowledgeTime: boolean;
  readonly joins: readonly JoinStep[];
}

export interface TrainingPlanOptions {
  readonly timestamp: string;
  /** The spine column holding the record identifier, for selections that do not name their own `key`. */
  readonly entityKey: string;
  readonly features: readonly AnyFeatureSelection[];
  readonly inclusive?: boolean;
  readonly knowledgeTime?: boolean;
}

/**
 * Builds the point-in-time join as data (see `TrainingPlan`): what every engine renders. Checks that
 * no two selections produce the same output column.
 *
 * ### Example
 * ```ts
 * const plan = buildTrainingPlan({ timestamp: 'label_time', entityKey: 'card_id', features: [cardActivity.select('amount')] });
 * ```
 */
export function buildTrainingPlan(options: TrainingPlanOptions): TrainingPlan {
  if (options.features.length === 0) throw new DefinitionError('INVALID_OPTION', 'a training set needs at least one feature selection');
  const columns = new Set<string>();
  const joins = options.features.map((selection): JoinStep => {
    const group: AnyFeatureGroup = selection.group;
    const prefix = prefixOf(selection);
    for (const feature of selection.features) {
      const column = `${prefix}${feature}`;
      if (columns.has(column)) throw new DefinitionError('INVALID_OPTION', `two selections produce the column "${column}": give one a prefix`);
      columns.add(column);
    }
    const eventTimeType = eventTimeTypeOf(group);
    return {
      group: group.name,
      recordIdentifier: group.recordIdentifier,
      eventTime: group.eventTime,
      eventTimeType,
      definitions: group.featureDefinitions,
      features: [...selection.features],
      prefix,
      key: selection.options.key ?? options.entityKey,
      maxAgeMs: selection.options.maxAge === undefined ? undefined : parseDuration(selection.options.maxAge),
      ttlMs: groupTtlMs(group),
    };
  });
  return { kind: 'point-in-time-join', timestamp: options.timestamp, inclusive: options.inclusive ?? true, knowledgeTime: options.knowledgeTime ?? false, joins };
}

/** The group's TTL in ms; none when no event time inside SageMaker's range can reach it. */
function groupTtlMs(group: AnyFeatureGroup): number | undefined {
  const ms = ttlMs(group.ttl);
  return ms === undefined || ms > MAX_TIME_MS - MIN_TIME_MS ? undefined : ms;
}

/** The file a spine is read from (`{ csv }` or `{ parquet }`), named in its errors; undefined for rows or a loader. */
export function spineFileOf(spine: object): string | undefined {
  return 'csv' in spine ? String(spine.csv) : 'parquet' in spine ? String(spine.parquet) : undefined;
}

/**
 * What is wrong with a spine's columns, as the error that says so; undefined when nothing is. A
 * column the plan reads off each row (its time, each join's key) that is missing is named, with the
 * columns there are. A column a selected feature would be written to (or a request feature's output,
 * `requestOutputs`) is refused too: the spine's value, a label say, would be replaced.
 */
export function spineColumnError(plan: TrainingPlan, columns: readonly string[], file?: string, requestOutputs: readonly RequestOutput[] = []): DataError | undefined {
  const missing = (column: string, role: string) =>
    new DataError('INVALID_SPINE', `${spineName(file)} has no column "${column}" (${role}); its columns: ${columns.join(', ') || '(none)'}`, { row: 0, column });
  if (!columns.includes(plan.timestamp)) return missing(plan.timestamp, "the timestamp option: each row's time");
  const step = plan.joins.find((join) => !columns.includes(join.key));
  if (step) return missing(step.key, `the record identifier of "${step.group}": entityKey, or the selection's key`);
  const clash = writtenColumns(plan.joins, requestOutputs).find((written) => columns.includes(written.column));
  return clash && new DataError('INVALID_SPINE', `${spineName(file)} ${replacedColumn(clash)}`, { row: 0, column: clash.column });
}

/** A request feature's output column, and the name of the request features that compute it. */
export interface RequestOutput {
  readonly name: string;
  readonly from: string;
}

/** A column a join writes onto each spine or entity row: its name, what writes it, and how to have it write another name. */
export interface WrittenColumn {
  readonly column: string;
  readonly writer: string;
  readonly rename: string;
}

/** Every column a join writes onto each spine or entity row: the joins' features, then the request features' outputs. */
export function writtenColumns(joins: readonly JoinStep[], requestOutputs: readonly RequestOutput[]): readonly WrittenColumn[] {
  return [
    ...joins.flatMap((join) =>
      join.features.map((feature) => ({ column: `${join.prefix}${feature}`, writer: `the feature "${feature}" of "${join.group}"`, rename: 'give the selection a prefix (select(...).with({ prefix }))' })),
    ),
    ...requestOutputs.map((output) => ({ column: output.name, writer: `the request features "${output.from}"`, rename: 'give them a prefix (.with({ prefix }))' })),
  ];
}

/** The first of `written` that `row` has a column of its own for (a spine or entity row, a request schema's shape). */
export function replacedIn(row: object, written: readonly WrittenColumn[]): WrittenColumn | undefined {
  return written.find(({ column }) => Object.hasOwn(row, column));
}

/** The end of the message for a row's column (or a request's field) that a join would replace: `has a column "x", which … would replace: …`. */
export function replacedColumn({ column, writer, rename }: WrittenColumn, noun = 'column'): string {
  return `has a ${noun} "${column}", which ${writer} would replace: ${rename}, or rename the ${noun}`;
}

/**
 * A spine row's time in epoch ms: a Date or an ISO-8601 string (no guessing between seconds and
 * milliseconds). `line` is where a CSV file holds the row.
 */
export function spineTime(value: unknown, row: number, column: string, file?: string, line?: number): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? parseIsoInstant(value) : undefined;
  if (ms === undefined || Number.isNaN(ms)) throw spineTimeError(row, column, describeValue(value), file, line);
  return ms;
}

/** The spine in errors: `the spine`, or the file it was read from. */
const spineName = (file: string | undefined) => (file === undefined ? 'the spine' : `the spine file ${file}`);

/**
 * A spine row (0-based, after a file's header) whose time is not one; `got` is the value as the
 * message shows it, `line` the line of a CSV file the row starts on (named first: that is what a
 * reader of the file looks for).
 */
export function spineTimeError(row: number, column: string, got: string, file?: string, line?: number): DataError {
  const at = line === undefined ? `row ${row}` : `line ${line} (row ${row})`;
  return new DataError('INVALID_SPINE', `${file === undefined ? 'spine' : `${spineName(file)},`} ${at}: "${column}" must be a Date or an ISO-8601 time with a zone, got ${got}`, { row, column, line });
}

/**
 * A value a spine or entity row may hold as a record identifier: text, a finite number, a bigint, or
 * null (none, which matches nothing). `undefined` is not none: it is what a property that was never
 * set reads as (`{ card_id: request.cardID }`), so it is refused, as NaN and Infinity are.
 */
export function isKeyValue(value: unknown): boolean {
  return value === null || typeof value === 'string' || typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value));
}

/** What a spine or entity row's key column holds when it is no `isKeyValue`: `"<column>" must be a record identifier …, got …`. */
export function notAKey(column: string, value: unknown): string {
  return `"${column}" must be a record identifier (text or a number), got ${describeValue(value)}${value === undefined ? ' (null for a row without one)' : ''}`;
}

/** A spine row's key as `spineKey` gives it; a value no identifier can be (an object, a boolean) is refused, naming row and column. */
export function spineKeyAt(value: unknown, row: number, column: string, file?: string): string | undefined {
  if (isKeyValue(value)) return spineKey(value);
  throw new DataError('INVALID_SPINE', `${file === undefined ? 'spine' : `${spineName(file)},`} row ${row}: ${notAKey(column, value)}`, { row, column });
}

/** A spine row's key as text: record identifiers are compared as SageMaker stores them, as strings. */
export function spineKey(value: unknown): string | undefined {
  return value === null || value === undefined ? undefined : String(value);
}
