// A spine file written to a Parquet file runs wholly inside DuckDB (no row becomes a JavaScript
// object). It must give exactly what the row path gives: the same rows, the same types, the same
// errors. These tests compare the two on generated histories and spines.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type AnyFeatureGroup, BackendError, ConfigurationError, createFeatureStore, type SageMakerRecord, DataError, DecodeError, defineFeatureGroup, type FeatureStore, trainingSet, type TrainingSetOptions } from '../src/index.js';
import { localOffline, localOnline } from '../src/local/index.js';
import { parseIsoInstant } from '../src/schema/time.js';
import { type OutputColumn, spineColumnKind, writeTrainingCsv, writeTrainingParquet } from '../src/training/output.js';
import type { ValueKind } from '../src/schema/feature-spec.js';

const parseIso = (text: string) => parseIsoInstant(text) as number;
import type { OfflineWrite } from '../src/store/types.js';

const mixedShape = z.object({
  id: z.string(),
  t: z.date(),
  s: z.string().optional(),
  i: z.number().int(),
  b: z.bigint(),
  f: z.number(),
  ok: z.boolean(),
  seen: z.date().optional(),
});
const mixed = defineFeatureGroup({ name: 'mixed', recordIdentifier: 'id', eventTime: 't', source: mixedShape, features: mixedShape, transform: (e) => e });

// Event time stored as epoch seconds (Fractional), an integer identifier.
const epoch = defineFeatureGroup({
  name: 'epoch',
  recordIdentifier: 'user',
  eventTime: 't',
  eventTimeFormat: 'epoch-seconds',
  source: z.object({ user: z.number().int(), t: z.date(), score: z.number() }),
  features: z.object({ user: z.number().int(), t: z.date(), score: z.number() }),
  transform: (e) => e,
});

const BASE = Date.UTC(2024, 0, 1);
const IDS = ['1', '23', '12', '3', 'a,b', 'o"neil'];
const dir = mkdtempSync(join(tmpdir(), 'skewless-training-file-'));
const stores: FeatureStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const mixedRow = fc.record({
  id: fc.constantFrom(...IDS),
  et: fc.integer({ min: 0, max: 8 }).map((s) => BASE + s * 1000),
  ai: fc.integer({ min: 0, max: 2 }).map((s) => BASE + s * 1000),
  wt: fc.integer({ min: 0, max: 2 }).map((s) => BASE + s * 1000),
  del: fc.boolean().map((b) => b && Math.random() < 0.3),
  s: fc.option(fc.constantFrom('x', 'y', 'é', ''), { nil: undefined }),
  i: fc.integer({ min: -3, max: 3 }),
  b: fc.bigInt({ min: -(2n ** 62n), max: 2n ** 62n }),
  f: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  ok: fc.boolean(),
  seen: fc.option(fc.integer({ min: -1000, max: 1000 }).map((s) => new Date(BASE + s * 1234)), { nil: undefined }),
});
type MixedRow = typeof mixedRow extends fc.Arbitrary<infer T> ? T : never;

async function storeWith(history: readonly MixedRow[], users: readonly { user: number; t: number; score: number }[] = []): Promise<FeatureStore> {
  const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
  stores.push(store);
  const { offline } = await store.backends();
  const writes: OfflineWrite[] = history.map((row) => {
    const result = mixed.processRecord({ id: row.id, t: new Date(row.et), s: row.s, i: row.i, b: row.b, f: row.f, ok: row.ok, seen: row.seen });
    if (!result.ok) throw result.error;
    const record = row.del ? result.encoded.filter((v) => v.FeatureName === 'id' || v.FeatureName === 't') : result.encoded;
    return { record, writeTime: new Date(row.wt), apiInvocationTime: new Date(row.ai), isDeleted: row.del };
  });
  if (writes.length > 0) await offline?.append(mixed, writes);
  if (users.length > 0) await store.put(epoch, users.map((u) => ({ user: u.user, t: new Date(u.t), score: u.score })));
  return store;
}

async function readParquet(path: string): Promise<Record<string, unknown>[]> {
  const bytes = readFileSync(path);
  return (await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer })) as Record<string, unknown>[];
}

