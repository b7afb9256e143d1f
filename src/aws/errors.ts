import { BackendError, type BackendErrorCode } from '../errors.js';
import { isGroupNotFound, isRetryable, isThrottling } from './retry.js';

/**
 * Turns an AWS SDK error into the BackendError skewless reports: `group "<group>": <action> failed
 * (<where>): <name>: <message>`, where `where` (optional) names what was written or read, e.g. an S3 object.
 */
export function backendError(error: unknown, group: string, action: 'write' | 'read' | 'offline write', where?: string): BackendError {
  if (error instanceof BackendError) return error;
  const name = (error as { name?: string } | undefined)?.name ?? 'Error';
  const message = (error as { message?: string } | undefined)?.message ?? String(error);
  let code: BackendErrorCode = action === 'read' ? 'READ_FAILED' : 'WRITE_FAILED';
  if (isGroupNotFound(error)) code = 'GROUP_NOT_FOUND';
  else if (isThrottling(error)) code = 'THROTTLED';
  const text =
    code === 'GROUP_NOT_FOUND'
      ? `feature group "${group}" does not exist in this account and region (${name}: ${message})`
      : `group "${group}": ${action} failed${where === undefined ? '' : ` (${where})`}: ${name}: ${message}`;
  return new BackendError(code, text, { cause: error, retryable: isRetryable(error), group });
}

/**
 * An S3 object that could not be read, naming it. A 404 says which is missing where S3 says it
 * (GetObject: NoSuchKey, NoSuchBucket); HeadObject's answer has no body, so it names both.
 */
export function s3ReadError(error: unknown, bucket: string, key: string): BackendError {
  if (error instanceof BackendError) return error;
  const { name = 'Error', message = String(error), $metadata } = (error ?? {}) as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const missing = $metadata?.httpStatusCode === 404 || name === 'NotFound' || name === 'NoSuchKey' || name === 'NoSuchBucket';
  const why = missing ? (name === 'NoSuchBucket' ? `the bucket "${bucket}" does not exist` : name === 'NoSuchKey' ? 'no such object' : 'no such object, or no such bucket') : `${name}: ${message}`;
  return new BackendError('READ_FAILED', `cannot read s3://${bucket}/${key}: ${why}`, { cause: error, retryable: !missing && isRetryable(error) });
}

/** A record not written because the caller's time ran out before its write could start. */
export function deadlineError(group: string): BackendError {
  return new BackendError('DEADLINE_EXCEEDED', `group "${group}": not written, the invocation ran out of time`, { retryable: true, group });
}

/**
 * What the later records of an identifier get once one of its records failed: not sent, so they
 * cannot overtake it, and retryable, so Lambda redelivers them in order.
 */
export function haltAfterFailure<R>(group: string): (result: R) => R | undefined {
  return (result) =>
    result instanceof BackendError
      ? (new BackendError(result.code === 'DEADLINE_EXCEEDED' ? 'DEADLINE_EXCEEDED' : 'WRITE_FAILED', `group "${group}": not written, an earlier record of the same identifier was not written (${result.code})`, {
          retryable: true,
          group,
          cause: result,
        }) as R)
      : undefined;
}
