import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { BackendError, backfill, type BackfillProgress, backfillShard, ConfigurationError, count, defineFeatureGroup, createFeatureStore, csvFile, type DeadLetterMessage, type FeatureStore, fromRecords, ndjsonFile, parquetFile, planBackfill, type BackfillOptions } from '../src/index.js';
import { localOffline, localOnline } from '../src/local/index.js';
import { backfillKey, type BackfillBackends, runBackfill } from '../src/backfill/backfill.js';
import { decodeOfflineParquet } from '../src/offline/parquet.js';
import { memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';
import { txn, velocity } from './contracts/aggregation-state.js';
import { cardEvent as event } from './fixtures/card-events.js';
import { cardActivity, cardActivityFields } from './fixtures/groups.js';
import { z } from 'zod';

const root = mkdtempSync(join(tmpdir(), 'skewless-backfill-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const fresh = () => join(root, `run-${dirs++}`);

function localStore(dir: string): FeatureStore {
  return createFeatureStore({ dir, online: localOnline({ memory: true }), offline: localOffline({ dir: join(dir, 'offline') }) });
}

/** Offline rows without the columns that say when they were written: what two runs must agree on. */
async function offlineRows(store: FeatureStore): Promise<string[]> {
  const { offline } = await store.backends();
  const rows = await (offline as NonNullable<typeof offline>).scan(cardActivity);
  return rows.map((r) => [r['card_id'], String(r['event_time']), r['amount'], String(r['is_foreign'])].join('|')).sort();
}

function dataFiles(dir: string): string[] {
  return (readdirSync(join(dir, 'offline'), { recursive: true }) as string[]).filter((f) => String(f).endsWith('.parquet')).sort();
}

function readRejects(file: string | undefined): DeadLetterMessage[] {
  if (!file) return [];
  return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeadLetterMessage);
}

// First in the file: the option schema is built on first use, and the mutation run counts only the
// test that builds it as covering its messages.
describe('backfill options', () => {
  it('refuses each bad option with what was given and what is expected, and takes every valid form', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh() });
    const refused = async (options: unknown, group: unknown = cardActivity) => {
      const error = await backfill(store, group as typeof cardActivity, options as BackfillOptions).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      return (error as Error).message;
    };
    for (const [bad, message] of [
      [{ to: 'sideways' }, `backfill options.to: expected 'offline', 'online' or 'both', got "sideways"`],
      [{ range: 5 }, 'backfill options.range: expected { start, end } row or byte offsets, got 5'],
      [{ range: { start: -1, end: 2 } }, 'backfill options.range.start: expected a whole number, 0 or more, got -1'],
      [{ range: { start: 30_000, end: 10 } }, 'backfill options.range: expected its start at or before its end, got start 30000 and end 10'],
      [{ checkpoint: 5 }, 'backfill options.checkpoint: expected a file path, got 5'],
      [{ rejects: 5 }, 'backfill options.rejects: expected a file path, got 5'],
      [{ onProgress: 'x' }, 'backfill options.onProgress: expected a function, got "x"'],
      [{ chunkSize: '10k' }, 'backfill options.chunkSize: expected a positive whole number of rows, got "10k"'],
      [{ concurrency: 0 }, 'backfill options.concurrency: expected a positive whole number, got 0'],
      [{ order: 'newest' }, `backfill options.order: expected 'event-time', 'source' or { arrival: '<column>' }, got "newest"`],
      [{ order: { arrival: 5 } }, `backfill options.order: expected 'event-time', 'source' or { arrival: '<column>' }, got an object`],
      [{ bogus: 1 }, 'unknown option backfill options.bogus; known: from, to, range, concurrency, checkpoint, rejects, onProgress, chunkSize, order'],
    ] as const) {
      expect(await refused({ from: [], ...bad })).toBe(message);
    }
    // Without a source: the option is named, not a later read of nothing.
    expect(await refused({})).toBe('backfill options.from: expected a source (ndjsonFile, csvFile, parquetFile, s3ParquetFile, athenaSource) or raw events, got undefined');
    expect(await refused({ from: [] }, null)).toBe('backfill: expected a feature group made by defineFeatureGroup, got null');
    for (const valid of [
      { to: 'offline' },
      { to: 'online' },
      { to: 'both' },
      { range: { start: 0, end: 1 } },
      { checkpoint: join(fresh(), 'c.json'), rejects: join(fresh(), 'r.ndjson'), onProgress: () => undefined, chunkSize: 1, concurrency: 1 },
      { order: 'event-time' },
      { order: 'source' },
      { order: { arrival: 'seen' } },
    ] as const) {
      expect(await backfill(store, cardActivity, { from: [event(1)], ...valid })).toMatchObject({ records: 1, written: 1 });
    }
  });
});

