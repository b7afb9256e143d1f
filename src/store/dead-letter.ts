import type { DeadLetterEntry } from './feature-store.js';

/**
 * One dead letter as the SQS and S3 sinks store it: a JSON document a person or a replay script
 * can read without skewless. The raw payload is kept exactly: text and JSON values as they are,
 * bytes as base64 (`rawEncoding: 'base64'`), so nothing about the record is lost. A Kinesis, Firehose
 * or Kafka payload arrives as base64 text and stays so, marked `rawEncoding: 'base64'` (an SQS body
 * is text: `'json'`); data that is not base64 at all is kept as the text it is, marked `'json'`.
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
   * show, by name: `bigint` (written as decimal text), `Date` (ISO-8601 text) or `bytes` (base64).
   */
  readonly rawTypes?: Readonly<Record<string, 'bigint' | 'Date' | 'bytes'>>;
  /** ISO-8601 time the record was dead-lettered. */
  readonly deadLetteredAt: string;
}

/**
 * Builds the stored form of an entry.
 *
 * ### Example
 * ```ts
 * await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(deadLetterMessage(entry, new Date())) }));
 * ```
 */
export function deadLetterMessage(entry: DeadLetterEntry, at: Date): DeadLetterMessage {
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
    rawEncoding: bytes || isBase64Payload(entry) ? 'base64' : 'json',
    ...rawTypesOf(entry.raw),
    deadLetteredAt: at.toISOString(),
  };
}

/** Sources whose records carry the payload as base64 text: Kinesis and Firehose `data`, Kafka `value`. */
const BASE64_SOURCES = ['kinesis', 'kafka', 'firehose'];

/** The raw text of a record from such a source is its payload in base64, unless it is not base64 at all (then it is kept as the text it is). */
function isBase64Payload(entry: DeadLetterEntry): boolean {
  const raw = entry.raw;
  return typeof raw === 'string' && BASE64_SOURCES.includes(entry.position?.source ?? '') && raw.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(raw);
}

function rawTypesOf(raw: unknown): { rawTypes?: Record<string, 'bigint' | 'Date' | 'bytes'> } {
  if (typeof raw !== 'object' || raw === null || raw instanceof Uint8Array || Array.isArray(raw)) return {};
  let types: Record<string, 'bigint' | 'Date' | 'bytes'> | undefined;
  for (const [name, value] of Object.entries(raw)) {
    const type = typeof value === 'bigint' ? 'bigint' : value instanceof Date ? 'Date' : value instanceof Uint8Array ? 'bytes' : undefined;
    if (type) (types ??= {})[name] = type;
  }
  return types ? { rawTypes: types } : {};
}

/** JSON text of a dead letter; bigints are written as decimal text and bytes inside an event as base64 (`rawTypes` says which). */
export function deadLetterJson(entry: DeadLetterEntry, at: Date): string {
  return JSON.stringify(deadLetterMessage(entry, at), (_key, value: unknown) =>
    typeof value === 'bigint' ? value.toString() : value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value,
  );
}
