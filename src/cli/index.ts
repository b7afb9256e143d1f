import { parseArgs } from 'node:util';
import { formatError } from '../errors.js';
import { runAuditCommand, runLineageCommand } from './audit.js';
import { runBackfillCommand } from './backfill.js';
import { runDemo } from './demo.js';
import { runSpikeDemo } from './demo-spike.js';
import { helpText } from './help.js';
import { runTrainingSetCommand } from './training-set.js';
import { runLocal } from './local.js';
import { runPlan } from './plan.js';
import { parseRate } from '../aws/capacity.js';
import { DEFAULT_DIR } from '../store/feature-store.js';
import { jsonLine } from './json.js';

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        verbose: { type: 'boolean' },
        json: { type: 'boolean' },
        port: { type: 'string' },
        dir: { type: 'string' },
        memory: { type: 'boolean' },
        spike: { type: 'boolean' },
        group: { type: 'string' },
        'role-arn': { type: 'string' },
        'offline-s3-uri': { type: 'string' },
        'athena-results-s3-uri': { type: 'string' },
        'state-table': { type: 'string' },
        format: { type: 'string' },
        rate: { type: 'string' },
        'record-bytes': { type: 'string' },
        'entity-events': { type: 'string' },
        diff: { type: 'boolean' },
        region: { type: 'string' },
        'account-id': { type: 'string' },
        from: { type: 'string', multiple: true },
        to: { type: 'string' },
        workers: { type: 'string' },
        'chunk-size': { type: 'string' },
        spine: { type: 'string' },
        features: { type: 'string', multiple: true },
        'entity-key': { type: 'string' },
        timestamp: { type: 'string' },
        out: { type: 'string' },
        'max-age': { type: 'string' },
        exclusive: { type: 'boolean' },
        'knowledge-time': { type: 'boolean' },
        sample: { type: 'string' },
        seed: { type: 'string' },
        at: { type: 'string' },
        'availability-delay': { type: 'string' },
        tolerance: { type: 'string' },
        html: { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`skewless: ${(error as Error).message}\nRun 'skewless --help' for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  const dir = values.dir ?? DEFAULT_DIR;
  if (command === 'help') {
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
        if (values.spike) {
          const summary = await runSpikeDemo(print, { ...(values.dir ? { dir: values.dir } : {}), ...(values.rate ? { rate: parseRate(values.rate, '--rate') } : {}) });
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
        const port = Number(values.port ?? 4599);
        if (!Number.isInteger(port) || port < 0 || port > 65_535) {
          process.stderr.write(`skewless: --port must be a port number, got ${values.port}\n`);
          return 2;
        }
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
        const format = values.format ?? 'input';
        if (!file || (format !== 'input' && format !== 'cloudformation')) {
          process.stderr.write("skewless plan: usage: skewless plan <definitions file> [--format input|cloudformation] [--diff] [--rate N/s [--record-bytes N]]\nRun 'skewless plan --help' for the options and examples.\n");
          return 2;
        }
        return await runPlan(
          {
            file,
            group: values.group,
            roleArn: values['role-arn'],
            offlineStoreS3Uri: values['offline-s3-uri'],
            athenaResultsS3Uri: values['athena-results-s3-uri'],
            stateTable: values['state-table'],
            region: values.region,
            accountId: values['account-id'],
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
        const to = values.to ?? 'offline';
        const workers = Number(values.workers ?? 1);
        const chunkSize = values['chunk-size'] === undefined ? undefined : Number(values['chunk-size']);
        if (!definitions || !group || !values.from?.length || !['offline', 'online', 'both'].includes(to) || !Number.isInteger(workers) || workers < 1 || (chunkSize !== undefined && !(chunkSize >= 1))) {
          process.stderr.write('skewless backfill: usage: skewless backfill <definitions file> <group> --from FILE [--to offline|online|both] [--workers N] [--chunk-size N]\nRun \'skewless backfill --help\' for the options and examples.\n');
          return 2;
        }
        return await runBackfillCommand(
          { definitions, group, from: values.from, to: to as 'offline' | 'online' | 'both', workers, dir, chunkSize, json: values.json === true },
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
            spine: values.spine,
            features: values.features,
            entityKey: values['entity-key'],
            timestamp: values.timestamp ?? 'label_time',
            out: values.out,
            maxAge: values['max-age'],
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
        const sample = values.sample === undefined ? undefined : Number(values.sample);
        const seed = values.seed === undefined ? undefined : Number(values.seed);
        const tolerance = values.tolerance === undefined ? undefined : Number(values.tolerance);
        const at = values.at === undefined ? undefined : new Date(values.at);
        if (
          !definitions ||
          !group ||
          (sample !== undefined && !(Number.isInteger(sample) && sample > 0)) ||
          (seed !== undefined && !Number.isInteger(seed)) ||
          (tolerance !== undefined && !(tolerance >= 0)) ||
          (at !== undefined && Number.isNaN(at.getTime()))
        ) {
          process.stderr.write(`skewless ${command}: usage: skewless ${command} <definitions file> <group> [--sample N] [--json]${command === 'audit' ? ' [--seed N] [--at TIME] [--availability-delay D] [--tolerance X] [--html FILE]' : ''}\nRun 'skewless ${command} --help' for the options and examples.\n`);
          return 2;
        }
        const print = (line: string) => process.stdout.write(`${line}\n`);
        if (command === 'lineage') return await runLineageCommand({ definitions, group, sample, dir, json: values.json === true }, print);
        return await runAuditCommand(
          { definitions, group, sample, seed, at, availabilityDelay: values['availability-delay'], tolerance, dir, json: values.json === true, html: values.html },
          print,
          (text) => process.stderr.write(text),
        );
      }
      default:
        process.stderr.write(`skewless: unknown command "${command}"\nRun 'skewless --help' for the commands.\n`);
        return 2;
    }
  } catch (error) {
    process.stderr.write(`skewless: ${values.verbose ? formatError(error) : (error as Error).message}\n`);
    if (!values.verbose) process.stderr.write('Run again with --verbose for details.\n');
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
