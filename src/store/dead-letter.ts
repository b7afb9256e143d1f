import { BackendError, type RecordError, type SourcePosition } from '../errors.js';
import { checkOptions, expected, lazySchema } from '../util/options.js';
import * as z from 'zod/mini';

/** A record the pipeline refused, as a dead-letter sink receives it. */
export interface DeadLetterEntry {
  readonly group: string;
  /** The raw event exactly as it arrived. */
  readonly raw: unknown;
  readonly error: RecordError;
  readonly position: SourcePosition | undefined;
  /**
   * `'base64'` when `raw` is text holding the record's bytes in base64, as a Kinesis or Firehose
   * `data` and a Kafka `value` arrive (the handlers set it); unset when `raw` is the value itself, or
   * text that was no base64 at all. An entry you build yourself says it too.
   */
  readonly rawEncoding?: 'base64';
}

/**
 * Where poison records go: an object with `write`, or a function. A sink that fails throws, and the
 * records are reported for redelivery. One that took some of the entries and not the others throws a
 * {@link DeadLetterWriteError} naming the entries it did not take: only their records are reported;
 * the others count as dead-lettered.
 */
export type DeadLetterSink =
  | { write(entries: readonly DeadLetterEntry[]): Promise<void> | void }
  | ((entries: readonly DeadLetterEntry[]) => Promise<void> | void);

/**
 * Where a function that makes a sink (`sqsDeadLetter`) says how it is called. It takes one argument,
 * as a sink does, so passed in place of the sink it makes it would be taken, and fail at every poison
 * record. `Symbol.for`: the mark of another copy of the package is the same.
 */
const SINK_CALL = Symbol.for('skewless.deadLetterSinkCall');

/** A function that makes a dead-letter sink, marked with how it is called. */
type SinkFactory<F> = F & { readonly [SINK_CALL]: string };

/** `factory`, marked so that a sink option refuses it, saying how to call it (`call`). */
export function sinkFactory<F extends (options: never) => DeadLetterSink>(factory: F, call: string): SinkFactory<F> {
  return Object.assign(factory, { [SINK_CALL]: call });
}

function isSinkFactory(value: unknown): value is SinkFactory<unknown> {
  return typeof value === 'function' && typeof (value as Partial<SinkFactory<unknown>>)[SINK_CALL] === 'string';
}

/** A dead-letter sink given as an option: `sqsDeadLetter(...)`, `s3DeadLetter(...)` or a function. */
export const deadLetterSinkSchema = () =>
  z.custom<DeadLetterSink>(
    (value) => (typeof value === 'function' && !isSinkFactory(value)) || (typeof value === 'object' && value !== null && typeof (value as { write?: unknown }).write === 'function'),
    {
      error: (issue) =>
        isSinkFactory(issue.input)
          ? `expected a dead-letter sink, got the function that makes one: call it, as ${issue.input[SINK_CALL]}`
          : expected('a dead-letter sink: sqsDeadLetter(), s3DeadLetter() or a function')(issue),
    },
  );

/**
 * A dead-letter sink's failure to take some of the entries of a write: `notWritten` are those, the
 * very objects it was given (not copies); it took the others. Only the records of `notWritten` are
 * reported for redelivery. A list that is empty or names an object the sink was not given counts as
 * none taken.
 *
 * ### Example
 * ```ts
 * deadLetter: async (entries) => {
 *   const failed = await myQueue.sendAll(entries);   // the entries it could not send
 *   if (failed.length > 0) throw new DeadLetterWriteError(`${failed.length} not sent`, failed);
 * },
 * ```
 */
export class DeadLetterWriteError extends BackendError {
  override name = 'DeadLetterWriteError';
  readonly notWritten: readonly DeadLetterEntry[];

  constructor(message: string, notWritten: readonly DeadLetterEntry[], options: { readonly cause?: unknown; readonly group?: string } = {}) {
    super('WRITE_FAILED', message, { retryable: true, ...options });
    this.notWritten = notWritten;
  }
}

/** What a sink's failure to take `group`'s entries is: retryable (WRITE_FAILED), since the entries were not handled. */
export function deadLetterFailed(group: string, cause: unknown): BackendError {
  const message = `group "${group}": dead-letter sink failed: ${(cause as Error)?.message ?? String(cause)}`;
  // The entries the sink says it did not take stay named: the others were dead-lettered.
  const notWritten = listedNotWritten(cause);
  return notWritten ? new DeadLetterWriteError(message, notWritten, { cause, group }) : new BackendError('WRITE_FAILED', message, { cause, retryable: true, group });
}

/** The `notWritten` of a DeadLetterWriteError, of this copy of the package or another (by name, not instanceof). */
function listedNotWritten(failure: unknown): readonly DeadLetterEntry[] | undefined {
  const error = failure as { name?: unknown; notWritten?: unknown } | null | undefined;
  return error?.name === 'DeadLetterWriteError' && Array.isArray(error.notWritten) ? (error.notWritten as DeadLetterEntry[]) : undefined;
}

/**
 * The entries of `given` a sink's failure says it did not take; undefined when none was taken: the
 * failure names none, or a list that is empty or holds an object that is not one of `given`.
 */
export function notWrittenBy(failure: unknown, given: readonly DeadLetterEntry[]): ReadonlySet<DeadLetterEntry> | undefined {
  const listed = listedNotWritten(failure);
  if (!listed || listed.length === 0) return undefined;
  const ours = new Set(given);
  return listed.every((entry) => ours.has(entry)) ? new Set(listed) : undefined;
}

