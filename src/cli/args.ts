import { parseArgs } from 'node:util';
import { closestName, DURATION_TEXT } from '../util/options.js';
import { parseIsoInstant } from '../schema/time.js';
import { parseRate } from '../aws/capacity.js';
import { ConfigurationError } from '../errors.js';
import { type Command, COMMANDS } from './help.js';

// The command line read as the help describes it: a misspelt command or option, an option without
// its value and a value an option cannot take are each named, with what was given and what is taken.

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
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
} as const;

type OptionName = keyof typeof OPTIONS;

/** What every command takes. */
export const COMMON: readonly OptionName[] = ['help', 'version', 'verbose', 'json'];

/** Each command's own options, as its help lists them (a test holds the two equal). */
export const COMMAND_OPTIONS: Readonly<Record<Command, readonly OptionName[]>> = {
  demo: ['dir', 'spike', 'rate'],
  local: ['port', 'dir', 'memory'],
  plan: ['group', 'role-arn', 'offline-s3-uri', 'athena-results-s3-uri', 'state-table', 'format', 'diff', 'region', 'account-id', 'rate', 'record-bytes', 'entity-events'],
  backfill: ['from', 'to', 'workers', 'chunk-size', 'dir'],
  'training-set': ['spine', 'features', 'out', 'entity-key', 'timestamp', 'max-age', 'exclusive', 'knowledge-time', 'dir'],
  audit: ['sample', 'seed', 'at', 'availability-delay', 'tolerance', 'html', 'dir'],
  lineage: ['sample', 'dir'],
};

/** How many arguments each command takes after its name, as its usage line shows them (a test holds the two equal). */
export const COMMAND_ARGUMENTS: Readonly<Record<Command, number>> = { demo: 0, local: 0, plan: 1, backfill: 2, 'training-set': 1, audit: 2, lineage: 2 };

/** What an argument too many most likely meant, by command: a group for plan, a shell's expansion of `--from *.ndjson`. */
const MEANT: Partial<Record<Command, (extra: string) => string>> = {
  plan: (extra) => ` (for one group: --group ${extra})`,
  backfill: () => ' (each file takes its own --from: --from a.ndjson --from b.ndjson)',
  'training-set': () => ' (each group takes its own --features: --features A:x --features B:y)',
};

/**
 * The command line is not one the help describes: exit code 2. `command` is the command it was
 * given to, if that was one; the message says what was wrong, without the `skewless <command>:` prefix.
 */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command: Command | undefined,
  ) {
    super(message);
  }
}

function isCommand(name: string | undefined): name is Command {
  return (COMMANDS as readonly (string | undefined)[]).includes(name);
}

/** `--name` or `-n`: an argument read as an option, not as a value that starts with a dash (`-5/s`). */
const OPTION_LIKE = /^--?[A-Za-z]/;

/**
 * Reads the command line: the command, its positionals and its options, each option one the command
 * takes and given as it takes it. Throws a UsageError naming what is wrong.
 */
