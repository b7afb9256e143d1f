import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { deadLetterMessage } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { deadLetterContract } from './contracts/dead-letter.js';
import { cardActivity } from './fixtures/groups.js';

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

describe('deadLetterMessage says how to read raw back', () => {
  const refused = cardActivity.process(null);
  if (refused.ok) throw new Error('null must be refused');
  const message = (raw: unknown, source?: string) => deadLetterMessage({ group: 'card-activity', raw, error: refused.error, position: source ? { source } : undefined }, new Date(0));

  it("marks a Kinesis, Firehose or Kafka payload base64, as it arrived: decoded, it is the record's bytes", () => {
    const data = Buffer.from('{"card_id":').toString('base64');
    for (const source of ['kinesis', 'firehose', 'kafka']) {
      const stored = message(data, source);
      expect(stored, source).toMatchObject({ raw: data, rawEncoding: 'base64' });
      expect(Buffer.from(stored.raw as string, 'base64').toString('utf8')).toBe('{"card_id":');
    }
  });

  it("keeps an SQS body, an event's value and data that is no base64 as the JSON they are", () => {
    expect(message('{"card_id":', 'sqs')).toMatchObject({ raw: '{"card_id":', rawEncoding: 'json' });
    expect(message({ card_id: 7 }, 'backfill')).toMatchObject({ raw: { card_id: 7 }, rawEncoding: 'json' });
    // A producer that did not encode: the text is kept as it is, not claimed to be base64.
    for (const data of ['!!!not base64!!!', 'abc', 'ab=c']) expect(message(data, 'kinesis'), data).toMatchObject({ raw: data, rawEncoding: 'json' });
  });

  it('writes bytes as base64', () => {
    expect(message(new Uint8Array([0, 255, 1]))).toMatchObject({ raw: 'AP8B', rawEncoding: 'base64' });
  });
});
