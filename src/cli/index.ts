import { resolve } from 'node:path';
import { formatError } from '../errors.js';
import { runAuditCommand, runLineageCommand } from './audit.js';
import { runBackfillCommand } from './backfill.js';
import { runDemo } from './demo.js';
import { runSpikeDemo } from './demo-spike.js';
import { helpText } from './help.js';
import { runTrainingSetCommand } from './training-set.js';
import { runLocal } from './local.js';
import { runPlan } from './plan.js';
import { ACCOUNT_ID, REGION } from '../aws/options.js';
import { DEFAULT_DIR } from '../store/feature-store.js';
import { jsonLine } from './json.js';
import { decimal, duration, isoTime, oneOf, parseCommandLine, portNumber, recordRate, shaped, UsageError, wholeNumber } from './args.js';
import { packageVersion } from './version.js';

/** A training set's spine and output: the two formats it reads and writes. */
const SPINE_FILE = /\.(csv|parquet)$/i;
/** An S3 location's form; the plan checks the bucket's name (a `${…}` placeholder may stand in it). */
const S3_URI = /^s3:\/\/./;
const S3_URI_TEXT = 'an S3 location such as s3://bucket/prefix';
/** `--features GROUP:F1,F2`: a group, a colon, features; the last colon ends the group's name, as the command reads it. */
const FEATURES = /^[^:].*:.*[^,\s:]$/;

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageError(error);
  }
  const { command, values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`${packageVersion(import.meta.url)}\n`);
    return 0;
  }
  const dir = values.dir ?? DEFAULT_DIR;
  if (positionals[0] === 'help') {
    process.stdout.write(`${helpText(positionals[1])}\n`);
    return 0;
  }
  if (values.help || command === undefined) {
    process.stdout.write(`${helpText(command)}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  try {
    switch (command) {
      case 'demo': {
        // The demo runs on Node 20 on purpose; the SDK's notice about newer releases is noise here.
        process.env['AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING'] ??= '1';
        const print = values.json ? () => {} : (line: string) => process.stdout.write(`${line}\n`);
        if (values.rate !== undefined && !values.spike) throw new UsageError("--rate is the spike's peak rate: give --spike too", command);
        if (values.spike) {
          const summary = await runSpikeDemo(print, { ...(values.dir ? { dir: values.dir } : {}), ...(values.rate ? { rate: recordRate(values.rate, '--rate', command) } : {}) });
          if (values.json) process.stdout.write(`${jsonLine(summary)}\n`);
          return 0;
        }
        const summary = await runDemo(print, {
          ...(values.dir ? { dir: values.dir } : {}),
          progress: process.stderr,
        });
        if (values.json) process.stdout.write(`${jsonLine(summary)}\n`);
        return 0;
      }
      case 'local': {
        if (values.memory && values.dir !== undefined) throw new UsageError('--dir and --memory are alternatives: state kept in a directory, or in a temporary one removed on exit', command);
        const port = values.port === undefined ? 4599 : portNumber(values.port, '--port', command);
        const stack = await runLocal({ port, dir, memory: values.memory === true }, (line) =>
          process.stdout.write(`${line}\n`),
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await stack.close();
        return 0;
      }
      case 'plan': {
        const file = positionals[1];
        const format = oneOf(values.format ?? 'input', '--format', ['input', 'cloudformation'], command);
        if (!file) {
          process.stderr.write("skewless plan: usage: skewless plan <definitions file> [--format input|cloudformation] [--diff] [--rate N/s [--record-bytes N]]\nRun 'skewless plan --help' for the options and examples.\n");
          return 2;
        }
        return await runPlan(
          {
            file,
            group: values.group,
            roleArn: values['role-arn'] === undefined ? undefined : shaped(values['role-arn'], '--role-arn', /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/([\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/, 'an IAM role ARN such as arn:aws:iam::123456789012:role/NAME', command),
            offlineStoreS3Uri: values['offline-s3-uri'] === undefined ? undefined : shaped(values['offline-s3-uri'], '--offline-s3-uri', S3_URI, S3_URI_TEXT, command),
            athenaResultsS3Uri: values['athena-results-s3-uri'] === undefined ? undefined : shaped(values['athena-results-s3-uri'], '--athena-results-s3-uri', S3_URI, S3_URI_TEXT, command),
            stateTable: values['state-table'],
            region: values.region === undefined ? undefined : shaped(values.region, '--region', REGION, 'an AWS Region such as eu-west-1', command),
            accountId: values['account-id'] === undefined ? undefined : shaped(values['account-id'], '--account-id', ACCOUNT_ID, 'a 12-digit AWS account ID', command),
            format,
            rate: values.rate,
            recordBytes: values['record-bytes'],
            entityEvents: values['entity-events'],
            diff: values.diff === true,
            json: values.json === true,
          },
          (line) => process.stdout.write(`${line}\n`),
        );
      }
      case 'backfill': {
        const [, definitions, group] = positionals;
        const to = oneOf(values.to ?? 'offline', '--to', ['offline', 'online', 'both'], command);
        const workers = values.workers === undefined ? 1 : wholeNumber(values.workers, '--workers', 1, command);
        const chunkSize = values['chunk-size'] === undefined ? undefined : wholeNumber(values['chunk-size'], '--chunk-size', 1, command);
        if (!definitions || !group || !values.from?.length) {
          process.stderr.write('skewless backfill: usage: skewless backfill <definitions file> <group> --from FILE [--to offline|online|both] [--workers N] [--chunk-size N]\nRun \'skewless backfill --help\' for the options and examples.\n');
          return 2;
        }
        // A file given twice would be read twice, and its rows counted twice.
        const files = values.from.map((file) => resolve(file));
        const twice = values.from.find((_, i) => files.indexOf(files[i] as string) !== i);
        if (twice !== undefined) throw new UsageError(`--from ${twice} is given twice: give each file once`, command);
        return await runBackfillCommand(
          { definitions, group, from: values.from, to, workers, dir, chunkSize, json: values.json === true },
          (line) => process.stdout.write(`${line}\n`),
          process.stderr,
        );
      }
      case 'training-set': {
        const definitions = positionals[1];
        if (!definitions || !values.spine || !values.features?.length || !values.out) {
          process.stderr.write('skewless training-set: usage: skewless training-set <definitions file> --spine FILE --features GROUP:F1,F2 --out FILE [--entity-key C] [--timestamp C]\nRun \'skewless training-set --help\' for the options and examples.\n');
          return 2;
        }
        return await runTrainingSetCommand(
          {
            definitions,
            spine: shaped(values.spine, '--spine', SPINE_FILE, 'a .csv or .parquet file', command),
            features: values.features.map((text) => shaped(text, '--features', FEATURES, 'GROUP:F1,F2 (a group, a colon, its features)', command)),
            entityKey: values['entity-key'],
            timestamp: values.timestamp ?? 'label_time',
            out: shaped(values.out, '--out', SPINE_FILE, 'a .csv or .parquet file', command),
            maxAge: values['max-age'] === undefined ? undefined : duration(values['max-age'], '--max-age', command),
            exclusive: values.exclusive === true,
            knowledgeTime: values['knowledge-time'] === true,
            dir,
            json: values.json === true,
          },
          (line) => process.stdout.write(`${line}\n`),
          (text) => process.stderr.write(text),
        );
      }
      case 'audit':
      case 'lineage': {
        const [, definitions, group] = positionals;
        const sample = values.sample === undefined ? undefined : wholeNumber(values.sample, '--sample', 1, command);
        const seed = values.seed === undefined ? undefined : wholeNumber(values.seed, '--seed', Number.NEGATIVE_INFINITY, command);
        const tolerance = values.tolerance === undefined ? undefined : decimal(values.tolerance, '--tolerance', 0, command);
        const at = values.at === undefined ? undefined : isoTime(values.at, '--at', command);
        const availabilityDelay = values['availability-delay'] === undefined ? undefined : duration(values['availability-delay'], '--availability-delay', command);
        if (!definitions || !group) {
          process.stderr.write(`skewless ${command}: usage: skewless ${command} <definitions file> <group> [--sample N] [--json]${command === 'audit' ? ' [--seed N] [--at TIME] [--availability-delay D] [--tolerance X] [--html FILE]' : ''}\nRun 'skewless ${command} --help' for the options and examples.\n`);
          return 2;
        }
        const print = (line: string) => process.stdout.write(`${line}\n`);
        if (command === 'lineage') return await runLineageCommand({ definitions, group, sample, dir, json: values.json === true }, print);
        return await runAuditCommand(
          { definitions, group, sample, seed, at, availabilityDelay, tolerance, dir, json: values.json === true, html: values.html },
          print,
          (text) => process.stderr.write(text),
        );
      }
    }
  } catch (error) {
    if (error instanceof UsageError) return usageError(error);
    process.stderr.write(`skewless: ${values.verbose ? formatError(error) : (error as Error).message}\n`);
    if (!values.verbose) process.stderr.write('Run again with --verbose for details.\n');
    return 1;
  }
}

/** Bad usage: what was wrong, a hint where to read more, exit code 2. */
function usageError(error: UsageError): number {
  const hint = error.command ? `Run 'skewless ${error.command} --help' for the options and examples.` : "Run 'skewless --help' for the commands.";
  process.stderr.write(`skewless${error.command ? ` ${error.command}` : ''}: ${error.message}\n${hint}\n`);
  return 2;
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
