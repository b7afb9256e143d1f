// A Lambda runtime's AWS SDK can predate BatchWriteRecord (the README bundles with the SDK external).
// Here the runtime client is a real release from before the API (3.1014.0, installed under another
// name), talking HTTP to the local stack: sageMakerOnline's default falls back to PutRecord, and
// `batchWrite: true` says what is missing instead of failing on an undefined command.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sageMakerOnline } from '../src/aws/index.js';
import { ConfigurationError } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { contractGroup, contractRecord } from './contracts/online-store.js';
import { createGroupOnStack } from './fixtures/stack.js';

vi.mock('@aws-sdk/client-sagemaker-featurestore-runtime', () => import('featurestore-runtime-before-batch-write'));

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  await createGroupOnStack(stack.clientConfig, contractGroup, 's3://old-sdk/offline');
});
afterAll(async () => {
  await stack.close();
});

const calls = (api: string) => stack.faultCounts[api]?.calls ?? 0;

describe('sageMakerOnline with an SDK release that has no BatchWriteRecord', () => {
  it('has no BatchWriteRecordCommand in the module it loads', async () => {
    const runtime = await import('@aws-sdk/client-sagemaker-featurestore-runtime');
    expect('BatchWriteRecordCommand' in runtime).toBe(false);
    expect(typeof runtime.PutRecordCommand).toBe('function');
  });

  it('writes one PutRecord per record by default, uncollapsed, and reads back what it wrote', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, stack.env);
    try {
      const store = sageMakerOnline();
      const before = calls('PutRecord');
      const records = [contractRecord('old', '2024-05-01T00:00:01.000Z', 1), contractRecord('old', '2024-05-01T00:00:02.000Z', 2)];
      expect(await store.put(contractGroup, records)).toEqual(['accepted', 'accepted']);
      expect(calls('PutRecord') - before).toBe(2);
      expect(calls('BatchWriteRecord')).toBe(0);
      expect((await store.get(contractGroup, 'old'))?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString).toBe('2');
    } finally {
      for (const key of Object.keys(stack.env)) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    }
  });

  it('refuses batchWrite: true with a ConfigurationError naming the package', async () => {
    const store = sageMakerOnline({ batchWrite: true });
    const put = store.put(contractGroup, [contractRecord('old-batch', '2024-05-01T00:00:01.000Z', 1)]);
    await expect(put).rejects.toBeInstanceOf(ConfigurationError);
    await expect(put).rejects.toThrow(/client-sagemaker-featurestore-runtime loaded has no BatchWriteRecordCommand/);
  });
});
