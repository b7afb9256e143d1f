import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { backfill, createFeatureStore, ndjsonFile, planBackfill } from '../src/index.js';
import { runBackfillCommand } from '../src/cli/backfill.js';
import { backfillOnWorkers, localOffline, localStores } from '../src/local/index.js';
import { cardEvent as event } from './fixtures/card-events.js';
import { cardActivity } from './fixtures/groups.js';

// Apart from backfill.test.ts: worker threads each open DuckDB, which the mutation run (one process
// rerunning the tests under each mutant) cannot host, so this file stays out of it.
const root = mkdtempSync(join(tmpdir(), 'skewless-backfill-workers-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const fresh = () => join(root, `run-${dirs++}`);

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

    // Run again over another plan (3 shards instead of 4): the old plan's files go, no row twice.
    const replanned = await planBackfill(cardActivity, { from: ndjsonFile(file), shards: 3 });
    expect(replanned.map((s) => s.range)).not.toEqual(shards.map((s) => s.range));
    await backfillOnWorkers({ ...base, shards: replanned, workers: 2, dir: wholeDir });
    expect(await read(wholeDir)).toEqual(rows);
    // And then once by one process over the whole file: the shards' files go too.
    const store = createFeatureStore(localStores({ dir: wholeDir }));
    await backfill(store, cardActivity, { from: ndjsonFile(file), chunkSize: 1000 });
    await store.close();
    expect(await read(wholeDir)).toEqual(rows);
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
    const report = JSON.parse(out[0] as string) as { rejects: string[] };
    expect(report).toMatchObject({ group: 'card-activity', to: 'both', records: 3501, written: 3500, poison: 1 });
    // The poison row is written once, to a file the summary names: the online pass reads it again and keeps no file of its own.
    const folder = join(dir, 'backfill', 'card-activity');
    const files = readdirSync(folder).filter((name) => name.endsWith('.rejects.ndjson')).map((name) => join(folder, name));
    const rejected = files.flatMap((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => ({ file, row: (JSON.parse(line) as { raw: unknown }).raw })));
    expect(rejected.map((r) => r.row)).toEqual([['card-x', 'oops', 'US', '2024-01-01T00:00:00.000Z']]);
    expect(report.rejects).toContain(rejected[0]?.file);
    expect(progress.at(-1)).toMatch(/100%/);
    // One line per tenth reached, at most, and 100% once: with the final counts, at the end.
    expect(progress.filter((line) => line.includes('100%'))).toHaveLength(1);
    expect(progress.length).toBeLessThanOrEqual(11);
    const store = createFeatureStore(localStores({ dir }));
    // Online: the latest of each card across both files (the CSV holds the later events).
    expect((await store.get(cardActivity, `card-${(3499) % 37}`))?.amount).toBe(34.99);
    await store.close();
  });

  it('writes each poison row once when a split input is also written online, its byte offset the file\'s', async () => {
    // Over 16 MB, so the command splits it in two shards; a poison row in each half.
    const dir = fresh();
    const ndjson = join(root, 'cli-split.ndjson');
    const pad = 'x'.repeat(6_000);
    const rows = Array.from({ length: 2_800 }, (_, i) => (i === 10 || i === 2_700 ? `{"bad":${i}}` : JSON.stringify({ ...event(i), pad })));
    writeFileSync(ndjson, rows.join('\n'));
    const out: string[] = [];
    const command = { definitions: base.definitions, group: 'card-activity', from: [ndjson], to: 'both' as const, workers: 2, dir, chunkSize: 1_000, json: true, workerScript: base.workerScript };
    expect(await runBackfillCommand(command, (line) => out.push(line), { isTTY: false, write: () => true } as never)).toBe(0);
    const report = JSON.parse(out[0] as string) as { poison: number; rejects: string[] };
    expect(report.poison).toBe(2);
    const folder = join(dir, 'backfill', 'card-activity');
    const files = readdirSync(folder).filter((name) => name.endsWith('.rejects.ndjson')).map((name) => join(folder, name));
    expect(files.sort()).toEqual([...report.rejects].sort());
    expect(files).toHaveLength(2);
    const text = readFileSync(ndjson, 'utf8');
    const rejected = files.flatMap((file) => readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { raw: string; position: { byteOffset: number } }));
    expect(rejected.map((r) => r.raw).sort()).toEqual(['{"bad":10}', '{"bad":2700}']);
    for (const r of rejected) expect(text.slice(r.position.byteOffset, r.position.byteOffset + r.raw.length)).toBe(r.raw);
  });

  it('gives a small input one shard however many workers are asked for: a thread starts slower than it reads a few rows', async () => {
    const dir = fresh();
    const ndjson = join(root, 'cli-small.ndjson');
    writeFileSync(ndjson, Array.from({ length: 52 }, (_, i) => JSON.stringify(event(i))).join('\n'));
    const out: string[] = [];
    const command = { definitions: base.definitions, group: 'card-activity', from: [ndjson], to: 'offline' as const, workers: 64, dir, chunkSize: undefined, json: true, workerScript: base.workerScript };
    expect(await runBackfillCommand(command, (line) => out.push(line), { isTTY: false, write: () => true } as never)).toBe(0);
    expect(JSON.parse(out[0] as string)).toMatchObject({ records: 52, written: 52, poison: 0 });
    expect(readdirSync(join(dir, 'backfill', 'card-activity', 'checkpoints'))).toEqual(['card-activity-shard-00000.json']);
  });

  it('says what a resumed run read itself and what the whole input counts, apart', async () => {
    const dir = fresh();
    const ndjson = join(root, 'cli-resume.ndjson');
    writeFileSync(ndjson, `${JSON.stringify(event(1))}\n{"bad":true}\n`);
    const command = { definitions: base.definitions, group: 'card-activity', from: [ndjson], to: 'offline' as const, workers: 1, dir, chunkSize: undefined, json: false, workerScript: base.workerScript };
    const lines = async () => {
      const out: string[] = [];
      expect(await runBackfillCommand(command, (line) => out.push(line), { isTTY: false, write: () => true } as never)).toBe(0);
      return out[0];
    };
    expect(await lines()).toMatch(/^backfilled card-activity: 2 rows read, 1 written, 1 poison in /);
    // The same command again resumes the finished checkpoint: it reads nothing, the totals stay the input's.
    expect(await lines()).toMatch(/^backfilled card-activity: resumed from its checkpoint, 0 rows read in this run; in all 1 written, 1 poison in /);
    writeFileSync(ndjson, `${JSON.stringify(event(1))}\n`);
    expect(await lines()).toMatch(/^backfilled card-activity: 1 row read, 1 written, 0 poison in /);
  });

  it('keeps a checkpoint per source file: files of one name in two folders resume each their own', async () => {
    const dir = fresh();
    const [jan, feb] = ['jan', 'feb'].map((month, m) => {
      mkdirSync(join(root, month), { recursive: true });
      const file = join(root, month, 'transactions-card-activity-export-v1.ndjson');
      writeFileSync(file, `${JSON.stringify(event(10 + m))}\n`);
      return file;
    });
    const lines = async (file: string) => {
      const out: string[] = [];
      const command = { definitions: base.definitions, group: 'card-activity', from: [file], to: 'offline' as const, workers: 1, dir, chunkSize: undefined, json: false, workerScript: base.workerScript };
      expect(await runBackfillCommand(command, (line) => out.push(line), { isTTY: false, write: () => true } as never)).toBe(0);
      return out[0];
    };
    expect(await lines(jan as string)).toMatch(/^backfilled card-activity: 1 row read, 1 written/);
    expect(await lines(feb as string)).toMatch(/^backfilled card-activity: 1 row read, 1 written/);
    // January's checkpoint was not taken by February's run: it resumes, reading nothing.
    expect(await lines(jan as string)).toMatch(/^backfilled card-activity: resumed from its checkpoint, 0 rows read in this run/);
  });
});
