import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asSource, type BackfillItem, type BackfillSource, csvFile, fileSource, fromRecords, ndjsonFile, parquetFile, type ShardRange, sourceFromSpec } from '../src/backfill/sources/index.js';
import { evenRanges } from '../src/backfill/sources/source.js';
import { utf8Pieces } from '../src/csv/text.js';
import { fileBytes, parquetSource } from '../src/backfill/sources/parquet.js';
import { ConfigurationError, DataError, defineFeatureGroup, isoTimestamp } from '../src/index.js';
import { readParquetRows } from '../src/parquet/reader.js';

// The backfill's sources, read directly: which rows each range gives, where each row is, how a
// file is recognised, and what a wrong argument is told. Fixed files, every split point.

const dir = mkdtempSync(join(tmpdir(), 'skewless-sources-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Uint8Array) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

const event = z.object({ id: z.string(), n: z.number() });
const group = defineFeatureGroup({ name: 'sources-events', recordIdentifier: 'id', eventTime: 't', source: event, features: z.object({ id: z.string(), t: z.date() }), transform: (e) => ({ id: e.id, t: new Date(e.n) }) });

async function blocks(source: BackfillSource, range?: ShardRange) {
  const out: { items: readonly BackfillItem[]; at: number }[] = [];
  for await (const block of source.read(group, range)) out.push(block);
  return out;
}
const items = async (source: BackfillSource, range?: ShardRange) => (await blocks(source, range)).flatMap((b) => b.items);

describe('evenRanges', () => {
  it('covers the size in about equal ranges, at most one per unit, and one empty range for nothing', () => {
    expect(evenRanges(10, 3)).toEqual([
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 8, end: 10 },
    ]);
    expect(evenRanges(3, 20)).toEqual([
      { start: 0, end: 1 },
      { start: 1, end: 2 },
      { start: 2, end: 3 },
    ]);
    expect(evenRanges(10, 0)).toEqual([{ start: 0, end: 10 }]);
    expect(evenRanges(0, 4)).toEqual([{ start: 0, end: 0 }]);
  });
});

describe('ndjsonFile', () => {
  // Byte offsets: 'é' is two bytes; a CRLF line, a blank line, a line of spaces, a broken line, a line not UTF-8.
  const lines = ['{"id":"a","n":1}', '{"id":"é","n":2}\r', '', '   ', '{"id":', '{"id":"c","n":3}'];
  const text = Buffer.concat([Buffer.from(`${lines.join('\n')}\n`), Buffer.from([0xff, 0x7b, 0x0a]), Buffer.from('{"id":"d","n":4}')]);
  const path = file('events.ndjson', text);
  const offsetOf = (needle: string | Buffer) => text.indexOf(needle);

  it('reads each line as an event with its file and byte offset, skipping blank lines and naming lines it cannot read', async () => {
    const read = await items(ndjsonFile(path));
    expect(read).toStrictEqual([
      // Each line's text too, without its CR: a refused row is kept as written.
      { raw: { id: 'a', n: 1 }, asRead: '{"id":"a","n":1}', position: { source: 'backfill', index: 0, file: path, byteOffset: 0 } },
      { raw: { id: 'é', n: 2 }, asRead: '{"id":"é","n":2}', position: { source: 'backfill', index: 1, file: path, byteOffset: offsetOf('{"id":"é"') } },
      { raw: '{"id":', unreadable: expect.stringMatching(/^not JSON: /), position: { source: 'backfill', index: 2, file: path, byteOffset: offsetOf('{"id":\n') } },
      { raw: { id: 'c', n: 3 }, asRead: '{"id":"c","n":3}', position: { source: 'backfill', index: 3, file: path, byteOffset: offsetOf('{"id":"c"') } },
      { raw: Buffer.from([0xff, 0x7b]), unreadable: 'not valid UTF-8', position: { source: 'backfill', index: 4, file: path, byteOffset: offsetOf(Buffer.from([0xff])) } },
      { raw: { id: 'd', n: 4 }, asRead: '{"id":"d","n":4}', position: { source: 'backfill', index: 5, file: path, byteOffset: offsetOf('{"id":"d"') } },
    ]);
  });

  it('refuses a JSON array file, on one line or printed over many, naming what it is instead of blaming the source schema', async () => {
    const events = [{ id: 'a', n: 1 }, { id: 'b', n: 2 }];
    const message = (path: string) => `${path} holds a JSON array (it starts with "["), not newline-delimited JSON: a backfill reads one JSON event per line; write the array's elements one per line (jq -c '.[]' ${path})`;
    const spaced = [
      ['compact.json', JSON.stringify(events)],
      ['pretty.json', JSON.stringify(events, null, 2)],
      ['bom.json', `\uFEFF\n\n${JSON.stringify(events)}\n`],
      // Printed with spaces: before the bracket, between it and the first object, and a line of spaces above it.
      ['indented.json', `  [\n  {"id":"a","n":1}\n]\n`],
      ['spaced.json', `[ {"id":"a","n":1}, {"id":"b","n":2} ]\n`],
      ['blank-first.json', ` \t\n${JSON.stringify(events)}\n`],
      // The first line is not JSON alone: the array goes on below it.
      ['split.json', `[{"id":"a","n":1},\n{"id":"b","n":2}]\n`],
      // One line longer than the 64 KB looked at: taken as the file's only one.
      ['long.json', `${JSON.stringify(Array.from({ length: 5000 }, (_, n) => ({ id: 'a', n })))}\n{"id":"b","n":2}\n`],
    ] as const;
    for (const [name, content] of spaced) {
      const array = file(name, content);
      const refused = await items(ndjsonFile(array)).catch((e: unknown) => e);
      expect(refused, name).toBeInstanceOf(DataError);
      expect(refused, name).toMatchObject({ code: 'INVALID_SOURCE', message: message(array) });
      // A plan of shards is refused before any shard reads: all but the first start past the first line.
      await expect(ndjsonFile(array).split?.(4), name).rejects.toThrow(message(array));
    }
    // An array as one event among others is the source schema's to judge, like any value; so is an array of numbers first.
    const arrayFirst = file('array-first.ndjson', '[{}]\n\n{"id":"a","n":1}\n');
    expect((await items(ndjsonFile(arrayFirst))).map((item) => item.raw)).toEqual([[{}], { id: 'a', n: 1 }]);
    expect(await ndjsonFile(arrayFirst).split?.(2)).toHaveLength(2);
    const rows = file('arrays.ndjson', '{}\n[{"id":"b"}]\n');
    expect((await items(ndjsonFile(rows))).map((item) => item.raw)).toEqual([{}, [{ id: 'b' }]]);
    expect(await ndjsonFile(rows).split?.(2)).toHaveLength(2);
    // Nor is such a line the first of a later shard: only the file's own first line is tested.
    expect((await items(ndjsonFile(rows), { start: 3, end: 17 })).map((item) => item.raw)).toEqual([[{ id: 'b' }]]);
    const numbers = file('numbers.ndjson', '[1,2]\n[]\n');
    expect((await items(ndjsonFile(numbers))).map((item) => item.raw)).toEqual([[1, 2], []]);
    expect(await ndjsonFile(numbers).split?.(2)).toHaveLength(2);
    // An object event holding an array of objects is an event, not an array file.
    const nested = file('nested.ndjson', '{"id":"a","items":[{"sku":1}]}\n');
    expect((await items(ndjsonFile(nested))).map((item) => item.raw)).toEqual([{ id: 'a', items: [{ sku: 1 }] }]);
    expect(await ndjsonFile(nested).split?.(2)).toHaveLength(2);
  });

  it("skips a UTF-8 byte-order mark at the file's start (the first line's offset stays its byte's), and only there", async () => {
    const bom = file('bom.ndjson', `\uFEFF{"id":"a","n":1}\n\uFEFF{"id":"b","n":2}\n`);
    const read = await items(ndjsonFile(bom));
    expect(read[0]).toStrictEqual({ raw: { id: 'a', n: 1 }, asRead: '{"id":"a","n":1}', position: { source: 'backfill', index: 0, file: bom, byteOffset: 3 } });
    // Inside the file it is a character like any other, which JSON does not take.
    expect(read[1]).toMatchObject({ raw: '\uFEFF{"id":"b","n":2}', unreadable: expect.stringMatching(/^not JSON: /) });
  });

  it('takes only the three bytes EF BB BF at the start of the file as a byte-order mark', async () => {
    // First characters that share one or two of its bytes: 㻿 (E3 BB BF), ＿ (EF BC BF), ﻻ (EF BB BB), » (C2 BB).
    for (const [i, first] of ['㻿', '＿', 'ﻻ', '»'].entries()) {
      const near = file(`near-bom-${i}.ndjson`, `${first}{"id":"a","n":1}\n`);
      expect(await items(ndjsonFile(near)), first).toStrictEqual([
        { raw: `${first}{"id":"a","n":1}`, unreadable: expect.stringMatching(/^not JSON: /), position: { source: 'backfill', index: 0, file: near, byteOffset: 0 } },
      ]);
    }
    // The mark's bytes where a later read chunk (a megabyte) starts: a character of that line, not a mark.
    const line = (i: number) => `{"i":${i},"p":"${'x'.repeat(63 - String(i).length - 13)}"}`;
    const chunk = `${Array.from({ length: (1 << 20) / 64 }, (_, i) => line(i)).join('\n')}\n`;
    expect(Buffer.byteLength(chunk)).toBe(1 << 20);
    const later = file('later-bom.ndjson', `${chunk}\uFEFF{"id":"b","n":2}\n`);
    expect((await items(ndjsonFile(later))).at(-1)).toMatchObject({ raw: '\uFEFF{"id":"b","n":2}', unreadable: expect.stringMatching(/^not JSON: /), position: { byteOffset: 1 << 20 } });
  });

  it('reads every line exactly once from two ranges split at any byte', async () => {
    const whole = (await items(ndjsonFile(path))).map((item) => item.position.byteOffset);
    const source = ndjsonFile(path);
    for (let at = 0; at <= text.length; at++) {
      const first = await items(source, { start: 0, end: at });
      const second = await items(source, { start: at, end: text.length });
      expect([...first, ...second].map((item) => item.position.byteOffset), `split at byte ${at}`).toEqual(whole);
      // A line belongs to the range its first byte is in.
      for (const item of first) expect(item.position.byteOffset as number).toBeLessThan(at);
      for (const item of second) expect(item.position.byteOffset as number).toBeGreaterThanOrEqual(at);
    }
  });

  it('gives blocks of at most 1,000 rows, each saying how far into the file the read is after it', async () => {
    const many = Array.from({ length: 2_500 }, (_, i) => `{"id":"e${i}","n":${i}}`);
    const big = file('many.ndjson', `${many.join('\n')}\n`);
    const read = await blocks(ndjsonFile(big));
    expect(read.map((b) => b.items.length)).toEqual([1000, 1000, 500]);
    const offsetOfLine = (i: number) => many.slice(0, i).reduce((n, line) => n + line.length + 1, 0);
    expect(read.map((b) => b.at)).toEqual([offsetOfLine(1000), offsetOfLine(2000), offsetOfLine(2500)]);
    expect(read[2]?.items[499]?.position).toStrictEqual({ source: 'backfill', index: 2499, file: big, byteOffset: offsetOfLine(2499) });
  });

  it('reads files of several read chunks (a megabyte each) exactly: lines across chunk ends, characters split by them, a line longer than a chunk', async () => {
    const MiB = 1 << 20;
    const pad = (i: number, width: number, char = 'x') => `{"i":${i},"p":"${char.repeat(width - String(i).length - 13)}"}`;
    const files = {
      // 64-byte lines: a chunk ends exactly at a newline.
      aligned: Array.from({ length: 40_000 }, (_, i) => pad(i, 63)).join('\n'),
      // 100-byte lines: chunks end inside lines.
      straddling: `${Array.from({ length: 30_000 }, (_, i) => pad(i, 99)).join('\n')}\n`,
      // Two-byte characters: chunk ends fall inside them.
      accented: Array.from({ length: 25_000 }, (_, i) => pad(i, 67, 'é')).join('\n'),
      // One line longer than two chunks, between short ones: a chunk without a newline.
      long: [pad(0, 20), pad(1, 2 * MiB + MiB / 2), pad(2, 20)].join('\n'),
    };
    for (const [name, content] of Object.entries(files)) {
      const bytes = Buffer.from(content);
      const path = file(`${name}.ndjson`, bytes);
      const starts = [0];
      for (let at = bytes.indexOf(10); at >= 0 && at + 1 < bytes.length; at = bytes.indexOf(10, at + 1)) starts.push(at + 1);
      const source = ndjsonFile(path);
      const read = await blocks(source);
      expect(read.every((b) => b.items.length > 0), name).toBe(true);
      expect(read.at(-1)?.at, name).toBe(bytes.length);
      const whole = read.flatMap((b) => b.items);
      expect(whole.map((item) => item.position.byteOffset), name).toEqual(starts);
      expect(whole.map((item) => (item.raw as { i: number }).i), name).toEqual(starts.map((_, i) => i));
      for (const at of [MiB - 1, MiB, MiB + 1, 2 * MiB, Math.floor(bytes.length / 3)]) {
        const first = await items(source, { start: 0, end: at });
        const second = await items(source, { start: at, end: bytes.length });
        expect([...first, ...second].map((item) => item.position.byteOffset), `${name} split at ${at}`).toEqual(starts);
        expect(first.every((item) => (item.position.byteOffset as number) < at)).toBe(true);
      }
    }
  });

  it('reads every line exactly once from three ranges, the middle one from any byte, a first blank line included', async () => {
    // The third: a blank line holds the last newline a range sees, and the last line (no newline after it) starts at the range's end.
    for (const content of [text, Buffer.concat([Buffer.from('\n\n'), text]), Buffer.from('{"id":"a","n":1}\n\n{"id":"b","n":2}')]) {
      const at = file('three.ndjson', content);
      const source = ndjsonFile(at);
      const whole = (await items(source)).map((item) => item.position.byteOffset);
      for (let x = 0; x <= content.length; x++) {
        for (const y of new Set([x, x + 1, x + 5, x + 23].map((end) => Math.min(end, content.length)))) {
          const parts = [await items(source, { start: 0, end: x }), await items(source, { start: x, end: y }), await items(source, { start: y, end: content.length })];
          expect(parts.flat().map((item) => item.position.byteOffset), `split at ${x} and ${y}`).toEqual(whole);
          for (const item of parts[1] ?? []) expect((item.position.byteOffset as number) >= x && (item.position.byteOffset as number) < y, `split at ${x} and ${y}`).toBe(true);
        }
      }
    }
  });

  it('drops the CR ending a line before reading it, skips lines of white space of any length, and reads a last line that is not UTF-8', async () => {
    const spaces = ' '.repeat(100);
    const content = Buffer.concat([
      Buffer.from(`{"id":\r\n${spaces}\n\t\u00a0\u00a0\n   {"id":"s","n":1}\n`),
      Buffer.from([0xff, 0x41, 0x0d, 0x0a, 0xfe, 0x42]),
    ]);
    const path = file('edges.ndjson', content);
    expect((await items(ndjsonFile(path))).map(({ raw, unreadable }) => ({ raw, unreadable }))).toStrictEqual([
      { raw: '{"id":', unreadable: expect.stringMatching(/^not JSON: /) },
      { raw: { id: 's', n: 1 }, unreadable: undefined },
      { raw: Buffer.from([0xff, 0x41]), unreadable: 'not valid UTF-8' },
      { raw: Buffer.from([0xfe, 0x42]), unreadable: 'not valid UTF-8' },
    ]);
  });

  it('drops the CR and skips white-space lines in text decoded as ASCII and as UTF-8', async () => {
    for (const [name, extra] of [['ascii', ''], ['utf8', '\n\u00a0\u00a0\n{"id":"é","n":2}']] as const) {
      const path = file(`text-${name}.ndjson`, `{"id":\r\n   \n\t\n${' '.repeat(80)}\n {"id":"s","n":1}${extra}\n`);
      const read = (await items(ndjsonFile(path))).map(({ raw, unreadable }) => ({ raw, unreadable }));
      expect(read, name).toStrictEqual([
        { raw: '{"id":', unreadable: expect.stringMatching(/^not JSON: /) },
        { raw: { id: 's', n: 1 }, unreadable: undefined },
        ...(extra ? [{ raw: { id: 'é', n: 2 }, unreadable: undefined }] : []),
      ]);
    }
  });

  it('gives a file of exactly 1,000 lines one block', async () => {
    const path = file('thousand.ndjson', `${Array.from({ length: 1000 }, (_, i) => `{"id":"t${i}","n":${i}}`).join('\n')}\n`);
    expect((await blocks(ndjsonFile(path))).map((b) => b.items.length)).toEqual([1000]);
  });

  it('is splittable by bytes, recreated from its spec, and sized in bytes', async () => {
    const source = ndjsonFile(path);
    expect(source).toMatchObject({ id: `ndjson:${path}`, unit: 'bytes', splittable: true, spec: { kind: 'ndjson', path } });
    expect(await source.size()).toBe(text.length);
    expect(await source.split?.(2)).toEqual(evenRanges(text.length, 2));
    expect(await items(sourceFromSpec({ kind: 'ndjson', path }))).toStrictEqual(await items(source));
  });
});

describe('csvFile', () => {
  const path = file('events.csv', 'id,n\na,1\n"b, quoted",2\nc\nd,4,extra\n"e"x,5\nf,\n');

  // First of the file's csvFile calls: the options schema is built by the first one, and the mutation
  // run sees a change to its messages only there.
  it('refuses a delimiter that is not one character and a header that is not names', () => {
    expect(() => csvFile(path, { delimiter: ';;' })).toThrow('csvFile options.delimiter: expected one character, got ";;"');
    expect(() => csvFile(path, { delimiter: 5 as never })).toThrow('csvFile options.delimiter: expected one character, got 5');
    expect(() => csvFile(path, { header: 'id,n' as never })).toThrow('csvFile options.header: expected the column names, an array of strings, got "id,n"');
    expect(() => csvFile(path, { headers: ['id'] } as never)).toThrow(/unknown option csvFile options\.headers \(did you mean "header"\?\)/);
    // A quote or a line break means something else in CSV; a column named twice would lose one of the two.
    expect(() => csvFile(path, { delimiter: '"' })).toThrow('csvFile options.delimiter: expected one character other than a quote or a line break, got "\\""');
    expect(() => csvFile(path, { delimiter: '\n' })).toThrow('csvFile options.delimiter: expected one character other than a quote or a line break, got "\\n"');
    expect(() => csvFile(path, { header: ['id', 'n', 'id'] })).toThrow(/^csvFile options\.header: the header names "id" in columns 1 and 3$/);
  });

  it('refuses a header that names a column twice, the file\'s or its own, instead of keeping the last of the two', async () => {
    const twice = file('twice.csv', 'id,id,n\nfirst,second,7\n');
    const error = await items(csvFile(twice)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect(error).toMatchObject({ code: 'INVALID_SOURCE', column: 'id', message: `${twice}, line 1: the header names "id" in columns 1 and 2` });
    expect(() => csvFile(path, { header: ['id', 'n', 'id'] })).toThrow(/^csvFile options\.header: the header names "id" in columns 1 and 3$/);
    // The trailing commas of a spreadsheet's export: empty names, which no schema reads, may repeat.
    const trailing = file('trailing.csv', 'id,n,,\na,1,,\n');
    expect(await items(csvFile(trailing))).toStrictEqual([{ raw: { id: 'a', n: 1 }, asRead: ['a', '1', undefined, undefined], position: { source: 'backfill', index: 0, file: trailing, line: 2 } }]);
  });

  it('skips the byte-order mark Excel writes before the header ("CSV UTF-8")', async () => {
    const excel = file('excel.csv', '\uFEFFid,n\r\na,1\r\n');
    expect(await items(csvFile(excel))).toStrictEqual([{ raw: { id: 'a', n: 1 }, asRead: ['a', '1'], position: { source: 'backfill', index: 0, file: excel, line: 2 } }]);
  });

  it('types cells by the source schema and names each broken row with its line', async () => {
    const read = await items(csvFile(path));
    // A row typed by the schema keeps its cells as written too, for the rejects file.
    expect(read).toStrictEqual([
      { raw: { id: 'a', n: 1 }, asRead: ['a', '1'], position: { source: 'backfill', index: 0, file: path, line: 2 } },
      { raw: { id: 'b, quoted', n: 2 }, asRead: ['b, quoted', '2'], position: { source: 'backfill', index: 1, file: path, line: 3 } },
      { raw: ['c'], unreadable: 'CSV row has 1 cells, the header has 2', position: { source: 'backfill', index: 2, file: path, line: 4 } },
      { raw: ['d', '4', 'extra'], unreadable: 'CSV row has 3 cells, the header has 2', position: { source: 'backfill', index: 3, file: path, line: 5 } },
      { raw: ['ex', '5'], unreadable: 'malformed CSV row: text after a closing quote', position: { source: 'backfill', index: 4, file: path, line: 6 } },
      { raw: { id: 'f' }, asRead: ['f', undefined], position: { source: 'backfill', index: 5, file: path, line: 7 } },
    ]);
  });

  it('takes a delimiter and a header of its own, which name its id and spec', async () => {
    const semicolons = file('headerless.csv', 'a;1\nb;2\n');
    const source = csvFile(semicolons, { delimiter: ';', header: ['id', 'n'] });
    expect(await items(source)).toStrictEqual([
      { raw: { id: 'a', n: 1 }, asRead: ['a', '1'], position: { source: 'backfill', index: 0, file: semicolons, line: 1 } },
      { raw: { id: 'b', n: 2 }, asRead: ['b', '2'], position: { source: 'backfill', index: 1, file: semicolons, line: 2 } },
    ]);
    expect(source).toMatchObject({ unit: 'bytes', splittable: false, spec: { kind: 'csv', path: semicolons, delimiter: ';', header: ['id', 'n'] } });
    expect(source.id).toMatch(new RegExp(`^csv:${semicolons}:[0-9a-f]{12}$`));
    expect(csvFile(semicolons, { header: ['n', 'id'] }).id).not.toBe(source.id);
    expect(csvFile(semicolons).id).toBe(`csv:${semicolons}`);
    expect(csvFile(semicolons).spec).toStrictEqual({ kind: 'csv', path: semicolons });
    expect(await items(sourceFromSpec(source.spec as NonNullable<BackfillSource['spec']>))).toStrictEqual(await items(source));
    expect(await source.size()).toBe(8);
  });

  it('reads the last row of a file without a final newline, in blocks that say how far the read is', async () => {
    const text = 'id,,n\na,x,1\nb,y,2';
    const unterminated = file('unterminated.csv', text);
    // An empty header cell names a column '' (the schema then ignores it).
    // The last row is complete only at the end of the file: a block of its own.
    expect(await blocks(csvFile(unterminated))).toStrictEqual([
      { items: [{ raw: { id: 'a', '': 'x', n: 1 }, asRead: ['a', 'x', '1'], position: { source: 'backfill', index: 0, file: unterminated, line: 2 } }], at: text.length },
      { items: [{ raw: { id: 'b', '': 'y', n: 2 }, asRead: ['b', 'y', '2'], position: { source: 'backfill', index: 1, file: unterminated, line: 3 } }], at: text.length },
    ]);
    expect(await blocks(csvFile(file('header-only.csv', 'id,n\n')))).toStrictEqual([{ items: [], at: 5 }]);
  });

  it('refuses a row holding bytes that are not UTF-8 as poison instead of reading U+FFFD for them, and keeps a U+FFFD a UTF-8 file holds', async () => {
    // "Zürich" as Latin-1 (0xFC), between two rows in UTF-8.
    const latin1 = file('latin1.csv', Buffer.concat([Buffer.from('id,n\nM\u00fcnchen,1\n'), Buffer.from([0x5a, 0xfc, 0x72, 0x69, 0x63, 0x68]), Buffer.from(',2\nK\u00f6ln,3\n')]));
    expect(await items(csvFile(latin1))).toStrictEqual([
      { raw: { id: 'M\u00fcnchen', n: 1 }, asRead: ['M\u00fcnchen', '1'], position: { source: 'backfill', index: 0, file: latin1, line: 2 } },
      { raw: ['Z\ufffdrich', '2'], unreadable: 'not valid UTF-8 (its bad bytes are U+FFFD here)', position: { source: 'backfill', index: 1, file: latin1, line: 3 } },
      { raw: { id: 'K\u00f6ln', n: 3 }, asRead: ['K\u00f6ln', '3'], position: { source: 'backfill', index: 2, file: latin1, line: 4 } },
    ]);
    // An empty cell (undefined) before the bad one.
    const emptyFirst = file('latin1-empty.csv', Buffer.concat([Buffer.from('id,n\n,'), Buffer.from([0x5a, 0xfc]), Buffer.from('\n')]));
    expect(await items(csvFile(emptyFirst))).toStrictEqual([
      { raw: [undefined, 'Z\ufffd'], unreadable: 'not valid UTF-8 (its bad bytes are U+FFFD here)', position: { source: 'backfill', index: 0, file: emptyFirst, line: 2 } },
    ]);
    // A quoted field longer than the 1 MB read blocks: its bad byte is in the first block it spans, the row ends two blocks later.
    const long = 'a'.repeat(2_500_000);
    const spanning = file('latin1-long.csv', Buffer.concat([Buffer.from('id,n\n"Z'), Buffer.from([0xfc]), Buffer.from(`${long}",1\nK\u00f6ln,3\n`)]));
    expect((await items(csvFile(spanning))).map((item) => [item.unreadable, item.position])).toStrictEqual([
      ['not valid UTF-8 (its bad bytes are U+FFFD here)', { source: 'backfill', index: 0, file: spanning, line: 2 }],
      [undefined, { source: 'backfill', index: 1, file: spanning, line: 3 }],
    ]);
    // In a file that is UTF-8 throughout, U+FFFD is a character like any other.
    const replacement = file('replacement.csv', 'id,n\n\ufffd,3\n');
    expect(await items(csvFile(replacement))).toStrictEqual([{ raw: { id: '\ufffd', n: 3 }, asRead: ['\ufffd', '3'], position: { source: 'backfill', index: 0, file: replacement, line: 2 } }]);
    // In its header too: a name may hold it.
    const named = file('replacement-header.csv', 'id,n,\ufffd\na,3,x\n');
    expect((await items(csvFile(named))).map((item) => item.unreadable)).toEqual([undefined]);
  });

  it('reads a character whose bytes the 1 MB read blocks split, as one character', async () => {
    // Each of these rows is 12 bytes, after 13 bytes of header and padding: the block's end falls after
    // the first 3 bytes of the 4-byte emoji of the row that crosses the 1,048,576th byte.
    const rows = ['paddi,0\n', ...Array.from({ length: 100_000 }, (_, i) => `\u{1F600}${String(i).padStart(5, '0')},1\n`)];
    const text = `id,n\n${rows.join('')}`;
    const bytes = Buffer.from(text);
    expect(bytes.subarray((1 << 20) - 3, (1 << 20) + 1)).toEqual(Buffer.from('\u{1F600}'));
    const cut = file('cut.csv', text);
    const read = await items(csvFile(cut));
    expect(read).toHaveLength(100_001);
    expect(read.filter((item) => item.unreadable !== undefined)).toEqual([]);
    expect(read.map((item) => (item.raw as { id: string }).id)).toEqual(rows.map((row) => row.slice(0, row.indexOf(','))));
    const progress = await blocks(csvFile(cut));
    expect(progress.at(-1)?.at).toBe(Buffer.byteLength(text));
  });

  it('refuses a file that is not text (a Parquet file named .csv, UTF-16) at its header, not as a poison row per line', async () => {
    const parquet = file('not-csv.csv', new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'id', data: ['a', 'b'], type: 'STRING' }] })));
    const utf16 = file('utf16.csv', Buffer.from('\ufeffid,n\na,1\n', 'utf16le'));
    // UTF-8 bytes, but a NUL in one of its names: no text file's header holds one.
    const nul = file('nul.csv', 'id\0,n\na,1\n');
    for (const path of [parquet, utf16, nul]) {
      const error = await items(csvFile(path)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect(error).toMatchObject({ code: 'INVALID_SOURCE', message: `${path}, line 1: the header is not UTF-8 text: is it a CSV file?` });
    }
  });

  it('names its id by the file and, with a header of its own, a digest of the header', () => {
    const headerless = join(dir, 'headerless.csv');
    expect(csvFile(headerless, { header: ['id', 'n'] }).id).toBe(`csv:${headerless}:${createHash('sha256').update('id,n').digest('hex').slice(0, 12)}`);
  });
});

