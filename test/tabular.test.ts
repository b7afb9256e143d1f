import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { csvRowReader, parquetRowReader } from '../src/backfill/tabular.js';
import { lineOfRow } from '../src/csv/reader.js';
import { isoTimestamp } from '../src/index.js';

// How CSV and Parquet cells become the raw event a source schema takes: exact conversions only,
// anything else left as read for the schema to refuse (or, for Parquet, the row refused with why).

const source = z.object({
  amount: z.number(),
  count: z.number().int(),
  big: z.bigint(),
  flag: z.boolean(),
  seen: z.date(),
  ts: isoTimestamp(),
  note: z.string(),
  maybe: z.number().optional(),
});

describe('lineOfRow', () => {
  it('finds the line a data row starts on across quoted newlines, CRLF, a byte-order mark, blank lines and chunk edges, and stops reading there', async () => {
    const text = '\uFEFFid,note\r\n1,"two\r\nlines"\r\n\r\n2,x\n3,"a\n\nb"\n4,y';
    // Row by row: 1 on line 2, 2 after its two-line field and a blank line on 5, 3 on 6, 4 after its three-line field on 9.
    const expected = [2, 5, 6, 9, undefined];
    for (const size of [1, 3, text.length]) {
      const chunks = Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));
      for (const [row, line] of expected.entries()) expect(await lineOfRow(chunks, row), `row ${row}, chunks of ${size}`).toBe(line);
    }
    let read = 0;
    async function* counted() {
      for (const chunk of ['id\n', 'a\n', 'b\n', 'c\n']) {
        read++;
        yield chunk;
      }
    }
    expect(await lineOfRow(counted(), 1)).toBe(3);
    expect(read).toBe(3);
  });
});

describe('csvRowReader', () => {
  const header = ['amount', 'count', 'big', 'flag', 'seen', 'ts', 'note', 'maybe', 'extra'];
  const read = csvRowReader(source, header);
  const cells = (values: Record<string, string | undefined>) => header.map((name) => values[name]);

  it('types each cell by its field: numbers, bigints and booleans; dates, timestamps, text and unknown columns stay text', () => {
    expect(read(cells({ amount: '12.5', count: '-3', big: '-9007199254740993', flag: 'true', seen: '2024-01-01', ts: '2024-01-01T00:00:00Z', note: '42', maybe: '1e3', extra: '7' }))).toStrictEqual({
      amount: 12.5,
      count: -3,
      big: -9007199254740993n,
      flag: true,
      seen: '2024-01-01',
      ts: '2024-01-01T00:00:00Z',
      note: '42',
      maybe: 1000,
      extra: '7',
    });
  });

  it('reads booleans as true/1 and false/0 only', () => {
    const flag = (cell: string) => read(cells({ flag: cell }))['flag'];
    expect([flag('true'), flag('1'), flag('false'), flag('0')]).toEqual([true, true, false, false]);
    expect([flag('TRUE'), flag('yes'), flag(''), flag('2')]).toEqual(['TRUE', 'yes', '', '2']);
  });

  it('keeps a cell that does not read as its type as text, for the schema to refuse', () => {
    expect(read(cells({ amount: 'abc', count: '', big: '1.5', maybe: ' ' }))).toStrictEqual({ amount: 'abc', count: '', big: '1.5', maybe: ' ' });
    expect(read(cells({ amount: 'NaN', big: '+3', count: '0x1g' }))).toStrictEqual({ amount: 'NaN', big: '+3', count: '0x1g' });
    // Decimal notation, padded or signed, is a number; JavaScript's other spellings are not CSV's.
    expect(read(cells({ amount: ' 2 ', count: '+4', maybe: '-0.5' }))).toStrictEqual({ amount: 2, count: 4, maybe: -0.5 });
    expect(read(cells({ amount: '.5', count: '5.', maybe: '-2E-2' }))).toStrictEqual({ amount: 0.5, count: 5, maybe: -0.02 });
    // Several digits after a leading point and in an exponent.
    expect(read(cells({ amount: '.125', count: '15e12', maybe: '-2.5E+10' }))).toStrictEqual({ amount: 0.125, count: 15e12, maybe: -2.5e10 });
    for (const cell of ['0x10', '0b11', '0o17', 'Infinity', '-Infinity', '1e400', '1_000', '1e', '--1', '1.2.3']) expect(read(cells({ count: cell })), cell).toStrictEqual({ count: cell });
  });

  it('leaves an absent cell (empty unquoted, or past the end of a short row) out of the event', () => {
    expect(read(['1'])).toStrictEqual({ amount: 1 });
    expect(read([undefined, '2'])).toStrictEqual({ count: 2 });
    expect(read([])).toStrictEqual({});
  });

  it('reads a bigint with or without its sign, and leaves cells past the header out', () => {
    expect(read(cells({ big: '42' }))).toStrictEqual({ big: 42n });
    expect(csvRowReader(source, ['big'])(['-7', 'surplus'])).toStrictEqual({ big: -7n });
  });

  it('reads every column as text when the schema names no fields', () => {
    expect(csvRowReader(z.any(), ['a', 'b'])(['1', 'true'])).toStrictEqual({ a: '1', b: 'true' });
  });
});

