import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_ARGUMENTS, COMMAND_OPTIONS, COMMON } from '../src/cli/args.js';
import { COMMANDS, helpText } from '../src/cli/help.js';

// What the CLI says to a user who mistypes: the CLI bundled from its source and started as a process,
// as in cli.test.ts, in a folder of its own.
const scratch = join(import.meta.dirname, '.tmp');
mkdirSync(scratch, { recursive: true });
const dir = mkdtempSync(join(scratch, 'cli-usage-'));
const cli = join(dir, 'cli.mjs');
const definitions = join(dir, 'features.mjs');
beforeAll(() => {
  buildSync({ entryPoints: [join(import.meta.dirname, '..', 'src', 'cli', 'index.ts')], outfile: cli, bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'error' });
  buildSync({ entryPoints: [join(import.meta.dirname, '..', 'examples', 'fraud-detection', 'features.ts')], outfile: definitions, bundle: true, platform: 'node', format: 'esm', packages: 'external', alias: { skewless: join(import.meta.dirname, '..', 'src', 'index.ts') }, logLevel: 'error' });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: dir, env: { ...process.env, AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING: '1' } });

const hint = (command: string) => `Run 'skewless ${command} --help' for the options and examples.\n`;
const backfill = ['backfill', 'defs.js', 'card-activity', '--from', 'history.ndjson'];
const audit = ['audit', 'defs.js', 'card-activity'];

describe('a bad option value', () => {
  it.each([
    [[...backfill, '--to', 'sideways'], '--to takes offline, online or both, got "sideways"'],
    [[...backfill, '--chunk-size', '0'], '--chunk-size takes a whole number, 1 or more, got "0"'],
    [[...backfill, '--chunk-size', 'abc'], '--chunk-size takes a whole number, 1 or more, got "abc"'],
    [[...backfill, '--workers', '0'], '--workers takes a whole number, 1 or more, got "0"'],
    [[...backfill, '--workers', '1.5'], '--workers takes a whole number, 1 or more, got "1.5"'],
    [[...audit, '--sample', 'abc'], '--sample takes a whole number, 1 or more, got "abc"'],
    [[...audit, '--sample', '0'], '--sample takes a whole number, 1 or more, got "0"'],
    [[...audit, '--seed', 'x'], '--seed takes a whole number, got "x"'],
    [[...audit, '--at', 'yesterday'], '--at takes a time in ISO-8601 with its zone, such as 2024-05-01T12:00:00Z, got "yesterday"'],
    // Without a zone it would be the machine's local time; a day that does not exist is not the next month's.
    [[...audit, '--at', '2024-05-01T12:00'], '--at takes a time in ISO-8601 with its zone, such as 2024-05-01T12:00:00Z, got "2024-05-01T12:00"'],
    [[...audit, '--at', '2024-02-30T00:00:00Z'], '--at takes a time in ISO-8601 with its zone, such as 2024-05-01T12:00:00Z, got "2024-02-30T00:00:00Z"'],
    [[...audit, '--tolerance', 'x'], '--tolerance takes a number, 0 or more, got "x"'],
    [['lineage', 'defs.js', 'card-activity', '--sample', '-5'], '--sample takes a whole number, 1 or more, got "-5"'],
    [['plan', 'defs.js', '--format', 'yaml'], '--format takes input or cloudformation, got "yaml"'],
    [['local', '--port', 'x'], '--port takes a port number, 0 to 65535, got "x"'],
    [['local', '--dir', 'state', '--memory'], '--dir and --memory are alternatives: state kept in a directory, or in a temporary one removed on exit'],
    // ARNs built from these would name no resource, and IAM would silently deny.
    [['plan', 'defs.js', '--account-id', '12'], '--account-id takes a 12-digit AWS account ID, got "12"'],
    [['plan', 'defs.js', '--role-arn', 'nope'], '--role-arn takes an IAM role ARN such as arn:aws:iam::123456789012:role/NAME, got "nope"'],
    [['plan', 'defs.js', '--region', 'Ireland'], '--region takes an AWS Region such as eu-west-1, got "Ireland"'],
    [['plan', 'defs.js', '--offline-s3-uri', 'my-bucket/x'], '--offline-s3-uri takes an S3 location such as s3://bucket/prefix, got "my-bucket/x"'],
    [['plan', 'defs.js', '--athena-results-s3-uri', 'https://bucket.s3.amazonaws.com/r/'], '--athena-results-s3-uri takes an S3 location such as s3://bucket/prefix, got "https://bucket.s3.amazonaws.com/r/"'],
    [['demo', '--rate', '2000/s'], "--rate is the spike's peak rate: give --spike too"],
    [['demo', '--spike', '--rate', 'fast'], "--rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"fast\""],
    // An argument a command does not take would be ignored (plan would plan every group).
    [['plan', 'defs.js', 'card-activity'], 'unexpected argument "card-activity" (for one group: --group card-activity): plan takes one argument'],
    [[...audit, 'extra'], 'unexpected argument "extra": audit takes 2 arguments'],
    [[...backfill, 'b.ndjson'], 'unexpected argument "b.ndjson" (each file takes its own --from: --from a.ndjson --from b.ndjson): backfill takes 2 arguments'],
    [['plan', 'defs.js', '--role-arn', 'arn:aws:iam::123456789012:role/'], '--role-arn takes an IAM role ARN such as arn:aws:iam::123456789012:role/NAME, got "arn:aws:iam::123456789012:role/"'],
    [['demo', 'now'], 'unexpected argument "now": demo takes no arguments'],
    // A flag given twice: the last would silently win over the first.
    [[...audit, '--sample', '2', '--sample', '3'], '--sample is given twice: give it once'],
    [['plan', 'defs.js', '--region', 'eu-west-1', '--region=us-east-1'], '--region is given twice: give it once'],
    [['lineage', 'defs.js', 'card-activity', '--dir', 'a', '--dir', 'a'], '--dir is given twice: give it once'],
    // A file given twice would be read, and counted, twice.
    [[...backfill, '--from', './history.ndjson'], '--from ./history.ndjson is given twice: give each file once'],
    // A training set reads and writes .csv or .parquet, and each group names its features.
    [['training-set', 'defs.js', '--spine', 's.txt', '--features', 'g:f', '--out', 'o.parquet'], '--spine takes a .csv or .parquet file, got "s.txt"'],
    [['training-set', 'defs.js', '--spine', 's.csv', '--features', 'g:f', '--out', '/tmp'], '--out takes a .csv or .parquet file, got "/tmp"'],
    [['training-set', 'defs.js', '--spine', 's.csv', '--features', 'g', '--out', 'o.parquet'], '--features takes GROUP:F1,F2 (a group, a colon, its features), got "g"'],
    [['training-set', 'defs.js', '--spine', 's.csv', '--features', 'g:f', '--features', 'h:', '--out', 'o.parquet'], '--features takes GROUP:F1,F2 (a group, a colon, its features), got "h:"'],
    [['training-set', 'defs.js', '--spine', 's.csv', '--features', 'g:f:', '--out', 'o.parquet'], '--features takes GROUP:F1,F2 (a group, a colon, its features), got "g:f:"'],
  ])('exits 2 on %j, saying which option, what it got and what it takes', (args, message) => {
    const result = run(...args);
    expect(result.stderr).toBe(`skewless ${args[0]}: ${message}\n${hint(args[0] as string)}`);
    expect(result.status).toBe(2);
  });

  it('exits 2 on an option given no value, or a value where it takes none', () => {
    for (const [args, message] of [
      [['backfill', 'defs.js', 'card-activity', '--from'], '--from takes a value, got none'],
      [['backfill', 'defs.js', 'card-activity', '--from', '--to', 'both'], '--from takes a value, got the option --to'],
      [[...audit, '--json=yes'], '--json takes no value, got "yes"'],
    ] as const) {
      const result = run(...args);
      expect(result.stderr).toBe(`skewless ${args[0]}: ${message}\n${hint(args[0])}`);
      expect(result.status).toBe(2);
    }
  });

  it('says a negative rate is not one, not that its argument is ambiguous', () => {
    const result = run('plan', 'defs.js', '--rate', '-5/s');
    expect(result.stderr.split('\n')[0]).toBe("skewless plan: --rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"-5/s\"");
    expect(result.status).toBe(2);
  });
});