describe('utf8Pieces', () => {
  async function* chunksOf(...parts: Buffer[]): AsyncGenerator<Buffer> {
    yield* parts;
  }
  const pieces = async (...parts: Buffer[]) => {
    const out: { text: string; valid: boolean; bytes: number }[] = [];
    for await (const piece of utf8Pieces(chunksOf(...parts))) out.push(piece);
    return out;
  };
  // Characters of 1, 2, 3 and 4 bytes, each with the smallest lead byte of its length (0xC2, 0xE0, 0xF0).
  const text = 'a\u0080\u0800\u{10000}\u00e9\u{1F600}z';
  const bytes = Buffer.from(text);

  it('keeps a character whole wherever a chunk boundary cuts it, and counts every byte', async () => {
    for (let i = 0; i <= bytes.length; i++) {
      for (let j = i; j <= bytes.length; j++) {
        const read = await pieces(bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j));
        expect(read.map((p) => p.text).join(''), `cut at ${i} and ${j}`).toBe(text);
        expect(read.every((p) => p.valid && !p.text.includes('\ufffd')), `cut at ${i} and ${j}`).toBe(true);
        expect(read.map((p) => p.bytes), `cut at ${i} and ${j}`).toEqual([i, j - i, bytes.length - j]);
      }
    }
  });

  it('says which pieces held bytes that are not UTF-8, and ends with the bytes of a character the file cuts off', async () => {
    expect(await pieces(Buffer.from([0x61, 0xfc, 0x62]), Buffer.from('c'))).toEqual([
      { text: 'a\ufffdb', valid: false, bytes: 3 },
      { text: 'c', valid: true, bytes: 1 },
    ]);
    // Stray continuation bytes are not carried: they begin no character.
    expect(await pieces(Buffer.from([0x61, 0x80, 0x80, 0x80, 0x80]), Buffer.from('b'))).toEqual([
      { text: 'a\ufffd\ufffd\ufffd\ufffd', valid: false, bytes: 5 },
      { text: 'b', valid: true, bytes: 1 },
    ]);
    // The file ends two bytes into an emoji.
    expect(await pieces(Buffer.from([0x61, 0xf0, 0x9f]))).toEqual([
      { text: 'a', valid: true, bytes: 3 },
      { text: '\ufffd', valid: false, bytes: 0 },
    ]);
    expect(await pieces()).toEqual([]);
  });
});

