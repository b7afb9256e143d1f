import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { s3Offline, s3ParquetFile } from '../../src/aws/index.js';
import { createFeatureStore, defineFeatureGroup, planBackfill } from '../../src/index.js';
import { memoryOnline } from '../../src/testing/index.js';
import type { OfflineStore } from '../../src/store/types.js';
import { BackendError } from '../../src/errors.js';
import { contractGroup, contractRecord } from './online-store.js';

const written = new Date('2024-06-01T00:00:00.123Z');
const row = (id: string, eventTime: string, amount: number, count: bigint, isDeleted = false) => ({
  id,
  event_time: eventTime,
  amount,
  count,
  write_time: written,
  api_invocation_time: written,
  is_deleted: isDeleted,
});
const byIdAndTime = (a: Record<string, unknown>, b: Record<string, unknown>) => `${a['id']}@${a['event_time']}`.localeCompare(`${b['id']}@${b['event_time']}`);

const nowhereGroup = defineFeatureGroup({ name: 'offline-nowhere', recordIdentifier: 'id', eventTime: 't', source: z.object({ id: z.string(), t: z.date() }), features: z.object({ id: z.string(), t: z.date() }), transform: (e) => e });

/** `s3Offline` against an implementation of S3: what it appends, a scan reads back typed. */
export function s3OfflineContract(name: string, open: () => Promise<{ readonly s3: S3Client; readonly bucket: string }>): void {
  describe(`s3Offline: ${name}`, () => {
    let offline: OfflineStore;
    let s3: S3Client;
    let bucket: string;
    const prefix = `features-${Math.random().toString(36).slice(2, 10)}`;

    beforeAll(async () => {
      ({ s3, bucket } = await open());
      offline = s3Offline({ client: s3, bucket, prefix });
    });

    it('writes Parquet in SageMaker\'s layout that reads back typed', async () => {
      await offline.append(contractGroup, [
        { record: contractRecord('a', '2024-05-01T12:00:00Z', 1.5, '9223372036854775807'), writeTime: written, apiInvocationTime: written, isDeleted: false },
        { record: contractRecord('b', '2024-05-02T08:00:00Z', 2.5, '-1'), writeTime: written, apiInvocationTime: written, isDeleted: false },
      ]);
      expect((await offline.scan(contractGroup)).sort(byIdAndTime)).toEqual([row('a', '2024-05-01T12:00:00Z', 1.5, 2n ** 63n - 1n), row('b', '2024-05-02T08:00:00Z', 2.5, -1n)]);
    });

    it('reads back every append and delete marker, across partitions, and only its own group\'s', async () => {
      const other = { ...contractGroup, name: `${contractGroup.name}-other` };
      await offline.append(other, [{ record: contractRecord('x', '2024-05-01T12:00:00Z'), writeTime: written, apiInvocationTime: written, isDeleted: false }]);
      await offline.append(contractGroup, [
        { record: contractRecord('c', '2024-05-03T23:59:59.999Z', -0.25, '0'), writeTime: written, apiInvocationTime: written, isDeleted: false },
        { record: contractRecord('c', '2024-05-04T00:00:00Z', 0.1, '2'), writeTime: written, apiInvocationTime: written, isDeleted: false },
      ]);
      await offline.append(contractGroup, [
        { record: contractRecord('c', '2024-05-05T00:00:00Z').slice(0, 2), writeTime: written, apiInvocationTime: written, isDeleted: true },
      ]);
      const rows = (await offline.scan(contractGroup)).filter((r) => r['id'] === 'c').sort(byIdAndTime);
      expect(rows).toEqual([
        row('c', '2024-05-03T23:59:59.999Z', -0.25, 0n),
        row('c', '2024-05-04T00:00:00Z', 0.1, 2n),
        { id: 'c', event_time: '2024-05-05T00:00:00Z', amount: null, count: null, write_time: written, api_invocation_time: written, is_deleted: true },
      ]);
      expect((await offline.scan(other)).map((r) => r['id'])).toEqual(['x']);
    });

    it('removes the named files a selection picks, in every partition, and no other file or group', async () => {
      await expectRemovesNamedFiles(offline);
    });

    it('reads an object that is not Parquet as a BackendError READ_FAILED naming its key', async () => {
      const key = `${prefix}/${contractGroup.name}/data/year=2024/month=05/day=01/hour=12/junk.parquet`;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'not a Parquet file' }));
      try {
        const error = await offline.scan(contractGroup).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BackendError);
        expect(error).toMatchObject({ code: 'READ_FAILED', group: contractGroup.name, retryable: false });
        expect((error as Error).message).toMatch(new RegExp(`^offline store: reading s3://${bucket}/${key.replace(/[.]/g, '\\.')} of "${contractGroup.name}" failed: `));
      } finally {
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      }
    });

    it('a missing bucket fails the write naming the object, not retryable (S3 answers NoSuchBucket until it is made), and the store says so once', async () => {
      const missing = `no-such-bucket-${Math.random().toString(36).slice(2, 10)}`;
      const nowhere = s3Offline({ client: s3, bucket: missing, prefix });
      const write = { record: contractRecord('a', '2024-05-01T12:00:00Z'), writeTime: written, apiInvocationTime: written, isDeleted: false };
      const error = await nowhere.append(contractGroup, [write]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect(error).toMatchObject({ code: 'WRITE_FAILED', retryable: false });
      expect((error as Error).message).toMatch(new RegExp(`^group "${contractGroup.name}": offline write failed \\(s3://${missing}/${prefix}/${contractGroup.name}/data/year=2024/month=05/day=01/hour=12/[^)]+\\.parquet\\): NoSuchBucket`));
      const store = createFeatureStore({ online: memoryOnline(), offline: nowhere });
      const [outcome] = (await store.put(nowhereGroup, [{ id: 'a', t: new Date('2024-05-01T12:00:00Z') }])).outcomes;
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'WRITE_FAILED', retryable: false } });
      expect((outcome as { error: Error }).error.message).toMatch(/^group "offline-nowhere": offline write failed \(s3:\/\/no-such-bucket-/);
    });

    it('s3ParquetFile names a missing object or bucket as a BackendError READ_FAILED, not retryable', async () => {
      for (const [from, what] of [
        // HeadObject's 404 has no body to say which is missing (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
        [{ bucket, key: `${prefix}/nope.parquet` }, `cannot read s3://${bucket}/${prefix}/nope.parquet: no such object, or no such bucket`],
        [{ bucket: 'no-such-bucket-for-sources', key: 'x.parquet' }, 'cannot read s3://no-such-bucket-for-sources/x.parquet: no such object, or no such bucket'],
      ] as const) {
        const error = await planBackfill(nowhereGroup, { from: s3ParquetFile({ ...from, client: s3 }), shards: 2 }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BackendError);
        expect(error).toMatchObject({ code: 'READ_FAILED', retryable: false });
        expect((error as Error).message).toBe(what);
      }
    });
  });
}