describe('a misspelt option or command', () => {
  it.each(COMMANDS)("knows the options `%s --help` lists, and no others", (command) => {
    const help = helpText(command);
    const listed = [...help.slice(help.indexOf('Options:'), help.indexOf('Examples:')).matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]);
    expect(new Set(listed.filter((name) => !(COMMON as readonly (string | undefined)[]).includes(name)))).toEqual(new Set(COMMAND_OPTIONS[command]));
  });

  it.each(COMMANDS)('takes as many arguments as `%s --help` shows in its usage line', (command) => {
    const usage = helpText(command).split('\n').find((line) => line.startsWith(`Usage: skewless ${command}`)) ?? '';
    expect([...usage.matchAll(/<[^>]+>/g)].length).toBe(COMMAND_ARGUMENTS[command]);
  });

  it('names the unknown option and the closest of the command\'s own', () => {
    const result = run('backfill', 'defs.js', 'card-activity', '--form', 'history.ndjson');
    expect(result.stderr).toBe(`skewless backfill: unknown option --form (did you mean --from?)\n${hint('backfill')}`);
    expect(result.status).toBe(2);
    expect(run('plan', 'defs.js', '--fromat', 'cloudformation').stderr).toBe(`skewless plan: unknown option --fromat (did you mean --format?)\n${hint('plan')}`);
  });

  it("refuses another command's option, and one close to nothing without a guess", () => {
    expect(run(...audit, '--workers', '2').stderr).toBe(`skewless audit: unknown option --workers\n${hint('audit')}`);
    const result = run('--frobnicate');
    expect(result.stderr).toBe("skewless: unknown option --frobnicate\nRun 'skewless --help' for the commands.\n");
    expect(result.status).toBe(2);
  });

  it('takes real ARNs, Regions and accounts of every partition, and --help after an argument too many', () => {
    const args = ['--format', 'cloudformation', '--region', 'cn-north-1', '--account-id', '123456789012', '--role-arn', 'arn:aws-cn:iam::123456789012:role/service-role/FeatureStore'];
    expect(run('plan', 'nothing.js', ...args).stderr).toMatch(/^skewless: /);
    expect(run('plan', 'nothing.js', '--region', 'us-gov-west-1', '--role-arn', 'arn:aws-us-gov:iam::123456789012:role/x').status).toBe(1);
    expect(run('plan', 'defs.js', 'card-activity', '--help').status).toBe(0);
    // A switch given twice changes nothing, so it is taken; a value given twice is refused (above).
    expect(run('plan', '-h', '--help').status).toBe(0);
  });

  it('names an unknown option before the command, not the value it left behind as the command', () => {
    const result = run('--form', 'history.ndjson', 'backfill', 'defs.js', 'card-activity');
    expect(result.stderr).toBe("skewless: unknown option --form (did you mean --from?)\nRun 'skewless --help' for the commands.\n");
    expect(result.status).toBe(2);
    expect(run('--constructor', 'x', 'plan', 'defs.js').stderr).toBe("skewless: unknown option --constructor\nRun 'skewless --help' for the commands.\n");
  });

  it('refuses a duration without its unit as bad usage (exit 2), naming the flag and the unit it may have meant', () => {
    const maxAge = run('training-set', 'defs.js', '--spine', 's.csv', '--features', 'g:f', '--out', 'o.parquet', '--max-age', '30');
    expect(maxAge.stderr).toMatch(/^skewless training-set: --max-age takes a duration with a unit such as 90s, 15m, 12h, 30d or 2w, got "30" \(did you mean 30s or 30m\?\)\n/);
    expect(maxAge.status).toBe(2);
    const delay = run('audit', 'defs.js', 'card-activity', '--availability-delay', 'soon');
    expect(delay.stderr).toMatch(/^skewless audit: --availability-delay takes a duration with a unit such as 90s, 15m, 12h, 30d or 2w, got "soon"\n/);
    expect(delay.status).toBe(2);
  });

  it('suggests the closest command', () => {
    const result = run('bakfill', 'defs.js');
    expect(result.stderr).toBe("skewless: unknown command \"bakfill\" (did you mean backfill?)\nRun 'skewless --help' for the commands.\n");
    expect(result.status).toBe(2);
    expect(run('frobnicate').stderr).toBe("skewless: unknown command \"frobnicate\"\nRun 'skewless --help' for the commands.\n");
  });
});