describe('backfill from NDJSON', () => {
  it('keeps byte offsets exact in blocks read whole: ASCII ones and multi-byte UTF-8 ones', async () => {
    for (const name of ['ascii', 'multibyte']) {
      const file = join(root, `offsets-${name}.ndjson`);
      const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify(event(i)));
      if (name === 'multibyte') lines[5] = JSON.stringify({ ...event(5), card_id: 'kärtchen-✓-😀' });
      lines[200] = '{"card_id": "broken"';
      writeFileSync(file, `${lines.join('\n')}\n`);
      const store = localStore(fresh());
      const summary = await backfill(store, cardActivity, { from: ndjsonFile(file) });
      expect(summary).toMatchObject({ records: 300, written: 299, poison: 1 });
      if (name === 'multibyte') expect((await offlineRows(store)).some((r) => r.startsWith('kärtchen-✓-😀|'))).toBe(true);
      const [reject] = readRejects(summary.rejectsFile);
      expect(reject?.raw).toBe('{"card_id": "broken"');
      expect(reject?.position?.byteOffset).toBe(lines.slice(0, 200).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
    }
  });

  it('writes every valid row offline and every malformed or invalid row to the rejects file', async () => {
    const dir = fresh();
    const file = join(root, 'history.ndjson');
    const lines = Array.from({ length: 1200 }, (_, i) => JSON.stringify(event(i)));
    lines[10] = '{"card_id": "broken"'; // not JSON
    lines[20] = JSON.stringify({ ...event(20), amount_cents: 'x' }); // schema violation
    lines[30] = ''; // blank: skipped
    lines[40] = JSON.stringify({ ...event(40), card_id: 'kärtchen-✓' }); // multi-byte: offsets stay in bytes
    // Refused (not an integer), with a number JSON.parse would round: kept as the line says it.
    lines[50] = `{"card_id":"c50", "amount_cents":1.5, "ref":12345678901234567890, "country":"US", "ts":"${event(50).ts}"}`;
    writeFileSync(file, Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`), Buffer.from([0xff, 0xfe, 0x0a])]));
    const store = localStore(dir);
    const progress: BackfillProgress[] = [];
    const summary = await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 250, onProgress: (p) => progress.push(p) });
    expect(summary).toMatchObject({ records: 1200, written: 1196, poison: 4, chunks: 5, resumedAtChunk: 0 });
    const rows = await offlineRows(store);
    expect(rows.length).toBe(1196);
    expect(rows.some((r) => r.startsWith('kärtchen-✓|'))).toBe(true);
    const rejects = readRejects(summary.rejectsFile);
    expect(rejects.map((r) => r.error.code)).toEqual(['SOURCE_VALIDATION', 'SOURCE_VALIDATION', 'SOURCE_VALIDATION', 'SOURCE_VALIDATION']);
    // A refused line is kept as its text, every digit and space as written; the reader parses it as it would the source.
    expect(rejects[1]).toMatchObject({ raw: lines[20], rawEncoding: 'json' });
    expect(rejects[2]).toMatchObject({ raw: lines[50], rawEncoding: 'json' });
    expect(rejects[2]?.error.issues[0]?.path).toEqual(['amount_cents']);
    // The line that is not UTF-8 is kept byte for byte, with its offset.
    expect(rejects[3]).toMatchObject({ raw: Buffer.from([0xff, 0xfe]).toString('base64'), rawEncoding: 'base64' });
    expect(rejects[3]?.position?.byteOffset).toBe(Buffer.byteLength(`${lines.join('\r\n')}\r\n`));
    expect(rejects[0]?.raw).toBe('{"card_id": "broken"');
    expect(rejects[0]?.error.message).toMatch(/^row cannot be read: not JSON: ./);
    expect(rejects[0]?.position?.file).toBe(file);
    expect(rejects[0]?.position?.byteOffset).toBe(lines.slice(0, 10).reduce((n, l) => n + Buffer.byteLength(l) + 2, 0));
    expect(rejects[1]?.error.issues[0]?.path).toEqual(['amount_cents']);
    // Progress after every chunk, and the last one says the input is done.
    expect(progress.length).toBe(6);
    expect(progress.at(-1)).toMatchObject({ done: 1200, fraction: 1, etaSeconds: 0 });
    await store.close();
  });

  it('replaces its own output when run again over the same input, instead of duplicating it', async () => {
    const dir = fresh();
    const file = join(root, 'rerun.ndjson');
    writeFileSync(file, Array.from({ length: 500 }, (_, i) => JSON.stringify(event(i))).join('\n'));
    const store = localStore(dir);
    await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 100 });
    const first = dataFiles(dir);
    await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 100 });
    expect(dataFiles(dir)).toEqual(first);
    expect(first.every((f) => /backfill-[0-9a-f]{16}-\d{6}\.parquet$/.test(f))).toBe(true);
    expect((await offlineRows(store)).length).toBe(500);
    await store.close();
  });

  it('replaces its earlier output when run again with another chunk size, leaving no chunk of the old run', async () => {
    const file = join(root, 'rechunk.ndjson');
    writeFileSync(file, Array.from({ length: 500 }, (_, i) => JSON.stringify(event(i))).join('\n'));
    // The embedded store, and the in-memory one, which keeps named files too.
    for (const store of [localStore(fresh()), createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh() })]) {
      await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 50 });
      await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 200 });
      expect(await offlineRows(store)).toHaveLength(500);
      expect(new Set(await offlineRows(store)).size).toBe(500);
      await store.close();
    }
  });

  it("removes only its own source's earlier files: another file's, another array's and another group's stay", async () => {
    const store = localStore(fresh());
    const copy = defineFeatureGroup({ name: 'card-activity-copy', ...cardActivityFields });
    const file = join(root, 'own.ndjson');
    writeFileSync(file, Array.from({ length: 100 }, (_, i) => JSON.stringify(event(i))).join('\n'));
    const other = join(root, 'other.ndjson');
    writeFileSync(other, Array.from({ length: 100 }, (_, i) => JSON.stringify(event(1000 + i))).join('\n'));
    const array = (from: number) => Array.from({ length: 100 }, (_, i) => event(from + i));
    await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 10 });
    await backfill(store, cardActivity, { from: ndjsonFile(other), chunkSize: 10 });
    await backfill(store, cardActivity, { from: array(2000), chunkSize: 10 });
    await backfill(store, cardActivity, { from: array(3000), chunkSize: 10 });
    await backfill(store, copy, { from: ndjsonFile(file), chunkSize: 10 });
    await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 30 });
    await backfill(store, cardActivity, { from: array(3000), chunkSize: 30 });
    const rows = await offlineRows(store);
    expect(rows).toHaveLength(400);
    expect(new Set(rows).size).toBe(400);
    const { offline } = await store.backends();
    expect(await offline?.scan(copy)).toHaveLength(100);
    await store.close();
  });

  it('removes earlier output only when a run starts over: a whole source always, a range only after a run its checkpoint shows', async () => {
    const calls: string[] = [];
    const inner = memoryOffline();
    // The store counts removals; one without removeFiles is only replaced file by file.
    const removeFiles = inner.removeFiles as NonNullable<typeof inner.removeFiles>;
    const counted = { ...inner, removeFiles: async (group: Parameters<typeof removeFiles>[0], select: (name: string) => boolean) => {
      // Which of a whole run's, a range's and another source's file names the removal picks.
      calls.push([`backfill-${key()}-000001`, `backfill-${key(range)}-000001`, 'backfill-0123456789abcdef-000001'].filter(select).join(' '));
      return removeFiles(group, select);
    } };
    const dir = fresh();
    const backends = (offline: BackfillBackends['offline']): BackfillBackends => ({ online: memoryOnline(), offline, dir, now: Date.now });
    const from = fromRecords(Array.from({ length: 20 }, (_, i) => event(i)), { id: 'x' });
    const key = (range?: { start: number; end: number }) => backfillKey(cardActivity, from, range);
    const checkpoint = join(dir, 'range.json');
    const range = { start: 0, end: 10 };
    const run = (options: Partial<BackfillOptions>, offline: BackfillBackends['offline'] = counted) => runBackfill(cardActivity, { from, chunkSize: 5, ...options }, backends(offline));

    await run({});
    // The whole source's run removes its own files and its shards', no other source's.
    expect(calls).toEqual([`backfill-${key()}-000001 backfill-${key(range)}-000001`]);
    await run({ to: 'online' });
    await run({ range });
    await run({ range, checkpoint });
    await run({ range, checkpoint });
    expect(calls).toHaveLength(1);
    // A range whose checkpoint is of another chunk size: its own files only.
    await run({ range, checkpoint, chunkSize: 2 });
    expect(calls).toEqual([`backfill-${key()}-000001 backfill-${key(range)}-000001`, `backfill-${key(range)}-000001`]);
    expect(key(range)).toBe(`${key()}-r0-10`);
    // A store without removeFiles: the run replaces by name alone.
    const { removeFiles: _, ...plain } = inner;
    expect(await run({}, plain)).toMatchObject({ written: 20 });
  });

  it('starts over, without duplicates, when the source file changed since its checkpoint (a row appended, a row fixed)', async () => {
    const dir = fresh();
    const file = join(root, 'changed.ndjson');
    const lines = Array.from({ length: 300 }, (_, i) => JSON.stringify(i === 7 ? { nope: true } : event(i)));
    writeFileSync(file, lines.join('\n'));
    const checkpoint = join(dir, 'changed.checkpoint.json');
    const store = localStore(dir);
    expect(await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 100, checkpoint })).toMatchObject({ written: 299, poison: 1 });
    // The same file again: the finished checkpoint is resumed, nothing is read.
    expect(await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 100, checkpoint })).toMatchObject({ resumedAtChunk: 3, records: 0 });
    // A row fixed in place and one appended: the whole file is read again.
    lines[7] = JSON.stringify(event(7));
    lines.push(JSON.stringify(event(300)));
    writeFileSync(file, lines.join('\n'));
    expect(await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 100, checkpoint })).toMatchObject({ resumedAtChunk: 0, records: 301, written: 301, poison: 0 });
    const rows = await offlineRows(store);
    expect(rows).toHaveLength(301);
    expect(new Set(rows).size).toBe(301);
    await store.close();
  });

  it('resumes from its checkpoint after an interruption and ends with exactly the rows of an uninterrupted run', async () => {
    const file = join(root, 'resume.ndjson');
    writeFileSync(file, Array.from({ length: 1000 }, (_, i) => JSON.stringify(i === 555 ? { nope: true } : event(i))).join('\n'));
    const whole = localStore(fresh());
    await backfill(whole, cardActivity, { from: ndjsonFile(file), chunkSize: 100 });

    const dir = fresh();
    const checkpoint = join(dir, 'history.checkpoint.json');
    const interrupted = localStore(dir);
    let chunks = 0;
    await expect(
      backfill(interrupted, cardActivity, {
        from: ndjsonFile(file),
        chunkSize: 100,
        concurrency: 1,
        checkpoint,
        onProgress: () => {
          if (++chunks === 3) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const resumed = await backfill(interrupted, cardActivity, { from: ndjsonFile(file), chunkSize: 100, checkpoint });
    expect(resumed.resumedAtChunk).toBe(3);
    expect(resumed.records).toBe(700);
    expect(resumed).toMatchObject({ written: 999, poison: 1 });
    expect(readRejects(resumed.rejectsFile)).toHaveLength(1);
    expect(await offlineRows(interrupted)).toEqual(await offlineRows(whole));
    await interrupted.close();
    await whole.close();
  });
});

describe('backfill chunks over blocks of rows', () => {
  it('fills each chunk with exactly its rows when blocks and chunks do not line up, and resumes mid-block', async () => {
    const file = join(root, 'blocks.ndjson');
    const bad = new Set([699, 700, 999, 1000, 2099]);
    const lines = Array.from({ length: 3100 }, (_, i) => JSON.stringify(bad.has(i) ? { ...event(i), amount_cents: `bad-${i}` } : event(i)));
    writeFileSync(file, `${lines.join('\n')}\n`);
    const dir = fresh();
    const checkpoint = join(dir, 'blocks.checkpoint.json');
    const store = localStore(dir);
    let chunks = 0;
    const options = { from: ndjsonFile(file), chunkSize: 700, concurrency: 1, checkpoint };
    await expect(
      backfill(store, cardActivity, {
        ...options,
        onProgress: () => {
          if (++chunks === 2) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    // Two chunks written: the resumed run starts at row 1,400, inside the second block of 1,000 rows.
    const summary = await backfill(store, cardActivity, options);
    expect(summary).toMatchObject({ resumedAtChunk: 2, records: 1700, written: 3100 - bad.size, poison: bad.size, chunks: 5 });
    // Chunk n holds rows n*700 .. n*700+699 (less the bad ones), whatever the blocks were.
    const cents = new Map<number, number[]>();
    for (const name of dataFiles(dir)) {
      const chunk = Number(/-(\d{6})\.parquet$/.exec(name)?.[1]);
      const rows = await decodeOfflineParquet(readFileSync(join(dir, 'offline', name)), name, 'g');
      cents.set(chunk, [...(cents.get(chunk) ?? []), ...rows.map((r) => Math.round((r['amount'] as number) * 100))]);
    }
    for (let chunk = 0; chunk < 5; chunk++) {
      const expected = Array.from({ length: 700 }, (_, k) => chunk * 700 + k).filter((i) => i < 3100 && !bad.has(i));
      expect([...(cents.get(chunk) ?? [])].sort((a, b) => a - b)).toEqual(expected);
    }
    // Rejects in input order with their byte offsets, across both runs.
    const rejects = readRejects(summary.rejectsFile);
    expect(rejects.map((r) => r.position?.byteOffset)).toEqual([...bad].map((i) => lines.slice(0, i).reduce((n, l) => n + l.length + 1, 0)));
    await store.close();
  });
});

describe('backfill sources', () => {
  it('reads CSV with quotes, embedded newlines and typed cells, rejecting broken rows with their line', async () => {
    const file = join(root, 'history.csv');
    writeFileSync(
      file,
      [
        'card_id,amount_cents,country,ts',
        `"card-1",1250,FR,2024-05-01T12:00:00.000Z`,
        `"card ""2""",99,"U\nS",2024-05-01T12:01:00.000Z`,
        `card-3,12x,US,2024-05-01T12:02:00.000Z`,
        `card-4,5,US`,
        // Past 2^53: read as a number it would be 9007199254740992, a value the file does not hold.
        ` card-6 ,9007199254740993,US,2024-05-01T12:04:00.000Z`,
        `card-5,7,"US,2024-05-01T12:03:00.000Z`,
      ].join('\n'),
    );
    const store = createFeatureStore({ dir: fresh(), online: memoryOnline(), offline: memoryOffline() });
    const summary = await backfill(store, cardActivity, { from: csvFile(file), to: 'both' });
    expect(summary).toMatchObject({ records: 6, written: 2, poison: 4 });
    expect(await store.get(cardActivity, 'card "2"')).toMatchObject({ amount: 0.99, is_foreign: true });
    const rejects = readRejects(summary.rejectsFile);
    expect(rejects.map((r) => r.position?.line)).toEqual([5, 6, 7, 8]);
    expect(rejects[0]?.error.issues[0]?.path).toEqual(['amount_cents']);
    // Every refused row is kept as its cells are written, the schema's refusals as the broken rows.
    expect(rejects.map((r) => r.raw)).toEqual([
      ['card-3', '12x', 'US', '2024-05-01T12:02:00.000Z'],
      ['card-4', '5', 'US'],
      [' card-6 ', '9007199254740993', 'US', '2024-05-01T12:04:00.000Z'],
      ['card-5', '7', 'US,2024-05-01T12:03:00.000Z'],
    ]);
    await store.close();
  });

  it('reads Parquet one row group at a time', async () => {
    const file = join(root, 'history.parquet');
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const rows = Array.from({ length: 300 }, (_, i) => event(i));
    const buffer = parquetWriteBuffer({
      columnData: (['card_id', 'amount_cents', 'country', 'ts'] as const).map((name) => ({
        name,
        data: rows.map((r) => r[name]),
        type: name === 'amount_cents' ? 'INT32' : 'STRING',
      })),
      rowGroupSize: 100,
    });
    writeFileSync(file, Buffer.from(buffer));
    const source = parquetFile(file);
    expect(await source.size()).toBe(300);
    expect(await source.split?.(3)).toEqual([
      { start: 0, end: 100 },
      { start: 100, end: 200 },
      { start: 200, end: 300 },
    ]);
    const store = createFeatureStore({ dir: fresh(), online: memoryOnline(), offline: memoryOffline() });
    const summary = await backfill(store, cardActivity, { from: source, to: 'both' });
    expect(summary).toMatchObject({ records: 300, written: 300, poison: 0 });
    // card-3's latest event is i = 3 + 37 * 8 = 299.
    expect((await store.get(cardActivity, 'card-3'))?.amount).toBe(2.99);
    await store.close();
  });

  it('writes only the latest record per identifier online, whatever the input order', async () => {
    const events = Array.from({ length: 400 }, (_, i) => event(i)).reverse();
    const store = createFeatureStore({ dir: fresh(), online: memoryOnline(), offline: memoryOffline() });
    const summary = await backfill(store, cardActivity, { from: events, to: 'both', chunkSize: 64 });
    expect(summary.online?.applied).toBeGreaterThan(0);
    for (let card = 0; card < 37; card++) {
      const latest = Math.max(...events.filter((e) => e.card_id === `card-${card}`).map((e) => e.amount_cents));
      expect((await store.get(cardActivity, `card-${card}`))?.amount).toBe(latest / 100);
    }
    await store.close();
  });

  it('reads async iterables without loading them whole', async () => {
    async function* generate() {
      for (let i = 0; i < 250; i++) yield event(i);
    }
    const store = createFeatureStore({ dir: fresh(), online: memoryOnline(), offline: memoryOffline() });
    expect(await backfill(store, cardActivity, { from: fromRecords(generate(), { id: 'generated' }), chunkSize: 100 })).toMatchObject({ records: 250, written: 250, chunks: 3 });
    await store.close();
  });

  it('splits NDJSON into byte ranges that read every line exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ maxLength: 40, unit: 'grapheme' }), { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 9 }), async (texts, count) => {
        const file = join(root, 'split.ndjson');
        writeFileSync(file, texts.map((t, i) => JSON.stringify({ i, t })).join('\n'));
        const source = ndjsonFile(file);
        const shards = await planBackfill(cardActivity, { from: source, shards: count });
        const seen: number[] = [];
        for (const shard of shards) {
          for await (const { items } of source.read(cardActivity, shard.range)) for (const item of items) seen.push((item.raw as { i: number }).i);
        }
        expect(seen).toEqual(texts.map((_, i) => i));
      }),
      { numRuns: 60 },
    );
  });

  it('runs the shards of a plan, each with its own checkpoint, to the same rows as one run', async () => {
    const file = join(root, 'shards.ndjson');
    writeFileSync(file, Array.from({ length: 900 }, (_, i) => JSON.stringify(event(i))).join('\n'));
    const whole = localStore(fresh());
    await backfill(whole, cardActivity, { from: ndjsonFile(file) });
    const dir = fresh();
    const sharded = localStore(dir);
    const shards = await planBackfill(cardActivity, { from: ndjsonFile(file), shards: 4 });
    expect(shards).toHaveLength(4);
    expect(JSON.parse(JSON.stringify(shards))).toEqual(shards);
    for (const shard of shards) await backfillShard(sharded, cardActivity, shard, { checkpointDir: join(dir, 'checkpoints') });
    expect(await offlineRows(sharded)).toEqual(await offlineRows(whole));
    await sharded.close();
    await whole.close();
  });
});