/** Runs `work` on a connection of a fresh in-memory DuckDB, closed afterwards. */
async function withDuckDb<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create();
  const connection = await instance.connect();
  try {
    return await work(connection);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const quotedPath = (path: string) => `'${path.replaceAll("'", "''")}'`;

/** Column names and DuckDB types of a Parquet file: what a user's reader sees of its schema. */
async function parquetSchema(path: string): Promise<[string, string][]> {
  const rows = await withDuckDb(async (c) => (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${quotedPath(path)})`)).getRowObjectsJS());
  return rows.map((row) => [String(row['column_name']), String(row['column_type'])]);
}

/** The logical type of a training set's time column, as DuckDB's parquet_schema prints it. */
const NAIVE_MILLIS = 'TimestampType(isAdjustedToUTC=0, unit=TimeUnit(MILLIS=MilliSeconds(), MICROS=<null>, NANOS=<null>))';

/** Each leaf column's Parquet physical, converted and logical type. */
async function physicalSchema(path: string): Promise<[string, string, string, string][]> {
  const rows = await withDuckDb(async (c) => (await c.runAndReadAll(`SELECT name, type, converted_type, logical_type FROM parquet_schema(${quotedPath(path)}) WHERE type IS NOT NULL`)).getRowObjectsJS());
  return rows.map((row) => [String(row['name']), String(row['type']), String(row['converted_type']), String(row['logical_type'])]);
}

/** Both paths to a Parquet output: DuckDB's file-to-file one, and the row path (`engine: 'reference'`). */
async function bothOutputs(store: FeatureStore, options: Omit<TrainingSetOptions, 'output' | 'engine'>, name: string) {
  const engineFile = join(dir, `${name}-engine.parquet`);
  const rowFile = join(dir, `${name}-rows.parquet`);
  const inEngine = await trainingSet(store, { ...options, output: { parquet: engineFile } });
  const rowPath = await trainingSet(store, { ...options, output: { parquet: rowFile }, engine: 'reference' });
  return { inEngine, rowPath, engineFile, rowFile };
}

/** Integer features come back from Parquet as INT64 (bigint); the row path holds them as numbers. */
function comparable(rows: readonly Record<string, unknown>[], ints: readonly string[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, ints.includes(k) && typeof v === 'bigint' ? Number(v) : v])));
}

/** The same instant spelled the ways `parseIsoInstant` reads: offsets, fractions of 0-9 digits, t/z/space. */
const spelledTime = fc
  .record({
    ms: fc.integer({ min: -2, max: 10 }).chain((s) => fc.constantFrom(-1, 0, 1, 500).map((d) => BASE + s * 1000 + d)),
    offsetMinutes: fc.constantFrom(0, 0, 90, -330, 14 * 60),
    digits: fc.integer({ min: 0, max: 9 }),
    separator: fc.constantFrom('T', 't', ' '),
    zone: fc.constantFrom('Z', 'z', '+HH:MM', '+HHMM'),
    extra: fc.integer({ min: 0, max: 999_999 }),
  })
  .map(({ ms, offsetMinutes, digits, separator, zone, extra }) => {
    const useOffset = zone.startsWith('+');
    const shifted = new Date(ms + (useOffset ? offsetMinutes : 0) * 60_000).toISOString();
    const millis = shifted.slice(20, 23);
    // Digits past the millisecond are cut by both readers; without a fraction the text is whole seconds.
    const fraction = digits === 0 ? '' : `.${`${millis}${String(extra).padStart(6, '0')}`.slice(0, digits)}`;
    const sign = offsetMinutes < 0 ? '-' : '+';
    const abs = Math.abs(offsetMinutes);
    const hhmm = `${String(Math.floor(abs / 60)).padStart(2, '0')}${zone === '+HH:MM' ? ':' : ''}${String(abs % 60).padStart(2, '0')}`;
    const suffix = useOffset ? `${sign}${hhmm}` : zone;
    return `${shifted.slice(0, 10)}${separator}${shifted.slice(11, 19)}${fraction}${suffix}`;
  });

function csvCell(value: string | undefined): string {
  if (value === undefined) return '';
  return /[",\n\r]/.test(value) || value === '' ? `"${value.replaceAll('"', '""')}"` : value;
}

const NOTES = [undefined, '', 'plain', 'a, comma', 'a "quote"', 'two\nlines'];

describe('training set, spine file to Parquet file inside DuckDB', () => {
  it('writes the rows the row path returns: CSV spines with times spelled every way, every feature type', async () => {
    let file = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(mixedRow, { maxLength: 30 }),
        fc.array(fc.record({ card: fc.constantFrom(...IDS, 'nobody'), at: spelledTime, note: fc.constantFrom(...NOTES) }), { minLength: 1, maxLength: 20 }),
        fc.boolean(),
        fc.constantFrom(undefined, '2s'),
        fc.boolean(),
        async (history, spine, inclusive, maxAge, knowledgeTime) => {
          const store = await storeWith(history);
          const csv = join(dir, `spine-${file++}.csv`);
          writeFileSync(csv, `card,at,note\n${spine.map((r) => [r.card, r.at, r.note].map(csvCell).join(',')).join('\n')}\n`);
          const selection = mixed.select('s', 'i', 'b', 'f', 'ok', 'seen', 't');
          const options = { entityKey: 'card', timestamp: 'at', features: [maxAge ? selection.with({ maxAge }) : selection], inclusive, knowledgeTime } as const;
          const { inEngine, rowPath, engineFile, rowFile } = await bothOutputs(store, { ...options, spine: { csv } }, `out-${file}`);
          expect(inEngine.summary.engine).toBe('backend');
          expect(await readParquet(engineFile)).toEqual(await readParquet(rowFile));
          const rows = await trainingSet(store, { ...options, spine: { csv }, engine: 'reference' });
          // The file's time column is a timestamp; the rows keep the spine's text.
          const times = rows.rows.map((r) => new Date(parseIso(String((r as Record<string, unknown>)['at']))));
          expect(comparable(await readParquet(engineFile), ['mixed__i'])).toEqual(rows.rows.map((r, n) => ({ ...r, at: times[n] })));
          expect({ ...inEngine.summary, durationMs: 0, output: undefined, engine: undefined }).toEqual({ ...rowPath.summary, durationMs: 0, output: undefined, engine: undefined });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('keeps the sign of a -0 feature value in Parquet and CSV on both paths, as the record keeps it', async () => {
    const store = await storeWith([
      { id: '1', et: BASE, ai: BASE, wt: BASE, del: false, s: undefined, i: 0, b: 0n, f: -0, ok: false, seen: undefined },
      { id: '23', et: BASE, ai: BASE, wt: BASE, del: false, s: undefined, i: 0, b: 0n, f: 0, ok: false, seen: undefined },
    ]);
    const csv = join(dir, 'negative-zero.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n23,2024-01-01T00:00:01Z\n');
    const options = { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [mixed.select('f')] } as const;
    const { engineFile, rowFile } = await bothOutputs(store, options, 'negative-zero');
    for (const file of [engineFile, rowFile]) {
      const values = (await readParquet(file)).map((row) => row['mixed__f']);
      expect(values.map((v) => Object.is(v, -0))).toEqual([true, false]);
    }
    const csvOut = join(dir, 'negative-zero-out.csv');
    await trainingSet(store, { ...options, output: { csv: csvOut }, engine: 'reference' });
    expect(readFileSync(csvOut, 'utf8').split('\n').slice(1, 3)).toEqual(['1,2024-01-01T00:00:01Z,-0', '23,2024-01-01T00:00:01Z,0']);
  });

  it('writes an empty string feature as "" and a missing one as an empty field in CSV, as DuckDB writes and reads them back', async () => {
    const store = await storeWith([
      { id: '1', et: BASE, ai: BASE, wt: BASE, del: false, s: '', i: 0, b: 0n, f: 0, ok: false, seen: undefined },
      { id: '2', et: BASE, ai: BASE, wt: BASE, del: false, s: undefined, i: 0, b: 0n, f: 0, ok: false, seen: undefined },
    ]);
    const csv = join(dir, 'empty-text.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n2,2024-01-01T00:00:01Z\n3,2024-01-01T00:00:01Z\n');
    const csvOut = join(dir, 'empty-text-out.csv');
    await trainingSet(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [mixed.select('s')], output: { csv: csvOut } });
    expect(readFileSync(csvOut, 'utf8').split('\n').slice(1, 4)).toEqual(['1,2024-01-01T00:00:01Z,""', '2,2024-01-01T00:00:01Z,', '3,2024-01-01T00:00:01Z,']);
    // The file read back as a spine keeps them apart.
    const back = await trainingSet(store, { spine: { csv: csvOut }, entityKey: 'card', timestamp: 'at', features: [mixed.select('i')] });
    expect(back.rows.map((row) => (row as Record<string, unknown>)['mixed__s'])).toEqual(['', null, null]);
  });

  it('keeps a Parquet spine column for column (types included), with integer keys and epoch-second times', async () => {
    const users = [
      { user: 1, t: BASE + 1000, score: 0.25 },
      { user: 1, t: BASE + 5000, score: 0.5 },
      { user: 2, t: BASE + 2000, score: 0.75 },
    ];
    const store = await storeWith([], users);
    const spine = join(dir, 'users.parquet');
    const times = [BASE + 999, BASE + 1000, BASE + 4999, BASE + 5000, BASE + 9000, BASE + 9000];
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'user', data: [1n, 1n, 1n, 1n, 2n, 3n], type: 'INT64' },
        { name: 'label_time', data: times.map((t) => new Date(t)), type: 'TIMESTAMP' },
        { name: 'label', data: [true, false, true, false, true, null], type: 'BOOLEAN' },
      ],
    } as never);
    writeFileSync(spine, new Uint8Array(buffer));
    const out = join(dir, 'users-out.parquet');
    const options = { entityKey: 'user', timestamp: 'label_time', features: [epoch.select('score', 't').with({ prefix: '' })] } as const;
    const { summary } = await trainingSet(store, { ...options, spine: { parquet: spine }, output: { parquet: out } });
    const rowPath = await trainingSet(store, { ...options, spine: { parquet: spine }, engine: 'reference' });
    const written = await readParquet(out);
    expect(written).toEqual(rowPath.rows);
    expect(written.map((r) => r['score'])).toEqual([null, 0.25, 0.25, 0.5, 0.75, null]);
    // The feature `t` keeps its place after the spine's columns; the spine's own types are kept.
    expect(Object.keys(written[0] ?? {})).toEqual(['user', 'label_time', 'label', 'score', 't']);
    expect(written[0]?.['user']).toBe(1n);
    expect(summary).toMatchObject({ rows: 6, matchRate: { epoch: 4 / 6 }, nullCounts: { score: 2, t: 2 }, output: out });
  });

  it('reads a Parquet spine time finer than a millisecond as the millisecond it falls in, before 1970 too, on both paths', async () => {
    // A millisecond before 1970, and one after: `epoch_ms` alone rounds the first toward 1970.
    const store = await storeWith([], [{ user: 1, t: -1, score: 0.25 }, { user: 2, t: BASE, score: 0.5 }]);
    const spine = join(dir, 'fine-spine.parquet');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const duck = await (await DuckDBInstance.create()).connect();
    await duck.run(`COPY (SELECT * FROM (VALUES (1, TIMESTAMP '1969-12-31 23:59:59.9995'), (2, TIMESTAMP '2024-01-01 00:00:00.0005')) v(user, label_time)) TO '${spine}' (FORMAT parquet)`);
    duck.closeSync();
    const out = join(dir, 'fine-spine-out.parquet');
    // Strictly before the spine time: the record at the spine's own millisecond is not taken.
    const options = { entityKey: 'user', timestamp: 'label_time', inclusive: false, features: [epoch.select('score').with({ prefix: '' })] } as const;
    await trainingSet(store, { ...options, spine: { parquet: spine }, output: { parquet: out } });
    const rowPath = await trainingSet(store, { ...options, spine: { parquet: spine }, engine: 'reference' });
    const written = await readParquet(out);
    expect(written.map((r) => [(r['label_time'] as Date).toISOString(), r['score']])).toEqual([
      ['1969-12-31T23:59:59.999Z', null],
      ['2024-01-01T00:00:00.000Z', null],
    ]);
    expect(comparable(written, ['user'])).toEqual(comparable(rowPath.rows, ['user']));
  });

  it('writes one output schema whichever path runs: integers INT64, floats DOUBLE, times INT64 milliseconds, CSV text as text', async () => {
    const store = await storeWith(
      [{ id: '1', et: BASE, ai: BASE, wt: BASE, del: false, s: 'x', i: 1, b: 1n, f: 1.5, ok: true, seen: new Date(BASE - 5000) }],
      [{ user: 1, t: BASE, score: 0.5 }],
    );
    const features = [mixed.select('s', 'i', 'b', 'f', 'ok', 'seen')];
    const parquetSpine = join(dir, 'typed-spine.parquet');
    writeFileSync(
      parquetSpine,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'card', data: ['1', '2'], type: 'STRING' },
            { name: 'at', data: [new Date(BASE + 1000), new Date(BASE + 2000)], type: 'TIMESTAMP' },
            { name: 'label', data: [1, 0], type: 'INT32' },
            { name: 'weight', data: [0.5, 2], type: 'DOUBLE' },
            { name: 'flag', data: [true, null], type: 'BOOLEAN' },
            { name: 'note', data: ['a', null], type: 'STRING' },
          ],
        } as never),
      ),
    );
    const fromParquet = await bothOutputs(store, { spine: { parquet: parquetSpine }, entityKey: 'card', timestamp: 'at', features }, 'typed-parquet');
    expect(fromParquet.inEngine.summary.engine).toBe('backend');
    const expected: [string, string][] = [
      ['card', 'VARCHAR'],
      ['at', 'TIMESTAMP'],
      ['label', 'BIGINT'],
      ['weight', 'DOUBLE'],
      ['flag', 'BOOLEAN'],
      ['note', 'VARCHAR'],
      ['mixed__s', 'VARCHAR'],
      ['mixed__i', 'BIGINT'],
      ['mixed__b', 'BIGINT'],
      ['mixed__f', 'DOUBLE'],
      ['mixed__ok', 'BOOLEAN'],
      ['mixed__seen', 'TIMESTAMP'],
    ];
    expect(await parquetSchema(fromParquet.engineFile)).toEqual(expected);
    expect(await parquetSchema(fromParquet.rowFile)).toEqual(expected);
    // Down to the Parquet types: timestamps are INT64 milliseconds on both paths.
    expect(await physicalSchema(fromParquet.rowFile)).toEqual(await physicalSchema(fromParquet.engineFile));
    // UTC times without a zone on both (DuckDB writes TIMESTAMP_MS so): pandas reads one dtype from either file.
    expect((await physicalSchema(fromParquet.rowFile)).find(([name]) => name === 'at')).toEqual(['at', 'INT64', 'TIMESTAMP_MILLIS', NAIVE_MILLIS]);
    expect(await readParquet(fromParquet.engineFile)).toEqual(await readParquet(fromParquet.rowFile));

    // A CSV spine has no types: its columns stay text, but its time column is a timestamp on both paths.
    const csv = join(dir, 'typed-spine.csv');
    writeFileSync(csv, 'card,at,label\n1,2024-01-01T00:00:01+01:00,1\n2,2024-01-01T00:00:02Z,0\n');
    const fromCsv = await bothOutputs(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features }, 'typed-csv');
    const csvExpected: [string, string][] = [['card', 'VARCHAR'], ['at', 'TIMESTAMP'], ['label', 'VARCHAR'], ...expected.slice(6)];
    expect(await parquetSchema(fromCsv.engineFile)).toEqual(csvExpected);
    expect(await parquetSchema(fromCsv.rowFile)).toEqual(csvExpected);
    const written = await readParquet(fromCsv.engineFile);
    expect(written).toEqual(await readParquet(fromCsv.rowFile));
    expect(written.map((r) => r['at'])).toEqual([new Date(BASE + 1000 - 3_600_000), new Date(BASE + 2000)]);
  });

  it('fails on a spine time the row path refuses, with the same message', async () => {
    const store = await storeWith([]);
    const bad = ['2024-02-30T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:00.1234567890Z', '2024-01-01T00:00:00', '2024-01-01', ''];
    for (const [n, at] of bad.entries()) {
      const csv = join(dir, `bad-${n}.csv`);
      writeFileSync(csv, `card,at\n1,2024-01-01T00:00:00Z\n1,${csvCell(at)}\n`);
      const options = { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [mixed.select('f')] } as const;
      const rowPath = await trainingSet(store, { ...options, engine: 'reference' }).then(() => undefined, (error: unknown) => error);
      expect(rowPath).toBeInstanceOf(DataError);
      await expect(trainingSet(store, { ...options, output: { parquet: join(dir, `bad-${n}.parquet`) } })).rejects.toThrow((rowPath as Error).message);
    }
  });

  it('reads a spine whose key or time columns it cannot read exactly as the row path through the row path', async () => {
    const store = await storeWith([{ id: '1', et: BASE, ai: BASE, wt: BASE, del: false, s: 'x', i: 1, b: 1n, f: 1.5, ok: true, seen: undefined }]);
    const spine = join(dir, 'double-key.parquet');
    // A DOUBLE key: String(1) is "1" in JavaScript but CAST(1.0 AS VARCHAR) is "1.0" in DuckDB.
    writeFileSync(spine, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'card', data: [1, 2], type: 'DOUBLE' }, { name: 'at', data: [new Date(BASE), new Date(BASE)], type: 'TIMESTAMP' }] } as never)));
    const out = join(dir, 'double-key-out.parquet');
    const { summary } = await trainingSet(store, { spine: { parquet: spine }, entityKey: 'card', timestamp: 'at', features: [mixed.select('f')], output: { parquet: out } });
    expect(summary.matchRate).toEqual({ mixed: 0.5 });
    expect((await readParquet(out)).map((r) => r['mixed__f'])).toEqual([1.5, null]);
  });

  it('quotes hostile spine column names and prefixes, which reach this SQL', async () => {
    const store = await storeWith([{ id: '1', et: BASE, ai: BASE, wt: BASE, del: false, s: 'x', i: 1, b: 1n, f: 1.5, ok: true, seen: undefined }]);
    const hostile = ['k"ey', "at'); DROP TABLE __skewless_spine; --", 'x" FROM y; --', '__row', '__s0'];
    const csv = join(dir, 'hostile.csv');
    writeFileSync(csv, `${hostile.map(csvCell).join(',')}\n1,2024-01-01T00:00:00Z,a,b,c\n2,2024-01-01T00:00:00Z,d,e,f\n`);
    const options = { spine: { csv }, entityKey: hostile[0] as string, timestamp: hostile[1] as string, features: [mixed.select('f', 'i').with({ prefix: "p\"'; --" })] } as const;
    const out = join(dir, 'hostile.parquet');
    await trainingSet(store, { ...options, output: { parquet: out } });
    const rowPath = await trainingSet(store, { ...options, engine: 'reference' });
    expect(comparable(await readParquet(out), ["p\"'; --i"])).toEqual(rowPath.rows.map((r) => ({ ...r, [hostile[1] as string]: new Date(BASE) })));
    expect(rowPath.rows.map((r) => r["p\"'; --f"])).toEqual([1.5, null]);
  });

  it('leaves URLs to the row path: DuckDB would need an extension download for them', async () => {
    const store = await storeWith([]);
    const csv = join(dir, 'url.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n');
    const error = await trainingSet(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [mixed.select('f')], output: { parquet: 's3://nowhere/train.parquet' } }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toMatch(/^trainingSet options\.output: expected a local file path, got the URL/);
  });

  it('reports a stored value that is not of its feature type as a DecodeError, as the row path does', async () => {
    const store = await storeWith([]);
    const { offline } = await store.backends();
    const record = [
      { FeatureName: 'id', ValueAsString: '1' },
      { FeatureName: 't', ValueAsString: new Date(BASE).toISOString() },
      { FeatureName: 'i', ValueAsString: '1' },
      { FeatureName: 'b', ValueAsString: '1' },
      { FeatureName: 'f', ValueAsString: '1' },
      // A boolean is stored as Integral 1 or 0; 7 is neither.
      { FeatureName: 'ok', ValueAsString: '7' },
    ];
    await offline?.append(mixed as AnyFeatureGroup, [{ record, writeTime: new Date(BASE), apiInvocationTime: new Date(BASE), isDeleted: false }]);
    const csv = join(dir, 'decode.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n');
    const options = { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [mixed.select('ok')] } as const;
    await expect(trainingSet(store, { ...options, engine: 'reference' })).rejects.toBeInstanceOf(DecodeError);
    await expect(trainingSet(store, { ...options, output: { parquet: join(dir, 'decode.parquet') } })).rejects.toBeInstanceOf(DecodeError);
  });
});

