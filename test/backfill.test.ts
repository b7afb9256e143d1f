import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { backfill, type BackfillProgress, backfillShard, createFeatureStore, csvFile, type DeadLetterMessage, type FeatureStore, fromRecords, ndjsonFile, parquetFile, planBackfill } from '../src/index.js';
import { runBackfillCommand } from '../src/cli/backfill.js';
import { backfillOnWorkers, localOffline, localOnline, localStores } from '../src/local/index.js';
import { decodeOfflineParquet } from '../src/offline/parquet.js';
import { memoryOffline, memoryOnline } from '../src/testing/index.js';
import { cardActivity } from './fixtures/groups.js';

const root = mkdtempSync(join(tmpdir(), 'skewless-backfill-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const fresh = () => join(root, `run-${dirs++}`);

const event = (i: number) => ({
  card_id: `card-${i % 37}`,
  amount_cents: i,
  country: i % 3 ? 'US' : 'FR',
  ts: new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString(),
});

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
    writeFileSync(file, Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n`), Buffer.from([0xff, 0xfe, 0x0a])]));
    const store = localStore(dir);
    const progress: BackfillProgress[] = [];
    const summary = await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 250, onProgress: (p) => progress.push(p) });
    expect(summary).toMatchObject({ records: 1200, written: 1197, poison: 3, chunks: 5, resumedAtChunk: 0 });
    const rows = await offlineRows(store);
    expect(rows.length).toBe(1197);
    expect(rows.some((r) => r.startsWith('kärtchen-✓|'))).toBe(true);
    const rejects = readRejects(summary.rejectsFile);
    expect(rejects.map((r) => r.error.code)).toEqual(['SOURCE_VALIDATION', 'SOURCE_VALIDATION', 'SOURCE_VALIDATION']);
    // The line that is not UTF-8 is kept byte for byte, with its offset.
    expect(rejects[2]).toMatchObject({ raw: Buffer.from([0xff, 0xfe]).toString('base64'), rawEncoding: 'base64' });
    expect(rejects[2]?.position?.byteOffset).toBe(Buffer.byteLength(`${lines.join('\r\n')}\r\n`));
    expect(rejects[0]?.raw).toBe('{"card_id": "broken"');
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
      const rows = await decodeOfflineParquet(readFileSync(join(dir, 'offline', name)));
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
        `card-5,7,"US,2024-05-01T12:03:00.000Z`,
      ].join('\n'),
    );
    const store = createFeatureStore({ dir: fresh(), online: memoryOnline(), offline: memoryOffline() });
    const summary = await backfill(store, cardActivity, { from: csvFile(file), to: 'both' });
    expect(summary).toMatchObject({ records: 5, written: 2, poison: 3 });
    expect(await store.get(cardActivity, 'card "2"')).toMatchObject({ amount: 0.99, is_foreign: true });
    const rejects = readRejects(summary.rejectsFile);
    expect(rejects.map((r) => r.position?.line)).toEqual([5, 6, 7]);
    expect(rejects[0]?.error.issues[0]?.path).toEqual(['amount_cents']);
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

describe('backfillOnWorkers', () => {
  // Worker threads run JavaScript: the worker and the definitions are bundled from src for the test.
  const built = join(fileURLToPath(new URL('.', import.meta.url)), '.tmp', `workers-${process.pid}`);
  const external = ['@duckdb/node-api', 'zod', 'hyparquet', 'hyparquet-writer'];
  buildSync({ entryPoints: [fileURLToPath(new URL('../src/local/backfill-thread.ts', import.meta.url))], outfile: join(built, 'worker.mjs'), bundle: true, platform: 'node', format: 'esm', external, logLevel: 'error' });
  buildSync({ entryPoints: [fileURLToPath(new URL('./fixtures/groups.ts', import.meta.url))], outfile: join(built, 'groups.mjs'), bundle: true, platform: 'node', format: 'esm', external, logLevel: 'error' });
  afterAll(() => rmSync(built, { recursive: true, force: true }));
  const base = { definitions: join(built, 'groups.mjs'), group: 'card-activity', workerScript: join(built, 'worker.mjs'), chunkSize: 200 };

  it('runs shards on worker threads; a run killed midway resumes and ends with exactly the rows of an uninterrupted run', async () => {
    const file = join(root, 'workers.ndjson');
    writeFileSync(file, Array.from({ length: 6000 }, (_, i) => JSON.stringify(i % 500 === 7 ? { bad: i } : event(i))).join('\n'));
    const shards = await planBackfill(cardActivity, { from: ndjsonFile(file), shards: 4 });

    const wholeDir = fresh();
    const whole = await backfillOnWorkers({ ...base, shards, workers: 2, dir: wholeDir });
    expect(whole).toMatchObject({ records: 6000, written: 5988, poison: 12 });

    const dir = fresh();
    const checkpointDir = join(dir, 'checkpoints');
    const controller = new AbortController();
    let reports = 0;
    await expect(
      backfillOnWorkers({
        ...base,
        shards,
        workers: 2,
        dir,
        checkpointDir,
        signal: controller.signal,
        onProgress: () => {
          if (++reports === 5) controller.abort();
        },
      }),
    ).rejects.toThrow('aborted');
    const progress: number[] = [];
    const resumed = await backfillOnWorkers({ ...base, shards, workers: 2, dir, checkpointDir, onProgress: (p) => progress.push(p.fraction) });
    // Some shards resumed after their checkpoint, so this run read fewer rows than the whole input.
    expect(resumed.shards.some((s) => s.resumedAtChunk > 0)).toBe(true);
    expect(resumed.records).toBeLessThan(6000);
    expect(progress.at(-1)).toBe(1);

    const read = async (at: string) => {
      const offline = await localOffline({ dir: join(at, 'offline') });
      const rows = await offline.scan(cardActivity);
      await offline.close();
      return rows.map((r) => `${r['card_id']}|${String(r['event_time'])}|${r['amount']}`).sort();
    };
    const rows = await read(dir);
    expect(rows).toHaveLength(5988);
    expect(rows).toEqual(await read(wholeDir));
  });

  it('runs several shards on one worker, and a shard failing after others succeeded fails the run with its reason', async () => {
    const good = join(root, 'lane-good.ndjson');
    const gone = join(root, 'lane-gone.ndjson');
    writeFileSync(good, Array.from({ length: 900 }, (_, i) => JSON.stringify(event(i))).join('\n'));
    writeFileSync(gone, JSON.stringify(event(900)));
    const shards = await planBackfill(cardActivity, { from: [ndjsonFile(good), ndjsonFile(gone)], shards: 4 });
    const dir = fresh();
    const goodShards = shards.filter((shard) => !JSON.stringify(shard).includes('lane-gone'));
    expect(goodShards.length).toBeGreaterThan(1);
    const ok = await backfillOnWorkers({ ...base, shards: goodShards, workers: 1, dir });
    expect(ok).toMatchObject({ records: 900, written: 900 });
    expect(ok.shards).toHaveLength(goodShards.length);
    rmSync(gone);
    const goneLast = [...goodShards, ...shards.filter((shard) => !goodShards.includes(shard))];
    await expect(backfillOnWorkers({ ...base, shards: goneLast, workers: 1, dir: fresh() })).rejects.toThrow(/backfill shard \d+ failed: ndjsonFile: no file at /);
  });

  it.each([[['--max-old-space-size=512']], [['--input-type=module']], [['--input-type=module', '--max-old-space-size=512']]])(
    'starts its workers in a process started with %j',
    async (flags) => {
      const file = join(root, 'flags.ndjson');
      writeFileSync(file, Array.from({ length: 50 }, (_, i) => JSON.stringify(event(i))).join('\n'));
      const shards = await planBackfill(cardActivity, { from: ndjsonFile(file), shards: 2 });
      const before = [...process.execArgv];
      process.execArgv.push(...flags);
      try {
        expect(await backfillOnWorkers({ ...base, shards, workers: 2, dir: fresh() })).toMatchObject({ records: 50, written: 50 });
      } finally {
        process.execArgv.splice(0, process.execArgv.length, ...before);
      }
    },
  );

  it('is what `skewless backfill --workers 2 --to both` runs, with progress and a JSON summary', async () => {
    const dir = fresh();
    const ndjson = join(root, 'cli.ndjson');
    const csv = join(root, 'cli.csv');
    writeFileSync(ndjson, Array.from({ length: 3000 }, (_, i) => JSON.stringify(event(i))).join('\n'));
    writeFileSync(csv, ['card_id,amount_cents,country,ts', ...Array.from({ length: 500 }, (_, i) => { const e = event(3000 + i); return `${e.card_id},${e.amount_cents},${e.country},${e.ts}`; }), 'card-x,oops,US,2024-01-01T00:00:00.000Z'].join('\n'));
    const out: string[] = [];
    const progress: string[] = [];
    const code = await runBackfillCommand(
      { definitions: base.definitions, group: 'card-activity', from: [ndjson, csv], to: 'both', workers: 2, dir, chunkSize: 500, json: true, workerScript: base.workerScript },
      (line) => out.push(line),
      { isTTY: false, write: (text: string) => progress.push(text) !== 0 } as never,
    );
    expect(code).toBe(0);
    expect(JSON.parse(out[0] as string)).toMatchObject({ group: 'card-activity', to: 'both', records: 3501, written: 3500, poison: 1 });
    expect(progress.at(-1)).toMatch(/100%/);
    const store = createFeatureStore(localStores({ dir }));
    // Online: the latest of each card across both files (the CSV holds the later events).
    expect((await store.get(cardActivity, `card-${(3499) % 37}`))?.amount).toBe(34.99);
    await store.close();
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
    const timeOf = (raw: unknown) => (typeof raw === 'string' ? (JSON.parse(raw) as { ts: string }) : (raw as { ts: string })).ts;
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
