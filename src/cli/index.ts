import { parseArgs } from 'node:util';
import { formatError } from '../errors.js';
import { runDemo } from './demo.js';

const HELP = `skewless — one definition of a feature, the same value online and offline

Usage: skewless <command> [options]

Commands:
  demo        run the fraud-detection feature group's pipeline over synthetic card transactions

Options:
  --help      show this help
  --verbose   print full error details
  --json      print the result as JSON (demo)

Examples:
  npx skewless demo
  npx skewless demo --json

Exit codes: 0 success, 1 the command failed, 2 bad usage.`;

function main(argv: readonly string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        verbose: { type: 'boolean' },
        json: { type: 'boolean' },
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

process.exitCode = main(process.argv.slice(2));