export function parseCommandLine(argv: readonly string[]) {
  // Read loosely first, to say what is wrong in our words; node:util's strict mode would say it in its own.
  const { tokens } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: false, tokens: true });
  const firstAt = tokens.findIndex((token) => token.kind === 'positional');
  const first = tokens[firstAt]?.kind === 'positional' ? tokens[firstAt].value : undefined;
  // An option no command takes, before the command (`--form x backfill`): read loosely, it took no
  // value and left its value to be read as the command, so name the option instead.
  const stray = tokens.slice(0, Math.max(firstAt, 0)).find((token) => token.kind === 'option' && !Object.hasOwn(OPTIONS, token.name));
  if (stray?.kind === 'option') throw unknownOption(stray, Object.keys(OPTIONS), undefined);
  if (first !== undefined && first !== 'help' && !isCommand(first)) {
    const near = closestName(first, COMMANDS);
    throw new UsageError(`unknown command "${first}"${near ? ` (did you mean ${near}?)` : ''}`, undefined);
  }
  const command = isCommand(first) ? first : undefined;
  const known = command ? [...COMMON, ...COMMAND_OPTIONS[command]] : (Object.keys(OPTIONS) as OptionName[]);
  const given = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (!(known as readonly string[]).includes(token.name)) throw unknownOption(token, known, command);
    const option = OPTIONS[token.name as OptionName];
    if (option.type === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value, got ${JSON.stringify(token.value)}`, command);
      continue;
    }
    if (token.value === undefined || token.value === '') throw new UsageError(`${token.rawName} takes a value, got none`, command);
    if (!token.inlineValue && OPTION_LIKE.test(token.value)) throw new UsageError(`${token.rawName} takes a value, got the option ${token.value}`, command);
    // A value given twice: the last would silently win over the first.
    if (!('multiple' in option) && given.has(token.name)) throw new UsageError(`${token.rawName} is given twice: give it once`, command);
    given.add(token.name);
  }
  // Every option is now one the command takes, with a value where it takes one: read strictly for
  // typed values, each value written inline so that one starting with a dash (`--rate -5/s`) stays a value.
  const args = tokens.map((token) => (token.kind === 'positional' ? token.value : token.kind === 'option-terminator' ? '--' : token.value === undefined ? token.rawName : `--${token.name}=${token.value}`));
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  const extra = command && !values.help ? positionals[COMMAND_ARGUMENTS[command] + 1] : undefined;
  if (command && extra !== undefined) {
    const taken = COMMAND_ARGUMENTS[command];
    throw new UsageError(`unexpected argument ${JSON.stringify(extra)}${MEANT[command]?.(extra) ?? ''}: ${command} takes ${taken === 0 ? 'no arguments' : taken === 1 ? 'one argument' : `${taken} arguments`}`, command);
  }
  return { command, values, positionals };
}

function unknownOption(token: { name: string; rawName: string }, known: readonly string[], command: Command | undefined): UsageError {
  const near = token.rawName.startsWith('--') ? closestName(token.name, known) : undefined;
  return new UsageError(`unknown option ${token.rawName}${near ? ` (did you mean --${near}?)` : ''}`, command);
}

/** One of `choices`, or a UsageError naming the option. */
export function oneOf<const C extends string>(text: string, option: string, choices: readonly C[], command: Command): C {
  if ((choices as readonly string[]).includes(text)) return text as C;
  const words = choices.length === 1 ? choices[0] : `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}`;
  throw new UsageError(`${option} takes ${words}, got ${JSON.stringify(text)}`, command);
}

/** Text of the shape `pattern` matches, which `what` describes, or a UsageError naming the option. */
export function shaped(text: string, option: string, pattern: RegExp, what: string, command: Command): string {
  if (pattern.test(text)) return text;
  throw new UsageError(`${option} takes ${what}, got ${JSON.stringify(text)}`, command);
}

/** A duration with its unit (`90s`, `15m`, `30d`), or a UsageError naming the option; a bare number gets a hint. */
export function duration(text: string, option: string, command: Command): string {
  if (DURATION_TEXT.test(text.trim())) return text;
  const hint = /^\d+$/.test(text.trim()) ? ` (did you mean ${text.trim()}s or ${text.trim()}m?)` : '';
  throw new UsageError(`${option} takes a duration with a unit such as 90s, 15m, 12h, 30d or 2w, got ${JSON.stringify(text)}${hint}`, command);
}

/** A whole number written in digits, at least `min`. */
export function wholeNumber(text: string, option: string, min: number, command: Command): number {
  const value = Number(text);
  if (/^[-+]?\d+$/.test(text.trim()) && value >= min) return value;
  throw new UsageError(`${option} takes a whole number${Number.isFinite(min) ? `, ${min} or more` : ''}, got ${JSON.stringify(text)}`, command);
}

/** A rate of records such as `10000/s` or `600/min`, read as the library reads one, refused as bad usage. */
export function recordRate(text: string, option: string, command: Command): number {
  try {
    return parseRate(text, option);
  } catch (error) {
    if (error instanceof ConfigurationError) throw new UsageError(error.message, command);
    throw error;
  }
}

/** A number, at least `min`. */
export function decimal(text: string, option: string, min: number, command: Command): number {
  const value = Number(text);
  if (text.trim() !== '' && Number.isFinite(value) && value >= min) return value;
  throw new UsageError(`${option} takes a number, ${min} or more, got ${JSON.stringify(text)}`, command);
}

/** A time in ISO-8601: a date, and a time of day if wanted. */
export function isoTime(text: string, option: string, command: Command): Date {
  // With its zone, read as the pipeline reads event times: never in the machine's local time.
  const ms = parseIsoInstant(text.trim());
  if (ms !== undefined) return new Date(ms);
  throw new UsageError(`${option} takes a time in ISO-8601 with its zone, such as 2024-05-01T12:00:00Z, got ${JSON.stringify(text)}`, command);
}

/** A TCP port, 0 (any free one) to 65535. */
export function portNumber(text: string, option: string, command: Command): number {
  const port = Number(text);
  if (/^\d+$/.test(text.trim()) && port <= 65_535) return port;
  throw new UsageError(`${option} takes a port number, 0 to 65535, got ${JSON.stringify(text)}`, command);
}