describe('a --dir that holds no store', () => {
  it.each([
    ['audit', ['audit', 'DEFS', 'fraud-card-transactions']],
    ['lineage', ['lineage', 'DEFS', 'fraud-card-transactions']],
    ['training-set', ['training-set', 'DEFS', '--spine', 'labels.csv', '--features', 'fraud-card-transactions:amount', '--out', 'train.parquet']],
  ])('is refused by %s, naming the path, and nothing is made there', (_command, args) => {
    const given = args.map((a) => (a === 'DEFS' ? definitions : a));
    const missing = join(dir, '.skewles');
    const result = run(...given, '--dir', missing);
    expect(result.stderr.split('\n')[0]).toBe(`skewless: no local store in ${missing} (none of online.duckdb, offline/, aggregation-state.duckdb): check --dir, or write one first with skewless backfill`);
    expect(result.status).toBe(1);
    expect(existsSync(missing)).toBe(false);
    const empty = mkdtempSync(join(dir, 'empty-'));
    expect(run(...given, '--dir', empty).status).toBe(1);
    expect(readdirSync(empty)).toEqual([]);
  });
});

describe('skewless --version', () => {
  it('prints the version in package.json, with --version or -v', () => {
    const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const result = run(flag);
      expect(result.stdout).toBe(`${version}\n`);
      expect(result.status).toBe(0);
    }
  });
});

describe('the version the CLI reads', () => {
  it("is its own package's, from src as from dist/cli.js in an installed package, never the project's around it", async () => {
    const { writeFileSync } = await import('node:fs');
    const { pathToFileURL } = await import('node:url');
    const { packageVersion } = await import('../src/cli/version.js');
    const project = mkdtempSync(join(dir, 'project-'));
    const installed = join(project, 'node_modules', 'skewless');
    mkdirSync(join(installed, 'dist'), { recursive: true });
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-app', version: '3.0.0' }));
    writeFileSync(join(installed, 'package.json'), JSON.stringify({ name: 'skewless', version: '9.8.7' }));
    expect(packageVersion(pathToFileURL(join(installed, 'dist', 'cli.js')).href)).toBe('9.8.7');
    expect(packageVersion(pathToFileURL(join(import.meta.dirname, '..', 'src', 'cli', 'index.ts')).href)).toBe(JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')).version);
  });
});