/** `OfflineStore.removeFiles` on a store: named files in two partitions, an unnamed one, another group's of the same name. */
export async function expectRemovesNamedFiles(offline: OfflineStore): Promise<void> {
  const group = { ...contractGroup, name: `${contractGroup.name}-named` };
  const other = { ...contractGroup, name: `${contractGroup.name}-named-other` };
  // Two partitions (two days) under each name.
  const writes = (id: string) => ['2024-05-01T12:00:00Z', '2024-05-02T12:00:00Z'].map((t) => ({ record: contractRecord(id, t), writeTime: written, apiInvocationTime: written, isDeleted: false }));
  await offline.append(group, writes('old'), { fileName: 'backfill-k-000001' });
  await offline.append(group, writes('kept'), { fileName: 'backfill-j-000001' });
  await offline.append(group, writes('unnamed'));
  await offline.append(other, writes('other'), { fileName: 'backfill-k-000001' });
  const picked: string[] = [];
  const removed = await offline.removeFiles?.(group, (name) => {
    picked.push(name);
    return name.startsWith('backfill-k-');
  });
  expect(removed).toBe(2);
  // The selection sees names without `.parquet`.
  expect(picked).toContain('backfill-k-000001');
  expect((await offline.scan(group)).map((r) => r['id']).sort()).toEqual(['kept', 'kept', 'unnamed', 'unnamed']);
  expect((await offline.scan(other)).map((r) => r['id'])).toEqual(['other', 'other']);
}
