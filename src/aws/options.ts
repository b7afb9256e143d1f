import * as z from 'zod/mini';
import { countSchema, describeValue, expected, functionSchema, objectWith, positiveInteger } from '../util/options.js';

// The pieces every AWS backend's options share, checked when the backend is built (a Lambda's cold
// start), so a wrong name or an unset environment variable fails there and not at the first record.

/** A CloudFormation `${…}` placeholder, which a template's Fn::Sub replaces. */
const PLACEHOLDER = /\$\{[^}]+\}/g;

/** Whether `text` holds a CloudFormation `${…}` placeholder. */
export const hasPlaceholder = (text: string): boolean => text.search(PLACEHOLDER) !== -1;

/**
 * Text matching `pattern`. Given `standIn` (for values that go into a CloudFormation template), a
 * `${…}` placeholder may stand for the whole value or a part of it (`s3://${LakeBucket}/offline`): the
 * text must match with each placeholder read as `standIn`. A name read from the environment is most
 * often the reason a required one is missing: said so.
 */
function named(what: string, pattern: RegExp, rule: string, standIn?: string) {
  const matches = (text: string) => pattern.test(text) || (standIn !== undefined && hasPlaceholder(text) && pattern.test(text.replace(PLACEHOLDER, standIn)));
  return z.string({ error: (issue) => (issue.input === undefined ? `${what} is required (is the environment variable set?)` : `expected ${what}, got ${describeValue(issue.input)}`) }).check(
    z.refine(matches, { error: (issue) => `${describeValue(issue.input)} is not ${what}: ${rule}` }),
  );
}

/** An AWS SDK v3 client of the backend's service. */
export const awsClient = () => objectWith(['send', 'destroy'], 'an AWS SDK v3 client');

/** How a backend retries (see `RetryOptions`). */
export const retryOptions = () =>
  z.strictObject({
  attempts: z.optional(positiveInteger()),
  baseDelayMs: z.optional(countSchema()),
  maxDelayMs: z.optional(countSchema()),
  onRetry: z.optional(functionSchema('a function')),
});

/** An S3 bucket name (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
export const bucketName = () => named('an S3 bucket name', /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, '3 to 63 lowercase letters, digits, dots and hyphens');

/** A DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, `_`, `-`, `.`). */
export const tableName = (placeholders = false) => named('a DynamoDB table name', /^[\w.-]{3,255}$/, '3 to 255 letters, digits, "_", "-" and "."', placeholders ? 'table' : undefined);

/** An `s3://bucket/prefix/` location. */
export const s3Location = (placeholders = false) =>
  named('an S3 location', /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/, 'write it as s3://bucket/prefix/, the bucket 3 to 63 lowercase letters, digits, dots and hyphens', placeholders ? 'bucket' : undefined);

/** How an AWS region is written (`eu-west-1`, `us-gov-west-1`); the CLI checks `--region` with it too. */
export const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d+$/;
/** An AWS account id: 12 digits; the CLI checks `--account-id` with it too. */
export const ACCOUNT_ID = /^\d{12}$/;

/** An AWS region (`eu-west-1`), or a `${…}` placeholder for one. */
export const region = () => named('an AWS region', REGION, 'write it as eu-west-1', 'eu-west-1');

/** A 12-digit AWS account id, or a `${…}` placeholder for one. */
export const accountId = () => named('an AWS account id', ACCOUNT_ID, '12 digits', '123456789012');

/**
 * An S3 object key (`'key'`) or key prefix (`'prefix'`): text within the bucket. An `s3://` location
 * there would name objects starting with "s3:/": refused, saying how to split it.
 */
export function objectKey(option: 'key' | 'prefix') {
  const what = option === 'key' ? 'an object key' : 'a key prefix';
  return z.string({ error: expected(what) }).check(
    z.refine((key) => !key.startsWith('s3://'), {
      error: (issue) => {
        const [, bucket = '', rest = ''] = /^s3:\/\/([^/]*)\/?(.*)$/s.exec(String(issue.input)) ?? [];
        return `expected ${what} within the bucket, got the location ${describeValue(issue.input)}: pass bucket: '${bucket}', ${option}: '${rest}'`;
      },
    }),
  );
}

/** A whole number of parallel calls. */
export const concurrency = () => z.optional(positiveInteger('a positive whole number of parallel calls'));

/** A string option. */
export function text(what = 'text') {
  return z.string({ error: expected(what) });
}
