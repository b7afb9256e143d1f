/**
 * Every failure skewless reports is a {@link SkewlessError}: a `code` to branch on, the source
 * position of the record that failed (when there is one) and, for schema failures, the zod issues.
 * Rendering is separate ({@link formatError}) so logs and CLIs choose their own layout.
 */

/** Where a record came from, as precisely as its source can say. */
export interface SourcePosition {
  /** The kind of source: `kinesis`, `kafka`, `sqs`, `dynamodb-stream`, `firehose`, `backfill`, `ingest`, ... */
  readonly source?: string;
  /**
   * Index of the record in the batch or array it arrived in; in a backfill, among the rows of the
   * range it read (a shard of a split file counts from 0 at its start; `byteOffset` is the file's).
   */
  readonly index?: number;
  readonly shardId?: string;
  readonly sequenceNumber?: string;
  /**
   * What Lambda keeps in order within a shard when it reads the shard in several batches at once
   * (ParallelizationFactor): a Kinesis record's partition key; a DynamoDB stream record's item key
   * (its `Keys`, as JSON with the attribute names sorted).
   */
  readonly partitionKey?: string;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  /** A Kafka record's key, base64 as it arrived: what names a tombstone (a record without a value). */
  readonly key?: string;
  readonly messageId?: string;
  /** The SQS FIFO message group the record belongs to. */
  readonly messageGroupId?: string;
  readonly recordId?: string;
  readonly file?: string;
  readonly line?: number;
  /** Byte offset of the record's line in `file` (NDJSON backfills). */
  readonly byteOffset?: number;
  /** When the source received the record (Kinesis, Kafka, SQS, DynamoDB Streams, Firehose), epoch ms. */
  readonly arrivalTimeMs?: number;
}

/** One structured problem with a value; zod's issues have this shape, so they pass through unchanged. */
export interface SkewlessIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

export type DefinitionErrorCode =
  | 'INVALID_NAME'
  | 'RESERVED_NAME'
  | 'MISSING_FEATURE'
  | 'INVALID_EVENT_TIME'
  | 'INVALID_RECORD_IDENTIFIER'
  | 'UNSUPPORTED_TYPE'
  | 'COLLECTION_NOT_SUPPORTED'
  | 'INVALID_OPTION'
  | 'UNKNOWN_FEATURE';

export type RecordErrorCode =
  | 'SOURCE_VALIDATION'
  | 'TRANSFORM_FAILED'
  | 'FEATURE_VALIDATION'
  | 'DECODE_FAILED';

export type ConfigurationErrorCode = 'MISSING_DEPENDENCY' | 'INVALID_CONFIG';

/** Data handed to an engine that it cannot use: a spine (training set) or a source file (backfill). */
export type DataErrorCode = 'INVALID_SPINE' | 'INVALID_SOURCE' | 'INVALID_ENTITIES';

export type BackendErrorCode =
  | 'GROUP_NOT_FOUND'
  | 'WRITE_FAILED'
  | 'READ_FAILED'
  | 'THROTTLED'
  | 'INVALID_REQUEST'
  | 'DEADLINE_EXCEEDED'
  /**
   * The backend cannot store a value of this record (a number outside DynamoDB's range, say): the
   * record is refused before it is sent, never retried, and the feature store treats it as poison.
   */
  | 'INVALID_VALUE'
  /** Another writer changed an entity's aggregation state between this batch's read and its write. */
  | 'STATE_CONFLICT';

export type SkewlessErrorCode = DefinitionErrorCode | RecordErrorCode | ConfigurationErrorCode | DataErrorCode | BackendErrorCode;

export interface SkewlessErrorOptions {
  readonly position?: SourcePosition | undefined;
  readonly issues?: readonly SkewlessIssue[] | undefined;
  readonly cause?: unknown;
}

/** Marks an error of any copy of skewless: an app that loads both the ESM and the CommonJS build has two `SkewlessError` classes. */
const SKEWLESS_ERROR = Symbol.for('skewless.error');

/**
 * Base class of every error skewless raises or returns. Test for it with `isSkewlessError`, which
 * also knows the errors of a second copy of the package (its ESM and CommonJS builds both loaded);
 * `instanceof` knows only its own copy's.
 *
 * ### Example
 * ```ts
 * if (isSkewlessError(error)) console.error(error.name, error.code, error.position);
 * ```
 */
