import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import * as z from 'zod/mini';
import { CsvRows, repeatedColumn } from '../../csv/reader.js';
import { utf8Pieces } from '../../csv/text.js';
import { DataError, type SourcePosition } from '../../errors.js';
import { checkOptions, describeValue, expected, lazySchema } from '../../util/options.js';
import { csvRowReader } from '../tabular.js';
import { type BackfillItem, type BackfillSource, fileRevision, hash, localFile } from './source.js';

// The checks and their refusals' messages as functions of their own (the schema is built once, by
// whichever call comes first).
const separatesFields = (delimiter: string) => !'"\r\n'.includes(delimiter);
const namesEachOnce = (header: string[]) => repeatedColumn(header) === undefined;
const delimiterRefusal = (issue: { readonly input?: unknown }) => `expected one character other than a quote or a line break, got ${describeValue(issue.input)}`;
const headerRefusal = (issue: { readonly input?: unknown }) => String(repeatedColumn(issue.input as string[])?.message);

const CSV_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  // A quote or a line break cannot separate fields: RFC 4180 gives them their own meanings.
  delimiter: z.optional(
    z.string({ error: expected('one character') }).check(
      z.length(1, { error: expected('one character') }),
      z.refine(separatesFields, { error: delimiterRefusal }),
    ),
  ),
  header: z.optional(
    z.array(z.string(), { error: expected('the column names, an array of strings') }).check(
      z.refine(namesEachOnce, { error: headerRefusal }),
    ),
  ),
}));

export interface CsvFileOptions {
  /** Field separator; default `,`. */
  readonly delimiter?: string;
  /** Column names; default the file's first row. */
  readonly header?: readonly string[];
}

/**
 * A CSV file (RFC 4180: quoted fields, `""`, newlines inside quotes), streamed. Cells are typed by
 * the group's source schema (numbers, bigints, booleans); an empty unquoted cell is an absent field.
 * A broken row (stray quote, wrong number of cells, bytes that are not UTF-8) is a poison record
 * with its line number; a file whose header is not UTF-8 text is refused as a `DataError`. Not
 * splittable (a quoted field may hold a newline): split large inputs into several files.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: csvFile('history.csv') });
 * ```
 */
export function csvFile(path: string, options: CsvFileOptions = {}): BackfillSource {
  const file = localFile(path, 'csvFile');
  checkOptions(CSV_OPTIONS, options, 'csvFile options');
  return {
    id: `csv:${file}${options.header ? `:${hash(options.header.join(','))}` : ''}`,
    unit: 'bytes',
    splittable: false,
    spec: { kind: 'csv', path: file, ...(options.delimiter ? { delimiter: options.delimiter } : {}), ...(options.header ? { header: [...options.header] } : {}) },
    size: async () => (await stat(file)).size,
    revision: () => fileRevision(file),
    async *read(group) {
      const rows = new CsvRows(options.delimiter ?? ',');
      let header = options.header;
      let toEvent = header ? csvRowReader(group.source, header) : undefined;
      let index = 0;
      let at = 0;
      let items: BackfillItem[] = [];
      // Whether the row now coming out may hold bytes that were not UTF-8 (as U+FFFD): a piece that was
      // not UTF-8 was read since the piece the row began in, which is where the row before it ended.
      let suspect = false;
      const notText = (cells: readonly (string | undefined)[]) => suspect && cells.some((c) => c?.includes('\uFFFD'));
      const emit = (row: { cells: (string | undefined)[]; line: number; malformed?: string }) => {
        if (!header) {
          // A file that is not text (a Parquet or zip file named .csv, UTF-16) fails here, not as a poison row per line.
          if (notText(row.cells) || row.cells.some((c) => c?.includes('\0'))) throw new DataError('INVALID_SOURCE', `${file}, line ${row.line}: the header is not UTF-8 text: is it a CSV file?`);
          header = row.cells.map((c) => c ?? '');
          // Refused whole, as an unreadable file is: every row would lose one of the two columns.
          const repeated = repeatedColumn(header);
          if (repeated) throw new DataError('INVALID_SOURCE', `${file}, line ${row.line}: ${repeated.message}`, { column: repeated.column });
          toEvent = csvRowReader(group.source, header);
          return;
        }
        const position: SourcePosition = { source: 'backfill', index: index++, file, line: row.line };
        if (notText(row.cells)) items.push({ raw: row.cells, unreadable: 'not valid UTF-8 (its bad bytes are U+FFFD here)', position });
        else if (row.malformed) items.push({ raw: row.cells, unreadable: `malformed CSV row: ${row.malformed}`, position });
        else if (row.cells.length !== header.length) {
          items.push({ raw: row.cells, unreadable: `CSV row has ${row.cells.length} cells, the header has ${header.length}`, position });
        } else items.push({ raw: (toEvent as (cells: readonly (string | undefined)[]) => unknown)(row.cells), asRead: row.cells, position });
      };
      for await (const piece of utf8Pieces(createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>)) {
        at += piece.bytes;
        suspect ||= !piece.valid;
        for (const row of rows.push(piece.text)) {
          emit(row);
          // The next row begins in this piece.
          suspect = !piece.valid;
        }
        yield { items, at };
        items = [];
      }
      for (const row of rows.end()) emit(row);
      if (items.length > 0) yield { items, at };
    },
  };
}
