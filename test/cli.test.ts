import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/help.js';
import { DEMO_MARKER, prepareDemoFolder } from '../src/cli/demo-folder.js';
import { runDemo } from '../src/cli/demo.js';
import { createFeatureStore } from '../src/index.js';
import { localOffline, localStores } from '../src/local/index.js';
import { cardActivity as demoCardActivity } from '../src/cli/demo-groups.js';

// The CLI as it runs: its source bundled (dependencies left to node_modules, so the bundle lives in the
// repository where they resolve) and started as a process.
const scratch = join(import.meta.dirname, '.tmp');
mkdirSync(scratch, { recursive: true });
const dir = mkdtempSync(join(scratch, 'cli-'));
const cli = join(dir, 'cli.mjs');
beforeAll(() => {
  buildSync({ entryPoints: [join(import.meta.dirname, '..', 'src', 'cli', 'index.ts')], outfile: cli, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fraud-detection example's definitions, built as a user's definitions file is. */
function fraudDefinitions(): string {
  const definitions = join(dir, 'features.mjs');
  buildSync({ entryPoints: [join(import.meta.dirname, '..', 'examples', 'fraud-detection', 'features.ts')], outfile: definitions, bundle: true, platform: 'node', format: 'esm', packages: 'external', alias: { skewless: join(import.meta.dirname, '..', 'src', 'index.ts') }, logLevel: 'error' });
  return definitions;
}

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' } });

describe('the skewless CLI', () => {
  it('lists its commands with --help and exits 0', () => {
    const result = run('--help');
    expect(result.status).toBe(0);
    for (const command of COMMANDS) expect(result.stdout).toContain(`  ${command}`);
    expect(result.stdout).toContain('Exit codes: 0 success, 1 the command failed');
  });

  it.each(COMMANDS)('prints usage, options and examples for `%s --help`', (command) => {
    for (const args of [[command, '--help'], ['help', command]]) {
      const result = run(...args);
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`Usage: skewless ${command}`);
      expect(result.stdout).toMatch(/Examples:\n {2}npx skewless /);
    }
  });

  it('exits 2 with a one-line usage and a hint on bad usage', () => {
    const result = run('backfill', 'defs.js');
    expect(result.status).toBe(2);
    expect(result.stderr).toBe(
      "skewless backfill: usage: skewless backfill <definitions file> <group> --from FILE [--to offline|online|both] [--workers N] [--chunk-size N]\nRun 'skewless backfill --help' for the options and examples.\n",
    );
    expect(run('frobnicate').status).toBe(2);
    expect(run().status).toBe(2);
  });

  it('prints the capacity of `plan --rate` for a built definitions file, and --json the same as data', () => {
    const definitions = fraudDefinitions();
    const text = run('plan', definitions, '--rate', '10,000/s');
    expect(text.status).toBe(0);
    expect(text.stdout).toContain('## Capacity at 10,000 records/s\nKinesis stream        10 shards');
    const json = run('plan', definitions, '--rate', '10000/s', '--record-bytes', '300', '--format', 'cloudformation', '--json');
    expect(json.status).toBe(0);
    const [entry] = JSON.parse(json.stdout) as { capacity: { kinesis: { shards: number } }; resources: Record<string, { Type: string; Properties: { ShardCount?: number } }> }[];
    expect(entry?.resources['FraudCardTransactionsStream']).toEqual({ Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: entry?.capacity.kinesis.shards, StreamModeDetails: { StreamMode: 'PROVISIONED' } } });
  });

  it.each([
    ['fast', "skewless plan: --rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"fast\""],
    ['10000', "skewless plan: --rate: a rate needs its unit, got \"10000\": did you mean '10000/s' or '10000/min'?"],
    ['0/s', 'skewless plan: --rate: a rate must be more than 0, got "0/s"'],
  ])('exits 2 (bad usage) on `plan --rate %s`, saying what a rate is', (rate, line) => {
    const result = run('plan', 'defs.js', '--rate', rate);
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n')).toEqual([line, "Run 'skewless plan --help' for the options and examples.", '']);
  });

  it.each([
    [['--rate', '10000/h'], "skewless plan: --rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"10000/h\""],
    [['--record-bytes', '300'], 'skewless plan: --record-bytes sizes a plan for a target rate: give --rate too (e.g. --rate 10000/s)'],
    [['--rate', '1/s', '--record-bytes', '0'], 'skewless plan: --record-bytes takes a whole number, 1 or more, got "0"'],
    [['--rate', '1/s', '--entity-events', '1.5'], 'skewless plan: --entity-events takes a whole number, 1 or more, got "1.5"'],
    [['--rate', '1/s', '--record-bytes', '2000000'], 'skewless plan: --record-bytes: a Kinesis record is at most 1,048,576 bytes (1 MiB), data and partition key together, got "2000000"'],
  ])('exits 2 on the capacity flags %j, before reading the definitions', (flags, line) => {
    const result = run('plan', 'no-such-defs.js', ...flags);
    expect(result.status).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(line);
  });

  it('writes null, not nothing, for the rates of an audit that sampled nothing with --json', async () => {
    const emptyStore = join(dir, 'empty-store');
    await createFeatureStore(localStores({ dir: emptyStore })).close();
    const result = run('audit', fraudDefinitions(), 'fraud-card-transactions', '--dir', emptyStore, '--json');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as { sampled: number; consistencyRate: unknown; features: Record<string, { matchRate: unknown; mismatchRate: unknown }> };
    expect(report).toMatchObject({ sampled: 0, consistent: 0, consistencyRate: null });
    expect(Object.keys(report.features).length).toBeGreaterThan(0);
    for (const feature of Object.values(report.features)) expect(feature).toMatchObject({ matchRate: null, mismatchRate: null });
  });

  it('writes the HTML page of an audit into a folder it makes', async () => {
    const emptyStore = join(dir, 'empty-store-html');
    await createFeatureStore(localStores({ dir: emptyStore })).close();
    const page = join(dir, 'reports', 'today', 'audit.html');
    const result = run('audit', fraudDefinitions(), 'fraud-card-transactions', '--dir', emptyStore, '--html', page);
    expect(result.status).toBe(0);
    expect(readFileSync(page, 'utf8')).toMatch(/^<!doctype html>/i);
  });

  it('refuses to run the demo in a folder it did not make, and leaves that folder as it was', () => {
    const project = join(dir, 'project');
    mkdirSync(join(project, '.git'), { recursive: true });
    writeFileSync(join(project, 'index.ts'), 'x\n');
    const result = run('demo', '--dir', project);
    expect(result.stderr.split('\n')[0]).toBe(`skewless: ${project} holds files the demo did not make (.git, index.ts): the demo runs in a new or empty folder, or one an earlier demo made; choose another --dir`);
    expect(result.status).toBe(1);
    expect(readdirSync(project).sort()).toEqual(['.git', 'index.ts']);
    expect(readFileSync(join(project, 'index.ts'), 'utf8')).toBe('x\n');
  });

  it('exits 1 with one readable line and a hint when a command fails, the detail with --verbose', () => {
    const failed = run('audit', 'missing-definitions.js', 'card-activity');
    expect(failed.status).toBe(1);
    const lines = failed.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^skewless: .*missing-definitions\.js/);
    expect(lines[1]).toBe('Run again with --verbose for details.');
    const verbose = run('audit', 'missing-definitions.js', 'card-activity', '--verbose');
    expect(verbose.status).toBe(1);
    expect(verbose.stderr).not.toContain('--verbose for details');
  });
});

describe("the demo's folder", () => {
  const own = ['store', 'history.ndjson'];
  const folder = (name: string, files: Record<string, string> = {}) => {
    const path = join(dir, 'demo-folders', name);
    mkdirSync(path, { recursive: true });
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(path, file, '..'), { recursive: true });
      writeFileSync(join(path, file), text);
    }
    return path;
  };

  it('is made when missing, or taken when empty, and marked as the demo\'s', () => {
    for (const path of [join(dir, 'demo-folders', 'new', 'demo'), folder('empty')]) {
      prepareDemoFolder(path, own);
      expect(readdirSync(path)).toEqual([DEMO_MARKER]);
    }
  });

  it("loses an earlier run's files when the demo runs again, and nothing else put there since", () => {
    const path = folder('again');
    prepareDemoFolder(path, own);
    writeFileSync(join(path, 'history.ndjson'), '{}\n');
    mkdirSync(join(path, 'store', 'offline'), { recursive: true });
    writeFileSync(join(path, 'notes.txt'), 'mine\n');
    prepareDemoFolder(path, own);
    expect(readdirSync(path).sort()).toEqual([DEMO_MARKER, 'notes.txt']);
  });

  it('is recognised without its mark when it holds only what the demo writes (a folder of an earlier release)', () => {
    const path = folder('earlier', { 'history.ndjson': '{}\n', 'store/online.duckdb': '' });
    prepareDemoFolder(path, own);
    expect(readdirSync(path)).toEqual([DEMO_MARKER]);
    // Entries with the demo's names but not its store: a user's, refused.
    const yours = folder('yours', { 'store/cards.csv': 'x\n' });
    expect(() => prepareDemoFolder(yours, own)).toThrow(expect.objectContaining({ message: expect.stringContaining(`${yours} holds files the demo did not make (store)`) }));
    expect(readdirSync(join(yours, 'store'))).toEqual(['cards.csv']);
  });

  it('takes the run of a demo again, replacing its files, and keeps what the user put there', async () => {
    const path = join(dir, 'demo-folders', 'rerun');
    const small = { dir: path, cards: 20, historyEvents: 300, quietEvents: 50, spikeEvents: 150, labels: 50 };
    const offlineRows = async () => {
      const offline = await localOffline({ dir: join(path, 'store', 'offline') });
      const rows = (await offline.scan(demoCardActivity)).length;
      await offline.close();
      return rows;
    };
    await runDemo(() => {}, small);
    const first = await offlineRows();
    writeFileSync(join(path, 'notes.txt'), 'mine\n');
    const again = await runDemo(() => {}, small);
    expect(again.backfilled.records).toBe(300);
    // Replaced, not added to: the offline store holds what one run writes.
    expect(first).toBeGreaterThan(0);
    expect(await offlineRows()).toBe(first);
    expect(readdirSync(path).sort()).toEqual(expect.arrayContaining([DEMO_MARKER, 'history.ndjson', 'notes.txt', 'store', 'train.parquet']));
    expect(readdirSync(path).filter((entry) => ![DEMO_MARKER, 'history.ndjson', 'dead-letter.ndjson', 'notes.txt', 'store', 'train.parquet'].includes(entry))).toEqual([]);
  }, 60_000);

  it('is refused when it holds anything else, and left as it was', () => {
    const path = folder('project', { 'index.ts': 'x\n', 'history.ndjson': '{}\n', '.git/HEAD': 'ref\n' });
    expect(() => prepareDemoFolder(path, own)).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: expect.stringContaining(`${path} holds files the demo did not make (.git, index.ts)`) }));
    expect(readdirSync(path).sort()).toEqual(['.git', 'history.ndjson', 'index.ts']);
    const file = folder('file-parent');
    writeFileSync(join(file, 'plain'), 'x');
    expect(() => prepareDemoFolder(join(file, 'plain'), own)).toThrow(expect.objectContaining({ name: 'ConfigurationError', message: expect.stringContaining('is a file') }));
  });
});
