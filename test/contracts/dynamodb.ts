import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { dynamoDbOnline } from '../../src/aws/index.js';
import { BackendError, createFeatureStore, type DeadLetterEntry, defineFeatureGroup, type SageMakerRecord } from '../../src/index.js';
import { kinesisHandler } from '../../src/lambda/index.js';
import { kinesisEvent, memoryOffline } from '../../src/testing/index.js';
import { contractGroup, contractRecord } from './online-store.js';
import { createFeatureTable } from '../setup/tables.js';

/** Amounts as a payment service sends them: any double, which DynamoDB's numbers do not all hold. */
export const payments = defineFeatureGroup({
  name: 'payments',
  recordIdentifier: 'payment_id',
  eventTime: 'event_time',
  source: z.object({ payment_id: z.string(), amount: z.number(), ts: z.string() }),
  features: z.object({ payment_id: z.string(), event_time: z.date(), amount: z.number() }),
  transform: (e) => ({ payment_id: e.payment_id, event_time: new Date(e.ts), amount: e.amount }),
});

const payment = (id: string, amount: number, minute = 0) => ({ payment_id: id, amount, ts: new Date(Date.UTC(2024, 4, 1, 12, minute)).toISOString() });

/** What a refusal must say: the feature, and the range DynamoDB documents. */
const NAMES_THE_RANGE = /feature amount: .*38 significant digits.*1e-130 to 9\.9999999999999999999999999999999999999e\+125/;

const withAmount = (id: string, eventTime: string, amount: string): SageMakerRecord =>
  contractRecord(id, eventTime).map((f) => (f.FeatureName === 'amount' ? { ...f, ValueAsString: amount } : f));

const randomName = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

export interface DynamoDbServer {
  readonly client: () => DynamoDBClient;
  /**
   * Whether the server stores numbers as DynamoDB documents it (leading and trailing zeroes trimmed,
   * so -0 comes back as 0); moto keeps the text it was sent.
   */
  readonly normalizesNumbers: boolean;
}

/**
 * What `dynamoDbOnline` owes DynamoDB in particular, run against every DynamoDB implementation we
 * have: numbers DynamoDB cannot store are poison (never sent, never redelivered), a missing table is
 * named as the table.
 */
