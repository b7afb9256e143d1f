// The offline Parquet writer is skewless' own, so every file it writes is read back by two readers
// written by others: hyparquet (what skewless reads with) and DuckDB (what the local stack's
// Athena, and so users' queries, read with).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import fc from 'fast-check';
import { parquetMetadata, snappyUncompress } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOfflineParquet, encodeOfflineParquet } from '../src/offline/parquet.js';
import { snappyCompress } from '../src/parquet/snappy.js';
import type { FeatureValue, SageMakerRecord } from '../src/schema/codec.js';
import type { GroupSchema } from '../src/schema/sagemaker-record.js';
import type { FeatureDefinition } from '../src/schema/feature-spec.js';
import type { OfflineStore, OfflineWrite } from '../src/store/types.js';
import { localOffline, parquetDirOffline } from '../src/local/index.js';
import { memoryOffline } from '../src/testing/index.js';
import { expectRemovesNamedFiles } from './contracts/offline-store.js';

const dir = mkdtempSync(join(tmpdir(), 'skewless-parquet-'));
let duckdb: DuckDBInstance;
let connection: DuckDBConnection;
beforeAll(async () => {
  duckdb = await DuckDBInstance.create();
  connection = await duckdb.connect();
});
afterAll(() => {
  connection.closeSync();
  duckdb.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

describe('snappyCompress', () => {
  const roundTrip = (input: Uint8Array) => {
    const compressed = snappyCompress(input);
    const output = new Uint8Array(input.length);
    snappyUncompress(compressed, output);
    return { compressed, output };
  };

  it('gives back any bytes through a standard Snappy decoder', () => {
    // Pieces of random bytes and of runs over a small alphabet, so matches of every length occur.
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.record({ from: fc.integer({ min: 0, max: 3 }), length: fc.integer({ min: 1, max: 400 }) }).map(({ from, length }) => Uint8Array.from({ length }, (_, i) => 97 + ((from + i) % 3))),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const input = Uint8Array.from(pieces.flatMap((p) => [...p]));
        expect(roundTrip(input).output).toEqual(input);
      }),
      { numRuns: 300 },
    );
  });

  it('handles literals past 64 KiB, long copies and matches farther than one-byte offsets reach', () => {
    const random = Uint8Array.from({ length: 70_000 }, (_, i) => (Math.imul(i + 1, 2_654_435_761) >>> 13) & 0xff);
    const repeated = new Uint8Array(200_000).fill(120);
    // The same 5,000 random bytes twice, 5,000 apart: a copy with a two-byte offset.
    const far = Uint8Array.from([...random.subarray(0, 5_000), ...random.subarray(0, 5_000)]);
    for (const input of [random, repeated, far, new Uint8Array(0), Uint8Array.of(7)]) {
      expect(roundTrip(input).output).toEqual(input);
    }
    expect(roundTrip(repeated).compressed.length).toBeLessThan(10_000);
    expect(roundTrip(far).compressed.length).toBeLessThan(5_200);
  });
});

type Kind = { type: FeatureDefinition['FeatureType']; list: boolean };
const written = new Date('2024-06-01T00:00:00.123Z');

/** A value as SageMaker text, and the value both readers must give back for it. */
type Given = { text: string; value: unknown };

const valueOf = (type: FeatureDefinition['FeatureType']): fc.Arbitrary<Given> => {
  if (type === 'String') {
    return fc
      .oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('a', 'b', '\u{1F600}', '\uFFFD', 'é', ''), fc.string({ maxLength: 80 }))
      .filter((s) => s.isWellFormed())
      .map((s) => ({ text: s, value: s }));
  }
  if (type === 'Integral') {
    return fc
      .oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -5n, max: 5n }), fc.constantFrom(2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, -(2n ** 63n)))
      .map((n) => ({ text: String(n), value: n }));
  }
  return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 1.5, 0.1)).map((n) => ({ text: Object.is(n, -0) ? '-0' : String(n), value: n }));
};

