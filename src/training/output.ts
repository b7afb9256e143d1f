import { writeFileSync } from 'node:fs';
import { csvField, csvLine } from '../csv/writer.js';
import { ParquetFileBuilder, type ColumnSpec } from '../parquet/file.js';
import { DataError } from '../errors.js';
import type { ValueKind } from '../schema/feature-spec.js';
import { parseIsoInstant } from '../schema/time.js';
import { describeValue } from '../util/options.js';

/** How one output column is written: a feature's declared kind (and whether it is a list), or a spine column's. */
export interface OutputColumn {
  readonly name: string;
  readonly kind: ValueKind;
  readonly list: boolean;
}

const SPECS: Record<ValueKind, Omit<ColumnSpec, 'name' | 'list'>> = {
  string: { type: 'BYTE_ARRAY', convertedType: 'UTF8' },
  int: { type: 'INT64', convertedType: 'INT_64' },
  bigint: { type: 'INT64', convertedType: 'INT_64' },
  float: { type: 'DOUBLE' },
  boolean: { type: 'BOOLEAN' },
  // UTC times without a zone, as DuckDB's COPY writes TIMESTAMP_MS on the file-to-file path: one file
  // schema from both (pandas and pyarrow read a naive datetime64[ms], Spark a TIMESTAMP_NTZ).
  date: { type: 'INT64', convertedType: 'TIMESTAMP_MILLIS', adjustedToUtc: false },
};

/** A training set's output: a local Parquet or CSV file. */
export type TrainingOutput = { readonly parquet: string } | { readonly csv: string };

export const outputPath = (output: TrainingOutput): string => ('parquet' in output ? output.parquet : output.csv);

/**
 * The kind of a spine column, read off its values: one JS type throughout gives that type, a mix
 * (or objects) is written as text.
 */
export function spineColumnKind(rows: readonly Readonly<Record<string, unknown>>[], column: string): ValueKind {
  let kind: ValueKind | undefined;
  for (const row of rows) {
    const value = row[column];
    if (value === null || value === undefined) continue;
    const next: ValueKind =
      typeof value === 'bigint' ? 'bigint' : typeof value === 'number' ? 'float' : typeof value === 'boolean' ? 'boolean' : value instanceof Date ? 'date' : 'string';
    if (kind !== undefined && kind !== next) return 'string';
    kind = next;
  }
  return kind ?? 'string';
}

const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** A value as CSV text: a list as JSON, its -0 elements kept as `-0` (valid JSON, which `JSON.stringify` writes as 0). */
function text(value: unknown): string {
  // An undefined element is null, as JSON.stringify writes it in an array.
  if (Array.isArray(value)) return `[${value.map((v: unknown) => (Object.is(v, -0) ? '-0' : (json(v) ?? 'null'))).join(',')}]`;
  return value instanceof Date ? value.toISOString() : typeof value === 'object' ? json(value) : scalarText(value);
}

/** `String(value)`, but -0 keeps its sign (as DuckDB's writer keeps it): `String(-0)` is "0". */
function scalarText(value: unknown): string {
  return Object.is(value, -0) ? '-0' : String(value);
}

const ROW_GROUP_ROWS = 100_000;

/** A timestamp column's value: a Date, or (a CSV spine's time column) the ISO-8601 text it was read from. */
function epochMsOf(value: unknown, column: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'string' ? parseIsoInstant(value) : undefined;
  if (ms === undefined || Number.isNaN(ms)) throw new DataError('INVALID_SPINE', `column "${column}" is written as a timestamp, but holds ${describeValue(value)}`, { column });
  return ms;
}

/** Training rows as Parquet, each column typed as `columns` says (skewless' own writer). */
export function writeTrainingParquet(path: string, columns: readonly OutputColumn[], rows: readonly Readonly<Record<string, unknown>>[]): void {
  // A list of booleans is stored as SageMaker stores it: Integral 0/1.
  const file = new ParquetFileBuilder(
    columns.map((c) => ({ name: c.name, ...SPECS[c.list && c.kind === 'boolean' ? 'int' : c.kind], ...(c.list ? { list: true } : {}) })),
    Math.min(Math.max(rows.length, 1), ROW_GROUP_ROWS),
  );
  for (let start = 0; start < rows.length; start += ROW_GROUP_ROWS) {
    const end = Math.min(rows.length, start + ROW_GROUP_ROWS);
    columns.forEach((c, i) => {
      const column = file.column(i);
      for (let r = start; r < end; r++) {
        const value = (rows[r] as Record<string, unknown>)[c.name];
        if (value === null || value === undefined) column.null();
        else if (c.list) column.list((value as readonly unknown[]).map((v) => (v instanceof Date ? String(v.getTime()) : typeof v === 'boolean' ? (v ? '1' : '0') : scalarText(v))));
        else if (c.kind === 'boolean') column.boolean(value as boolean);
        else if (c.kind === 'date') column.integer(epochMsOf(value, c.name));
        else column.text(c.kind === 'string' ? text(value) : scalarText(value));
      }
    });
    file.endRowGroup(end - start);
  }
  writeFileSync(path, file.finish());
}

/** Training rows as CSV: a header, then one line per row (dates as ISO-8601, null as an empty field). */
export function writeTrainingCsv(path: string, columns: readonly OutputColumn[], rows: readonly Readonly<Record<string, unknown>>[]): void {
  const lines = [csvLine(columns.map((c) => c.name))];
  for (const row of rows) lines.push(columns.map((c) => (row[c.name] === null || row[c.name] === undefined ? '' : csvField(text(row[c.name])))).join(','));
  writeFileSync(path, `${lines.join('\n')}\n`);
}
