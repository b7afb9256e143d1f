import { readFile } from 'node:fs/promises';
import { isUtf8 } from 'node:buffer';
import { ConfigurationError, DataError, SkewlessError } from '../errors.js';
import { CsvRows, repeatedColumn } from '../csv/reader.js';
import { parquetColumnKinds, readParquetRows } from '../parquet/reader.js';
import type { ValueKind } from '../schema/feature-spec.js';
import type { AnyFeatureColumns, AnyFeatureGroup, AnyFeatureSelection, InferTrainingRow } from '../schema/types.js';
import { backendsOf, type FeatureStore } from '../store/feature-store.js';
import { pipelineOf } from '../feature-group.js';
import { booleanSchema, checkOptions, durationSchema, expected, lazySchema } from '../util/options.js';
import * as z from 'zod/mini';
import type { OfflineStore, OfflineStoredRow } from '../store/types.js';
import { type FeatureDecoding, type FileTrainingRequest, type JoinedValues, type SpineKeys, trainingEngineOf } from './engine.js';
import { buildTrainingPlan, replacedColumn, replacedIn, type RequestOutput, spineColumnError, spineFileOf, spineKeyAt, spineTime, type TrainingPlan, writtenColumns } from '../sql/plan.js';
import { type OutputColumn, outputPath, spineColumnKind, type TrainingOutput, writeTrainingCsv, writeTrainingParquet } from './output.js';
import { outputWriteError, prepareOutputFile, realFilePath } from '../util/output-file.js';
import { referenceJoin } from '../sql/reference.js';
import { offlineRowCodec } from '../group-codecs.js';
import { featureListSchema } from '../selections.js';
import type { FeatureListPlan } from '../request-features/brand.js';
import { planFeatures } from '../selections.js';

export type SpineRow = Readonly<Record<string, unknown>>;

export interface TrainingSetOptions<S extends object = SpineRow, F extends readonly AnyFeatureColumns[] = readonly AnyFeatureColumns[]> {
  /**
   * Rows in memory, a local CSV (times as ISO-8601 text) or Parquet file, or a loader such as
   * `s3Spine(...)` / `athenaSpine(...)` from `skewless/aws`. Every column is kept as is.
   */
  readonly spine: readonly S[] | { readonly csv: string } | { readonly parquet: string } | SpineLoader;
  /** The spine column with the record identifier (a selection's `key` overrides it). */
  readonly entityKey: string;
  /** The spine column with each row's time: a Date or ISO-8601 text. */
  readonly timestamp: string;
  /**
   * Selections (`group.select(...)`) and request features (`defineRequestFeatures`), whose request
   * values are read off the spine's columns; their outputs follow the selections' columns.
   */
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
  readonly output?: TrainingOutput;
}

/** Loads spine rows from somewhere the core does not reach itself (S3, an Athena query). */
export interface SpineLoader {
  load(): Promise<SpineRow[]>;
}