const groupArb = fc.array(fc.record({ type: fc.constantFrom<FeatureDefinition['FeatureType']>('String', 'Integral', 'Fractional'), list: fc.boolean() }), { minLength: 1, maxLength: 6 });

/** Rows of a group: each feature absent, a value, or a list of 0-4 values; features in any order. */
const rowsArb = (kinds: readonly Kind[]) =>
  fc.array(
    fc.record({
      cells: fc.tuple(
        ...kinds.map((k) =>
          fc.option<Given | Given[]>(k.list ? fc.array(valueOf(k.type), { maxLength: 4 }) : valueOf(k.type), { freq: 4 }),
        ),
      ),
      shuffle: fc.boolean(),
      deleted: fc.boolean(),
    }),
    { maxLength: 40 },
  );

function groupOf(kinds: readonly Kind[]): GroupSchema {
  const featureDefinitions = kinds.map((k, i): FeatureDefinition => ({ FeatureName: `f${i}`, FeatureType: k.type, ...(k.list ? { CollectionType: 'List' as const } : {}) }));
  return { name: 'parquet-group', recordIdentifier: 'f0', eventTime: 'f0', featureDefinitions };
}

type Cell = Given | Given[] | null;

function writesOf(rows: readonly { cells: readonly Cell[]; shuffle: boolean; deleted: boolean }[]): OfflineWrite[] {
  return rows.map(({ cells, shuffle, deleted }) => {
    const record: FeatureValue[] = [];
    cells.forEach((cell, i) => {
      if (cell === null) return;
      record.push(Array.isArray(cell) ? { FeatureName: `f${i}`, ValueAsStringList: cell.map((c) => c.text) } : { FeatureName: `f${i}`, ValueAsString: cell.text });
    });
    if (shuffle) record.reverse();
    return { record: record as SageMakerRecord, writeTime: written, apiInvocationTime: written, isDeleted: deleted };
  });
}

function expectedRows(rows: readonly { cells: readonly Cell[]; deleted: boolean }[]): Record<string, unknown>[] {
  return rows.map(({ cells, deleted }) => ({
    ...Object.fromEntries(cells.map((cell, i) => [`f${i}`, cell === null ? null : Array.isArray(cell) ? cell.map((c) => c.value) : cell.value])),
    write_time: written,
    api_invocation_time: written,
    is_deleted: deleted,
  }));
}

