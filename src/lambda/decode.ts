import { isUtf8 } from 'node:buffer';
import { ConfigurationError, SourceValidationError, type SourcePosition } from '../errors.js';
import type { DeadLetterEntry } from '../store/dead-letter.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { describeValue } from '../util/options.js';

/** What a source says about a record besides its payload: Kafka's key and headers. */
export interface PayloadMeta {
  readonly key?: Buffer | undefined;
  readonly headers?: Readonly<Record<string, Buffer>> | undefined;
}

/** Turns a record's payload bytes into the raw event the pipeline validates. Throw to refuse it. */
export type PayloadDecoder = (payload: Buffer, position: SourcePosition, meta: PayloadMeta) => unknown;

/**
 * Strict base64: Buffer.from silently skips characters outside the alphabet (and takes base64url's
 * `-` and `_`), which would hide a broken producer. A clean decode is exactly `3/4` of the text
 * less its padding, so a shorter one means something was skipped; this costs no scan of its own.
 * Takes whatever the event held: anything but a string (a record without its data field) is a
 * SyntaxError saying there is no payload; text that is not base64 is one saying so.
 *
 * ### Example
 * ```ts
 * const bytes = decodeBase64(record.kinesis.data);
 * ```
 */
export function decodeBase64(text: unknown): Buffer {
  // A record without its data field (a hand-made event, another source's shape): said, not a TypeError.
  if (typeof text !== 'string') throw new SyntaxError(`there is no payload: expected base64 text, got ${describeValue(text)}`);
  const length = text.length;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = Buffer.from(text, 'base64');
  if (length % 4 !== 0 || bytes.length !== (length / 4) * 3 - padding || text.includes('-') || text.includes('_')) {
    throw new SyntaxError('payload is not valid base64');
  }
  return bytes;
}

/**
 * The default decoder: UTF-8 JSON (a leading byte-order mark is dropped, as TextDecoder does).
 *
 * ### Example
 * ```ts
 * export const handler = kinesisHandler(cardActivity, { store, decode: (bytes, position, meta) => jsonPayload(bytes.subarray(5), position, meta) });
 * ```
 */
export const jsonPayload: PayloadDecoder = (payload) => {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  if (!isUtf8(bytes)) throw new SyntaxError('payload is not valid UTF-8');
  const start = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  return JSON.parse(bytes.toString('utf8', start)) as unknown;
};

/** A payload that could not be decoded, as the poison error the pipeline would give. */
export function decodeError(error: unknown, position: SourcePosition): SourceValidationError {
  const reason = error instanceof Error ? error.message : String(error);
  return new SourceValidationError(`payload cannot be decoded: ${reason}`, { position, cause: error });
}

/** A record's payload as it arrived in the event, and how to read it. */
export interface ArrivedPayload {
  /** The payload: bytes for the decoder, or the raw event itself when `decoded`. Throws when there are none (data that is not base64). */
  readonly payload: () => Buffer | unknown;
  /** What a dead letter keeps: the payload exactly as the event held it. */
  readonly raw: unknown;
  /** `raw` is the payload's bytes in base64 (a Kinesis `data`, a Kafka `value`): its dead letters say so once it decoded as base64. */
  readonly rawEncoding?: 'base64';
  readonly position: SourcePosition;
  /** The payload is already the raw event (DynamoDB images): no decoder runs. */
  readonly decoded?: boolean;
  readonly meta?: () => PayloadMeta;
}

/** What `decodeItem` gives for a payload that could not be read or decoded. */
export const UNDECODED: unique symbol = Symbol('undecoded');

/**
 * A payload's raw event: read and decoded (default UTF-8 JSON). When either throws, its dead-letter
 * entry goes to `poison` with `raw` as it arrived, marked base64 only when it read as base64 (text
 * that is not base64 at all is kept as the text it is), and UNDECODED is given.
 */
export function decodeItem(group: AnyFeatureGroup, item: ArrivedPayload, decode: PayloadDecoder | undefined, poison: DeadLetterEntry[]): unknown {
  let read = false;
  let raw: unknown;
  try {
    const payload = item.payload();
    read = true;
    raw = item.decoded ? payload : (decode ?? jsonPayload)(payload as Buffer, item.position, item.meta?.() ?? {});
  } catch (error) {
    const encoding = read && item.rawEncoding ? { rawEncoding: item.rawEncoding } : {};
    poison.push({ group: group.name, raw: item.raw, error: decodeError(error, item.position), position: item.position, ...encoding });
    return UNDECODED;
  }
  // Every record would be poison (a Promise is no event): the invocation fails instead, and Lambda retries the batch.
  if (typeof (raw as { then?: unknown } | null)?.then === 'function') {
    // Its rejection, if one comes, has no one left to tell.
    Promise.resolve(raw).catch(() => undefined);
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `group "${group.name}": the handler's decode returned a Promise: a decoder is synchronous, one payload in, its raw event out; load what it needs (a schema registry's schemas) before the handler runs, at the top of the module`,
    );
  }
  return raw;
}

/**
 * DynamoDB's AttributeValue JSON -> plain values: numbers as numbers (as bigint when an integer is
 * beyond 2^53, so ids stay exact), sets as arrays, binary as Buffer.
 *
 * ### Example
 * ```ts
 * unmarshallItem({ card_id: { S: 'c1' }, amount: { N: '12.5' } });   // { card_id: 'c1', amount: 12.5 }
 * ```
 */
export function unmarshallItem(item: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) out[key] = unmarshallValue(value);
  return out;
}

function number(text: string): number | bigint {
  const n = Number(text);
  return Number.isInteger(n) && !Number.isSafeInteger(n) && /^-?\d+$/.test(text) ? BigInt(text) : n;
}

function unmarshallValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) throw new SyntaxError('not a DynamoDB AttributeValue');
  const [type, inner] = Object.entries(value)[0] ?? [];
  switch (type) {
    case 'S':
      return inner;
    case 'N':
      return number(String(inner));
    case 'BOOL':
      return Boolean(inner);
    case 'NULL':
      return null;
    case 'M':
      return unmarshallItem(inner as Record<string, unknown>);
    case 'L':
      return (inner as unknown[]).map(unmarshallValue);
    case 'SS':
      return [...(inner as string[])];
    case 'NS':
      return (inner as string[]).map(number);
    case 'B':
      return Buffer.from(String(inner), 'base64');
    case 'BS':
      return (inner as string[]).map((b) => Buffer.from(b, 'base64'));
    default:
      throw new SyntaxError(type === undefined ? 'a DynamoDB AttributeValue with no type' : `unknown DynamoDB attribute type ${type}`);
  }
}
