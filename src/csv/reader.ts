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
  #started = false;

  constructor(private readonly delimiter = ',') {}

  /** Complete rows in `chunk`; `malformed` says why a row is broken (a stray quote). */
  *push(chunk: string): Generator<{ cells: (string | undefined)[]; line: number; malformed?: string }> {
    const d = this.delimiter;
    // A byte-order mark before the first row (Excel's "CSV UTF-8" writes one) is not part of its first cell.
    const first = this.#started || !chunk.startsWith('\uFEFF') ? 0 : 1;
    if (chunk.length > 0) this.#started = true;
    for (let i = first; i < chunk.length; i++) {
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

/**
 * The line a CSV text's data row `row` (0-based, after the header) starts on, read from `chunks` only
 * as far as that row; undefined past its last row.
 */
export async function lineOfRow(chunks: AsyncIterable<string> | Iterable<string>, row: number): Promise<number | undefined> {
  const rows = new CsvRows();
  // The data row each row read is; the header is -1.
  let index = -1;
  for await (const chunk of chunks) {
    for (const found of rows.push(chunk)) {
      if (index === row) return found.line;
      index++;
    }
  }
  for (const found of rows.end()) {
    if (index === row) return found.line;
    index++;
  }
  return undefined;
}

/**
 * The column a header names twice, with the end of a message (`the header names "id" in columns 1
 * and 3`); undefined when every name is once. Read into objects, the later column would replace the
 * earlier one, so a file with such a header is refused rather than read. Empty names are left out:
 * the trailing commas of a spreadsheet's export name no column a schema reads.
 */
export function repeatedColumn(header: readonly string[]): { readonly column: string; readonly message: string } | undefined {
  const first = new Map<string, number>();
  for (const [i, column] of header.entries()) {
    if (column === '') continue;
    const seen = first.get(column);
    if (seen !== undefined) return { column, message: `the header names "${column}" in columns ${seen + 1} and ${i + 1}` };
    first.set(column, i);
  }
  return undefined;
}