async function readWithDuckDb(bytes: Uint8Array): Promise<Record<string, unknown>[]> {
  const file = join(dir, `f-${Math.random().toString(36).slice(2)}.parquet`);
  writeFileSync(file, bytes);
  const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet('${file}')`);
  rmSync(file);
  return reader.getRowObjectsJS() as Record<string, unknown>[];
}

describe('encodeOfflineParquet', () => {
  it('writes files hyparquet and DuckDB both read back exactly, for any features, values, lists and gaps', async () => {
    await fc.assert(
      fc.asyncProperty(groupArb.chain((kinds) => fc.tuple(fc.constant(kinds), rowsArb(kinds))), async ([kinds, rows]) => {
        const bytes = await encodeOfflineParquet(groupOf(kinds), writesOf(rows));
        const expected = expectedRows(rows);
        expect(await decodeOfflineParquet(bytes, 'f.parquet', 'g')).toEqual(expected);
        expect(await readWithDuckDb(bytes)).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });

  const flatGroupAndRows = groupArb.map((kinds) => kinds.map((k) => ({ ...k, list: false }))).chain((kinds) => fc.tuple(fc.constant(kinds), rowsArb(kinds)));

  it('gives each column chunk min, max and null count in the type\'s own order (UTF-8 bytes for strings)', async () => {
    await fc.assert(
      fc.asyncProperty(flatGroupAndRows, async ([kinds, rows]) => {
        const bytes = await encodeOfflineParquet(groupOf(kinds), writesOf(rows));
        const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
        if (rows.length === 0) return;
        kinds.forEach((kind, i) => {
          const values = rows.map((r) => r.cells[i]).filter((c): c is Given => c !== null && !Array.isArray(c));
          const stats = metadata.row_groups[0]?.columns[i]?.meta_data?.statistics;
          expect(stats?.null_count).toBe(BigInt(rows.length - values.length));
          const [min, max] = bounds(kind.type, values.map((v) => v.value));
          const short = (v: unknown) => typeof v !== 'string' || Buffer.byteLength(v) <= 64;
          if (min === undefined || !short(min) || !short(max)) {
            expect(stats?.min_value).toBeUndefined();
          } else {
            expect([stats?.min_value, stats?.max_value]).toEqual([min, max]);
          }
        });
      }),
      { numRuns: 150 },
    );
  });

  it('writes a column with few distinct values as a dictionary and one with many as plain values, both exact', async () => {
    const group = groupOf([{ type: 'String', list: false }, { type: 'Integral', list: false }]);
    const rows = Array.from({ length: 5_000 }, (_, i) => ({ cells: [{ text: `v-${i % 7}`, value: `v-${i % 7}` }, { text: String(i * 1_000_003), value: BigInt(i * 1_000_003) }], shuffle: false, deleted: false }));
    const bytes = await encodeOfflineParquet(group, writesOf(rows));
    const columns = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer).row_groups[0]?.columns;
    expect(columns?.map((c) => c.meta_data?.encodings.includes('RLE_DICTIONARY'))).toEqual([true, false, true, true, false]);
    expect(await readWithDuckDb(bytes)).toEqual(expectedRows(rows));
  });

  it('cuts a very large append into row groups of 100,000 rows', async () => {
    const group = groupOf([{ type: 'Integral', list: false }]);
    const rows = Array.from({ length: 100_001 }, (_, i) => ({ cells: [i % 3 === 0 ? null : { text: String(i), value: BigInt(i) }], shuffle: false, deleted: i % 5 === 0 }));
    const bytes = await encodeOfflineParquet(group, writesOf(rows));
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    expect(metadata.row_groups.map((g) => g.num_rows)).toEqual([100_000n, 1n]);
    expect(await decodeOfflineParquet(bytes, 'f.parquet', 'g')).toEqual(expectedRows(rows));
  });

  it('refuses an Integral value that does not fit 64 bits', async () => {
    const group = groupOf([{ type: 'Integral', list: false }]);
    await expect(encodeOfflineParquet(group, writesOf([{ cells: [{ text: String(2n ** 63n), value: 0 }], shuffle: false, deleted: false }]))).rejects.toThrow(/does not fit/);
  });
});

/** Min and max as Parquet orders the type: signed integers, doubles (zero bounds as -0 / +0), UTF-8 bytes. */
function bounds(type: FeatureDefinition['FeatureType'], values: unknown[]): [unknown, unknown] {
  if (values.length === 0) return [undefined, undefined];
  const compare =
    type === 'String'
      ? (a: unknown, b: unknown) => Buffer.compare(Buffer.from(a as string), Buffer.from(b as string))
      : (a: unknown, b: unknown) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
  const sorted = [...values].sort(compare);
  let [min, max] = [sorted[0], sorted[sorted.length - 1]];
  if (type === 'Fractional') {
    if (min === 0) min = -0;
    if (max === 0) max = 0;
  }
  return [min, max];
}

describe('OfflineStore.removeFiles on the stores of this package that write named files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'skewless-remove-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it.each([
    ['the embedded store (DuckDB)', () => localOffline({ dir: join(dir, 'duckdb') })],
    ['parquetDirOffline', async () => parquetDirOffline({ dir: join(dir, 'parquet-dir') })],
    ['memoryOffline', async () => memoryOffline()],
  ] as const)('%s', async (_, open) => {
    const offline: OfflineStore = await open();
    await expectRemovesNamedFiles(offline);
    await offline.close();
  });
});