describe('backfill resume edges', () => {
  /** A backfill of `file` with a checkpoint that is killed after `after` chunks. */
  async function killedAfter(store: FeatureStore, group: typeof cardActivity, file: string, checkpoint: string, after: number): Promise<void> {
    let chunks = 0;
    const onProgress = () => {
      if (++chunks === after) throw new Error('killed');
    };
    await expect(backfill(store, group, { from: ndjsonFile(file), chunkSize: 100, concurrency: 1, checkpoint, onProgress })).rejects.toThrow('killed');
  }

  const historyWithPoison = (name: string, poison: ReadonlySet<number>) => {
    const file = join(root, name);
    writeFileSync(file, Array.from({ length: 500 }, (_, i) => JSON.stringify(poison.has(i) ? { ...event(i), amount_cents: 'bad' } : event(i))).join('\n'));
    return file;
  };

  it('starts over when the checkpoint was written by other code (another fingerprint)', async () => {
    const file = historyWithPoison('other-code.ndjson', new Set([50]));
    const dir = fresh();
    const checkpoint = join(dir, 'other-code.checkpoint.json');
    const store = localStore(dir);
    await killedAfter(store, cardActivity, file, checkpoint, 3);
    // The same checkpoint, as another deployment's code would have left it.
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as { fingerprint: string; chunksDone: number };
    expect(saved.chunksDone).toBe(3);
    writeFileSync(checkpoint, JSON.stringify({ ...saved, fingerprint: 'written-by-other-code' }));
    const summary = await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 100, checkpoint });
    expect(summary).toMatchObject({ resumedAtChunk: 0, records: 500, written: 499, poison: 1 });
    expect(readRejects(summary.rejectsFile)).toHaveLength(1);
    await store.close();
  });

  it('cuts the rejects file back to its checkpoint after a crash between writing rejects and the checkpoint', async () => {
    const file = historyWithPoison('crash.ndjson', new Set([10, 150, 250, 450]));
    const dir = fresh();
    const checkpoint = join(dir, 'crash.checkpoint.json');
    const store = localStore(dir);
    await killedAfter(store, cardActivity, file, checkpoint, 2);
    const rejects = join(dir, 'backfill', cardActivity.name, `${(JSON.parse(readFileSync(checkpoint, 'utf8')) as { key: string }).key}.rejects.ndjson`);
    expect(readRejects(rejects)).toHaveLength(2);
    // The third chunk's reject reached the file, the checkpoint never learned of it.
    writeFileSync(rejects, `${readFileSync(rejects, 'utf8')}${readFileSync(rejects, 'utf8').split('\n')[1]}\n`);
    expect(readRejects(rejects)).toHaveLength(3);
    const summary = await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 100, checkpoint });
    expect(summary).toMatchObject({ resumedAtChunk: 2, poison: 4 });
    // Each poison row once: rows 10, 150, 250 and 450, in order.
    const timeOf = (raw: unknown) => (JSON.parse(raw as string) as { ts: string }).ts;
    expect(readRejects(summary.rejectsFile).map((r) => timeOf(r.raw))).toEqual([10, 150, 250, 450].map((i) => event(i).ts));
    await store.close();
  });

  it('writes online the first of an identifier\'s records with equal event times, as the online write rule keeps the first', async () => {
    const at = '2024-05-01T12:00:00.000Z';
    const online = memoryOnline();
    const store = createFeatureStore({ online, offline: memoryOffline() });
    const rows = [
      { card_id: 'tie', amount_cents: 100, country: 'US', ts: at },
      { card_id: 'tie', amount_cents: 200, country: 'FR', ts: at },
      { card_id: 'other', amount_cents: 1, country: 'US', ts: at },
    ];
    const summary = await backfill(store, cardActivity, { from: rows, to: 'both' });
    expect(summary.online).toMatchObject({ applied: 2, failed: 0 });
    expect(await store.get(cardActivity, 'tie')).toMatchObject({ amount: 1, is_foreign: false });
    // The same rows through PutRecord's rule one by one keep the same record.
    const stream = createFeatureStore({ online: memoryOnline(), offline: false });
    await stream.ingest(cardActivity, rows);
    expect(await stream.get(cardActivity, 'tie')).toEqual(await store.get(cardActivity, 'tie'));
  });
});

