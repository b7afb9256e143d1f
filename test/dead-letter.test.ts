import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll } from 'vitest';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { deadLetterContract } from './contracts/dead-letter.js';

let stack: LocalStack | undefined;
afterAll(async () => {
  await stack?.close();
});

deadLetterContract('the local stack', async () => {
  stack = await startLocalStack({ memory: true });
  return {
    sqs: new SQSClient(stack.clientConfig),
    s3: new S3Client({ ...stack.clientConfig, forcePathStyle: true }),
    queueUrlOf: (name) => `${(stack as LocalStack).endpoint}/000000000000/${name}`,
  };
}, { refusesMissingBucket: true });
