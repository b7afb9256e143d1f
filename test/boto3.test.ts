import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '../src/local/index.js';

// boto3 as a second client of the local stack: botocore parses every answer from AWS's own service
// models (status, error code from the body or from SQS's x-amzn-query-error header, fields), so an
// answer only our own client would accept fails here. The probes are in fixtures/boto3-probes.py.

interface Refusal {
  readonly ok: false;
  readonly code: string;
  readonly message: string;
  readonly status: number;
  readonly queryError: string | null;
}
type Probe = { readonly ok: true; readonly value: unknown } | Refusal;

let stack: LocalStack;
let results: Record<string, unknown>;
const probe = (name: string) => results[name] as Probe;
const refusal = (name: string) => results[name] as Refusal;

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  // Asynchronously: the stack answers from this process, so a synchronous spawn would starve it.
  const script = fileURLToPath(new URL('./fixtures/boto3-probes.py', import.meta.url));
  const run = await promisify(execFile)('python3', [script, stack.endpoint], { encoding: 'utf8' }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`the boto3 probes failed (python3 with boto3 is required for the tests):\n${error.stderr ?? error.message}`);
  });
  results = JSON.parse(run.stdout);
}, 60_000);
afterAll(() => stack.close());

describe('SageMaker Feature Store through boto3', () => {
  it("answers PutRecord and DeleteRecord on an unknown group with ValidationError \"Resource Not Found\" (as AWS does: sagemaker-python-sdk issue 2606), GetRecord with its modelled ResourceNotFound 404, DescribeFeatureGroup with ResourceNotFound 400", () => {
    const notFound = "Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name [no-such-group].";
    expect(refusal('putRecordUnknownGroup')).toMatchObject({ code: 'ValidationError', status: 400, message: notFound });
    expect(refusal('deleteRecordUnknownGroup')).toMatchObject({ code: 'ValidationError', status: 400, message: notFound });
    expect(refusal('getRecordUnknownGroup')).toMatchObject({ code: 'ResourceNotFound', status: 404 });
    expect(refusal('describeUnknownGroup')).toMatchObject({ code: 'ResourceNotFound', status: 400 });
  });

  it('reports the resolved offline folder, <S3Uri>/<account>/sagemaker/<region>/offline-store/<group>-<creation epoch>/data (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-offline.html)', () => {
    const described = results['describe'] as { status: string; resolvedOutputS3Uri: string; creationEpoch: number; catalog: { Database: string; TableName: string } };
    expect(described.status).toBe('Created');
    expect(described.resolvedOutputS3Uri).toBe(`s3://boto-lake/offline/000000000000/sagemaker/us-east-1/offline-store/boto-group-${described.creationEpoch}/data`);
    expect(described.catalog).toMatchObject({ Database: 'sagemaker_featurestore', TableName: `boto_group_${described.creationEpoch}` });
  });

  it("refuses event times outside the two documented String forms, yyyy-MM-dd'T'HH:mm:ssZ and yyyy-MM-dd'T'HH:mm:ss.SSSZ (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html), unknown TTL units and identifiers over 2 KB", () => {
    for (const name of ['putRecordSpaceForT', 'putRecordNoSeconds', 'putRecordUnknownTtlUnit', 'putRecordLongIdentifier']) {
      expect(refusal(name), name).toMatchObject({ ok: false, code: 'ValidationError', status: 400 });
    }
    expect(probe('putRecord')).toEqual({ ok: true, value: 200 });
    expect(probe('getRecord')).toEqual({
      ok: true,
      value: [
        { FeatureName: 'id', ValueAsString: 'a' },
        { FeatureName: 't', ValueAsString: '2024-05-01T12:00:00.250Z' },
        { FeatureName: 'amount', ValueAsString: '12.5' },
      ],
    });
  });

  it('takes at most 100 record identifiers per BatchGetRecord identifier (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_BatchGetRecordIdentifier.html)', () => {
    expect(refusal('batchGet101Records')).toMatchObject({ code: 'ValidationError', status: 400 });
    expect(probe('batchGet100Records')).toEqual({ ok: true, value: 1 });
  });
});

describe('SQS through boto3', () => {
  it('returns MD5OfMessageAttributes on send and receive, and only the attributes a receive asks for', () => {
    const send = results['send'] as { md5OfBody: string; md5OfAttributes: string; md5OfHello: string };
    expect(send.md5OfBody).toBe(send.md5OfHello);
    expect(send.md5OfAttributes).toMatch(/^[0-9a-f]{32}$/);
    expect(results['receivePlain']).toEqual(['Body', 'MD5OfBody', 'MessageId', 'ReceiptHandle']);
    expect(results['receiveFull']).toEqual({
      keys: ['Attributes', 'Body', 'MD5OfBody', 'MD5OfMessageAttributes', 'MessageAttributes', 'MessageId', 'ReceiptHandle'],
      attributes: { ApproximateReceiveCount: '2' },
      kinds: { kind: 'String', count: 'Number', blob: 'Binary' },
      md5OfAttributes: send.md5OfAttributes,
    });
  });

  it('answers a missing queue with the query-compatible code botocore reads from x-amzn-query-error, and MaxNumberOfMessages 11 with InvalidParameterValue (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html)', () => {
    for (const name of ['getQueueUrlMissing', 'sendMissingQueue']) {
      expect(refusal(name), name).toMatchObject({ code: 'AWS.SimpleQueueService.NonExistentQueue', status: 400, queryError: 'AWS.SimpleQueueService.NonExistentQueue;Sender', message: 'The specified queue does not exist.' });
    }
    expect(refusal('receiveEleven')).toMatchObject({ code: 'InvalidParameterValue', status: 400 });
  });
});

describe('S3 and Athena through boto3', () => {
  it("gives a multipart object the ETag of the MD5 of its parts' MD5s and -<parts>, computed apart in Python", () => {
    const multipart = results['multipart'] as { etag: string; expected: string; headEtag: string };
    expect(multipart.etag).toBe(multipart.expected);
    expect(multipart.headEtag).toBe(multipart.expected);
  });

  it('names executions by UUID and refuses MaxResults over 1,000 (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html)', () => {
    expect(results['athena']).toMatchObject({ uuidVersion: 4, state: 'SUCCEEDED' });
    expect(refusal('athenaMaxResults1001')).toMatchObject({ code: 'InvalidRequestException', status: 400 });
    expect(probe('athenaMaxResults1000')).toEqual({ ok: true, value: [['one'], ['1']] });
  });
});