export class SkewlessError extends Error {
  // Literal names, one per class: minifiers rename classes, and a dead letter's `"name":"cn"` says nothing.
  override name = 'SkewlessError';
  readonly code: SkewlessErrorCode;
  readonly position: SourcePosition | undefined;
  readonly issues: readonly SkewlessIssue[];

  constructor(code: SkewlessErrorCode, message: string, options: SkewlessErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.position = options.position;
    this.issues = options.issues ?? [];
  }

  /** On the prototype, not the instance: logged errors do not show it. */
  get [SKEWLESS_ERROR](): true {
    return true;
  }
}

/**
 * A feature group definition that cannot work; raised by `defineFeatureGroup`, never at the first write.
 *
 * ### Example
 * ```ts
 * try { defineFeatureGroup(config); } catch (error) { if (error instanceof DefinitionError) console.error(error.code, error.feature); }
 * ```
 */
export class DefinitionError extends SkewlessError {
  override name = 'DefinitionError';
  declare readonly code: DefinitionErrorCode;
  /** The feature group the definition names, when it got that far. */
  readonly group: string | undefined;
  /** The feature (or field) at fault, when there is one. */
  readonly feature: string | undefined;

  constructor(
    code: DefinitionErrorCode,
    message: string,
    details: { group?: string | undefined; feature?: string | undefined } = {},
  ) {
    super(code, message);
    this.group = details.group;
    this.feature = details.feature;
  }
}

/**
 * The raw event does not match the group's `source` schema.
 *
 * ### Example
 * ```ts
 * const result = cardActivity.process(raw);
 * if (!result.ok && result.error instanceof SourceValidationError) console.error(result.error.issues);
 * ```
 */
export class SourceValidationError extends SkewlessError {
  override name = 'SourceValidationError';
  declare readonly code: 'SOURCE_VALIDATION';
  constructor(message: string, options: SkewlessErrorOptions = {}) {
    super('SOURCE_VALIDATION', message, options);
  }
}

/**
 * The transform threw, or returned something that is not a plain object.
 *
 * ### Example
 * ```ts
 * if (!result.ok && result.error instanceof TransformError) console.error(result.error.cause);
 * ```
 */
export class TransformError extends SkewlessError {
  override name = 'TransformError';
  declare readonly code: 'TRANSFORM_FAILED';
  constructor(message: string, options: SkewlessErrorOptions = {}) {
    super('TRANSFORM_FAILED', message, options);
  }
}

/**
 * The transform's output does not match the `features` schema, or cannot be stored as SageMaker
 * stores features (a value over 350 KB, an integer outside signed 64-bit, a time outside 0000..9999, ...),
 * or as the online backend stores them (a number outside DynamoDB's range: the backend's `INVALID_VALUE`
 * refusal is the `cause`).
 *
 * ### Example
 * ```ts
 * if (!result.ok && result.error instanceof FeatureValidationError) console.error(formatError(result.error));
 * ```
 */
export class FeatureValidationError extends SkewlessError {
  override name = 'FeatureValidationError';
  declare readonly code: 'FEATURE_VALIDATION';
  constructor(message: string, options: SkewlessErrorOptions = {}) {
    super('FEATURE_VALIDATION', message, options);
  }
}

/**
 * A stored value (SageMaker record, DynamoDB item, offline row) cannot be read back as the group's type.
 *
 * ### Example
 * ```ts
 * if (entry.error instanceof DecodeError) console.error('payload was not JSON', entry.position);
 * ```
 */
export class DecodeError extends SkewlessError {
  override name = 'DecodeError';
  declare readonly code: 'DECODE_FAILED';
  constructor(message: string, options: SkewlessErrorOptions = {}) {
    super('DECODE_FAILED', message, options);
  }
}

/**
 * A store or backend that cannot start: an optional dependency not installed, a bad option.
 *
 * ### Example
 * ```ts
 * try { await store.ingest(group, events); } catch (error) { if (error instanceof ConfigurationError) console.error(error.message); }
 * ```
 */
export class ConfigurationError extends SkewlessError {
  override name = 'ConfigurationError';
  declare readonly code: ConfigurationErrorCode;
  constructor(code: ConfigurationErrorCode, message: string, options: SkewlessErrorOptions = {}) {
    super(code, message, options);
  }
}

/**
 * Data an engine was handed cannot be used as a whole: a spine without the columns the call names,
 * a time that does not read as one, a file that is missing or not the format its name says. Names
 * the row (0-based, in input order) and the column when there is one. (A bad row of a backfill
 * source is not this: it is poison, and goes to the rejects file.)
 *
 * ### Example
 * ```ts
 * try { await trainingSet(store, options); } catch (error) { if (error instanceof DataError) console.error(error.column, error.row); }
 * ```
 */