describe('parquetFile', () => {
  const rows = 50;
  const path = file(
    'events.parquet',
    new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'id', data: Array.from({ length: rows }, (_, i) => `p${i}`), type: 'STRING' },
          { name: 'n', data: Array.from({ length: rows }, (_, i) => BigInt(i)), type: 'INT64' },
        ],
        rowGroupSize: 10,
      }),
    ),
  );

  it('splits along row groups, merging small ones up to about total / count rows', async () => {
    const source = parquetFile(path);
    expect(source).toMatchObject({ id: `parquet:${path}`, unit: 'rows', splittable: true, spec: { kind: 'parquet', path } });
    expect(await source.size()).toBe(50);
    expect(await source.split?.(2)).toEqual([
      { start: 0, end: 30 },
      { start: 30, end: 50 },
    ]);
    expect(await source.split?.(5)).toEqual([0, 10, 20, 30, 40].map((start) => ({ start, end: start + 10 })));
    expect(await source.split?.(0)).toEqual([{ start: 0, end: 50 }]);
  });

  it('reads the row groups that start in a range, a block per row group, INT64 cells as numbers', async () => {
    const read = await blocks(parquetFile(path), { start: 25, end: 40 });
    expect(read.map((b) => [b.items.length, b.at])).toEqual([[10, 40]]);
    // The row as the file holds it too, for the rejects should the schema refuse it.
    expect(read[0]?.items[0]).toStrictEqual({ raw: { id: 'p30', n: 30 }, asRead: { id: 'p30', n: 30n }, position: { source: 'backfill', index: 30, file: path } });
    expect((await items(parquetFile(path))).map((item) => item.position.index)).toEqual(Array.from({ length: rows }, (_, i) => i));
  });

  it('reads a range that starts where a row group starts from that group on', async () => {
    expect((await items(parquetFile(path), { start: 30, end: 50 })).map((item) => item.position.index)).toEqual(Array.from({ length: 20 }, (_, i) => 30 + i));
  });

  it('reads a local file by exact slices, the end defaulting to its size, until closed', async () => {
    const bytes = await fileBytes(file('bytes.bin', 'abcdefgh'));
    expect(bytes.byteLength).toBe(8);
    expect(Buffer.from(await bytes.slice(2, 5)).toString()).toBe('cde');
    expect(Buffer.from(await bytes.slice(6)).toString()).toBe('gh');
    await bytes.close?.();
    await expect(bytes.slice(0, 1)).rejects.toThrow();
  });

  it('reads any byte source, closing it after each use when it can be closed; without a file, positions name none', async () => {
    const buffer = readFileSync(path);
    const memory = { byteLength: buffer.byteLength, slice: async (start: number, end = buffer.byteLength) => buffer.buffer.slice(buffer.byteOffset + start, buffer.byteOffset + end) as ArrayBuffer };
    let closed = 0;
    const closing = parquetSource('closing', async () => ({ ...memory, close: async () => void closed++ }));
    expect(await closing.size()).toBe(50);
    expect(await closing.split?.(5)).toHaveLength(5);
    expect(await items(closing, { start: 0, end: 10 })).toHaveLength(10);
    expect(closed).toBe(3);
    // A source without close (a buffer already in memory).
    const plain = parquetSource('plain', async () => memory);
    expect(await plain.size()).toBe(50);
    expect(await plain.split?.(2)).toHaveLength(2);
    expect((await items(plain, { start: 10, end: 20 }))[0]).toStrictEqual({ raw: { id: 'p10', n: 10 }, asRead: { id: 'p10', n: 10n }, position: { source: 'backfill', index: 10 } });
  });

  it('keeps a row it cannot read exactly, with the reason, and a row it can without one', async () => {
    const lossy = file(
      'lossy.parquet',
      new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'id', data: ['ok', 'big'], type: 'STRING' }, { name: 'n', data: [1n, 2n ** 60n], type: 'INT64' }] })),
    );
    const [ok, big] = await items(parquetFile(lossy));
    expect(ok).toStrictEqual({ raw: { id: 'ok', n: 1 }, asRead: { id: 'ok', n: 1n }, position: { source: 'backfill', index: 0, file: lossy } });
    expect(big).toMatchObject({
      raw: { id: 'big', n: 2n ** 60n },
      unreadable: 'column "n": the INT64 value 1152921504606846976 is beyond +-2^53 and cannot be a number exactly; declare the field z.bigint()',
    });
  });

  it('reads a DECIMAL as text only where the number it arrives as is exact (15 digits), and never a rounded one', async () => {
    // Written by DuckDB, as Spark and pandas write decimals: a nested column first, so its children come before the decimals in the footer.
    const decimals = join(dir, 'decimals.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const duck = await (await DuckDBInstance.create()).connect();
    await duck.run(
      `COPY (SELECT 'c1' AS id, {'a': 1, 'b': {'c': 2}} AS nested, '12345678901234567890.123456789012345678'::DECIMAL(38,18) AS wide, '123.45'::DECIMAL(9,2) AS narrow, 42::DECIMAL(15,0) AS whole) TO '${decimals}' (FORMAT parquet)`,
    );
    duck.closeSync();
    const typed = (fields: Record<string, z.ZodType>) =>
      defineFeatureGroup({ name: 'decimals', recordIdentifier: 'id', eventTime: 't', source: z.object({ id: z.string(), ...fields }), features: z.object({ id: z.string(), t: z.date() }), transform: (e) => ({ id: e.id, t: new Date(0) }) });
    const read = async (fields: Record<string, z.ZodType>) => {
      const source = parquetFile(decimals);
      const out: BackfillItem[] = [];
      for await (const block of source.read(typed(fields))) out.push(...block.items);
      return out[0] as BackfillItem;
    };
    expect((await read({ narrow: z.string(), whole: z.bigint() })).raw).toMatchObject({ narrow: '123.45', whole: 42n });
    for (const fields of [{ wide: z.string() }, { wide: z.bigint() }]) {
      expect(await read(fields)).toMatchObject({
        unreadable: 'column "wide": a DECIMAL(38) cell reaches skewless as a number, exact to 15 digits only; cast the column to text (or to an integer of its smallest unit) where the file is written',
      });
    }
    // A number field takes the nearest number, as from any file.
    expect((await read({ wide: z.number() })).raw).toMatchObject({ wide: 12345678901234567000 });
  });

  it('reads a timestamp finer than a millisecond as the millisecond it falls in, before 1970 as after it, as an ISO text of it is read', async () => {
    const path = join(dir, 'fine-times.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const duck = await (await DuckDBInstance.create()).connect();
    const times = ['1965-03-02 10:00:00.123456', '1969-12-31 23:59:59.9995', '2024-05-01 12:00:00.9999'];
    await duck.run(
      `COPY (SELECT * FROM (VALUES ${times.map((t, i) => `('r${i}', TIMESTAMP '${t}', TIMESTAMP_NS '${t}')`).join(', ')}) v(id, micros, nanos)) TO '${path}' (FORMAT parquet)`,
    );
    duck.closeSync();
    const group = defineFeatureGroup({
      name: 'fine-times',
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string(), micros: z.date(), nanos: z.date() }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => ({ id: e.id, t: e.micros }),
    });
    const out: BackfillItem[] = [];
    for await (const block of parquetFile(path).read(group)) out.push(...block.items);
    const expected = ['1965-03-02T10:00:00.123Z', '1969-12-31T23:59:59.999Z', '2024-05-01T12:00:00.999Z'];
    expect(out.map((item) => (item.raw as { micros: Date }).micros.toISOString())).toEqual(expected);
    expect(out.map((item) => (item.raw as { nanos: Date }).nanos.toISOString())).toEqual(expected);
    // The ISO text of the same instants, read by isoTimestamp(), lands on the same milliseconds.
    expect(['1965-03-02T10:00:00.123456Z', '1969-12-31T23:59:59.9995Z', '2024-05-01T12:00:00.9999Z'].map((t) => (isoTimestamp().parse(t) as Date).toISOString())).toEqual(expected);
    // A Parquet spine's times are read the same way.
    const spineRows = await readParquetRows(readFileSync(path));
    expect(spineRows.map((row) => (row['micros'] as Date).toISOString())).toEqual(expected);
  });

  it('reads a file written by DuckDB as its CSV export would be read: a NULL is an absent field, a BLOB of UTF-8 is text, one of other bytes refuses its row', async () => {
    const path = join(dir, 'blobs.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const duck = await (await DuckDBInstance.create()).connect();
    await duck.run(
      `COPY (SELECT *, '\\xFF\\x00'::BLOB AS sha256 FROM (VALUES ('r1', 'caf\\xC3\\xA9'::BLOB, NULL::VARCHAR, NULL::BIGINT), ('r2', '\\xFF\\xFE'::BLOB, 'x', 7::BIGINT), ('r3', 'ok'::BLOB, NULL, NULL)) t(id, s, opt, n)) TO '${path}' (FORMAT parquet)`,
    );
    duck.closeSync();
    const group = defineFeatureGroup({
      name: 'blobs',
      recordIdentifier: 'id',
      eventTime: 't',
      source: z.object({ id: z.string(), s: z.string(), opt: z.string().optional(), n: z.number().nullable() }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => ({ id: e.id, t: new Date(0) }),
    });
    const out: BackfillItem[] = [];
    for await (const block of parquetFile(path).read(group)) out.push(...block.items);
    // A refused row is kept as read (its INT64 a bigint), for the rejects file.
    // A binary column the schema does not name (a hash) is left as bytes, refusing nothing.
    const sha256 = new Uint8Array([0xff, 0x00]);
    expect(out.map((item) => [item.raw, item.unreadable])).toStrictEqual([
      [{ id: 'r1', s: 'café', n: null, sha256 }, undefined],
      [{ id: 'r2', s: new Uint8Array([0xff, 0xfe]), opt: 'x', n: 7n, sha256 }, 'column "s": bytes that are not valid UTF-8 where the schema takes text'],
      [{ id: 'r3', s: 'ok', n: null, sha256 }, undefined],
    ]);
    for (const item of [out[0], out[2]]) expect(group.source.safeParse(item?.raw).success).toBe(true);
    // What the file holds, NULLs included, for the rejects file should the schema refuse the row.
    expect(out.map((item) => item.asRead)).toStrictEqual([{ id: 'r1', s: 'café', opt: null, n: null, sha256 }, undefined, { id: 'r3', s: 'ok', opt: null, n: null, sha256 }]);
  });

  it('gives an empty file one empty range', async () => {
    const empty = file('empty.parquet', new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'id', data: [], type: 'STRING' }] })));
    expect(await parquetFile(empty).split?.(3)).toEqual([{ start: 0, end: 0 }]);
    expect(await items(parquetFile(empty))).toEqual([]);
  });

  it('names the file that is not Parquet (too short, or without the footer), as a DataError of the source with the reader\'s error as its cause', async () => {
    for (const [name, content] of [['tiny.parquet', 'PAR1'], ['text.parquet', 'card_id,amount\nc1,5\n'.repeat(20)]] as const) {
      const path = file(name, content);
      const error = await items(parquetFile(path)).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(DataError);
      expect((error as DataError).code, name).toBe('INVALID_SOURCE');
      expect((error as DataError).message.startsWith(`${path}: cannot read a Parquet footer (is it a Parquet file?): `), (error as Error).message).toBe(true);
      expect((error as DataError).cause, name).toBeInstanceOf(Error);
    }
    // A byte source without a file is named by its id.
    const bytes = readFileSync(file('not.parquet', 'PAR1'));
    const error = await parquetSource('memory:not', async () => ({ byteLength: bytes.byteLength, slice: async (start: number, end = bytes.byteLength) => bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer })).size().catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^memory:not: cannot read a Parquet footer/);
  });
});

