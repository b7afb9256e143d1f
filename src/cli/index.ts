import { parseArgs } from 'node:util';
import { formatError } from '../errors.js';
import { runDemo } from './demo.js';
import { runLocal } from './local.js';
import { runPlan } from './plan.js';

const HELP = `skewless — one definition of a feature, the same value online and offline

Usage: skewless <command> [options]

Commands:
  demo        run the fraud-detection feature group's pipeline over synthetic card transactions
  local       start the local stack: SageMaker Feature Store, Athena and S3 on 127.0.0.1
  plan        print CreateFeatureGroup input (or CloudFormation) and IAM policies for a definitions file

Options:
  --help          show this help
  --verbose       print full error details
  --json          print the result as JSON (demo)
  --port N        local: port on 127.0.0.1 (default 4599; 0 picks a free one)
  --dir PATH      local: where state is kept (default .skewless)
  --memory        local: keep state in a temporary directory, removed on exit
  --group NAME    plan: only this feature group
  --role-arn ARN  plan: the role SageMaker uses to write the offline store
  --offline-s3-uri URI          plan: s3://bucket/prefix of the offline store
  --athena-results-s3-uri URI   plan: where training's Athena queries write results
  --format input|cloudformation plan: the request, or an AWS::SageMaker::FeatureGroup resource
  --diff          plan: compare with the deployed group (DescribeFeatureGroup); exit 1 on a breaking change
  --region R --account-id N     plan: fill the ARNs of the IAM policies (default CloudFormation's pseudo parameters)

Examples:
  npx skewless demo
  npx skewless demo --json
  npx skewless local --port 4599
  npx skewless plan dist/features.js --offline-s3-uri s3://my-bucket/features --role-arn arn:aws:iam::123456789012:role/fs
  npx skewless plan dist/features.js --group card-activity --diff

Exit codes: 0 success, 1 the command failed, 2 bad usage.`;

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
        group: { type: 'string' },
        'role-arn': { type: 'string' },
        'offline-s3-uri': { type: 'string' },
        'athena-results-s3-uri': { type: 'string' },
        format: { type: 'string' },
        diff: { type: 'boolean' },
        region: { type: 'string' },
        'account-id': { type: 'string' },
      },
    });
  } catch (error) {
    process.stderr.write(`skewless: ${(error as Error).message}\nRun 'skewless --help' for usage.\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${HELP}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  try {
    switch (command) {
      case 'demo': {
        const summary = runDemo(values.json ? () => {} : (line) => process.stdout.write(`${line}\n`));
        if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        return 0;
      }
      case 'local': {
        const port = Number(values.port ?? 4599);
        if (!Number.isInteger(port) || port < 0 || port > 65_535) {
          process.stderr.write(`skewless: --port must be a port number, got ${values.port}\n`);
          return 2;
        }
        const stack = await runLocal({ port, dir: values.dir ?? '.skewless', memory: values.memory === true }, (line) =>
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
          process.stderr.write("skewless plan: usage: skewless plan <definitions file> [--format input|cloudformation] [--diff]\n");
          return 2;
        }
        return await runPlan(
          {
            file,
            group: values.group,
            roleArn: values['role-arn'],
            offlineStoreS3Uri: values['offline-s3-uri'],
            athenaResultsS3Uri: values['athena-results-s3-uri'],
            region: values.region,
            accountId: values['account-id'],
            format,
            diff: values.diff === true,
            json: values.json === true,
          },
          (line) => process.stdout.write(`${line}\n`),
        );
      }
      default:
        process.stderr.write(`skewless: unknown command "${command}"\nRun 'skewless --help' for usage.\n`);
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