export class DataError extends SkewlessError {
  override name = 'DataError';
  declare readonly code: DataErrorCode;
  /** The row at fault, 0-based in input order, when it is one row. */
  readonly row: number | undefined;
  /** The column at fault, when it is one column. */
  readonly column: string | undefined;
  /** The line of a CSV file the row at fault starts on (1-based; a quoted field may hold newlines), when it is read from one. */
  readonly line: number | undefined;

  constructor(
    code: DataErrorCode,
    message: string,
    options: SkewlessErrorOptions & { readonly row?: number | undefined; readonly column?: string | undefined; readonly line?: number | undefined } = {},
  ) {
    super(code, message, options);
    this.row = options.row;
    this.column = options.column;
    this.line = options.line;
  }
}

/**
 * A store backend (SageMaker, DynamoDB, S3, Athena) refused or failed a call. `retryable` says
 * whether trying again later can succeed (throttling, 5xx, network), so Lambda handlers know what
 * to report for redelivery.
 *
 * ### Example
 * ```ts
 * for (const o of summary.outcomes) if (o.status === 'failed' && o.error.retryable) retry.push(o.index);
 * ```
 */
export class BackendError extends SkewlessError {
  override name = 'BackendError';
  declare readonly code: BackendErrorCode;
  readonly retryable: boolean;
  /** The feature group the call was about, when there is one. */
  readonly group: string | undefined;

  constructor(
    code: BackendErrorCode,
    message: string,
    options: SkewlessErrorOptions & { readonly retryable?: boolean; readonly group?: string | undefined } = {},
  ) {
    super(code, message, options);
    this.retryable = options.retryable ?? false;
    this.group = options.group;
  }
}

/** Errors the pipeline returns for one record; the record is poison, the batch goes on. */
export type RecordError = SourceValidationError | TransformError | FeatureValidationError;

/**
 * An online store's refusal of a record it cannot hold (`INVALID_VALUE`) as the poison it is, at the
 * record's position: trying again cannot store it.
 */
export function unstorableRecord(refusal: BackendError, position: SourcePosition | undefined): FeatureValidationError {
  return new FeatureValidationError(refusal.message, { position, issues: refusal.issues, cause: refusal });
}

/** The first line of a failure's message (DuckDB's names the error and the file, then quotes the SQL). */
export function firstLine(cause: unknown): string {
  return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0] as string;
}

/** `: path: first message (+N more)`, the tail of a one-line error message; empty for no issues. */
export function summarizeIssues(issues: readonly SkewlessIssue[]): string {
  const first = issues[0];
  if (first === undefined) return '';
  const path = first.path.length ? `${formatPath(first.path)}: ` : '';
  const more = issues.length > 1 ? ` (+${issues.length - 1} more)` : '';
  return `: ${path}${first.message}${more}`;
}

/**
 * True for any error skewless produced, by any copy of the package: an app that imports skewless
 * (ESM) and also requires it (CommonJS, often through a dependency) loads it twice, and `instanceof`
 * sees only its own copy's classes. `error.name` then says which class.
 *
 * ### Example
 * ```ts
 * try { await store.get(cardActivity, id); } catch (error) { if (isSkewlessError(error)) console.error(error.code); }
 * ```
 */
export function isSkewlessError(value: unknown): value is SkewlessError {
  return typeof value === 'object' && value !== null && (value as { [SKEWLESS_ERROR]?: unknown })[SKEWLESS_ERROR] === true;
}

function formatPosition(position: SourcePosition): string {
  return Object.entries(position)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/**
 * Renders an error as readable lines: the message, the code, the source position and one line per issue.
 *
 * ### Example
 * ```ts
 * const result = cardActivity.process(raw);
 * if (!result.ok) console.error(formatError(result.error));
 * // SourceValidationError [SOURCE_VALIDATION] at source=kinesis shardId=shardId-000 sequenceNumber=4954...
 * //   amount_cents: Invalid input: expected number, received string
 * ```
 */
export function formatError(error: unknown): string {
  if (!isSkewlessError(error)) {
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  }
  const where = error.position ? ` at ${formatPosition(error.position)}` : '';
  const lines = [`${error.name} [${error.code}]${where}: ${error.message}`];
  for (const issue of error.issues) lines.push(`  ${formatPath(issue.path)}: ${issue.message}`);
  return lines.join('\n');
}