describe('backfill progress, targets and replay order, counted by hand', () => {
  const NOW = Date.UTC(2024, 6, 1, 9, 30);
  const memoryStore = () => createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh(), now: () => NOW });

  it('reports progress after every chunk by how far the written chunks reach, with the time left at the rate so far', async () => {
    const store = memoryStore();
    const progress: BackfillProgress[] = [];
    const events = Array.from({ length: 3000 }, (_, i) => (i === 1500 ? { bad: i } : event(i)));
    const summary = await backfill(store, cardActivity, { from: events, chunkSize: 500, concurrency: 1, onProgress: (p) => progress.push(p) });
    expect(summary).toMatchObject({ records: 3000, written: 2999, poison: 1, chunks: 6, resumedAtChunk: 0 });
    // An array is read 1,000 rows a block: a chunk reaches as far as the block it was filled from.
    expect(progress.map((p) => p.fraction)).toEqual([1 / 3, 1 / 3, 2 / 3, 2 / 3, 1, 1, 1]);
    expect(progress.map((p) => p.done)).toEqual([500, 1000, 1500, 2000, 2500, 3000, 3000]);
    expect(progress.map((p) => p.written)).toEqual([500, 1000, 1500, 1999, 2499, 2999, 2999]);
    expect(progress.map((p) => p.poison)).toEqual([0, 0, 0, 1, 1, 1, 1]);
    for (const p of progress) {
      const fraction = p.fraction as number;
      expect(p.etaSeconds).toBeCloseTo(fraction === 1 ? 0 : ((p.elapsedMs / 1000) * (1 - fraction)) / fraction, 9);
      expect(p.recordsPerSecond).toBe(p.elapsedMs > 0 ? Math.round((p.done * 1000) / p.elapsedMs) : 0);
    }
    expect(summary.recordsPerSecond).toBe(summary.durationMs > 0 ? Math.round(3_000_000 / summary.durationMs) : 3000);
    // Offline rows and rejects carry the store's clock.
    const { offline } = await store.backends();
    const rows = await (offline as NonNullable<typeof offline>).scan(cardActivity);
    expect(new Set(rows.map((r) => `${String(r['write_time'])}|${String(r['api_invocation_time'])}`))).toEqual(new Set([`${new Date(NOW)}|${new Date(NOW)}`]));
    expect(readRejects(summary.rejectsFile)).toMatchObject([{ deadLetteredAt: new Date(NOW).toISOString(), raw: { bad: 1500 } }]);
  });

  it('measures progress over a range from its start, and a range past the end of the source up to that end', async () => {
    const events = Array.from({ length: 3000 }, (_, i) => event(i));
    const fractions = async (range: { start: number; end: number }) => {
      const progress: (number | undefined)[] = [];
      const summary = await backfill(memoryStore(), cardActivity, { from: events, range, chunkSize: 500, concurrency: 1, onProgress: (p) => progress.push(p.fraction) });
      return { records: summary.records, progress };
    };
    expect(await fractions({ start: 1000, end: 2500 })).toEqual({ records: 1500, progress: [2 / 3, 2 / 3, 1, 1] });
    expect(await fractions({ start: 2000, end: 5000 })).toEqual({ records: 1000, progress: [1, 1, 1] });
  });

  it('reports no fraction and no time left for a source of unknown size', async () => {
    function* generate() {
      for (let i = 0; i < 1200; i++) yield event(i);
    }
    const progress: BackfillProgress[] = [];
    const summary = await backfill(memoryStore(), cardActivity, { from: generate(), chunkSize: 500, onProgress: (p) => progress.push(p) });
    expect(summary).toMatchObject({ records: 1200, written: 1200, chunks: 3, rejectsFile: undefined });
    expect(progress.map((p) => [p.done, p.fraction, p.etaSeconds])).toEqual([
      [500, undefined, undefined],
      [1000, undefined, undefined],
      [1200, undefined, undefined],
      [1200, undefined, undefined],
    ]);
  });

  it('counts online outcomes: a second run over the same rows is stale, a store that fails counts failures', async () => {
    const events = Array.from({ length: 100 }, (_, i) => event(i));
    const store = memoryStore();
    expect((await backfill(store, cardActivity, { from: events, to: 'online' })).online).toEqual({ applied: 37, stale: 0, accepted: 0, failed: 0 });
    const again = await backfill(store, cardActivity, { from: events, to: 'online' });
    expect(again).toMatchObject({ records: 100, written: 100, online: { applied: 0, stale: 37, accepted: 0, failed: 0 } });
    // A store answering with errors (say, throttling) for every record.
    const inner = memoryOnline();
    const failing = Object.assign(Object.create(inner) as typeof inner, { put: async (_g: unknown, records: readonly unknown[]) => records.map(() => new Error('throttled')) });
    const failed = await backfill(createFeatureStore({ online: failing, offline: false }), cardActivity, { from: events, to: 'online' });
    expect(failed.online).toEqual({ applied: 0, stale: 0, accepted: 0, failed: 37 });
    // An offline backfill says nothing of online writes.
    expect(await backfill(store, cardActivity, { from: events })).not.toHaveProperty('online');
  });

  it('refuses a target whose store is missing, and an online store that also writes offline', async () => {
    // A store always has an online tier; the backends a shard handler assembles may lack either.
    const noOnline: BackfillBackends = { online: undefined, offline: memoryOffline(), dir: fresh(), now: () => NOW };
    const noOffline: BackfillBackends = { online: memoryOnline(), offline: undefined, dir: fresh(), now: () => NOW };
    const from = [event(1)];
    for (const [backends, to, message] of [
      [noOnline, 'online', 'group "card-activity": backfill to "online" needs an online store'],
      [noOnline, 'both', 'group "card-activity": backfill to "both" needs an online store'],
      [noOffline, 'offline', 'group "card-activity": backfill to "offline" needs an offline store'],
      [noOffline, 'both', 'group "card-activity": backfill to "both" needs an offline store'],
    ] as const) {
      await expect(runBackfill(cardActivity, { from, to }, backends)).rejects.toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message }));
    }
    expect(await runBackfill(cardActivity, { from }, noOnline)).toMatchObject({ written: 1 });
    expect(await runBackfill(cardActivity, { from, to: 'online' }, noOffline)).toMatchObject({ written: 1 });
    const inner = memoryOnline();
    const writesOffline = Object.assign(Object.create(inner) as typeof inner, { writesOffline: true });
    const sageMakerLike = createFeatureStore({ online: writesOffline, offline: memoryOffline() });
    for (const to of ['online', 'both'] as const) {
      await expect(backfill(sageMakerLike, cardActivity, { from, to })).rejects.toThrow(
        expect.objectContaining({
          name: 'ConfigurationError',
          code: 'INVALID_CONFIG',
          message: `group "card-activity": the online store also writes offline, so a backfill to "${to}" would add only the latest records offline; backfill offline, then online with sageMakerOnline({ targetStores: ['OnlineStore'] })`,
        }),
      );
    }
    expect(await backfill(sageMakerLike, cardActivity, { from })).toMatchObject({ written: 1 });
  });
});

