import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { CsvRows, lineOfRow } from '../csv/reader.js';
import { DecodeError, SkewlessError } from '../errors.js';
import { quoteIdentifier as q, quoteLiteral } from '../sql/quote.js';
import type { FeatureDecoding, FileTrainingRequest, FileTrainingResult } from '../training/engine.js';
import { spineColumnError, spineFileOf, spineTimeError, type TrainingPlan } from '../sql/plan.js';
import { DUCKDB, featureColumn, matchedColumn, renderTrainingSql } from '../sql/render.js';
import { isUrl, outputWriteError } from '../util/output-file.js';
import { offlineReadError } from '../offline/parquet.js';

const SPINE = '__skewless_spine';
const RESULT = '__skewless_training';
const ISO_MS = '__skewless_iso_ms';
const ISO_PARTS_MS = '__skewless_iso_parts_ms';

/** `YYYY-MM-DDTHH:MM[:SS[.f{1,9}]](Z|±HH[:]MM)`: the instants `parseIsoInstant` reads, field by field. */
const ISO_INSTANT = '^(\\d{4})-(\\d{2})-(\\d{2})[Tt ](\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?([Zz]|[+-]\\d{2}:?\\d{2})$';

/**
 * `parseIsoInstant` in SQL: epoch milliseconds, or NULL where it returns undefined (no match, a day
 * the month does not have, an hour past 23, ...). Fractions past milliseconds are cut, not rounded.
 */
const ISO_MACROS = [
  `CREATE OR REPLACE TEMP MACRO ${ISO_PARTS_MS}(p) AS (
    CASE WHEN p.y = '' OR try_cast(p.h AS INTEGER) > 23 OR try_cast(p.mi AS INTEGER) > 59 OR try_cast(p.s AS INTEGER) > 59
              OR (p.z NOT IN ('Z', 'z') AND (try_cast(substr(p.z, 2, 2) AS INTEGER) > 23 OR try_cast(right(p.z, 2) AS INTEGER) > 59)) THEN NULL
         ELSE (try_cast(p.y || '-' || p.mo || '-' || p.d AS DATE) - DATE '1970-01-01') * 86400000
              + ((try_cast(p.h AS BIGINT) * 60 + try_cast(p.mi AS BIGINT)
                  - CASE WHEN p.z IN ('Z', 'z') THEN 0
                         ELSE (CASE WHEN substr(p.z, 1, 1) = '-' THEN -1 ELSE 1 END) * (try_cast(substr(p.z, 2, 2) AS BIGINT) * 60 + try_cast(right(p.z, 2) AS BIGINT)) END) * 60
                 + coalesce(try_cast(p.s AS BIGINT), 0)) * 1000
              + try_cast(rpad(substr(p.f, 1, 3), 3, '0') AS BIGINT)
    END)`,
  `CREATE OR REPLACE TEMP MACRO ${ISO_MS}(x) AS (${ISO_PARTS_MS}(regexp_extract(x, ${quoteLiteral(ISO_INSTANT)}, ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z'])))`,
];

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT']);
/** Timestamp types the row path reads (through hyparquet) as the same millisecond. */
const TIMESTAMP_TYPES = new Set(['TIMESTAMP', 'TIMESTAMP WITH TIME ZONE', 'TIMESTAMP_MS', 'TIMESTAMP_S']);

/**
 * A timestamp as the epoch millisecond it falls in, as the row path reads it: `epoch_ms` alone
 * rounds toward 1970, a millisecond late before it.
 */
function floorMs(column: string): string {
  return `epoch_ms(date_trunc('millisecond', ${column}))`;
}

/** A spine time column as epoch ms, as `spineTime` reads it: a timestamp, or ISO-8601 text. */
function spineTimeSql(column: string, type: string): string | undefined {
  if (type === 'VARCHAR') return `${ISO_MS}(${q(column)})`;
  return TIMESTAMP_TYPES.has(type) ? floorMs(q(column)) : undefined;
}

/** A spine key column as text, as `spineKey` reads it (String(value)); undefined for a type the row path reads otherwise. */
function spineKeySql(column: string, type: string): string | undefined {
  if (type === 'VARCHAR') return q(column);
  return INTEGER_TYPES.has(type) ? `CAST(${q(column)} AS VARCHAR)` : undefined;
}

const FLOAT_TYPES = /^(FLOAT|DOUBLE|DECIMAL(\(\d+,\d+\))?)$/;
const TIME_TYPES = new Set(['DATE', ...TIMESTAMP_TYPES, 'TIMESTAMP_NS', 'TIMESTAMP_US']);

/** An instant (epoch ms expression) as the output's timestamp type: milliseconds, no zone, as the row path writes it. */
function timestampMs(ms: string): string {
  return `CAST(make_timestamp(${ms} * 1000) AS TIMESTAMP_MS)`;
}