describe('fromRecords', () => {
  it('reads an array in blocks of 1,000, any row range of it, and names it by its length', async () => {
    const records = Array.from({ length: 2_001 }, (_, i) => ({ id: `r${i}`, n: i }));
    const source = fromRecords(records);
    expect(source).toMatchObject({ id: expect.stringMatching(/^records:2001:[0-9a-f]{12}$/), unit: 'rows', splittable: true, replayable: true });
    expect(source.spec).toBeUndefined();
    expect(await source.size()).toBe(2001);
    expect(await source.split?.(2)).toEqual([
      { start: 0, end: 1001 },
      { start: 1001, end: 2001 },
    ]);
    expect((await blocks(source)).map((b) => [b.items.length, b.at])).toEqual([
      [1000, 1000],
      [1000, 2000],
      [1, 2001],
    ]);
    const range = await blocks(source, { start: 999, end: 1001 });
    // A block holds 1,000 rows of the range, wherever the range starts.
    expect(range).toStrictEqual([
      {
        items: [
          { raw: records[999], position: { source: 'backfill', index: 999 } },
          { raw: records[1000], position: { source: 'backfill', index: 1000 } },
        ],
        at: 1001,
      },
    ]);
    expect((await blocks(source, { start: 500, end: 2001 })).map((b) => [b.items.length, b.at])).toEqual([
      [1000, 1500],
      [501, 2001],
    ]);
    expect(fromRecords([], { id: 'mine' }).id).toBe('mine');
    // Exactly a block: no empty block after it.
    expect((await blocks(fromRecords(records.slice(0, 1000)))).map((b) => [b.items.length, b.at])).toEqual([[1000, 1000]]);
    expect(await blocks(fromRecords([]))).toEqual([]);
  });

  it('reads an iterable or an async iterable once, in order, not splittable', async () => {
    function* generated() {
      yield { id: 'g0', n: 0 };
      yield { id: 'g1', n: 1 };
    }
    async function* streamed() {
      yield { id: 's0', n: 0 };
    }
    const sync = fromRecords(generated());
    expect(sync).toMatchObject({ id: expect.stringMatching(/^records:[0-9a-f-]{36}$/), splittable: false, replayable: false });
    expect(await sync.size()).toBeUndefined();
    expect(await sync.split?.(3)).toEqual([{ start: 0, end: 0 }]);
    expect((await items(sync)).map((item) => item.raw)).toEqual([
      { id: 'g0', n: 0 },
      { id: 'g1', n: 1 },
    ]);
    expect((await items(fromRecords(streamed()))).map((item) => [item.raw, item.position.index])).toEqual([[{ id: 's0', n: 0 }, 0]]);
    expect((await items(fromRecords(new Set([1, 2, 3])), { start: 1, end: 2 })).map((item) => item.raw)).toEqual([2]);
  });

  it('refuses what is not records, and an id that is not text', () => {
    expect(() => fromRecords('history.ndjson' as never)).toThrow('fromRecords: expected an array or an (async) iterable of raw events, got "history.ndjson"');
    expect(() => fromRecords(5 as never)).toThrow('fromRecords: expected an array or an (async) iterable of raw events, got 5');
    expect(() => fromRecords(null as never)).toThrow('fromRecords: expected an array or an (async) iterable of raw events, got null');
    expect(() => fromRecords({} as never)).toThrow('fromRecords: expected an array or an (async) iterable of raw events, got an object');
    expect(() => fromRecords([], { id: 5 as never })).toThrow('fromRecords options.id: expected text, got 5');
    expect(() => fromRecords(5 as never)).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG' }));
  });
});