describe('backfill writes and resumes, counted by hand', () => {
  it('writes chunks `concurrency` at a time: 2 by default', async () => {
    const events = Array.from({ length: 800 }, (_, i) => event(i));
    const mostAtOnce = async (concurrency?: number) => {
      const inner = memoryOffline();
      let writing = 0;
      let most = 0;
      const slow = Object.assign(Object.create(inner) as typeof inner, {
        append: async (...args: Parameters<typeof inner.append>) => {
          most = Math.max(most, ++writing);
          await new Promise((resolve) => setTimeout(resolve, 5));
          await inner.append(...args);
          writing--;
        },
      });
      const store = createFeatureStore({ online: memoryOnline(), offline: slow, dir: fresh() });
      const summary = await backfill(store, cardActivity, { from: events, chunkSize: 100, ...(concurrency ? { concurrency } : {}) });
      expect(summary).toMatchObject({ chunks: 8, written: 800 });
      return most;
    };
    expect([await mostAtOnce(), await mostAtOnce(1), await mostAtOnce(3)]).toEqual([2, 1, 3]);
  });

  it('writes only to the tier it is asked for, and no file for a chunk without a valid row', async () => {
    const from = Array.from({ length: 300 }, (_, i) => (i >= 100 && i < 200 ? { bad: i } : event(i)));
    const offlineOnly = localStore(fresh());
    await backfill(offlineOnly, cardActivity, { from, chunkSize: 100 });
    expect(await offlineOnly.get(cardActivity, 'card-0')).toBeUndefined();
    const dir = fresh();
    const both = localStore(dir);
    expect(await backfill(both, cardActivity, { from, chunkSize: 100, to: 'both' })).toMatchObject({ chunks: 3, written: 200, poison: 100 });
    // Chunk 1 held only poison rows: files for chunks 0 and 2, and a store of the user's is not asked to append nothing.
    expect(new Set(dataFiles(dir).map((f) => /-(\d{6})\.parquet$/.exec(f)?.[1]))).toEqual(new Set(['000000', '000002']));
    const inner = memoryOffline();
    const appended: number[] = [];
    const counting = Object.assign(Object.create(inner) as typeof inner, {
      append: (...args: Parameters<typeof inner.append>) => {
        appended.push(args[1].length);
        return inner.append(...args);
      },
    });
    await backfill(createFeatureStore({ online: memoryOnline(), offline: counting, dir: fresh() }), cardActivity, { from, chunkSize: 100 });
    expect(appended).toEqual([100, 100]);
    const onlineOnly = localStore(fresh());
    await backfill(onlineOnly, cardActivity, { from, chunkSize: 100, to: 'online' });
    expect(await onlineOnly.get(cardActivity, 'card-0')).toMatchObject({ card_id: 'card-0' });
    expect(await offlineRows(onlineOnly)).toEqual([]);
    await Promise.all([offlineOnly.close(), both.close(), onlineOnly.close()]);
  });

  it('writes online with the group\'s TTL', async () => {
    const expiring = defineFeatureGroup({ name: 'card-activity-expiring', ...cardActivityFields, ttl: { Unit: 'Hours', Value: 1 } });
    const online = memoryOnline({ now: () => Date.UTC(2024, 0, 1) });
    const store = createFeatureStore({ online, offline: false, dir: fresh() });
    await backfill(store, expiring, { from: [event(0)], to: 'online' });
    expect((await online.get(expiring, 'card-0'))?.expiresAt).toEqual(new Date(Date.UTC(2024, 0, 1, 1)));
  });

  it('reports the rate and the time left from the elapsed time, and the whole count when no time has passed', async () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(Date.UTC(2024, 6, 1));
    try {
      const progress: BackfillProgress[] = [];
      const summary = await backfill(createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh() }), cardActivity, {
        from: Array.from({ length: 1500 }, (_, i) => event(i)),
        chunkSize: 1000,
        onProgress: (p) => progress.push(p),
      });
      expect(summary).toMatchObject({ durationMs: 0, recordsPerSecond: 1500 });
      expect(progress.map((p) => [p.elapsedMs, p.recordsPerSecond, p.fraction, p.etaSeconds])).toEqual([
        [0, 0, 1000 / 1500, 0],
        [0, 0, 1, 0],
        [0, 0, 1, 0],
      ]);
    } finally {
      now.mockRestore();
    }
  });

  it('resumes a finished run to its end: nothing read again, the totals and the rejects as they were', async () => {
    const dir = fresh();
    const checkpoint = join(dir, 'done.json');
    const rejects = join(dir, 'done.rejects.ndjson');
    const from = Array.from({ length: 250 }, (_, i) => (i === 7 ? { bad: i } : event(i)));
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir });
    const first = await backfill(store, cardActivity, { from, chunkSize: 100, checkpoint, rejects });
    expect(first).toMatchObject({ records: 250, written: 249, poison: 1, chunks: 3 });
    const lines = readFileSync(rejects, 'utf8');
    // One line per reject and nothing more: the checkpoint counts its bytes.
    expect(lines.split('\n')).toHaveLength(2);
    expect(JSON.parse(readFileSync(checkpoint, 'utf8'))).toMatchObject({ chunksDone: 3, rowsDone: 250, written: 249, poison: 1, rejectsBytes: Buffer.byteLength(lines) });
    const progress: BackfillProgress[] = [];
    const again = await backfill(store, cardActivity, { from, chunkSize: 100, checkpoint, rejects, onProgress: (p) => progress.push(p) });
    expect(again).toMatchObject({ records: 0, written: 249, poison: 1, chunks: 3, resumedAtChunk: 3, rejectsFile: rejects });
    expect(progress).toMatchObject([{ done: 250, fraction: 1, etaSeconds: 0 }]);
    expect(readFileSync(rejects, 'utf8')).toBe(lines);
    // A rejects file removed before the resume comes back empty: the rows it held are not read again.
    rmSync(rejects);
    await backfill(store, cardActivity, { from, chunkSize: 100, checkpoint, rejects });
    expect(readFileSync(rejects, 'utf8')).toBe('');
  });

  it('starts over when the checkpoint is of another chunk size or another input', async () => {
    const dir = fresh();
    const checkpoint = join(dir, 'other.json');
    const from = Array.from({ length: 300 }, (_, i) => event(i));
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir });
    await backfill(store, cardActivity, { from, chunkSize: 100, checkpoint });
    expect(await backfill(store, cardActivity, { from, chunkSize: 50, checkpoint })).toMatchObject({ resumedAtChunk: 0, records: 300, chunks: 6 });
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as Record<string, unknown>;
    writeFileSync(checkpoint, JSON.stringify({ ...saved, key: 'another-input' }));
    expect(await backfill(store, cardActivity, { from, chunkSize: 50, checkpoint })).toMatchObject({ resumedAtChunk: 0, records: 300 });
    expect(await backfill(store, cardActivity, { from, chunkSize: 50, checkpoint })).toMatchObject({ resumedAtChunk: 6, records: 0 });
  });
});