describe('training output files, column by column', () => {
  const column = (name: string, kind: ValueKind, list = false): OutputColumn => ({ name, kind, list });

  it('types a spine column by its values: one JS type throughout gives it, a mix or objects are text', () => {
    const kindOf = (...values: unknown[]) => spineColumnKind(values.map((v) => ({ c: v })), 'c');
    expect(kindOf(1, 2.5)).toBe('float');
    expect(kindOf(1n, null, 2n)).toBe('bigint');
    expect(kindOf(true, undefined, false)).toBe('boolean');
    expect(kindOf(new Date(0))).toBe('date');
    expect(kindOf('a')).toBe('string');
    expect(kindOf(null, 3)).toBe('float');
    expect(kindOf(1, 'a')).toBe('string');
    expect(kindOf(1n, 2)).toBe('string');
    expect(kindOf({ a: 1 })).toBe('string');
    expect(kindOf()).toBe('string');
    expect(kindOf(null, undefined)).toBe('string');
  });

  it('writes CSV with a header, nulls as empty fields, empty strings as "", dates as ISO-8601, objects and lists as JSON and the sign of -0, in lists too', () => {
    const file = join(dir, 'columns.csv');
    const columns = [
      column('s', 'string'),
      column('n', 'float'),
      column('d', 'date'),
      column('o', 'string'),
    ];
    writeTrainingCsv(file, columns, [
      { s: 'a,b', n: -0, d: new Date(0), o: { x: 1n } },
      { s: null, n: undefined, d: null, o: [1, 2] },
      { s: 'say "hi"', n: 1.5, d: new Date(1500), o: true },
      { s: '', n: null, d: null, o: '' },
      { s: 'list', n: 0, d: null, o: [-0, 0.5, 'x', 2n] },
      { s: 'holes', n: 0, d: null, o: [undefined, null, 1] },
    ]);
    expect(readFileSync(file, 'utf8')).toBe('s,n,d,o\n"a,b",-0,1970-01-01T00:00:00.000Z,"{""x"":""1""}"\n,,,"[1,2]"\n"say ""hi""",1.5,1970-01-01T00:00:01.500Z,true\n"",,,""\nlist,0,,"[-0,0.5,""x"",""2""]"\nholes,0,,"[null,null,1]"\n');
    expect(Object.is(JSON.parse('[-0,0.5]')[0], -0)).toBe(true);
  });

  it('writes Parquet typed by each column: integers INT64, lists of booleans as 0/1, lists of times as milliseconds, nulls as nulls', async () => {
    const file = join(dir, 'columns.parquet');
    const columns = [
      column('s', 'string'),
      column('i', 'int'),
      column('b', 'bigint'),
      column('f', 'float'),
      column('ok', 'boolean'),
      column('d', 'date'),
      column('tags', 'string', true),
      column('flags', 'boolean', true),
      column('days', 'date', true),
      column('weights', 'float', true),
    ];
    writeTrainingParquet(file, columns, [
      { s: { k: 2n }, i: 5, b: 7n, f: -0, ok: true, d: new Date(1000), tags: ['a', 'b'], flags: [true, false], days: [new Date(0), new Date(86_400_000)], weights: [-0, 0.5] },
      { s: null, i: null, b: undefined, f: null, ok: null, d: '2024-01-01T00:00:00Z', tags: null, flags: null, days: null, weights: null },
      { s: 'x', i: -1, b: 0n, f: 1.25, ok: false, d: new Date(-1), tags: [], flags: [false], days: [], weights: [] },
    ]);
    expect(await physicalSchema(file)).toEqual([
      ['s', 'BYTE_ARRAY', 'UTF8', 'null'],
      ['i', 'INT64', 'INT_64', 'null'],
      ['b', 'INT64', 'INT_64', 'null'],
      ['f', 'DOUBLE', 'null', 'null'],
      ['ok', 'BOOLEAN', 'null', 'null'],
      ['d', 'INT64', 'TIMESTAMP_MILLIS', NAIVE_MILLIS],
      ['element', 'BYTE_ARRAY', 'UTF8', 'null'],
      ['element', 'INT64', 'INT_64', 'null'],
      ['element', 'INT64', 'TIMESTAMP_MILLIS', NAIVE_MILLIS],
      ['element', 'DOUBLE', 'null', 'null'],
    ]);
    const rows = await readParquet(file);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatchObject({ s: '{"k":"2"}', i: 5n, b: 7n, ok: true, d: new Date(1000), tags: ['a', 'b'], flags: [1n, 0n], days: [new Date(0), new Date(86_400_000)] });
    expect(Object.is(rows[0]?.['f'], -0)).toBe(true);
    expect(Object.is((rows[0]?.['weights'] as number[])[0], -0)).toBe(true);
    expect(rows[1]).toEqual({ s: null, i: null, b: null, f: null, ok: null, d: new Date(Date.UTC(2024, 0, 1)), tags: null, flags: null, days: null, weights: null });
    expect(rows[2]).toEqual({ s: 'x', i: -1n, b: 0n, f: 1.25, ok: false, d: new Date(-1), tags: [], flags: [0n], days: [], weights: [] });
  });

  it('refuses a time column holding something that is not a time, naming it', () => {
    const write = () => writeTrainingParquet(join(dir, 'bad-time.parquet'), [column('at', 'date')], [{ at: new Date(0) }, { at: 'yesterday' }]);
    expect(write).toThrow(expect.objectContaining({ name: 'DataError', code: 'INVALID_SPINE', column: 'at', message: 'column "at" is written as a timestamp, but holds "yesterday"' }));
    expect(() => writeTrainingParquet(join(dir, 'bad-time.parquet'), [column('at', 'date')], [{ at: 17 }])).toThrow(/column "at" is written as a timestamp, but holds 17/);
  });

  it('splits rows into row groups of 100,000, and writes a file without rows', async () => {
    const file = join(dir, 'groups.parquet');
    writeTrainingParquet(file, [column('n', 'int')], Array.from({ length: 100_001 }, (_, n) => ({ n })));
    await withDuckDb(async (connection) => {
      const groups = (await connection.runAndReadAll(`SELECT row_group_id, row_group_num_rows FROM parquet_metadata(${quotedPath(file)}) ORDER BY row_group_id`)).getRowObjectsJS();
      expect(groups).toEqual([
        { row_group_id: 0n, row_group_num_rows: 100_000n },
        { row_group_id: 1n, row_group_num_rows: 1n },
      ]);
      const [sums] = (await connection.runAndReadAll(`SELECT count(*) AS rows, sum(n) AS total, max(n) AS last FROM read_parquet(${quotedPath(file)})`)).getRowObjectsJS();
      expect(sums).toEqual({ rows: 100_001n, total: 5_000_050_000n, last: 100_000n });
      const empty = join(dir, 'empty.parquet');
      writeTrainingParquet(empty, [column('n', 'int')], []);
      const [count] = (await connection.runAndReadAll(`SELECT count(*) AS rows FROM read_parquet(${quotedPath(empty)})`)).getRowObjectsJS();
      expect(count).toEqual({ rows: 0n });
      // No row group at all, not an empty one.
      expect((await connection.runAndReadAll(`SELECT count(*) AS chunks FROM parquet_metadata(${quotedPath(empty)})`)).getRowObjectsJS()).toEqual([{ chunks: 0n }]);
    });
  });
});