/**
 * A carried spine column as the row path writes it (`parquetColumnKinds`): integers BIGINT, floats
 * and decimals DOUBLE, dates and timestamps TIMESTAMP_MS, text and booleans as they are; undefined
 * for a type the row path would type by its values (the row path then runs).
 */
function spineOutputSql(column: string, type: string): string | undefined {
  if (type === 'VARCHAR' || type === 'BOOLEAN') return column;
  if (INTEGER_TYPES.has(type) && type !== 'UBIGINT') return `CAST(${column} AS BIGINT)`;
  if (FLOAT_TYPES.test(type)) return `CAST(${column} AS DOUBLE)`;
  if (TIME_TYPES.has(type)) return timestampMs(type === 'DATE' ? `epoch_ms(${column})` : floorMs(column));
  return undefined;
}

/** A stored value read back as its feature's type, as `offlineRowCodec(group).fromRow` does. */
function decodeSql(column: string, decoding: FeatureDecoding, failure: string): string {
  const fail = `error(${quoteLiteral(failure)})`;
  switch (decoding.kind) {
    case 'string':
      return column;
    case 'float':
      return `CAST(${column} AS DOUBLE)`;
    case 'bigint':
      return `CAST(${column} AS BIGINT)`;
    case 'int':
      return `CASE WHEN ${column} IS NULL OR ${column} BETWEEN -9007199254740991 AND 9007199254740991 THEN CAST(${column} AS BIGINT) ELSE ${fail} END`;
    case 'boolean':
      return `CASE WHEN ${column} IS NULL THEN NULL WHEN ${column} = 1 THEN true WHEN ${column} = 0 THEN false ELSE ${fail} END`;
    case 'date': {
      // Math.round (half up), not SQL round (half away from zero).
      const ms = decoding.dateAsEpoch ? `CAST(floor(${column} * 1000 + 0.5) AS BIGINT)` : `${ISO_MS}(${column})`;
      return `CASE WHEN ${column} IS NULL THEN NULL ELSE coalesce(${timestampMs(ms)}, ${fail}) END`;
    }
  }
}

function spineReader(spine: FileTrainingRequest['spine']): string {
  if ('parquet' in spine) return `read_parquet(${quoteLiteral(spine.parquet)})`;
  // As `spineFromCsv` reads it: every cell text, an empty unquoted cell null, `""` the empty string;
  // a row of another length fails here, and the row path names its line.
  return `read_csv(${quoteLiteral(spine.csv)}, header = true, all_varchar = true, delim = ',', quote = '"', escape = '"', allow_quoted_nulls = false, null_padding = false)`;
}

/** The header row of a CSV file, as the row path reads it; undefined if it is not in the first 1 MiB. */
async function csvHeader(path: string): Promise<(string | undefined)[] | undefined> {
  const file = await open(path);
  try {
    const buffer = Buffer.alloc(1 << 20);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    const [first] = new CsvRows().push(bytesRead < buffer.length ? `${text}\n` : text);
    return first && !first.malformed ? first.cells : undefined;
  } finally {
    await file.close();
  }
}

function sameColumns(columns: readonly string[], header: readonly (string | undefined)[] | undefined): boolean {
  return header !== undefined && header.length === columns.length && header.every((name, i) => (name ?? '') === columns[i]);
}

async function rows(connection: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
}

/**
 * The whole training set inside DuckDB: the spine file is loaded as a table (its row order is its
 * rowid), joined by the plan's SQL, its features decoded to their types, and written with COPY. The
 * rows never become JavaScript objects, which is most of the time the row path spends. Resolves to
 * undefined for a URL, or a spine whose time or key columns the row path would read differently.
 */
