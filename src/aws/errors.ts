import { BackendError, type BackendErrorCode } from '../errors.js';
import { isGroupNotFound, isRetryable, isThrottling } from './retry.js';

/**
 * An AWS SDK error's name and message, as every BackendError built from one says them. The SDK's
 * "Region is missing" (no AWS_REGION where the client was made) gets the two ways to give one.
 */
function said(error: unknown): { name: string; message: string } {
  const { name = 'Error', message = String(error) } = (error ?? {}) as { name?: string; message?: string };
  return { name, message: message === 'Region is missing' ? `${message}: set AWS_REGION (Lambda sets it), or pass a client made with a region` : message };
}

/**
 * Turns an AWS SDK error into the BackendError skewless reports: `group "<group>": <action> failed
 * (<where>): <name>: <message>`, where `where` (optional) names what was written or read, e.g. an S3
 * object. A BackendError that names no group (a failed Athena query) is given this one.
 */
export function backendError(error: unknown, group: string, action: 'write' | 'read' | 'offline write', where?: string): BackendError {
  if (error instanceof BackendError) {
    return error.group === undefined ? new BackendError(error.code, `group "${group}": ${error.message}`, { cause: error, retryable: error.retryable, group }) : error;
  }
  const { name, message } = said(error);
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
 * A failed call of no one group's, made while reading (an Athena query's, or the S3 upload and removal
 * of a training set's staged spine), naming the call and what AWS said: a request the service refuses
 * (`InvalidRequestException`: an output bucket that does not exist, SQL it cannot parse) is
 * INVALID_REQUEST, throttling THROTTLED, the rest READ_FAILED, as the read it served failed.
 */
export function callError(error: unknown, call: string): BackendError {
  if (error instanceof BackendError) return error;
  const { name, message } = said(error);
  const code: BackendErrorCode = isThrottling(error) ? 'THROTTLED' : name === 'InvalidRequestException' ? 'INVALID_REQUEST' : 'READ_FAILED';
  return new BackendError(code, `${call} failed: ${name}: ${message}`, { cause: error, retryable: isRetryable(error) });
}

/**
 * An S3 object that could not be read, naming it. A 404 says which is missing where S3 says it
 * (GetObject: NoSuchKey, NoSuchBucket); HeadObject's answer has no body, so it names both.
 */
export function s3ReadError(error: unknown, bucket: string, key: string): BackendError {
  if (error instanceof BackendError) return error;
  const { name, message } = said(error);
  const { $metadata } = (error ?? {}) as { $metadata?: { httpStatusCode?: number } };
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