describe('aggregation backfills: replay order, refusals and the state handed to the stream', () => {
  const minuteOf = (row: Record<string, unknown>) => new Date(String(row['event_time'])).getUTCMinutes();
  /** Each offline row's count over the hour, by the minute of its event time, and the late events. */
  async function replayed(events: readonly Record<string, unknown>[], order?: BackfillOptions['order']) {
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh() });
    const summary = await backfill(store, velocity, { from: events, ...(order ? { order } : {}) });
    const { offline } = await store.backends();
    const rows = await (offline as NonNullable<typeof offline>).scan(velocity);
    return { late: summary.late, counts: Object.fromEntries(rows.map((r) => [minuteOf(r), Number(r['n_1h'])])), summary };
  }
  // One card at minutes 0, 30, 20 and 40: minute 20 is 10 minutes behind minute 30, beyond the
  // default lateness (5 minutes), when it arrives after it.
  const at = (arrivals: readonly unknown[]) => [0, 30, 20, 40].map((minute, i) => ({ ...txn('c1', minute, 1), ...(arrivals[i] === undefined ? {} : { arrival: arrivals[i] }) }));
  const inArrivalOrder = { late: 1, counts: { 0: 1, 30: 2, 40: 3 } };
  const inTimeOrder = { late: 0, counts: { 0: 1, 20: 2, 30: 3, 40: 4 } };

  it('replays by the arrival column, as epoch ms, ISO-8601 text, a Date, or sequence digits compared as numbers', async () => {
    const minute = (m: number) => Date.UTC(2024, 4, 1, 11, m);
    for (const arrivals of [
      [minute(0), minute(1), minute(2), minute(3)],
      [minute(0), minute(1), minute(2), minute(3)].map((ms) => new Date(ms).toISOString()),
      [minute(0), minute(1), minute(2), minute(3)].map((ms) => new Date(ms)),
      // Compared as text, '10' < '100' < '11' < '9' would replay minute 30 first and leave two late.
      ['9', '10', '100', '11'],
      [9n, 10n, 100n, 11n],
    ]) {
      expect(await replayed(at(arrivals))).toMatchObject(inArrivalOrder);
    }
    // Without an arrival, an event's time stands in for it; with no arrival at all, that is time order.
    expect(await replayed(at([]))).toMatchObject(inTimeOrder);
    expect(await replayed(at([]), 'event-time')).toMatchObject(inTimeOrder);
    expect(await replayed(at([]), 'source')).toMatchObject(inArrivalOrder);
    expect(await replayed(at([3, 2, 1, 0]), { arrival: 'arrival' })).toMatchObject({ late: 3, counts: { 40: 1 } });
    // A named column; arrivals that tie keep source order.
    const renamed = at([]).map((e, i) => ({ ...e, seen: [5, 5, 5, 5][i] }));
    expect(await replayed(renamed, { arrival: 'seen' })).toMatchObject(inArrivalOrder);
  });

  it('replays keys of mixed kinds: times as times, big sequence digits exactly, events without an arrival first', async () => {
    const minute = (m: number, ms = 0) => Date.UTC(2024, 4, 1, 11, m, 0, ms);
    const iso = (ms: number) => new Date(ms).toISOString();
    // Epoch ms and ISO-8601 text in one column, with or without a zone offset, are all times.
    expect(await replayed(at([minute(0), iso(minute(1)), minute(2), iso(minute(3))]))).toMatchObject(inArrivalOrder);
    expect(await replayed(at([minute(0), iso(minute(1)).replace('Z', '+00:00'), minute(2), iso(minute(3)).replace('Z', '+00:00')]))).toMatchObject(inArrivalOrder);
    // Dates a tenth of a second apart keep their milliseconds.
    expect(await replayed(at([100, 300, 200, 400].map((ms) => new Date(minute(0, ms)))))).toMatchObject(inTimeOrder);
    // Sequence numbers past 2^53, one apart: as doubles they would all tie and keep source order.
    expect(await replayed(at(['1152921504606846977', '1152921504606846979', '1152921504606846978', '1152921504606846980']))).toMatchObject(inTimeOrder);
    // An arrival that is no time (not finite) stands aside for the event time: minute 30 replays first.
    for (const missing of [Number.POSITIVE_INFINITY, Number.NaN, 'soon', true]) {
      expect(await replayed(at([minute(0), missing, minute(2), minute(3)]))).toMatchObject({ late: 2, counts: { 30: 1, 40: 2 } });
    }
    // In a column of sequence numbers, events without one are keyed by their time, and times come first.
    expect(await replayed(at([undefined, '1', undefined, '2']))).toMatchObject(inTimeOrder);
    expect(await replayed(at(['1', undefined, '2', undefined]))).toMatchObject({ late: 2, counts: { 30: 1, 40: 2 } });
  });

  it('leaves a row it cannot read out of the aggregates, as it leaves it out of the records', async () => {
    // An INT64 past 2^53 cannot become a number exactly: that row is unreadable, though z.coerce would take it.
    const coercing = defineFeatureGroup({
      name: 'card-velocity-coercing',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: z.object({ card_id: z.string(), amount: z.coerce.number(), ts: z.string() }),
      features: velocity.features,
      transform: velocity.transform,
      aggregations: { n_1h: count({ window: '1h' }) },
    });
    const rows = [txn('c1', 0, 1), txn('c1', 1, 2), txn('c1', 2, 3)];
    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const file = join(root, 'unreadable-amount.parquet');
    const buffer = parquetWriteBuffer({
      columnData: [
        { name: 'card_id', data: rows.map((r) => r.card_id), type: 'STRING' },
        { name: 'amount', data: [1n, 2n ** 60n, 3n], type: 'INT64' },
        { name: 'ts', data: rows.map((r) => r.ts), type: 'STRING' },
      ],
    });
    writeFileSync(file, Buffer.from(buffer));
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh() });
    expect(await backfill(store, coercing, { from: parquetFile(file) })).toMatchObject({ written: 2, poison: 1 });
    const { offline } = await store.backends();
    const written = await (offline as NonNullable<typeof offline>).scan(coercing);
    expect(written.map((r) => [Number(r['amount']), Number(r['n_1h'])]).sort()).toEqual([
      [1, 1],
      [3, 2],
    ]);
  });

  it('gives each row its own aggregates across chunks that do not line up with the blocks read', async () => {
    const events = Array.from({ length: 1500 }, (_, i) => txn(`card-${i % 7}`, i % 60, i));
    const rowsOf = async (chunkSize: number) => {
      const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh() });
      await backfill(store, velocity, { from: events, chunkSize });
      const { offline } = await store.backends();
      const rows = await (offline as NonNullable<typeof offline>).scan(velocity);
      return rows.map((r) => `${String(r['card_id'])}|${Number(r['amount'])}|${Number(r['n_1h'])}|${Number(r['sum_1h'])}`).sort();
    };
    const whole = await rowsOf(10_000);
    expect(whole).toHaveLength(1500);
    expect(new Set(whole.map((r) => r.split('|')[2])).size).toBeGreaterThan(5);
    expect(await rowsOf(300)).toEqual(whole);
  });

  it('refuses a range, and a source it can read only once', async () => {
    const events = at([]);
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: fresh() });
    await expect(backfill(store, velocity, { from: events, range: { start: 0, end: 2 } })).rejects.toThrow(
      expect.objectContaining({
        code: 'INVALID_CONFIG',
        message: `group "card-velocity" has aggregations: its backfill replays every entity's whole history in order, so it cannot run on a range of the source`,
      }),
    );
    function* once() {
      yield* events;
    }
    await expect(backfill(store, velocity, { from: once() })).rejects.toThrow(
      `group "card-velocity" has aggregations: its backfill reads the source twice (replay, then write), and this source (an iterable) can be read only once; pass an array or a file`,
    );
    await expect(backfill(store, velocity, { from: once() })).rejects.toMatchObject({ name: 'ConfigurationError', code: 'INVALID_CONFIG' });
  });

  it('hands the state of every entity to the stream in pages, and fails with the error a page returns', async () => {
    const events = Array.from({ length: 2001 }, (_, i) => txn(`card-${i}`, i % 60, 1));
    const pagesOf = async (count: number) => {
      const state = memoryAggregationState();
      const pages: number[] = [];
      const counting = Object.assign(Object.create(state) as typeof state, {
        save: (group: Parameters<typeof state.save>[0], updates: Parameters<typeof state.save>[1]) => {
          pages.push(updates.length);
          return state.save(group, updates);
        },
      });
      const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: counting, dir: fresh() });
      const summary = await backfill(store, velocity, { from: events.slice(0, count), to: 'online' });
      return { pages, seeded: summary.aggregationState };
    };
    expect(await pagesOf(2001)).toEqual({ pages: [1000, 1000, 1], seeded: { seeded: 2001, kept: 0 } });
    expect(await pagesOf(2000)).toEqual({ pages: [1000, 1000], seeded: { seeded: 2000, kept: 0 } });
    const state = memoryAggregationState();
    // Offline only: the stream's state is not touched.
    expect(await backfill(createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), aggregationState: memoryAggregationState(), dir: fresh() }), velocity, { from: events })).not.toHaveProperty('aggregationState');
    const refusing = Object.assign(Object.create(state) as typeof state, { save: async (_g: unknown, updates: readonly unknown[]) => updates.map(() => new Error('state table is gone')) });
    const broken = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: refusing, dir: fresh() });
    await expect(backfill(broken, velocity, { from: events.slice(0, 3), to: 'online' })).rejects.toThrow('state table is gone');
    // A store without a state store: the online records are written, nothing is handed over.
    const stateless = createFeatureStore({ online: memoryOnline(), offline: false, dir: fresh() });
    const summary = await backfill(stateless, velocity, { from: events.slice(0, 3), to: 'online' });
    expect(summary).toMatchObject({ written: 3, online: { applied: 3 } });
    expect(summary).not.toHaveProperty('aggregationState');
    // A state store that cannot be opened fails the run with its error.
    const unopened = Promise.reject(new BackendError('READ_FAILED', 'no state table "card-state"'));
    unopened.catch(() => undefined);
    const unreachable = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: unopened, dir: fresh() });
    await expect(backfill(unreachable, velocity, { from: events.slice(0, 3), to: 'online' })).rejects.toThrow('no state table "card-state"');
    // Backends assembled without a state store (as a shard handler may) hand nothing over either.
    const noState: BackfillBackends = { online: memoryOnline(), offline: undefined, dir: fresh(), now: Date.now };
    expect(await runBackfill(velocity, { from: events.slice(0, 3), to: 'online' }, noState)).not.toHaveProperty('aggregationState');
  });
});