describe('fileSource, sourceFromSpec and asSource', () => {
  it('tells a file by its extension, in any case', () => {
    const ndjson = file('x.NDJSON', '{}\n');
    expect(fileSource(ndjson).spec).toStrictEqual({ kind: 'ndjson', path: ndjson });
    expect(fileSource(file('x.jsonl', '{}\n')).spec).toMatchObject({ kind: 'ndjson' });
    expect(fileSource(file('x.json', '{}\n')).spec).toMatchObject({ kind: 'ndjson' });
    expect(fileSource(file('x.Csv', 'a\n')).spec).toMatchObject({ kind: 'csv' });
    expect(fileSource(join(dir, 'events.parquet')).spec).toMatchObject({ kind: 'parquet' });
    const txt = file('x.txt', '');
    expect(() => fileSource(txt)).toThrow(`cannot tell the format of ${txt}: name it .ndjson, .jsonl, .csv or .parquet`);
  });

  it('refuses a path that names no file, or is no path, before anything is read', () => {
    const missing = join(dir, 'missing.ndjson');
    expect(() => fileSource(missing)).toThrow(`fileSource: no file at ${missing}`);
    expect(() => ndjsonFile('' as never)).toThrow('ndjsonFile: expected a file path, got ""');
    expect(() => csvFile(7 as never)).toThrow('csvFile: expected a file path, got 7');
    expect(() => parquetFile(missing)).toThrow(`parquetFile: no file at ${missing}`);
    for (const refused of [() => parquetFile(missing), () => ndjsonFile('' as never)]) expect(refused).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG' }));
  });

  it('refuses a directory where a file is meant, before anything is read', () => {
    const folder = join(dir, 'events.ndjson.d');
    mkdirSync(folder, { recursive: true });
    expect(() => ndjsonFile(folder)).toThrow(`ndjsonFile: ${folder} is a directory: give the path of a file`);
    expect(() => csvFile(dir)).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: `csvFile: ${dir} is a directory: give the path of a file` }));
    expect(() => parquetFile('/dev/null')).toThrow('parquetFile: /dev/null is not a regular file: give the path of a file');
    const underAFile = join(file('plain.ndjson', ''), 'events.ndjson');
    expect(() => ndjsonFile(underAFile)).toThrow(`ndjsonFile: no file at ${underAFile}`);
  });

  it("gives each local file a revision of its size and modification time, so a checkpoint of another revision is not resumed", async () => {
    const make = { ndjson: ndjsonFile, csv: csvFile, parquet: parquetFile };
    for (const [kind, source] of Object.entries(make)) {
      const path = file(`revision.${kind}`, kind === 'parquet' ? readFileSync(join(dir, 'events.parquet')) : 'id,n\n');
      const first = await source(path).revision?.();
      expect(first, kind).toEqual(expect.any(String));
      expect(await source(path).revision?.(), kind).toBe(first);
      writeFileSync(path, kind === 'parquet' ? Buffer.concat([readFileSync(path), Buffer.from('x')]) : 'id,n\na,1\n');
      expect(await source(path).revision?.(), kind).not.toBe(first);
    }
  });

  it('recreates the sources of its spec kinds only', async () => {
    const path = join(dir, 'events.parquet');
    expect(sourceFromSpec({ kind: 'parquet', path }).id).toBe(`parquet:${path}`);
    expect(() => sourceFromSpec({ kind: 's3-parquet', bucket: 'b' })).toThrow('unknown backfill source kind "s3-parquet" (S3 and Athena sources are recreated by skewless/aws)');
  });

  it('takes a source as it is, wraps records, and refuses a string or anything else with what to use', () => {
    const source = fromRecords([1]);
    expect(asSource(source)).toBe(source);
    // An array is named by its content: the same events are the same input, others of the same length are not.
    expect(asSource([1, 2]).id).toBe(asSource([1, 2]).id);
    expect(asSource([1, 2]).id).not.toBe(asSource([1, 3]).id);
    expect(asSource([{ n: 1n }]).id).not.toBe(asSource([{ n: 2n }]).id);
    expect(() => asSource('data/cards.ndjson' as never)).toThrow(
      'backfill: from is the string "data/cards.ndjson"; for a file use ndjsonFile(path), csvFile(path), parquetFile(path) or fileSource(path)',
    );
    expect(() => asSource({ read: () => undefined } as never, 'backfillShard')).toThrow(
      'backfillShard: from must be a source (ndjsonFile(), csvFile(), parquetFile(), fileSource(), ...), an array or an (async) iterable of raw events; got an object',
    );
    expect(() => asSource(undefined as never)).toThrow(/; got undefined$/);
  });

  it('takes an object for a source only with read, size and unit; refusals are ConfigurationErrors with a code', () => {
    const read = () => undefined;
    const size = () => undefined;
    for (const partial of [{ read, size }, { read, unit: 'bytes' }, { size, unit: 'bytes' }, null, 5, true]) {
      const label = `${Object.keys(partial ?? {}).join(',') || JSON.stringify(partial)}`;
      expect(() => asSource(partial as never, 'here'), label).toThrow(ConfigurationError);
      expect(() => asSource(partial as never, 'here'), label).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringMatching(/^here: from must be a source .*; got /) }));
    }
    expect(() => asSource('x' as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => fileSource(file('y.txt', ''))).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => sourceFromSpec({ kind: 'nope' } as never)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
  });

  it('wraps iterables that are not arrays, sync and async, as records', async () => {
    async function* events() {
      yield { id: 'a', n: 1 };
    }
    expect((await items(asSource(new Set([{ id: 'a', n: 1 }])))).map((i) => i.raw)).toEqual([{ id: 'a', n: 1 }]);
    expect((await items(asSource(events()))).map((i) => i.raw)).toEqual([{ id: 'a', n: 1 }]);
  });
});
