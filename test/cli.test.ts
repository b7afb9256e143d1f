import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/help.js';

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
    ['fast', "skewless: --rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"fast\""],
    ['10000', "skewless: --rate: a rate needs its unit, got \"10000\": did you mean '10000/s' or '10000/min'?"],
    ['0/s', 'skewless: --rate: a rate must be more than 0, got "0/s"'],
  ])('exits 1 on `plan --rate %s`, saying what a rate is', (rate, line) => {
    const result = run('plan', 'defs.js', '--rate', rate);
    expect(result.status).toBe(1);
    expect(result.stderr.split('\n')[0]).toBe(line);
  });

  it('writes null, not nothing, for the rates of an audit that sampled nothing with --json', () => {
    const result = run('audit', fraudDefinitions(), 'fraud-card-transactions', '--dir', join(dir, 'empty-store'), '--json');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as { sampled: number; consistencyRate: unknown; features: Record<string, { matchRate: unknown; mismatchRate: unknown }> };
    expect(report).toMatchObject({ sampled: 0, consistent: 0, consistencyRate: null });
    expect(Object.keys(report.features).length).toBeGreaterThan(0);
    for (const feature of Object.values(report.features)) expect(feature).toMatchObject({ matchRate: null, mismatchRate: null });
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