export interface TrainingSetSummary {
  readonly rows: number;
  /**
   * Per group: the share of spine rows that found a (non-deleted) feature row; `undefined` when the
   * spine has no rows (a share of nothing, which 0 would report as "no label found its features").
   */
  readonly matchRate: Readonly<Record<string, number | undefined>>;
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

/** Spine rows of a CSV text: a header, then rows; empty cells are null. `source` names it in errors. */
export function spineFromCsv(text: string, source = 'the CSV spine'): SpineRow[] {
  return csvSpine(text, source).rows;
}

/** A CSV spine's columns (its header), rows, and the line each row starts on. */
function csvSpine(text: string, source: string): { columns: string[]; rows: SpineRow[]; lines: number[] } {
  const rows = new CsvRows();
  const out: SpineRow[] = [];
  const lines: number[] = [];
  let header: string[] | undefined;
  for (const row of [...rows.push(text), ...rows.end()]) {
    if (row.malformed) throw new DataError('INVALID_SPINE', `${source}, line ${row.line}: ${row.malformed}`, { row: out.length, line: row.line });
    if (!header) {
      header = row.cells.map((c) => c ?? '');
      const repeated = repeatedColumn(header);
      if (repeated) throw new DataError('INVALID_SPINE', `${source}, line ${row.line}: ${repeated.message}`, { column: repeated.column });
      continue;
    }
    // Short rows too: a missing field is not a null (a null is an empty field).
    if (row.cells.length !== header.length) {
      throw new DataError('INVALID_SPINE', `${source}, line ${row.line}: ${row.cells.length} fields, but the header names ${header.length} (${header.join(', ')})`, { row: out.length, line: row.line });
    }
    out.push(Object.fromEntries(header.map((name, i) => [name, row.cells[i] ?? null])));
    lines.push(row.line);
  }
  return { columns: header ?? [], rows: out, lines };
}

/** A spine file's bytes, or a DataError that names the file. */
async function spineFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new DataError('INVALID_SPINE', `cannot read the spine file ${path}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * A spine's rows; from a file, its columns (so a file without rows still has them) and their output
 * kinds (every CSV column is text; a Parquet column is typed by its schema). The columns of rows
 * passed in are their first row's, typed by their values.
 */
interface LoadedSpine {
  readonly rows: SpineRow[];
  readonly kinds?: ReadonlyMap<string, ValueKind | undefined>;
  /** A CSV file's: the line each row starts on, for errors. */
  readonly lines?: readonly number[];
}

/** The spine's columns: the file's, else its first row's (none without rows). */
const spineColumns = (spine: LoadedSpine): string[] => (spine.kinds ? [...spine.kinds.keys()] : Object.keys(spine.rows[0] ?? {}));

async function loadSpine(spine: TrainingSetOptions['spine']): Promise<LoadedSpine> {
  if (Array.isArray(spine)) return { rows: spine as SpineRow[] };
  if ('load' in spine) return { rows: await spine.load() };
  if ('csv' in spine) {
    const bytes = await spineFile(spine.csv);
    if (!isUtf8(bytes)) throw new DataError('INVALID_SPINE', `the spine file ${spine.csv} is not UTF-8 text: is it a CSV file?`);
    const { columns, rows, lines } = csvSpine(bytes.toString('utf8'), `the spine file ${spine.csv}`);
    return { rows, kinds: new Map(columns.map((name) => [name, 'string'])), lines };
  }
  if ('parquet' in spine) {
    const bytes = await spineFile(spine.parquet);
    try {
      return { rows: await readParquetRows(bytes), kinds: await parquetColumnKinds(bytes) };
    } catch (cause) {
      if (cause instanceof SkewlessError) throw cause;
      throw new DataError('INVALID_SPINE', `cannot read the spine file ${spine.parquet} as Parquet: ${(cause as Error).message}`, { cause });
    }
  }
  throw new ConfigurationError('INVALID_CONFIG', 'spine must be rows, { csv } or { parquet }');
}

/** The per-step, per-row selected values of a reference join. */
function pick(plan: TrainingPlan, chosen: (OfflineStoredRow | null)[][]): JoinedValues {
  return chosen.map((rows, i) => {
    const features = plan.joins[i]?.features ?? [];
    return rows.map((row) => (row ? Object.fromEntries(features.map((f) => [f, row[f] ?? null])) : null));
  });
}

/**
 * The output's columns, in order: the spine's (its time column a timestamp, the others typed as the
 * spine file types them), then each selected feature's, typed by its declaration. The engine path
 * (`trainingSetToFile`) writes the same types.
 */
function outputColumns(plan: TrainingPlan, features: readonly AnyFeatureSelection[], spine: LoadedSpine, list: FeatureListPlan): OutputColumn[] {
  const groups = new Map<string, AnyFeatureGroup>(features.map((s) => [s.group.name, s.group]));
  const columns = new Map<string, OutputColumn>();
  for (const name of spineColumns(spine)) {
    const kind = name === plan.timestamp ? 'date' : (spine.kinds?.get(name) ?? spineColumnKind(spine.rows, name));
    columns.set(name, { name, kind, list: false });
  }
  for (const step of plan.joins.slice(0, list.listed)) {
    const specs = pipelineOf(groups.get(step.group) as AnyFeatureGroup).specs;
    for (const feature of step.features) {
      const spec = specs.find((s) => s.name === feature);
      const name = `${step.prefix}${feature}`;
      columns.set(name, { name, kind: spec?.kind ?? 'string', list: spec?.collection !== undefined });
    }
  }
  for (const column of list.outputs) columns.set(column.name, column);
  return [...columns.values()];
}

async function writeOutput(rows: Record<string, unknown>[], columns: readonly OutputColumn[], output: TrainingOutput): Promise<string> {
  const path = outputPath(output);
  try {
    if ('csv' in output) writeTrainingCsv(path, columns, rows);
    else writeTrainingParquet(path, columns, rows);
  } catch (cause) {
    // The values were checked and decoded before: what fails here is the file.
    throw outputWriteError('the training set', path, cause);
  }
  return path;
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
  const engine = trainingEngineOf(offline);
  if (options.engine === 'reference' || !engine?.trainingSetToFile || !output || !('parquet' in output)) return undefined;
  if (Array.isArray(spine) || !('parquet' in spine || 'csv' in spine)) return undefined;
  const decoding = decodingOf(plan, features);
  if (!decoding) return undefined;
  const result = await engine.trainingSetToFile(plan, { spine: spine as FileTrainingRequest['spine'], output, decoding });
  if (!result) return undefined;
  const matchRate: Record<string, number | undefined> = {};
  const nullCounts: Record<string, number> = {};
  plan.joins.forEach((step, i) => {
    matchRate[step.group] = result.rows === 0 ? undefined : (result.matched[i] ?? 0) / result.rows;
    step.features.forEach((feature, n) => {
      nullCounts[`${step.prefix}${feature}`] = result.nulls[i]?.[n] ?? 0;
    });
  });
  return { rows: result.rows, matchRate, nullCounts, engine: 'backend', output: output.parquet };
}

/**
 * A point-in-time training set from the store's offline tier: one row per spine row, in spine order,
 * each selected feature as of the row's time (never later; ties, deletes, the group's TTL and
 * `maxAge` decided as README's "Training sets" says). Runs in the offline store's own engine when it
 * has one (DuckDB for the embedded store, Athena for `athenaOffline`), else in the in-memory
 * reference engine. Request features in `features` run after the join over each row, request values
 * from its spine columns; a training set with them builds its rows in JavaScript (never DuckDB's
 * file-to-file path).
 *
 * ### Example
 * ```ts
 * import { trainingSet } from 'skewless';
 * const { rows, summary } = await trainingSet(store, {
 *   spine: labels, entityKey: 'card_id', timestamp: 'label_time',
 *   features: [cardActivity.select('amount', 'is_foreign').with({ maxAge: '30d' })],
 * });
 * rows[0]['card-activity__amount'];   // number | null
 * ```
 */
export async function trainingSet<S extends object, const F extends readonly AnyFeatureColumns[]>(
  store: FeatureStore,
  options: TrainingSetOptions<S, F>,
): Promise<TrainingSet<InferTrainingRow<S, F>>> {
  const { offline } = await backendsOf(store, 'trainingSet');
  return buildTrainingSet(offline, options as TrainingSetOptions) as Promise<TrainingSet<InferTrainingRow<S, F>>>;
}

const trainingSetOptions = /* @__PURE__ */ lazySchema(() => z.strictObject({
  spine: z.union(
    [
      z.array(z.custom<object>((row) => typeof row === 'object' && row !== null, { error: expected('a row object') })),
      z.strictObject({ csv: z.string() }),
      z.strictObject({ parquet: z.string() }),
      z.custom<SpineLoader>((value) => typeof (value as Partial<SpineLoader> | null)?.load === 'function'),
    ],
    { error: expected('rows, { csv: path }, { parquet: path } or a spine loader (s3Spine, athenaSpine)') },
  ),
  entityKey: z.string({ error: expected('the spine column with the record identifier') }),
  timestamp: z.string({ error: expected("the spine column with each row's time") }),
  features: featureListSchema('a training set'),
  inclusive: z.optional(booleanSchema()),
  maxAge: z.optional(durationSchema()),
  knowledgeTime: z.optional(booleanSchema()),
  engine: z.optional(z.enum(['auto', 'reference'], { error: expected("'auto' or 'reference'") })),
  output: z.optional(z.union([z.strictObject({ parquet: z.string() }), z.strictObject({ csv: z.string() })], { error: expected('{ parquet: path } or { csv: path }') })),
}));

/**
 * The spine's columns fit the plan (see `spineColumnError`). Rows passed in without a file have no
 * columns to check when there are none; their columns are the first row's, and any row with a column
 * the join would replace is refused, naming it.
 */
function checkSpineColumns(spine: LoadedSpine, plan: TrainingPlan, file: string | undefined, requestOutputs: readonly RequestOutput[]): void {
  if (!spine.kinds && spine.rows.length === 0) return;
  const error = spineColumnError(plan, spineColumns(spine), file, requestOutputs);
  if (error) throw error;
  if (spine.kinds) return;
  const written = writtenColumns(plan.joins, requestOutputs);
  spine.rows.forEach((row, r) => {
    const clash = replacedIn(row, written);
    if (clash) throw new DataError('INVALID_SPINE', `spine row ${r} ${replacedColumn(clash)}`, { row: r, column: clash.column });
  });
}

/** The training set over an offline store (what `trainingSet` runs once it has the store's backends). */
export async function buildTrainingSet(offline: OfflineStore | undefined, options: TrainingSetOptions): Promise<TrainingSet<Record<string, unknown>>> {
  checkOptions(trainingSetOptions, options, 'trainingSet options');
  const started = Date.now();
  if (!offline) throw new ConfigurationError('INVALID_CONFIG', 'a training set needs an offline store');
  if (options.output) {
    const written = outputPath(options.output);
    const read = spineFileOf(options.spine);
    // Written at the end over the file the join reads: the labels would be gone.
    if (read !== undefined && realFilePath(read) === realFilePath(written)) {
      throw new ConfigurationError('INVALID_CONFIG', `trainingSet options.output: ${written} is the spine file; writing the training set there would replace the labels, so give another file`);
    }
    prepareOutputFile(written, 'trainingSet options.output');
  }
  const list = planFeatures(options.features, options.entityKey, options.maxAge);
  const features = list.selections;
  const plan = buildTrainingPlan({
    timestamp: options.timestamp,
    entityKey: options.entityKey,
    features,
    ...(options.inclusive !== undefined ? { inclusive: options.inclusive } : {}),
    ...(options.knowledgeTime !== undefined ? { knowledgeTime: options.knowledgeTime } : {}),
  });
  // Request features run over JavaScript rows, so a training set with them takes the row path.
  const inEngine = list.hasRequestFeatures ? undefined : await trainingSetInEngine(offline, plan, features, options);
  if (inEngine) {
    return { rows: [], summary: { ...inEngine, durationMs: Date.now() - started } };
  }
  const loaded = await loadSpine(options.spine);
  const spine = loaded.rows;
  // A spine read from a file is named in its errors.
  const file = spineFileOf(options.spine);
  checkSpineColumns(loaded, plan, file, list.outputs);
  const keys: SpineKeys = {
    times: spine.map((row, i) => spineTime(row[plan.timestamp], i, plan.timestamp, file, loaded.lines?.[i])),
    keys: plan.joins.map((step) => spine.map((row, i) => spineKeyAt(row[step.key], i, step.key, file))),
  };

  const engine = options.engine === 'reference' ? undefined : trainingEngineOf(offline);
  const useBackend = engine !== undefined;
  let values: JoinedValues;
  if (engine) values = await engine.pointInTimeJoin(plan, keys);
  else {
    const groups = new Map<string, OfflineStoredRow[]>();
    for (const selection of features) if (!groups.has(selection.group.name)) groups.set(selection.group.name, await offline.scan(selection.group));
    values = pick(plan, referenceJoin(plan, spine, groups));
  }

  // Decode each step's values to the group's types, under the output names.
  const groupsByName = new Map<string, AnyFeatureGroup>(features.map((s) => [s.group.name, s.group]));
  const matched = plan.joins.map(() => 0);
  // Every feature column is counted, a spine without rows included (0 nulls), as in the engine.
  const nullCounts: Record<string, number> = {};
  for (const step of plan.joins) for (const feature of step.features) nullCounts[`${step.prefix}${feature}`] = 0;
  const rows = spine.map((spineRow, r) => {
    const row: Record<string, unknown> = { ...spineRow };
    plan.joins.forEach((step, i) => {
      const found = values[i]?.[r] ?? null;
      const group = groupsByName.get(step.group) as AnyFeatureGroup;
      const decoded = found ? (offlineRowCodec(group).fromRow(found, { partial: true }) as Record<string, unknown>) : undefined;
      if (found) matched[i] = (matched[i] as number) + 1;
      for (const feature of step.features) {
        const column = `${step.prefix}${feature}`;
        const value = decoded?.[feature] ?? null;
        row[column] = value;
        if (value === null) nullCounts[column] = (nullCounts[column] as number) + 1;
      }
    });
    list.completeRow(row, r, 'training-set');
    return row;
  });
  // The columns only request features read are not the result's; their outputs are.
  for (const column of list.hidden) delete nullCounts[column];
  for (const { name } of list.outputs) nullCounts[name] = rows.reduce((n, row) => n + (row[name] === null ? 1 : 0), 0);
  const matchRate: Record<string, number | undefined> = {};
  plan.joins.slice(0, list.listed).forEach((step, i) => {
    matchRate[step.group] = spine.length === 0 ? undefined : (matched[i] as number) / spine.length;
  });

  let output: string | undefined;
  if (options.output) {
    output = await writeOutput(rows, outputColumns(plan, features, loaded, list), options.output);
  }
  return {
    rows: options.output ? [] : rows,
    summary: { rows: rows.length, matchRate, nullCounts, engine: useBackend ? 'backend' : 'reference', durationMs: Date.now() - started, ...(output ? { output } : {}) },
  };
}
