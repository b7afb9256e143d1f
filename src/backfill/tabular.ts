import * as zc from 'zod/v4/core';
import { inputKindOf } from '../schema/feature-spec.js';

// Raw events from tabular sources, typed by the group's source schema: CSV cells are text, Parquet
// cells arrive as Parquet types them (INT64 as bigint, TIMESTAMP as Date). Either is converted to the
// type the schema's field takes when that is exact, so a schema written for NDJSON reads them too.

type CellKind = 'number' | 'bigint' | 'boolean' | 'date' | 'text';

interface Def {
  readonly shape?: Record<string, zc.$ZodType>;
}

/** How a field's cells are typed: by the kind its schema takes in a raw event. */
function kindOf(schema: zc.$ZodType | undefined): CellKind {
  const kind = schema ? inputKindOf(schema) : undefined;
  if (kind === 'int' || kind === 'float') return 'number';
  return kind === 'bigint' || kind === 'boolean' || kind === 'date' ? kind : 'text';
}

/**
 * Converts a CSV row to the raw event the source schema expects: each column typed by the schema's
 * field (numbers, bigints, booleans); other fields stay text; an empty unquoted cell is absent.
 * A cell that does not read as its type is kept as text, so the schema reports it as poison.
 */
export function csvRowReader(source: zc.$ZodType, header: readonly string[]): (cells: readonly (string | undefined)[]) => Record<string, unknown> {
  const kinds = header.map(kindIn(source));
  return (cells) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < header.length; i++) {
      const cell = cells[i];
      if (cell === undefined) continue;
      out[header[i] as string] = typed(kinds[i] as CellKind, cell);
    }
    return out;
  };
}

/** The fields a source schema names, by name. */
const shapeOf = (source: zc.$ZodType): Record<string, zc.$ZodType> => (source._zod.def as unknown as Def).shape ?? {};

/** The cell kind of each named field of a source schema (text for fields it does not name). */
function kindIn(source: zc.$ZodType): (name: string) => CellKind {
  const shape = shapeOf(source);
  return (name) => kindOf(Object.hasOwn(shape, name) ? shape[name] : undefined);
}

/** A number as CSV writers print one: sign, digits, a fraction, an exponent; spaces around it. */
const DECIMAL = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

function typed(kind: CellKind, cell: string): unknown {
  switch (kind) {
    case 'number':
      // Decimal notation only, and finite: JavaScript's Number() would also read 0x10, 0b11, 0o17 and 1e400 (Infinity).
      return DECIMAL.test(cell) && Number.isFinite(Number(cell)) ? Number(cell) : cell;
    case 'bigint':
      return /^-?\d+$/.test(cell) ? BigInt(cell) : cell;
    case 'boolean':
      return cell === 'true' || cell === '1' ? true : cell === 'false' || cell === '0' ? false : cell;
    default:
      return cell;
  }
}

/** Whether a field's schema takes null (a schema that throws on it does not). */
function takesNull(field: zc.$ZodType): boolean {
  try {
    return zc.safeParse(field, null).success;
  } catch {
    return false;
  }
}

/** Made on first use: most sources never have bytes for a text field. */
let utf8: InstanceType<typeof TextDecoder> | undefined;

/** The text UTF-8 bytes hold, or undefined when they are not UTF-8. */
export function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    // A byte-order mark in a cell is part of its text.
    utf8 ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A Parquet row as the source schema takes it, or why one of its cells cannot be converted exactly. */
export type ParquetRowResult = { readonly raw: Record<string, unknown>; readonly unreadable?: undefined } | { readonly raw: Record<string, unknown>; readonly unreadable: string };

/**
 * Converts a Parquet row (as hyparquet reads it) to the raw event the source schema expects. A NULL
 * is an absent field, as an empty CSV cell is, unless the field takes null. Only
 * exact conversions are made: INT64 to a number when it is within +-2^53, any integer to a bigint,
 * a TIMESTAMP to ISO-8601 text (what `isoTimestamp()` reads), integers and UTF-8 bytes to text, a
 * DECIMAL of up to 15 digits to text (`decimals`: the file's DECIMAL columns and their precision).
 * An INT64 beyond 2^53 for a number field, a wider DECIMAL for a text or bigint field, or a
 * TIMESTAMP for a number field (seconds or milliseconds would be a guess), or bytes that are not
 * UTF-8 for a text field, makes the row unreadable with the reason; `raw` keeps the row as read.
 */
