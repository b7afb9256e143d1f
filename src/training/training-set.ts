import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ConfigurationError } from '../errors.js';
import { CsvRows } from '../backfill/csv.js';
import type { AnyFeatureGroup, AnyFeatureSelection } from '../schema/types.js';
import { pipelineOf } from '../define.js';
import type { FeatureDecoding, FileTrainingRequest, JoinedValues, OfflineStore, OfflineStoredRow, SpineKeys } from '../store/types.js';
import { buildTrainingPlan, spineKey, spineTime, type TrainingPlan } from './plan.js';
import { referenceJoin } from './reference.js';

export type SpineRow = Readonly<Record<string, unknown>>;

export interface TrainingSetOptions<S extends object = SpineRow, F extends readonly AnyFeatureSelection[] = readonly AnyFeatureSelection[]> {
  /**
   * Rows in memory, a local CSV (times as ISO-8601 text) or Parquet file, or a loader such as
   * `s3Spine(...)` / `athenaSpine(...)` from `skewless/aws`. Every column is kept as is.
   */
  readonly spine: readonly S[] | { readonly csv: string } | { readonly parquet: string } | SpineLoader;
  /** The spine column with the record identifier (a selection's `key` overrides it). */
  readonly entityKey: string;
  /** The spine column with each row's time: a Date or ISO-8601 text. */
  readonly timestamp: string;
  readonly features: F;
  /** Whether a feature row at exactly the spine time counts; default true. */
  readonly inclusive?: boolean;
  /** Default `maxAge` for selections without their own, e.g. `'30d'`. */
  readonly maxAge?: string;
  /** Also require `write_time <= t`: only what was known at t (backfilled rows are written later). Default false. */
  readonly knowledgeTime?: boolean;
  /** `'reference'` forces the in-memory engine; default the offline store's own engine, if it has one. */
  readonly engine?: 'auto' | 'reference';
  /** Write the rows to a file instead of returning them. */
  readonly output?: { readonly parquet: string } | { readonly csv: string };
}

/** Loads spine rows from somewhere the core does not reach itself (S3, an Athena query). */
export interface SpineLoader {
  load(): Promise<SpineRow[]>;
}

export interface TrainingSetSummary {
  readonly rows: number;
  /** Per group: the share of spine rows that found a (non-deleted) feature row. */
  readonly matchRate: Readonly<Record<string, number>>;
  /** Per output feature column: how many rows hold null. */
  readonly nullCounts: Readonly<Record<string, number>>;
  readonly engine: 'reference' | 'backend';
  readonly durationMs: number;
  readonly output?: string;
}

export interface TrainingSet<Row> {
  /** The rows, in spine order; empty when written to `output`. */
  readonly rows: Row[];
  readonly summary: TrainingSetSummary;
}

/** Spine rows of a CSV text: a header, then rows; empty cells are null. */
export function spineFromCsv(text: string): SpineRow[] {
  const rows = new CsvRows();
  const out: SpineRow[] = [];
  let header: string[] | undefined;
  for (const row of [...rows.push(text), ...rows.end()]) {
    if (!header) header = row.cells.map((c) => c ?? '');
    else out.push(Object.fromEntries(header.map((name, i) => [name, row.cells[i] ?? null])));
  }
  return out;
}

/** Spine rows of a Parquet file's bytes. */
export async function spineFromParquet(bytes: Uint8Array): Promise<SpineRow[]> {
  const { parquetReadObjects } = await import('hyparquet').catch((cause: unknown) => {
    throw new ConfigurationError('MISSING_DEPENDENCY', 'a Parquet spine needs npm install hyparquet', { cause });
  });
  return (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })) as SpineRow[];
}

async function loadSpine(spine: TrainingSetOptions['spine']): Promise<SpineRow[]> {
  if (Array.isArray(spine)) return spine as SpineRow[];
  if ('load' in spine && typeof spine.load === 'function') return spine.load();
  if ('csv' in spine) return spineFromCsv(await readFile(spine.csv, 'utf8'));
  if ('parquet' in spine) return spineFromParquet(await readFile(spine.parquet));
  throw new ConfigurationError('INVALID_CONFIG', 'spine must be rows, { csv } or { parquet }');
}