export async function trainingSetToFile(
  connection: DuckDBConnection,
  plan: TrainingPlan,
  request: FileTrainingRequest,
  groups: ReadonlyMap<string, string>,
): Promise<FileTrainingResult | undefined> {
  // Local files only: DuckDB would reach for an extension (httpfs) to read or write a URL.
  const file = spineFileOf(request.spine) as string;
  if (isUrl(request.output.parquet) || isUrl(file)) return undefined;
  try {
    try {
      await connection.run(`CREATE OR REPLACE TEMP TABLE ${SPINE} AS SELECT * FROM ${spineReader(request.spine)}`);
    } catch {
      // A missing, ragged or binary file: the row path reads it and says what is wrong, row and column.
      return undefined;
    }
    const described = await rows(connection, `DESCRIBE ${SPINE}`);
    const types = new Map(described.map((row) => [String(row['column_name']), String(row['column_type'])]));
    const columns = [...types.keys()];
    // DuckDB's sniffer makes up a column for a row with too many fields; the row path refuses that row.
    if ('csv' in request.spine && !sameColumns(columns, await csvHeader(request.spine.csv))) return undefined;
    // Refused before anything is joined: a file has its columns whether or not it has rows.
    const error = spineColumnError(plan, columns, file);
    if (error) throw error;
    const timeType = types.get(plan.timestamp) as string;
    const time = spineTimeSql(plan.timestamp, timeType);
    const keys = plan.joins.map((step) => spineKeySql(step.key, types.get(step.key) as string));
    if (time === undefined || keys.some((key) => key === undefined)) return undefined;

    for (const macro of ISO_MACROS) await connection.run(macro);
    const [bad] = await rows(connection, `SELECT rowid AS r, CAST(${q(plan.timestamp)} AS VARCHAR) AS v FROM ${SPINE} WHERE ${time} IS NULL ORDER BY rowid LIMIT 1`);
    if (bad) {
      const got = bad['v'] === null ? 'null' : JSON.stringify(bad['v']);
      const row = Number(bad['r']);
      // Read only as far as the row; a file that cannot be read leaves the line out, not the error.
      const line = 'csv' in request.spine ? await lineOfRow(createReadStream(file, { encoding: 'utf8' }), row).catch(() => undefined) : undefined;
      throw spineTimeError(row, plan.timestamp, got, file, line);
    }

    // The spine's columns as the row path types them: its time column a timestamp, the others by the file's types.
    const spineOutputs = columns.map((c, j) => (c === plan.timestamp ? timestampMs(spineTimeSql(`__s${j}`, timeType) as string) : spineOutputSql(`__s${j}`, types.get(c) as string)));
    if (spineOutputs.some((sql) => sql === undefined)) return undefined;
    const carried = columns.map((_, j) => `__s${j}`);
    const spine = `(SELECT rowid AS __row, ${time} AS __t, ${keys.map((key, i) => `${key} AS __k${i}`).join(', ')}, ${columns.map((c, j) => `${q(c)} AS __s${j}`).join(', ')} FROM ${SPINE})`;
    const joined = renderTrainingSql(plan, { spine, groups, carry: carried }, DUCKDB);

    // The output columns, as the row path lays them out: the spine's, then the features (a feature
    // named like a spine column takes its place).
    const features = new Map<string, string>();
    plan.joins.forEach((step, i) =>
      step.features.forEach((feature, n) => {
        const decoding = request.decoding[i]?.[n] as FeatureDecoding;
        features.set(`${step.prefix}${feature}`, decodeSql(featureColumn(i, n), decoding, `group "${step.group}": stored value of feature "${feature}" cannot be read as its type`));
      }),
    );
    const outputs = [...new Set([...columns, ...features.keys()])];
    const expressions = outputs.map((name) => features.get(name) ?? (spineOutputs[columns.indexOf(name)] as string));
    const matched = plan.joins.map((_, i) => matchedColumn(i));
    await connection.run(
      `CREATE OR REPLACE TEMP TABLE ${RESULT} AS SELECT __row, ${expressions.map((e, o) => `${e} AS __o${o}`).join(', ')}, ${matched.join(', ')} FROM (${joined}) ORDER BY __row`,
    );

    const counts = [
      'count(*) AS n',
      ...matched.map((m, i) => `count_if(${m}) AS m${i}`),
      ...outputs.map((name, o) => (features.has(name) ? `count(*) - count(__o${o}) AS z${o}` : undefined)).filter((c) => c !== undefined),
    ];
    const [summary = {}] = await rows(connection, `SELECT ${counts.join(', ')} FROM ${RESULT}`);
    const target = request.output.parquet;
    // The table holds the rows in spine order, and a scan keeps insertion order.
    try {
      await connection.run(`COPY (SELECT ${outputs.map((name, o) => `__o${o} AS ${q(name)}`).join(', ')} FROM ${RESULT}) TO ${quoteLiteral(target)} (FORMAT parquet)`);
    } catch (cause) {
      throw outputWriteError('the training set', target, cause);
    }
    return {
      rows: Number(summary['n'] ?? 0),
      matched: plan.joins.map((_, i) => Number(summary[`m${i}`] ?? 0)),
      nulls: plan.joins.map((step) => step.features.map((feature) => Number(summary[`z${outputs.indexOf(`${step.prefix}${feature}`)}`] ?? 0))),
    };
  } catch (error) {
    if (error instanceof SkewlessError) throw error;
    const decode = /group ".*": stored value of feature ".*" cannot be read as its type/.exec(error instanceof Error ? error.message : '');
    if (decode) throw new DecodeError(decode[0], { cause: error });
    // The spine was read above: what fails here is reading the groups' files (a damaged one, say).
    throw offlineReadError(`the point-in-time join of ${plan.joins.map((step) => `"${step.group}"`).join(', ')}`, error);
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${RESULT}; DROP TABLE IF EXISTS ${SPINE}`);
  }
}