describe('parquetRowReader', () => {
  const read = parquetRowReader(source);
  const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

  it('gives back the very row when nothing needs converting', () => {
    const row = { amount: 1.5, count: 2, big: 3n, flag: false, seen: new Date(0), note: 'x', maybe: 4 };
    expect(read(row).raw).toBe(row);
    expect(read(row).unreadable).toBeUndefined();
  });

  it('reads a NULL as an absent field, as an empty CSV cell is, and as null where the field is declared nullable', () => {
    // A column the schema does not name keeps what it holds.
    const row = { note: 'x', maybe: null, amount: null, other: undefined };
    expect(read(row).raw).toStrictEqual({ note: 'x', other: undefined });
    expect(row).toStrictEqual({ note: 'x', maybe: null, amount: null, other: undefined });
    const nullable = parquetRowReader(z.object({ id: z.string(), a: z.string().nullable(), b: z.string().nullish(), c: z.string().optional() }));
    expect(nullable({ id: 'x', a: null, b: null, c: null }).raw).toStrictEqual({ id: 'x', a: null, b: null });
    // So an optional field takes a NULL, and a required one is refused by the schema for its absence.
    const whole = { amount: 1, count: 1, big: 1n, flag: true, seen: new Date(0), ts: '2024-01-01T00:00:00Z', note: 'n' };
    expect(source.safeParse(read({ ...whole, maybe: null }).raw).success).toBe(true);
    expect(source.safeParse(read({ ...whole, amount: null }).raw).error?.issues).toMatchObject([{ path: ['amount'], message: 'Invalid input: expected number, received undefined' }]);
    // A field whose schema takes null otherwise than by .nullable() keeps it too.
    expect(parquetRowReader(z.object({ a: z.union([z.string(), z.null()]), b: z.any() }))({ a: null, b: null }).raw).toStrictEqual({ a: null, b: null });
    // A schema that is no plain object names no fields: its NULLs are left as read, as before.
    const piped = parquetRowReader(z.object({ a: z.string().nullable() }).transform((e) => e));
    const row2 = { a: null };
    expect(piped(row2).raw).toBe(row2);
  });

  it('takes an INT64 as a number only within +-2^53, and refuses the row beyond with the column and why', () => {
    expect(read({ count: SAFE, amount: -SAFE }).raw).toStrictEqual({ count: Number.MAX_SAFE_INTEGER, amount: -Number.MAX_SAFE_INTEGER });
    const above = { count: SAFE + 1n };
    expect(read(above)).toStrictEqual({ raw: above, unreadable: `column "count": the INT64 value ${SAFE + 1n} is beyond +-2^53 and cannot be a number exactly; declare the field z.bigint()` });
    expect(read({ amount: -SAFE - 1n }).unreadable).toMatch(/^column "amount": the INT64 value -9007199254740992 is beyond/);
    // 2^53 + 1 would round to 2^53 as a number.
    expect(read({ count: SAFE + 2n }).unreadable).toMatch(/^column "count": the INT64 value 9007199254740993 is beyond/);
  });

  it('takes whole numbers as bigints and as text, and leaves fractions alone', () => {
    expect(read({ big: 7, note: 8, ts: 9n }).raw).toStrictEqual({ big: 7n, note: '8', ts: '9' });
    expect(read({ big: 1.5, note: 2.5 }).raw).toStrictEqual({ big: 1.5, note: 2.5 });
    expect(read({ flag: 1n, big: 5n }).raw).toStrictEqual({ flag: 1n, big: 5n });
  });

  it('takes a DECIMAL column of up to 15 digits as text, and refuses a wider one for text or a bigint, where its number may be rounded', () => {
    const decimals = parquetRowReader(source, new Map([['note', 9], ['big', 38], ['amount', 38]]));
    expect(decimals({ note: 123.45 }).raw).toStrictEqual({ note: '123.45' });
    const rounded = Number('12345678901234567890.123456789012345678');
    expect(decimals({ big: rounded }).unreadable).toMatch(/^column "big": a DECIMAL\(38\) cell reaches skewless as a number, exact to 15 digits only/);
    expect(decimals({ amount: rounded }).raw).toStrictEqual({ amount: rounded });
    // Not a DECIMAL column: a DOUBLE's whole number is exact as it is, and its text too.
    expect(read({ note: 1e20 }).raw).toStrictEqual({ note: '100000000000000000000' });
  });

  it('writes a TIMESTAMP as ISO-8601 text for a text field, keeps it for a date, and refuses it for a number', () => {
    const at = new Date('2024-03-01T12:00:00.250Z');
    expect(read({ ts: at, note: at, seen: at }).raw).toStrictEqual({ ts: '2024-03-01T12:00:00.250Z', note: '2024-03-01T12:00:00.250Z', seen: at });
    expect(read({ amount: at }).unreadable).toBe(
      'column "amount": a TIMESTAMP where the schema takes a number (seconds or milliseconds would be a guess); declare the field isoTimestamp() or z.date()',
    );
    // An invalid date is left for the schema to refuse.
    const invalid = new Date(Number.NaN);
    expect(read({ ts: invalid, amount: invalid }).raw).toStrictEqual({ ts: invalid, amount: invalid });
  });

  it('decodes UTF-8 bytes for a text field, refuses the row when they are not UTF-8, and leaves bytes for another field', () => {
    const bytes = new TextEncoder().encode('café');
    expect(read({ note: bytes }).raw).toStrictEqual({ note: 'café' });
    expect(read({ amount: bytes }).raw).toStrictEqual({ amount: bytes });
    const broken = { note: new Uint8Array([0xff, 0xfe]) };
    expect(read(broken)).toStrictEqual({ raw: broken, unreadable: 'column "note": bytes that are not valid UTF-8 where the schema takes text' });
    // Such bytes in a column the schema does not name, or for a field that is not text, are left as they are.
    const hash = { note: 'x', sha256: new Uint8Array([0xff, 0x00, 0xfe]) };
    expect(read(hash).raw).toBe(hash);
    expect(parquetRowReader(z.object({ blob: z.any() }))({ blob: broken.note }).raw).toStrictEqual({ blob: broken.note });
    // A byte-order mark inside a cell is part of its text.
    expect(read({ note: new Uint8Array([0xef, 0xbb, 0xbf, 0x61]) }).raw).toStrictEqual({ note: '\uFEFFa' });
  });

  it('converts columns the schema does not name as text, and never changes the row it was given', () => {
    const row = { unknown: 5n, when: new Date(0), amount: 1n };
    expect(read(row).raw).toStrictEqual({ unknown: '5', when: '1970-01-01T00:00:00.000Z', amount: 1 });
    expect(row).toStrictEqual({ unknown: 5n, when: new Date(0), amount: 1n });
    // The same reader, a second row: each column's kind is the one it had.
    expect(read({ unknown: 6n, amount: 2n }).raw).toStrictEqual({ unknown: '6', amount: 2 });
  });
});