export function dynamoDbContract(name: string, server: DynamoDbServer): void {
  describe(`DynamoDB's limits: ${name}`, () => {
    let client: DynamoDBClient;
    let tableName: string;

    beforeAll(async () => {
      client = server.client();
      tableName = randomName('limits');
      await createFeatureTable(client, tableName);
    });

    it('refuses a number DynamoDB cannot store without sending or retrying it, and still writes the later records of its identifier', async () => {
      const online = dynamoDbOnline({ client, tableName });
      let retries = 0;
      const outcomes = await online.put(
        contractGroup,
        [
          withAmount('n-1', '2024-05-01T00:00:00Z', '1'),
          withAmount('n-1', '2024-05-01T00:00:01Z', '1e+300'),
          withAmount('n-1', '2024-05-01T00:00:02Z', '3'),
          withAmount('n-2', '2024-05-01T00:00:00Z', '5e-324'),
          withAmount('n-3', '2024-05-01T00:00:00Z', '1e+126'),
          withAmount('n-4', '2024-05-01T00:00:00Z', '123456789012345678901234567890123456789'),
        ],
        { onRetry: () => void retries++ },
      );
      expect(outcomes[0]).toBe('applied');
      expect(outcomes[1]).toBeInstanceOf(BackendError);
      expect(outcomes[1]).toMatchObject({ code: 'INVALID_VALUE', retryable: false, message: expect.stringMatching(NAMES_THE_RANGE) });
      expect((outcomes[1] as BackendError).message).toContain('1e+300 is too large');
      expect(outcomes[2]).toBe('applied');
      expect(outcomes[3]).toMatchObject({ code: 'INVALID_VALUE', message: expect.stringContaining('5e-324 is too small') });
      expect(outcomes[4]).toMatchObject({ code: 'INVALID_VALUE', message: expect.stringContaining('1e+126 is too large') });
      expect(outcomes[5]).toMatchObject({ code: 'INVALID_VALUE', message: expect.stringContaining('has 39 significant digits') });
      expect(retries).toBe(0);
      expect((await online.get(contractGroup, 'n-1'))?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString).toBe('3');
      expect((await online.getMany(contractGroup, ['n-2', 'n-3', 'n-4'])).size).toBe(0);
    });

    it('stores the numbers at the edges of DynamoDB\'s range', async () => {
      const online = dynamoDbOnline({ client, tableName });
      const edges = ['1e-130', '-1e-130', '9.9999999999999999999999999999999999999e+125', '12345678901234567890123456789012345678', '0e+999', '1.5e-7'];
      const ids = edges.map((_, i) => `edge-${i}`);
      expect(await online.put(contractGroup, edges.map((amount, i) => withAmount(ids[i] as string, '2024-05-01T00:00:00Z', amount)))).toEqual(edges.map(() => 'applied'));
      const found = await online.getMany(contractGroup, ids);
      // The text may come back normalized (1e-130 as 0.000...1); the number it spells may not change.
      edges.forEach((amount, i) => {
        const read = found.get(ids[i] as string)?.record.find((f) => f.FeatureName === 'amount')?.ValueAsString;
        expect(Number(read)).toBe(Number(amount));
      });
    });

    it('dead-letters, through the Kinesis handler, a record whose amount DynamoDB cannot store, and reports nothing for redelivery', async () => {
      const dead: DeadLetterEntry[] = [];
      const offline = memoryOffline();
      const store = createFeatureStore({ online: dynamoDbOnline({ client, tableName }), offline, deadLetter: (entries) => void dead.push(...entries) });
      const event = kinesisEvent([payment('k-1', 12.5), payment('k-2', 1e300), payment('k-2', 7, 1), payment('k-3', 4)]);
      const response = await kinesisHandler(payments, { store, log: false })(event);
      expect(response.batchItemFailures).toEqual([]);
      expect(dead).toHaveLength(1);
      expect(dead[0]?.error).toMatchObject({ code: 'FEATURE_VALIDATION', message: expect.stringMatching(NAMES_THE_RANGE) });
      expect(dead[0]?.error.issues[0]?.path).toEqual(['amount']);
      expect(dead[0]?.position?.sequenceNumber).toBe(event.Records[1]?.kinesis.sequenceNumber);
      expect(dead[0]?.raw).toBe(event.Records[1]?.kinesis.data);
      expect((await store.get(payments, 'k-2'))?.amount).toBe(7);
      expect((await offline.scan(payments)).map((r) => r['amount']).sort()).toEqual([12.5, 4, 7]);
      await store.close();
    });

    it('reports such a record of a put as poison, naming the feature and DynamoDB\'s range, and applies the others', async () => {
      const dead: DeadLetterEntry[] = [];
      const store = createFeatureStore({ online: dynamoDbOnline({ client, tableName }), offline: false, deadLetter: (entries) => void dead.push(...entries) });
      const at = new Date('2024-05-01T12:00:00Z');
      const summary = await store.put(payments, [
        { payment_id: 'p-1', event_time: at, amount: 1 },
        { payment_id: 'p-2', event_time: at, amount: 5e-324 },
        { payment_id: 'p-3', event_time: at, amount: 3 },
      ]);
      expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'poison', 'applied']);
      expect(summary).toMatchObject({ applied: 2, poison: 1, failed: 0, retried: 0 });
      expect(summary.outcomes[1]).toMatchObject({ error: { code: 'FEATURE_VALIDATION', position: { source: 'put', index: 1 }, message: expect.stringMatching(NAMES_THE_RANGE) } });
      // A put's poison is reported to its caller, as the pipeline's poison of a put is.
      expect(dead).toEqual([]);
      await store.close();
    });

    it.skipIf(!server.normalizesNumbers)('reads -0 back as 0: DynamoDB keeps numbers without their sign of zero', async () => {
      const store = createFeatureStore({ online: dynamoDbOnline({ client, tableName }), offline: false });
      await store.put(payments, [{ payment_id: 'zero', event_time: new Date('2024-05-01T12:00:00Z'), amount: -0 }]);
      const amount = (await store.get(payments, 'zero'))?.amount;
      expect(Object.is(amount, 0)).toBe(true);
      await store.close();
    });

    it('names a missing table as the table, not as a missing feature group', async () => {
      const missing = randomName('no-such-table');
      const online = dynamoDbOnline({ client, tableName: missing, retry: { attempts: 1 } });
      const says = { retryable: false, message: expect.stringContaining(`DynamoDB table "${missing}" does not exist`) };
      const [outcome] = await online.put(contractGroup, [contractRecord('t-1', '2024-05-01T00:00:00Z')]);
      expect(outcome).toMatchObject({ code: 'WRITE_FAILED', ...says });
      expect((outcome as BackendError).message).not.toMatch(/feature group .* does not exist/);
      await expect(online.get(contractGroup, 't-1')).rejects.toMatchObject({ code: 'READ_FAILED', ...says });
      await expect(online.getMany(contractGroup, ['t-1'])).rejects.toMatchObject({ code: 'READ_FAILED', ...says });
      await expect(online.delete(contractGroup, 't-1', '2024-05-01T00:00:01Z', 'HardDelete')).rejects.toMatchObject({ code: 'WRITE_FAILED', ...says });
    });
  });
}
