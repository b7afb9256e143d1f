import type * as zc from 'zod/v4/core';

/**
 * A streaming CSV (RFC 4180) row splitter: quoted fields with `""` escapes, commas and newlines
 * inside quotes, CRLF or LF. Feed it text chunks; it yields each complete row with the line it
 * started on. A field is `undefined` when it was empty and unquoted, `''` when it was `""`.
 */
export class CsvRows {
  #field = '';
  #quoted = false;
  #inQuotes = false;
  #afterQuote = false;
  #row: (string | undefined)[] = [];
  #line = 1;
  #rowLine = 1;
  #pendingCr = false;
  #malformed: string | undefined;

  constructor(private readonly delimiter = ',') {}

  /** Complete rows in `chunk`; `malformed` says why a row is broken (a stray quote). */
  *push(chunk: string): Generator<{ cells: (string | undefined)[]; line: number; malformed?: string }> {
    const d = this.delimiter;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as string;
      if (this.#pendingCr) {
        this.#pendingCr = false;
        if (c === '\n') continue;
      }
      if (this.#inQuotes) {
        if (c === '"') {
          this.#inQuotes = false;
          this.#afterQuote = true;
        } else {
          if (c === '\n') this.#line++;
          this.#field += c;
        }
        continue;
      }
      if (c === '"') {
        if (this.#afterQuote) {
          // `""` inside a quoted field: one literal quote.
          this.#field += '"';
          this.#inQuotes = true;
          this.#afterQuote = false;
        } else if (this.#field.length === 0 && !this.#quoted) {
          this.#inQuotes = true;
          this.#quoted = true;
        } else {
          this.#malformed ??= `a quote inside an unquoted field`;
          this.#field += c;
        }
        continue;
      }
      if (c === d) {
        this.#endField();
        continue;
      }
      if (c === '\n' || c === '\r') {
        if (c === '\r') this.#pendingCr = true;
        const row = this.#endRow();
        this.#line++;
        this.#rowLine = this.#line;
        if (row) yield row;
        continue;
      }
      if (this.#afterQuote) this.#malformed ??= 'text after a closing quote';
      this.#field += c;
    }
  }

  /** The last row when the input does not end with a newline; an unclosed quote is malformed. */
  *end(): Generator<{ cells: (string | undefined)[]; line: number; malformed?: string }> {
    if (this.#inQuotes) this.#malformed ??= 'a quoted field is never closed';
    const row = this.#endRow();
    if (row) yield row;
  }

  #endField(): void {
    this.#row.push(this.#field.length === 0 && !this.#quoted ? undefined : this.#field);
    this.#field = '';
    this.#quoted = false;
    this.#afterQuote = false;
  }

  #endRow(): { cells: (string | undefined)[]; line: number; malformed?: string } | undefined {
    const blank = this.#row.length === 0 && this.#field.length === 0 && !this.#quoted;
    if (blank && this.#malformed === undefined) return undefined;
    this.#endField();
    const row = { cells: this.#row, line: this.#rowLine, ...(this.#malformed ? { malformed: this.#malformed } : {}) };
    this.#row = [];
    this.#malformed = undefined;
    return row;
  }
}

type CellKind = 'number' | 'bigint' | 'boolean' | 'text';

interface Def {
  readonly type: string;
  readonly innerType?: zc.$ZodType;
  readonly shape?: Record<string, zc.$ZodType>;
  readonly in?: zc.$ZodType;
}

function kindOf(schema: zc.$ZodType | undefined): CellKind {
  let current = schema;
  for (let depth = 0; current && depth < 10; depth++) {
    const def = current._zod.def as unknown as Def;
    switch (def.type) {
      case 'number':
        return 'number';
      case 'bigint':
        return 'bigint';
      case 'boolean':
        return 'boolean';
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
        current = def.innerType;
        break;
      case 'pipe':
        // A codec such as isoTimestamp() reads its input side.
        current = def.in;
        break;
      default:
        return 'text';
    }
  }
  return 'text';
}

/**
 * Converts a CSV row to the raw event the source schema expects: each column typed by the schema's
 * field (numbers, bigints, booleans); other fields stay text; an empty unquoted cell is absent.
 * A cell that does not read as its type is kept as text, so the schema reports it as poison.
 */
export function csvRowReader(source: zc.$ZodType, header: readonly string[]): (cells: readonly (string | undefined)[]) => Record<string, unknown> {
  const shape = (source._zod.def as unknown as Def).shape ?? {};
  const kinds = header.map((name) => kindOf(shape[name]));
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

function typed(kind: CellKind, cell: string): unknown {
  switch (kind) {
    case 'number': {
      const n = cell.trim() === '' ? Number.NaN : Number(cell);
      return Number.isNaN(n) ? cell : n;
    }
    case 'bigint':
      return /^-?\d+$/.test(cell) ? BigInt(cell) : cell;
    case 'boolean':
      return cell === 'true' || cell === '1' ? true : cell === 'false' || cell === '0' ? false : cell;
    default:
      return cell;
  }
}