export function parquetRowReader(source: zc.$ZodType, decimals: ReadonlyMap<string, number> = new Map()): (row: Record<string, unknown>) => ParquetRowResult {
  const kinds = new Map<string, CellKind>();
  const kindOfColumn = kindIn(source);
  // Only the decimals the schema reads: a column it does not name is passed on, never refused.
  const shape = shapeOf(source);
  const read = new Map([...decimals].filter(([column]) => Object.hasOwn(shape, column)));
  // A NULL is an absent field, as an empty CSV cell and an Athena NULL are, for a field that does not
  // take null; a column the schema does not name (or a schema that is no plain object) keeps it.
  const absentIfNull = new Set(Object.keys(shape).filter((column) => !takesNull(shape[column] as zc.$ZodType)));
  // Bytes that are not UTF-8 refuse the row only for a field declared text: other fields (z.any(), a
  // column the schema does not name) take them as they are.
  const text = new Set(Object.keys(shape).filter((column) => inputKindOf(shape[column] as zc.$ZodType) === 'string'));
  return (row) => {
    let out: Record<string, unknown> | undefined;
    for (const column in row) {
      const value = row[column];
      if (value === null || value === undefined) {
        if (absentIfNull.has(column)) delete (out ??= { ...row })[column];
        continue;
      }
      let kind = kinds.get(column);
      if (kind === undefined) kinds.set(column, (kind = kindOfColumn(column)));
      const precision = read.get(column);
      const converted = precision === undefined ? parquetCell(kind, value) : decimalCell(kind, value, precision);
      if (converted === value) continue;
      if (converted instanceof Refusal) {
        if (value instanceof Uint8Array && !text.has(column)) continue;
        return { raw: row, unreadable: `column "${column}": ${converted.reason}` };
      }
      (out ??= { ...row })[column] = converted;
    }
    return { raw: out ?? row };
  };
}

/** Significant digits a number holds exactly: a DECIMAL of this precision or less reads back as written. */
const EXACT_DIGITS = 15;

/**
 * A DECIMAL cell (of `precision` digits), which the Parquet reader gives as a number. Up to 15 digits
 * the number is the decimal's value, and its text (`123.45`) the decimal; past that it may be
 * rounded already, so a text or bigint field, whose point is exactness, refuses it. A number field
 * takes the nearest number, as it would from any file.
 */
function decimalCell(kind: CellKind, value: unknown, precision: number): unknown {
  if (typeof value !== 'number' || kind === 'number') return value;
  if (precision > EXACT_DIGITS && (kind === 'text' || kind === 'bigint')) {
    return new Refusal(`a DECIMAL(${precision}) cell reaches skewless as a number, exact to ${EXACT_DIGITS} digits only; cast the column to text (or to an integer of its smallest unit) where the file is written`);
  }
  if (kind === 'text') return String(value);
  return kind === 'bigint' && Number.isInteger(value) ? BigInt(value) : value;
}

class Refusal {
  constructor(readonly reason: string) {}
}

function parquetCell(kind: CellKind, value: unknown): unknown {
  if (typeof value === 'bigint') {
    if (kind === 'number') {
      // A bigint past 2^53 becomes a number that is not safe (2^53 + 1 rounds to 2^53).
      const number = Number(value);
      return Number.isSafeInteger(number) ? number : new Refusal(`the INT64 value ${value} is beyond +-2^53 and cannot be a number exactly; declare the field z.bigint()`);
    }
    return kind === 'text' ? value.toString() : value;
  }
  if (typeof value === 'number') {
    if (kind === 'bigint' && Number.isInteger(value)) return BigInt(value);
    return kind === 'text' && Number.isInteger(value) ? String(value) : value;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) return value;
    if (kind === 'text') return value.toISOString();
    if (kind === 'number') return new Refusal('a TIMESTAMP where the schema takes a number (seconds or milliseconds would be a guess); declare the field isoTimestamp() or z.date()');
    return value;
  }
  if (value instanceof Uint8Array && kind === 'text') return utf8Text(value) ?? new Refusal('bytes that are not valid UTF-8 where the schema takes text');
  return value;
}