/** The per-step, per-row selected values of a reference join. */
function pick(plan: TrainingPlan, chosen: (OfflineStoredRow | null)[][]): JoinedValues {
  return chosen.map((rows, i) => {
    const features = plan.joins[i]?.features ?? [];
    return rows.map((row) => (row ? Object.fromEntries(features.map((f) => [f, row[f] ?? null])) : null));
  });
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = value instanceof Date ? value.toISOString() : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

async function writeOutput(rows: Record<string, unknown>[], columns: string[], output: NonNullable<TrainingSetOptions['output']>): Promise<string> {
  if ('csv' in output) {
    const lines = [columns.map(csvCell).join(','), ...rows.map((row) => columns.map((c) => csvCell(row[c])).join(','))];
    writeFileSync(output.csv, `${lines.join('\n')}\n`);
    return output.csv;
  }
  const { parquetWriteBuffer } = await import('hyparquet-writer').catch((cause: unknown) => {
    throw new ConfigurationError('MISSING_DEPENDENCY', 'Parquet output needs npm install hyparquet-writer', { cause });
  });
  const buffer = parquetWriteBuffer({ columnData: columns.map((name) => ({ name, data: rows.map((row) => row[name] ?? null) })) as never });
  writeFileSync(output.parquet, new Uint8Array(buffer));
  return output.parquet;
}

/** How each selected feature's stored value reads back, for engines that decode in SQL; undefined if one cannot (collections). */
function decodingOf(plan: TrainingPlan, features: readonly AnyFeatureSelection[]): FeatureDecoding[][] | undefined {
  const groups = new Map<string, AnyFeatureGroup>(features.map((s) => [s.group.name, s.group]));
  const decoding = plan.joins.map((step) => {
    const pipeline = pipelineOf(groups.get(step.group) as AnyFeatureGroup);
    return step.features.map((feature) => {
      const spec = pipeline.specs.find((s) => s.name === feature);
      return spec && !spec.collection ? { kind: spec.kind, dateAsEpoch: pipeline.dateAsEpoch } : undefined;
    });
  });
  return decoding.every((step) => step.every((d) => d !== undefined)) ? (decoding as FeatureDecoding[][]) : undefined;
}

/**
 * A spine file written to a Parquet file runs wholly in the offline store's engine when it offers
 * that (the local store: DuckDB reads the spine, joins, and writes), so no row becomes a JavaScript
 * object. Undefined when it does not apply; the row path then runs.
 */
async function trainingSetInEngine(
  offline: OfflineStore,
  plan: TrainingPlan,
  features: readonly AnyFeatureSelection[],
  options: TrainingSetOptions,
): Promise<Omit<TrainingSetSummary, 'durationMs'> | undefined> {
  const { spine, output } = options;
  if (options.engine === 'reference' || !offline.trainingSetToFile || !output || !('parquet' in output)) return undefined;
  if (Array.isArray(spine) || !('parquet' in spine || 'csv' in spine)) return undefined;
  const decoding = decodingOf(plan, features);
  if (!decoding) return undefined;
  const result = await offline.trainingSetToFile(plan, { spine: spine as FileTrainingRequest['spine'], output, decoding });
  if (!result) return undefined;
  const matchRate: Record<string, number> = {};
  const nullCounts: Record<string, number> = {};
  plan.joins.forEach((step, i) => {
    matchRate[step.group] = result.rows === 0 ? 0 : (result.matched[i] ?? 0) / result.rows;
    step.features.forEach((feature, n) => {
      nullCounts[`${step.prefix}${feature}`] = result.nulls[i]?.[n] ?? 0;
    });
  });
  return { rows: result.rows, matchRate, nullCounts, engine: 'backend', output: output.parquet };
}

/**
 * Builds a point-in-time training set: one row per spine row, in spine order, with each selected
 * feature as of the spine row's time by the rule in DESIGN.md. Runs in the offline store's own
 * engine when it has one (DuckDB for the local store), else in the in-memory reference engine.
 *
 * ### Example
 * ```ts
 * import { buildTrainingSet } from 'skewless/engines';
 * const { rows } = await buildTrainingSet(offline, { spine, entityKey: 'card_id', timestamp: 'label_time', features: [cardActivity.select('amount')] });
 * ```
 */
export async function buildTrainingSet(offline: OfflineStore | undefined, options: TrainingSetOptions): Promise<TrainingSet<Record<string, unknown>>> {
  const started = Date.now();
  if (!offline) throw new ConfigurationError('INVALID_CONFIG', 'a training set needs an offline store');
  const features = options.maxAge === undefined ? options.features : options.features.map((s) => (s.options.maxAge === undefined ? s.with({ maxAge: options.maxAge as string }) : s));
  const plan = buildTrainingPlan({
    timestamp: options.timestamp,
    entityKey: options.entityKey,
    features,
    ...(options.inclusive !== undefined ? { inclusive: options.inclusive } : {}),
    ...(options.knowledgeTime !== undefined ? { knowledgeTime: options.knowledgeTime } : {}),
  });
  const inEngine = await trainingSetInEngine(offline, plan, features, options);
  if (inEngine) {
    return { rows: [], summary: { ...inEngine, durationMs: Date.now() - started } };
  }
  const spine = await loadSpine(options.spine);
  const keys: SpineKeys = {
    times: spine.map((row, i) => spineTime(row[plan.timestamp], i, plan.timestamp)),
    keys: plan.joins.map((step) => spine.map((row) => spineKey(row[step.key]))),
  };

  const useBackend = options.engine !== 'reference' && offline.pointInTimeJoin !== undefined;
  let values: JoinedValues;
  if (useBackend) values = await (offline.pointInTimeJoin as NonNullable<OfflineStore['pointInTimeJoin']>)(plan, keys);
  else {
    const groups = new Map<string, OfflineStoredRow[]>();
    for (const selection of features) if (!groups.has(selection.group.name)) groups.set(selection.group.name, await offline.scan(selection.group));
    values = pick(plan, referenceJoin(plan, spine, groups));
  }

  // Decode each step's values to the group's types, under the output names.
  const groupsByName = new Map<string, AnyFeatureGroup>(features.map((s) => [s.group.name, s.group]));
  const matched = plan.joins.map(() => 0);
  const nullCounts: Record<string, number> = {};
  const rows = spine.map((spineRow, r) => {
    const row: Record<string, unknown> = { ...spineRow };
    plan.joins.forEach((step, i) => {
      const found = values[i]?.[r] ?? null;
      const group = groupsByName.get(step.group) as AnyFeatureGroup;
      const decoded = found ? (group.codec.fromOfflineRow(found, { partial: true }) as Record<string, unknown>) : undefined;
      if (found) matched[i] = (matched[i] as number) + 1;
      for (const feature of step.features) {
        const column = `${step.prefix}${feature}`;
        const value = decoded?.[feature] ?? null;
        row[column] = value;
        if (value === null) nullCounts[column] = (nullCounts[column] ?? 0) + 1;
        else nullCounts[column] ??= 0;
      }
    });
    return row;
  });
  const matchRate: Record<string, number> = {};
  plan.joins.forEach((step, i) => {
    matchRate[step.group] = spine.length === 0 ? 0 : (matched[i] as number) / spine.length;
  });

  let output: string | undefined;
  if (options.output) {
    const columns = [...new Set([...Object.keys(spine[0] ?? {}), ...plan.joins.flatMap((s) => s.features.map((f) => `${s.prefix}${f}`))])];
    output = await writeOutput(rows, columns, options.output);
  }
  return {
    rows: options.output ? [] : rows,
    summary: { rows: rows.length, matchRate, nullCounts, engine: useBackend ? 'backend' : 'reference', durationMs: Date.now() - started, ...(output ? { output } : {}) },
  };
}