describe('a backfill writing online with chunks in flight together', () => {
  /** memoryOnline, logging when each put starts and ends; a put holding `failing` fails, after the others of its time. */
  function loggedOnline(log: string[], failing?: string) {
    const online = memoryOnline();
    let calls = 0;
    return {
      ...online,
      put: async (...args: Parameters<typeof online.put>) => {
        const call = calls++;
        const ids = args[1].map((record) => record.find((f) => f.FeatureName === 'card_id')?.ValueAsString);
        log.push(`start ${call}`);
        // The first put is the slowest: a put that started later and did not wait would end first.
        await new Promise((resolve) => setTimeout(resolve, call === 0 ? 40 : 1));
        log.push(`end ${call}`);
        if (failing !== undefined && ids.includes(failing)) throw new BackendError('WRITE_FAILED', 'the online store refused the chunk', { retryable: true });
        return online.put(...args);
      },
    };
  }

  it('writes online one chunk after the other, a chunk of poison alone keeping its place in the order', async () => {
    const log: string[] = [];
    const store = createFeatureStore({ online: loggedOnline(log), offline: memoryOffline(), dir: fresh() });
    // Three chunks of 10: valid, all poison, valid.
    const events = [...Array.from({ length: 10 }, (_, i) => event(i)), ...Array.from({ length: 10 }, () => ({ bad: true })), ...Array.from({ length: 10 }, (_, i) => event(20 + i))];
    const summary = await backfill(store, cardActivity, { from: events, to: 'both', chunkSize: 10, concurrency: 3 });
    expect(summary).toMatchObject({ written: 20, poison: 10 });
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1']);
    await store.close();
  });

  it('writes nothing online after a chunk that failed, and fails with that chunk\'s error', async () => {
    const log: string[] = [];
    const store = createFeatureStore({ online: loggedOnline(log, 'card-0'), offline: memoryOffline(), dir: fresh() });
    const events = Array.from({ length: 30 }, (_, i) => event(i));
    await expect(backfill(store, cardActivity, { from: events, to: 'both', chunkSize: 10, concurrency: 3 })).rejects.toThrow('the online store refused the chunk');
    const settled = [...log];
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(settled).toEqual(['start 0', 'end 0']);
    expect(log).toEqual(settled);
    expect(await store.getMany(cardActivity, ['card-12', 'card-25'])).toEqual(new Map());
    await store.close();
  });
});