/** What `deadLetterMessage` reads of an entry: a JavaScript caller's mistake is named, not a TypeError from inside. */
const MESSAGE_ARGUMENTS = /* @__PURE__ */ lazySchema(() =>
  z.tuple([
    z.object(
      {
        group: z.string({ error: expected("the group's name") }),
        error: z.object({ name: z.string(), code: z.string(), message: z.string(), issues: z.array(z.unknown()) }, { error: expected('a SkewlessError') }),
      },
      { error: expected('a dead-letter entry: { group, raw, error, position }') },
    ),
    z.date({ error: expected('a valid Date') }),
  ]),
);

/** Hands entries to a sink; nothing to do without a sink or entries. */
export async function sendToDeadLetter(sink: DeadLetterSink | undefined, entries: DeadLetterEntry[]): Promise<void> {
  if (sink === undefined || entries.length === 0) return;
  await (typeof sink === 'function' ? sink(entries) : sink.write(entries));
}

/**
 * One dead letter as the SQS and S3 sinks store it: a JSON document a person or a replay script
 * can read without skewless. The raw payload is kept exactly: text and JSON values as they are,
 * bytes as base64 (`rawEncoding: 'base64'`), so nothing about the record is lost. A Kinesis, Firehose
 * or Kafka payload arrives as base64 text and stays so, marked `'base64'` because the entry says so
 * (`DeadLetterEntry.rawEncoding`, which the handlers set); an SQS body is text (`'json'`), and data
 * that is not base64 at all is kept as the text it is, marked `'json'`.
 */
export interface DeadLetterMessage {
  readonly group: string;
  readonly error: {
    readonly name: string;
    readonly code: string;
    readonly message: string;
    readonly issues: readonly { readonly path: readonly (string | number)[]; readonly message: string; readonly code?: string }[];
  };
  readonly position: DeadLetterEntry['position'] | null;
  readonly raw: unknown;
  /** `'base64'`: `raw` is the record's bytes in base64 (decode it to replay); `'json'`: `raw` is the value as it is. */
  readonly rawEncoding: 'json' | 'base64';
  /**
   * For a raw event read from a typed source (Parquet, Athena): the fields whose type JSON cannot
   * show, by name: `bigint` (written as decimal text), `Date` (ISO-8601 text), `bytes` (base64) or
   * `number` (a NaN or an infinity, written as `"NaN"`, `"Infinity"` or `"-Infinity"`; JSON has no
   * such number, and `null` would read as a missing value).
   */
  readonly rawTypes?: Readonly<Record<string, 'bigint' | 'Date' | 'bytes' | 'number'>>;
  /** ISO-8601 time the record was dead-lettered. */
  readonly deadLetteredAt: string;
}

/**
 * Builds the stored form of an entry, dead-lettered `at` (default now).
 *
 * ### Example
 * ```ts
 * await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(deadLetterMessage(entry)) }));
 * ```
 */
export function deadLetterMessage(entry: DeadLetterEntry, at: Date = new Date()): DeadLetterMessage {
  checkOptions(MESSAGE_ARGUMENTS, [entry, at], 'deadLetterMessage');
  return messageOf(entry, at);
}

/** `deadLetterMessage` of an entry the package made itself: checked once where it was made, not again per dead letter. */
function messageOf(entry: DeadLetterEntry, at: Date): DeadLetterMessage {
  const bytes = entry.raw instanceof Uint8Array;
  return {
    group: entry.group,
    error: {
      name: entry.error.name,
      code: entry.error.code,
      message: entry.error.message,
      issues: entry.error.issues.map((issue) => ({ path: [...issue.path].map((p) => (typeof p === 'symbol' ? String(p) : p)), message: issue.message, code: issue.code })),
    },
    position: entry.position ?? null,
    raw: bytes ? Buffer.from(entry.raw as Uint8Array).toString('base64') : entry.raw,
    rawEncoding: bytes || entry.rawEncoding === 'base64' ? 'base64' : 'json',
    ...rawTypesOf(entry.raw),
    deadLetteredAt: at.toISOString(),
  };
}

/** What a raw field's JSON stands for, where JSON cannot show it (see `DeadLetterMessage.rawTypes`). */
type RawType = 'bigint' | 'Date' | 'bytes' | 'number';

function rawTypesOf(raw: unknown): { rawTypes?: Record<string, RawType> } {
  if (typeof raw !== 'object' || raw === null || raw instanceof Uint8Array || Array.isArray(raw)) return {};
  let types: Record<string, RawType> | undefined;
  for (const [name, value] of Object.entries(raw)) {
    const type = typeof value === 'bigint' ? 'bigint' : value instanceof Date ? 'Date' : value instanceof Uint8Array ? 'bytes' : typeof value === 'number' && !Number.isFinite(value) ? 'number' : undefined;
    if (type) (types ??= {})[name] = type;
  }
  return types ? { rawTypes: types } : {};
}

/**
 * JSON text of a dead letter; bigints, NaN and the infinities are written as their text and bytes
 * inside an event as base64 (`rawTypes` says which).
 */
export function deadLetterJson(entry: DeadLetterEntry, at: Date): string {
  return JSON.stringify(messageOf(entry, at), (_key, value: unknown) =>
    typeof value === 'bigint' || (typeof value === 'number' && !Number.isFinite(value)) ? String(value) : value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
  );
}