describe('which path a training set takes', () => {
  /** The embedded offline store, recording which of its training engine's entries are called. */
  function spiedStore() {
    const calls: string[] = [];
    const inner = localOffline({ memory: true });
    const offline = inner.then(
      (target) =>
        new Proxy(target, {
          get(object, property) {
            const value = Reflect.get(object, property, object) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              if (property === 'pointInTimeJoin' || property === 'trainingSetToFile') calls.push(property);
              return (value as (...a: unknown[]) => unknown).apply(object, args);
            };
          },
        }),
    );
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline });
    stores.push(store);
    return { store, calls };
  }
  const row = (id: string, second: number): MixedRow => ({ id, et: BASE + second * 1000, ai: BASE, wt: BASE, del: false, s: 'x', i: second, b: 1n, f: 0.5, ok: true, seen: undefined });

  it('runs a spine file into a Parquet file inside the engine, and everything else on the row path', async () => {
    const { store, calls } = spiedStore();
    const { offline } = await store.backends();
    await offline?.append(mixed, [row('1', 0), row('2', 0)].map((r) => ({ record: (mixed.processRecord({ id: r.id, t: new Date(r.et), s: r.s, i: r.i, b: r.b, f: r.f, ok: r.ok }) as { encoded: SageMakerRecord }).encoded, writeTime: new Date(r.wt), apiInvocationTime: new Date(r.ai), isDeleted: false })));
    const csv = join(dir, 'paths.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n2,2024-01-01T00:00:01Z\n');
    const header = join(dir, 'paths-empty.csv');
    writeFileSync(header, 'card,at\n');
    const parquet = join(dir, 'paths-spine.parquet');
    writeFileSync(parquet, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'card', data: ['1', '2'], type: 'STRING' }, { name: 'at', data: [new Date(BASE + 1000), new Date(BASE + 1000)], type: 'TIMESTAMP' }] })));
    const out = (name: string) => ({ parquet: join(dir, `paths-${name}.parquet`) });
    const base = { entityKey: 'card', timestamp: 'at', features: [mixed.select('i')] } as const;
    const loader = { load: async () => [{ card: '1', at: new Date(BASE + 1000) }] };
    const cases: [string, Omit<TrainingSetOptions, 'entityKey' | 'timestamp' | 'features'>, string[]][] = [
      ['a CSV spine to Parquet', { spine: { csv }, output: out('csv') }, ['trainingSetToFile']],
      ['a Parquet spine to Parquet', { spine: { parquet }, output: out('parquet') }, ['trainingSetToFile']],
      ['the reference engine', { spine: { csv }, output: out('reference'), engine: 'reference' }, []],
      ['CSV output', { spine: { csv }, output: { csv: join(dir, 'paths.out.csv') } }, ['pointInTimeJoin']],
      ['no output', { spine: { csv } }, ['pointInTimeJoin']],
      ['rows in memory', { spine: [{ card: '1', at: new Date(BASE + 1000) }], output: out('rows') }, ['pointInTimeJoin']],
      ['a spine loader', { spine: loader, output: out('loader') }, ['pointInTimeJoin']],
    ];
    for (const [name, options, expected] of cases) {
      calls.length = 0;
      const started = Date.now();
      const result = await trainingSet(store, { ...base, ...options } as TrainingSetOptions);
      expect(calls, name).toEqual(expected);
      expect(result.summary.durationMs, name).toBeLessThanOrEqual(Date.now() - started);
      if (options.output) expect(result.rows, name).toEqual([]);
    }
    // In the engine: two rows, both matched, no nulls; a spine without rows has no match rate (not 0, not NaN).
    expect((await trainingSet(store, { ...base, spine: { csv }, output: out('summary') })).summary).toMatchObject({ rows: 2, matchRate: { mixed: 1 }, nullCounts: { mixed__i: 0 }, engine: 'backend' });
    calls.length = 0;
    const empty = (await trainingSet(store, { ...base, spine: { csv: header }, output: out('empty') })).summary;
    expect(empty).toMatchObject({ rows: 0, nullCounts: { mixed__i: 0 } });
    expect(Object.entries(empty.matchRate)).toEqual([['mixed', undefined]]);
    expect(calls).toEqual(['trainingSetToFile']);
    // A field that spans lines is read by the engine itself: the row path is not called.
    const quoted = join(dir, 'paths-quoted.csv');
    writeFileSync(quoted, 'card,note,at\r\n1,"two\r\nlines",2024-01-01T00:00:01Z\r\n2,x,2024-01-01T00:00:01Z\r\n');
    calls.length = 0;
    expect((await trainingSet(store, { ...base, spine: { csv: quoted }, output: out('quoted') })).summary).toMatchObject({ rows: 2, matchRate: { mixed: 1 } });
    expect(calls).toEqual(['trainingSetToFile']);
    // So is its time that is not one: named by the line the row starts on, found by reading the file only that far.
    writeFileSync(quoted, 'card,note,at\r\n1,"two\r\nlines",2024-01-01T00:00:01Z\r\n2,x,not-a-time\r\n3,y,2024-01-01T00:00:01Z\r\n');
    await expect(trainingSet(store, { ...base, spine: { csv: quoted }, output: out('quoted-bad') })).rejects.toMatchObject({ code: 'INVALID_SPINE', row: 1, line: 4 });
    // A spine saved by Excel ("CSV UTF-8") starts with a byte-order mark, which is not part of its first column's name.
    const excel = join(dir, 'paths-excel.csv');
    writeFileSync(excel, '\uFEFFcard,at\r\n1,2024-01-01T00:00:01Z\r\n2,2024-01-01T00:00:01Z\r\n');
    for (const options of [{ output: out('excel') }, {}, { output: out('excel-reference'), engine: 'reference' as const }]) {
      expect((await trainingSet(store, { ...base, spine: { csv: excel }, ...options })).summary, JSON.stringify(options)).toMatchObject({ rows: 2, matchRate: { mixed: 1 } });
    }
  });

  it('refuses a spine file without a column the join reads, rows or none, on every path, naming the columns it has', async () => {
    const { store } = spiedStore();
    const { offline } = await store.backends();
    await offline?.append(mixed, [row('1', 0)].map((r) => ({ record: (mixed.processRecord({ id: r.id, t: new Date(r.et), s: r.s, i: r.i, b: r.b, f: r.f, ok: r.ok }) as { encoded: SageMakerRecord }).encoded, writeTime: new Date(r.wt), apiInvocationTime: new Date(r.ai), isDeleted: false })));
    const withRows = join(dir, 'no-key.csv');
    writeFileSync(withRows, 'card_id,at\n1,2024-01-01T00:00:01Z\n');
    const headerOnly = join(dir, 'no-key-empty.csv');
    writeFileSync(headerOnly, 'card_id,at\n');
    const parquet = join(dir, 'no-key.parquet');
    writeFileSync(parquet, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'card_id', data: ['1'], type: 'STRING' }, { name: 'at', data: [new Date(BASE + 1000)], type: 'TIMESTAMP' }] })));
    const outputs = [{}, { output: { parquet: join(dir, 'no-key-out.parquet') } }, { output: { csv: join(dir, 'no-key-out.csv') } }, { engine: 'reference' as const }];
    for (const spine of [{ csv: withRows }, { csv: headerOnly }, { parquet }]) {
      for (const options of outputs) {
        const error = await trainingSet(store, { spine, entityKey: 'card', timestamp: 'at', features: [mixed.select('i')], ...options }).catch((e: unknown) => e);
        const what = `${JSON.stringify(spine)} ${JSON.stringify(options)}`;
        expect(error, what).toBeInstanceOf(DataError);
        expect((error as DataError).message, what).toBe(`the spine file ${'csv' in spine ? spine.csv : spine.parquet} has no column "card" (the record identifier of "mixed": entityKey, or the selection's key); its columns: card_id, at`);
      }
    }
  });

  it('refuses a spine file whose key no record identifier can be (a Parquet BOOLEAN), naming the file, row and column', async () => {
    const { store } = spiedStore();
    const booleans = join(dir, 'boolean-key.parquet');
    writeFileSync(booleans, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'card', data: [true], type: 'BOOLEAN' }, { name: 'at', data: [new Date(BASE + 1000)], type: 'TIMESTAMP' }] })));
    for (const options of [{}, { output: { parquet: join(dir, 'boolean-key-out.parquet') } }]) {
      const error = await trainingSet(store, { spine: { parquet: booleans }, entityKey: 'card', timestamp: 'at', features: [mixed.select('i')], ...options }).catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toMatchObject({
        name: 'DataError',
        code: 'INVALID_SPINE',
        row: 0,
        column: 'card',
        message: `the spine file ${booleans}, row 0: "card" must be a record identifier (text or a number), got true`,
      });
    }
  });

  it('refuses a spine file with a column a feature would replace, on every path, before anything is written', async () => {
    const { store } = spiedStore();
    const clash = join(dir, 'clash.csv');
    writeFileSync(clash, 'card,at,i\n1,2024-01-01T00:00:01Z,LABEL\n');
    const output = join(dir, 'clash-out.parquet');
    for (const options of [{}, { output: { parquet: output } }, { output: { csv: join(dir, 'clash-out.csv') } }, { engine: 'reference' as const }]) {
      const error = await trainingSet(store, { spine: { csv: clash }, entityKey: 'card', timestamp: 'at', features: [mixed.select('i').with({ prefix: '' })], ...options }).catch((e: unknown) => e);
      const what = JSON.stringify(options);
      expect(error, what).toBeInstanceOf(DataError);
      expect(error, what).toMatchObject({ code: 'INVALID_SPINE', column: 'i', message: `the spine file ${clash} has a column "i", which the feature "i" of "mixed" would replace: give the selection a prefix (select(...).with({ prefix })), or rename the column` });
    }
    expect(existsSync(output)).toBe(false);
  });

  it('reads a damaged offline file as a BackendError READ_FAILED naming the file, on every path', async () => {
    const { store } = spiedStore();
    const { offline } = await store.backends();
    await offline?.append(mixed, [row('1', 0)].map((r) => ({ record: (mixed.processRecord({ id: r.id, t: new Date(r.et), s: r.s, i: r.i, b: r.b, f: r.f, ok: r.ok }) as { encoded: SageMakerRecord }).encoded, writeTime: new Date(r.wt), apiInvocationTime: new Date(r.ai), isDeleted: false })));
    const partition = join((offline as unknown as { baseDir: string }).baseDir, 'mixed', 'data', 'year=2024', 'month=01', 'day=01', 'hour=00');
    writeFileSync(join(partition, 'junk.parquet'), 'not a Parquet file');
    const csv = join(dir, 'damaged.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n');
    const paths = [
      ['in the engine, file to file', { spine: { csv }, output: { parquet: join(dir, 'damaged-out.parquet') } }, /^offline store: the point-in-time join of "mixed" failed: .*junk\.parquet/],
      ['the engine join, rows back', { spine: { csv } }, /^offline store: the point-in-time join of "mixed" failed: .*junk\.parquet/],
      ['the reference engine (a scan)', { spine: { csv }, engine: 'reference' as const }, /^offline store: reading the files of "mixed" failed: .*junk\.parquet/],
    ] as const;
    for (const [name, options, message] of paths) {
      const error = await trainingSet(store, { entityKey: 'card', timestamp: 'at', features: [mixed.select('i')], ...options }).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(BackendError);
      expect(error, name).toMatchObject({ code: 'READ_FAILED', retryable: false });
      expect((error as Error).message, name).toMatch(message);
    }
  });

  it("makes the output's folder, refuses one it cannot make, a URL and the spine file before any work, and names a file it cannot write", async () => {
    const { store, calls } = spiedStore();
    const csv = join(dir, 'outputs.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n');
    const base = { entityKey: 'card', timestamp: 'at', features: [mixed.select('i')] } as const;
    // A folder that is not there yet is made, on both paths.
    for (const output of [{ parquet: join(dir, 'made', 'engine', 'out.parquet') }, { csv: join(dir, 'made', 'rows', 'out.csv') }]) {
      expect((await trainingSet(store, { ...base, spine: { csv }, output })).summary.rows).toBe(1);
      expect(existsSync(Object.values(output)[0] as string)).toBe(true);
    }
    // A folder under a file cannot be made: refused before the spine is read or anything is joined.
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    calls.length = 0;
    for (const output of [{ parquet: join(file, 'sub', 'out.parquet') }, { csv: join(file, 'sub', 'out.csv') }]) {
      const error = await trainingSet(store, { ...base, spine: { csv: join(dir, 'no-such-spine.csv') }, output }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toMatch(new RegExp(`^trainingSet options\\.output: cannot make the folder of ${join(file, 'sub', 'out')}\\.(parquet|csv): ENOTDIR`));
    }
    const url = await trainingSet(store, { ...base, spine: { csv }, output: { parquet: 's3://bucket/train.parquet' } }).catch((e: unknown) => e);
    expect(url).toBeInstanceOf(ConfigurationError);
    expect((url as Error).message).toBe('trainingSet options.output: expected a local file path, got the URL "s3://bucket/train.parquet" (write the file here, then copy it)');
    // The spine file itself, under any spelling of its path: refused before anything is read or written.
    const before = readFileSync(csv, 'utf8');
    const linked = `${dir}-linked`;
    symlinkSync(dir, linked);
    for (const output of [{ csv }, { csv: relative(process.cwd(), csv) }, { csv: join(linked, relative(dir, csv)) }]) {
      const same = await trainingSet(store, { ...base, spine: { csv }, output }).catch((e: unknown) => e);
      expect(same).toBeInstanceOf(ConfigurationError);
      expect((same as ConfigurationError).code).toBe('INVALID_CONFIG');
      expect((same as Error).message).toBe(`trainingSet options.output: ${output.csv} is the spine file; writing the training set there would replace the labels, so give another file`);
    }
    expect(readFileSync(csv, 'utf8')).toBe(before);
    expect(calls).toEqual([]);
    // A path that is a folder is refused at the door too; a name too long to write fails at the end,
    // in the engine's COPY and in the row path's writer alike, naming the file.
    const folder = join(dir, 'a-folder.parquet');
    mkdirSync(folder, { recursive: true });
    const long = join(dir, `${'x'.repeat(300)}.parquet`);
    for (const [name, options] of [['engine', { spine: { csv } }], ['row path', { spine: [{ card: '1', at: new Date(BASE + 1000) }] }], ['reference', { spine: { csv }, engine: 'reference' as const }]] as const) {
      const refused = await trainingSet(store, { ...base, ...options, output: { parquet: folder } }).catch((e: unknown) => e);
      expect(refused, name).toBeInstanceOf(ConfigurationError);
      expect((refused as Error).message, name).toBe(`trainingSet options.output: ${folder} is a folder; give the file to write in it`);
      const error = await trainingSet(store, { ...base, ...options, output: { parquet: long } }).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(BackendError);
      expect(error, name).toMatchObject({ code: 'WRITE_FAILED', retryable: false });
      expect((error as Error).message, name).toMatch(new RegExp(`^cannot write the training set to ${long.replace(/[.]/g, '\\.')}: .*(too long|ENAMETOOLONG)`, 'i'));
    }
  });

  it('writes a spine file without rows with its columns on every path, and counts 0 nulls for each feature', async () => {
    const { store } = spiedStore();
    const headerOnly = join(dir, 'columns-empty.csv');
    writeFileSync(headerOnly, 'card,at,label\n');
    for (const [name, options] of [['engine', { output: { parquet: join(dir, 'columns-empty.parquet') } }], ['row path', { output: { csv: join(dir, 'columns-empty.out.csv') } }]] as const) {
      const { summary } = await trainingSet(store, { spine: { csv: headerOnly }, entityKey: 'card', timestamp: 'at', features: [mixed.select('i')], ...options });
      expect(summary, name).toMatchObject({ rows: 0, nullCounts: { mixed__i: 0 } });
    }
    expect(readFileSync(join(dir, 'columns-empty.out.csv'), 'utf8')).toBe('card,at,label,mixed__i\n');
    const bytes = readFileSync(join(dir, 'columns-empty.parquet'));
    const [, ...schema] = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).schema;
    expect(schema.map((element) => element.name)).toEqual(['card', 'at', 'label', 'mixed__i']);
  });

  it('takes the row path for a list feature, which it writes as a Parquet list', async () => {
    const shape = z.object({ id: z.string(), t: z.date(), n: z.number(), tags: z.array(z.string()) });
    const tagged = defineFeatureGroup({ name: 'tagged', recordIdentifier: 'id', eventTime: 't', onlineStorageType: 'InMemory', source: shape, features: shape, transform: (e) => e });
    const { store, calls } = spiedStore();
    await store.put(tagged, [{ id: '1', t: new Date(BASE), n: 7, tags: ['a', 'b'] }]);
    const csv = join(dir, 'tagged.csv');
    writeFileSync(csv, 'card,at\n1,2024-01-01T00:00:01Z\n2,2024-01-01T00:00:01Z\n');
    const output = join(dir, 'tagged.parquet');
    const { summary } = await trainingSet(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [tagged.select('tags')], output: { parquet: output } });
    expect(calls).toEqual(['pointInTimeJoin']);
    expect(summary).toMatchObject({ rows: 2, matchRate: { tagged: 0.5 }, nullCounts: { tagged__tags: 1 } });
    expect(await parquetSchema(output)).toEqual([
      ['card', 'VARCHAR'],
      ['at', 'TIMESTAMP'],
      ['tagged__tags', 'VARCHAR[]'],
    ]);
    expect(await readParquet(output)).toEqual([
      { card: '1', at: new Date(BASE + 1000), tagged__tags: ['a', 'b'] },
      { card: '2', at: new Date(BASE + 1000), tagged__tags: null },
    ]);
    // A list among features the engine could decode still takes the row path, for the whole set.
    calls.length = 0;
    const both = await trainingSet(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [mixed.select('i'), tagged.select('tags')], output: { parquet: join(dir, 'tagged-and-mixed.parquet') } });
    expect(calls).toEqual(['pointInTimeJoin']);
    expect(both.summary).toMatchObject({ rows: 2, matchRate: { mixed: 0, tagged: 0.5 }, nullCounts: { mixed__i: 2, tagged__tags: 1 } });
    // And a list beside a number of the same group.
    calls.length = 0;
    const output2 = join(dir, 'tagged-with-n.parquet');
    await trainingSet(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [tagged.select('n', 'tags')], output: { parquet: output2 } });
    expect(calls).toEqual(['pointInTimeJoin']);
    expect(await readParquet(output2)).toEqual([
      { card: '1', at: new Date(BASE + 1000), tagged__n: 7, tagged__tags: ['a', 'b'] },
      { card: '2', at: new Date(BASE + 1000), tagged__n: null, tagged__tags: null },
    ]);
  });
});
