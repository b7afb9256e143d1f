import { ConfigurationError, type SourcePosition, TransformError } from '../errors.js';
import { requireGroup } from '../feature-group.js';
import { offlineRowCodec } from '../group-codecs.js';
import { partitionOf } from '../offline/layout.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { type DeadLetterEntry, type DeadLetterSink, deadLetterSinkSchema } from '../store/dead-letter.js';
import { checkOptions, describeValue, expected, functionSchema, lazySchema } from '../util/options.js';
import * as z from 'zod/mini';
import type { BatchCounts } from './batch.js';
import { decodeBase64, decodeItem, type PayloadDecoder, UNDECODED } from './decode.js';
import { decodeOption, logOption, metricsOption } from './options.js';
import type { FirehoseRecord, FirehoseResponseRecord } from './events.js';

// A Firehose data transformation: each record of the buffer becomes its offline row, or is refused
// (ProcessingFailed) or left out (Dropped). Firehose keeps no state between invocations and may retry
// or reorder buffers, so it takes only groups without aggregations.

export interface FirehoseTransformOptions {
  /** Turns a record's payload bytes into the raw event; default UTF-8 JSON. */
  readonly decode?: PayloadDecoder;
  /**
   * Return `false` to drop an event on purpose (result `Dropped`), `true` to keep it. Anything else (a
   * function that forgot its `return`, an async one, a truthy value) is a `ConfigurationError` for
   * the whole buffer, so Firehose retries it and then keeps it under its processing-failed prefix,
   * instead of a buffer dropped unnoticed. A filter that throws makes its event poison, as a
   * transform that throws does.
   */
  readonly filter?: (raw: unknown) => boolean;
  /** Poison records also go here; Firehose keeps them too, under its processing-failed prefix. */
  readonly deadLetter?: DeadLetterSink;
  /** One JSON line per invocation; default `console.log`, `false` for none. */
  readonly log?: false | ((line: string) => void);
  /** Also print CloudWatch metrics in Embedded Metric Format under this namespace. */
  readonly metrics?: { readonly namespace: string };
}

const firehoseOptions = /* @__PURE__ */ lazySchema(() =>
  z.strictObject(
    { decode: decodeOption(), filter: z.optional(functionSchema('a function of the raw event (false drops it)')), deadLetter: z.optional(deadLetterSinkSchema()), log: logOption(), metrics: metricsOption() },
    { error: expected('Firehose transform options: { decode, filter, deadLetter, log, metrics }') },
  ),
);

/** Checks `firehoseTransform`'s group and options when it is built; a group with aggregations is refused. */
export function checkFirehoseOptions(group: AnyFeatureGroup, options: unknown): void {
  requireGroup(group, 'Firehose transform');
  checkOptions(firehoseOptions, options, 'Firehose transform options');
  if (Object.keys(group.aggregations).length > 0) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `group "${group.name}" has aggregations, which need per-entity state a Firehose transformation does not have: ` +
        'ingest it with kinesisHandler (its records reach the offline store too), or backfill the offline store',
    );
  }
}

/**
 * What `filter` makes of `raw`: keep it, drop it, or the error that makes it poison (the filter
 * threw). A result that is no boolean is a mistake in the filter, not in the event: it fails the
 * whole buffer, never read as truthy (a Promise would keep every event, `undefined` drop every one).
 */
function filtered(filter: (raw: unknown) => boolean, raw: unknown, group: string, position: SourcePosition): 'keep' | 'drop' | TransformError {
  let kept: unknown;
  try {
    kept = filter(raw);
  } catch (cause) {
    return new TransformError(`group "${group}": filter threw: ${cause instanceof Error ? cause.message : String(cause)}`, { position, cause });
  }
  if (typeof kept === 'boolean') return kept ? 'keep' : 'drop';
  const got =
    kept === undefined
      ? 'undefined: is its return missing?'
      : typeof (kept as { then?: unknown } | null)?.then === 'function'
        ? 'a Promise: a filter is synchronous'
        : `${describeValue(kept)}: return a boolean (Boolean(value) for a truthy one)`;
  throw new ConfigurationError('INVALID_CONFIG', `Firehose transform options.filter must return true (keep the event) or false (drop it), got ${got}`);
}

/** JSON with bigints written as numbers, so 64-bit Integral columns stay exact. */
function jsonLine(row: Record<string, unknown>): string {
  return `${JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? `\u0000${v}\u0000` : v)).replace(/"\\u0000(-?\d+)\\u0000"/g, '$1')}\n`;
}

/** A transformed buffer: the response records in input order, the poison among them, and the counts the batch log takes. */
export interface TransformedBuffer {
  readonly records: FirehoseResponseRecord[];
  readonly poison: DeadLetterEntry[];
  readonly report: BatchCounts;
}

/**
 * The transformation of `group`: each record's data decoded and run through the pipeline, the record
 * then returned as its offline row (`write_time` the invocation's start, `api_invocation_time` the
 * record's arrival) with the hour partition of its event time as `partitionKeys`.
 */
export function firehoseRecords(group: AnyFeatureGroup, options: FirehoseTransformOptions): (records: readonly FirehoseRecord[], started: number) => TransformedBuffer {
  const offlineRows = offlineRowCodec(group);
  return (input, started) => {
    const poison: DeadLetterEntry[] = [];
    const failed = (record: FirehoseRecord) => ({ recordId: record.recordId, result: 'ProcessingFailed' as const, data: record.data });
    const records = input.map((record, index): FirehoseResponseRecord => {
      const arrival = typeof record.approximateArrivalTimestamp === 'number' ? record.approximateArrivalTimestamp : started;
      const position: SourcePosition = { source: 'firehose', index, recordId: record.recordId, arrivalTimeMs: arrival };
      const raw = decodeItem(group, { payload: () => decodeBase64(record.data), raw: record.data, rawEncoding: 'base64', position }, options.decode, poison);
      if (raw === UNDECODED) return failed(record);
      const decision = options.filter ? filtered(options.filter, raw, group.name, position) : 'keep';
      if (decision === 'drop') return { recordId: record.recordId, result: 'Dropped', data: record.data };
      const result = decision === 'keep' ? group.process(raw, position) : { ok: false as const, error: decision };
      if (!result.ok) {
        poison.push({ group: group.name, raw: record.data, error: result.error, position, rawEncoding: 'base64' });
        return failed(record);
      }
      const row = {
        ...offlineRows.toRow(result.record),
        write_time: new Date(started).toISOString(),
        api_invocation_time: new Date(arrival).toISOString(),
        is_deleted: false,
      };
      const eventTime = (result.record as Record<string, unknown>)[group.eventTime] as Date;
      const [year, month, day, hour] = partitionOf(eventTime.getTime()).split('/').map((part) => part.split('=')[1] as string);
      return {
        recordId: record.recordId,
        result: 'Ok',
        data: Buffer.from(jsonLine(row)).toString('base64'),
        metadata: { partitionKeys: { year: year as string, month: month as string, day: day as string, hour: hour as string } },
      };
    });
    const count = (result: string) => records.filter((r) => r.result === result).length;
    const report = { records: records.length, written: count('Ok'), poison: count('ProcessingFailed'), dropped: count('Dropped'), reported: 0, retried: 0, late: 0, duplicate: 0, conflicts: 0, reemitted: 0, discarded: 0 };
    return { records, poison, report };
  };
}
