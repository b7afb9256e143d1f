import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { athenaOffline, athenaSpine, runAthenaQuery, s3Offline, s3OfflineTable, s3Spine } from '../src/aws/index.js';
import { z } from 'zod';
import { type AnyFeatureGroup, type AnyFeatureSelection, ConfigurationError, createFeatureStore, DataError, DefinitionError, defineFeatureGroup, type FeatureStore, type SageMakerRecord, trainingSet } from '../src/index.js';
import { buildTrainingPlan, DUCKDB, renderTrainingSql, TRINO } from '../src/sql/index.js';
import { localOffline, localOnline, type LocalStack, localStores, startLocalStack } from '../src/local/index.js';
import { spineFromCsv } from '../src/training/training-set.js';
import { createGroupOnStack } from './fixtures/stack.js';
import type { OfflineStore, OfflineWrite } from '../src/store/types.js';
import { memoryOffline } from '../src/testing/index.js';
import { cardActivity } from './fixtures/groups.js';
import { bundleDefinitions } from './fixtures/definitions.js';
import { ruleRow, type RuleRow } from './fixtures/pit-rule.js';

const scores = defineFeatureGroup({
  name: 'scores',
  recordIdentifier: 'id',
  eventTime: 't',
  source: z.object({ id: z.string(), t: z.date(), v: z.number(), n: z.number().int() }),
  features: z.object({ id: z.string(), t: z.date(), v: z.number(), n: z.number().int() }),
  transform: (e) => e,
});

const BASE = Date.UTC(2024, 0, 1);
const IDS = ['1', '23', '12', '3', 'a b', "o'neil"];

interface HistoryRow extends RuleRow {
  readonly v: number;
  readonly n: number;
}

const historyRow = fc.record({
  id: fc.constantFrom(...IDS),
  et: fc.integer({ min: 0, max: 8 }).map((s) => BASE + s * 1000),
  ai: fc.integer({ min: 0, max: 3 }).map((s) => BASE + s * 1000),
  wt: fc.integer({ min: 0, max: 12 }).map((s) => BASE + s * 1000),
  del: fc.boolean().map((b) => b && Math.random() < 0.3),
  v: fc.integer({ min: -3, max: 3 }).map((x) => x / 2),
  n: fc.integer({ min: 0, max: 2 }),
});

const spineRow = fc.record({
  card: fc.constantFrom(...IDS, 'nobody'),
  // The same second as a row, or a millisecond either side of one.
  at: fc.tuple(fc.integer({ min: 0, max: 10 }), fc.constantFrom(-1, 0, 0, 1)).map(([s, d]) => new Date(BASE + s * 1000 + d)),
  label: fc.boolean(),
});

function record(row: HistoryRow): SageMakerRecord {
  const base = [
    { FeatureName: 'id', ValueAsString: row.id },
    { FeatureName: 't', ValueAsString: new Date(row.et).toISOString() },
  ];
  if (row.del) return base;
  return [...base, { FeatureName: 'v', ValueAsString: String(row.v) }, { FeatureName: 'n', ValueAsString: String(row.n) }, { FeatureName: 'skewless_fingerprint', ValueAsString: scores.fingerprint }];
}

/** The rule written out as plainly as possible (the group has no TTL). */
function bruteForce(history: readonly HistoryRow[], spine: { card: string; at: Date }, options: { inclusive: boolean; maxAgeMs?: number; knowledgeTime: boolean }) {
  const best = ruleRow(history, spine.card, spine.at.getTime(), options, (r) => [r.v, r.n]);
  return best ? { v: best.v, n: best.n } : null;
}

const stores: FeatureStore[] = [];
afterAll(async () => {
  for (const store of stores) await store.close();
});

/** A store whose offline tier (the embedded DuckDB one unless given) holds `history`. */
async function storeWith(history: readonly HistoryRow[], offline: OfflineStore | Promise<OfflineStore> = localOffline({ memory: true })): Promise<FeatureStore> {
  const store = createFeatureStore({ online: localOnline({ memory: true }), offline });
  stores.push(store);
  const writes: OfflineWrite[] = history.map((row) => ({ record: record(row), writeTime: new Date(row.wt), apiInvocationTime: new Date(row.ai), isDeleted: row.del }));
  if (writes.length > 0) await (await offline).append(scores, writes);
  return store;
}

// First in this file: the options' schema is built by the first training set a file runs, so this
// test is the one that sees a change to it.
describe('trainingSet options', () => {
  it('refuses what it cannot use, saying what each option takes, before it needs a store', async () => {
    const store = await storeWith([]);
    const good = { spine: [{ card: '1', at: new Date(BASE) }], entityKey: 'card', timestamp: 'at', features: [scores.select('v')] };
    const cases: [Record<string, unknown>, string][] = [
      [{ spine: 'labels.csv' }, 'trainingSet options.spine: expected rows, { csv: path }, { parquet: path } or a spine loader (s3Spine, athenaSpine), got "labels.csv"'],
      [{ spine: [null] }, 'trainingSet options.spine: expected rows, { csv: path }, { parquet: path } or a spine loader (s3Spine, athenaSpine), got an array'],
      [{ spine: [5] }, 'trainingSet options.spine: expected rows, { csv: path }, { parquet: path } or a spine loader (s3Spine, athenaSpine), got an array'],
      [{ spine: { parquet: 7 } }, 'trainingSet options.spine: expected rows, { csv: path }, { parquet: path } or a spine loader (s3Spine, athenaSpine), got an object'],
      [{ spine: { load: [] } }, 'trainingSet options.spine: expected rows, { csv: path }, { parquet: path } or a spine loader (s3Spine, athenaSpine), got an object'],
      [{ entityKey: 5 }, 'trainingSet options.entityKey: expected the spine column with the record identifier, got 5'],
      [{ timestamp: null }, "trainingSet options.timestamp: expected the spine column with each row's time, got null"],
      [{ inclusive: 'yes' }, 'trainingSet options.inclusive: expected true or false, got "yes"'],
      [{ knowledgeTime: 1 }, 'trainingSet options.knowledgeTime: expected true or false, got 1'],
      [{ engine: 'duckdb' }, `trainingSet options.engine: expected 'auto' or 'reference', got "duckdb"`],
      [{ output: { json: 'x' } }, 'trainingSet options.output: expected { parquet: path } or { csv: path }, got an object'],
      [{ features: 'scores' }, 'trainingSet options.features: expected a list of selections, got "scores"'],
      [{ features: [] }, 'trainingSet options.features: a training set needs at least one feature selection'],
      [{ spine: null }, 'trainingSet options.spine: expected rows, { csv: path }, { parquet: path } or a spine loader (s3Spine, athenaSpine), got null'],
    ];
    for (const [change, message] of cases) {
      const error = await trainingSet(store, { ...good, ...change } as never).catch((e: unknown) => e);
      expect(error, message).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message, message).toContain(message);
    }
    // Rows of objects, a loader, and files all pass the door.
    expect((await trainingSet(store, good)).summary.rows).toBe(1);
    expect((await trainingSet(store, { ...good, spine: { load: async () => good.spine } })).summary.rows).toBe(1);
    const offlineLess = createFeatureStore({ online: localOnline({ memory: true }), offline: false });
    await expect(trainingSet(offlineLess, good)).rejects.toMatchObject({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: 'a training set needs an offline store' });
    const missing = join(tmpdir(), 'skewless-no-such-spine.csv');
    await expect(trainingSet(store, { ...good, spine: { csv: missing } })).rejects.toThrow(
      expect.objectContaining({ code: 'INVALID_SPINE', message: expect.stringMatching(/^cannot read the spine file .*skewless-no-such-spine\.csv: ENOENT/), cause: expect.objectContaining({ code: 'ENOENT' }) }),
    );
  });

  it('names the spine file in what it refuses: bytes that are not text, a broken row, a file that is not Parquet, a missing column', async () => {
    const store = await storeWith([]);
    const dir = mkdtempSync(join(tmpdir(), 'skewless-spine-files-'));
    try {
      const options = { entityKey: 'card', timestamp: 'at', features: [scores.select('v')] };
      const binary = join(dir, 'labels.csv');
      writeFileSync(binary, Buffer.from([0x63, 0x61, 0x72, 0x64, 0x0a, 0xff, 0xfe, 0x00]));
      await expect(trainingSet(store, { ...options, spine: { csv: binary } })).rejects.toMatchObject({ name: 'DataError', code: 'INVALID_SPINE', message: `the spine file ${binary} is not UTF-8 text: is it a CSV file?` });
      const broken = join(dir, 'broken.csv');
      writeFileSync(broken, 'card,at\n"1,2024-01-01T00:00:01Z\n');
      await expect(trainingSet(store, { ...options, spine: { csv: broken } })).rejects.toMatchObject({ code: 'INVALID_SPINE', message: expect.stringContaining(`the spine file ${broken}`) });
      await expect(trainingSet(store, { ...options, spine: { parquet: broken } })).rejects.toMatchObject({
        code: 'INVALID_SPINE',
        message: expect.stringContaining(`cannot read the spine file ${broken} as Parquet: `),
        cause: expect.any(Error),
      });
      const renamed = join(dir, 'renamed.csv');
      writeFileSync(renamed, 'card,when\n1,2024-01-01T00:00:01Z\n');
      await expect(trainingSet(store, { ...options, spine: { csv: renamed } })).rejects.toMatchObject({
        code: 'INVALID_SPINE',
        message: `the spine file ${renamed} has no column "at" (the timestamp option: each row's time); its columns: card, when`,
      });
      // A time that is not one, by its line and its row (0-based after the header), in the engine as on
      // the row path; a quoted field that spans lines puts the row further down the file.
      const badTime = join(dir, 'bad-time.csv');
      writeFileSync(badTime, 'card,at\n1,2024-01-01T00:00:01Z\n2,not-a-time\n');
      const quoted = join(dir, 'bad-time-quoted.csv');
      writeFileSync(quoted, 'card,note,at\r\n1,"two\r\nlines",2024-01-01T00:00:01Z\r\n2,x,not-a-time\r\n');
      for (const [spine, line] of [[badTime, 3], [quoted, 4]] as const) {
        for (const output of [undefined, { parquet: join(dir, 'bad-time.parquet') }]) {
          await expect(trainingSet(store, { ...options, spine: { csv: spine }, ...(output ? { output } : {}) })).rejects.toMatchObject({
            code: 'INVALID_SPINE',
            row: 1,
            line,
            column: 'at',
            message: `the spine file ${spine}, line ${line} (row 1): "at" must be a Date or an ISO-8601 time with a zone, got "not-a-time"`,
          });
        }
      }
      const empty = join(dir, 'empty.csv');
      writeFileSync(empty, '');
      await expect(trainingSet(store, { ...options, spine: { csv: empty } })).rejects.toMatchObject({
        code: 'INVALID_SPINE',
        message: `the spine file ${empty} has no column "at" (the timestamp option: each row's time); its columns: (none)`,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('trainingSet: the point-in-time rule', () => {
  it('gives the same rows from the reference engine and DuckDB, equal to a brute-force reading of the rule', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyRow, { maxLength: 40 }),
        fc.array(spineRow, { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        fc.constantFrom(undefined, '1s', '3s'),
        fc.boolean(),
        async (history, spine, inclusive, maxAge, knowledgeTime) => {
          const store = await storeWith(history);
          const selection = maxAge ? scores.select('v', 'n').with({ maxAge }) : scores.select('v', 'n');
          const options = { spine, entityKey: 'card', timestamp: 'at', features: [selection], inclusive, knowledgeTime } as const;
          const reference = await trainingSet(store, { ...options, engine: 'reference' });
          const duckdb = await trainingSet(store, options);
          expect(duckdb.summary.engine).toBe('backend');
          expect(duckdb.rows).toEqual(reference.rows);
          expect(reference.rows).toHaveLength(spine.length);
          spine.forEach((s, i) => {
            const expected = bruteForce(history, s, { inclusive, knowledgeTime, ...(maxAge ? { maxAgeMs: Number(maxAge[0]) * 1000 } : {}) });
            const row = reference.rows[i] as Record<string, unknown>;
            // Spine columns come through as they were, in spine order.
            expect(row['card']).toBe(s.card);
            expect(row['at']).toBe(s.at);
            expect(row['label']).toBe(s.label);
            expect({ v: row['scores__v'], n: row['scores__n'] }).toEqual(expected ?? { v: null, n: null });
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('never returns a value from after the spine time, and keeps duplicate spine rows', async () => {
    const store = await storeWith([
      { id: '1', et: BASE + 1000, ai: BASE, wt: BASE, del: false, v: 1, n: 1 },
      { id: '1', et: BASE + 2000, ai: BASE, wt: BASE, del: false, v: 2, n: 2 },
    ]);
    const at = new Date(BASE + 1999);
    const { rows, summary } = await trainingSet(store, { spine: [{ card: '1', at }, { card: '1', at }, { card: '1', at: new Date(BASE + 2000) }], entityKey: 'card', timestamp: 'at', features: [scores.select('v')] });
    expect(rows.map((r) => r['scores__v'])).toEqual([1, 1, 2]);
    expect(summary).toMatchObject({ rows: 3, matchRate: { scores: 1 }, nullCounts: { scores__v: 0 } });
    const exclusive = await trainingSet(store, { spine: [{ card: '1', at: new Date(BASE + 2000) }], entityKey: 'card', timestamp: 'at', features: [scores.select('v')], inclusive: false });
    expect(exclusive.rows[0]?.['scores__v']).toBe(1);
  });

  it('joins several groups, with prefixes and differently named keys, typed', async () => {
    const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
    stores.push(store);
    await store.ingest(cardActivity, [
      { card_id: 'c1', amount_cents: 500, country: 'US', ts: '2024-05-01T00:00:00.000Z' },
      { card_id: 'c1', amount_cents: 900, country: 'FR', ts: '2024-05-03T00:00:00.000Z' },
    ]);
    await store.put(scores, [{ id: 'u7', t: new Date('2024-05-01T00:00:00Z'), v: 0.5, n: 3 }]);
    const { rows, summary } = await trainingSet(store, {
      spine: [
        { card: 'c1', user: 'u7', label_time: new Date('2024-05-02T00:00:00Z'), fraud: true },
        { card: 'c2', user: 'u8', label_time: new Date('2024-05-04T00:00:00Z'), fraud: false },
      ],
      entityKey: 'card',
      timestamp: 'label_time',
      features: [cardActivity.select('amount', 'is_foreign'), scores.select('v').with({ key: 'user', prefix: 'user_' })],
    });
    const amount: number | null | undefined = rows[0]?.['card-activity__amount'];
    expect(amount).toBe(5);
    expect(rows[0]).toMatchObject({ fraud: true, 'card-activity__is_foreign': false, user_v: 0.5 });
    expect(rows[1]).toMatchObject({ 'card-activity__amount': null, user_v: null });
    expect(summary.matchRate).toEqual({ 'card-activity': 0.5, scores: 0.5 });
  });
});

const pitTable = s3OfflineTable(scores, { bucket: 'lake', prefix: 'pit', database: 'pit' });
const tables = { scores: { database: pitTable.database, table: pitTable.table } };

describe('trainingSet on Athena (Trino SQL on the local stack)', () => {
  let stack: LocalStack;
  let s3: S3Client;
  beforeAll(async () => {
    stack = await startLocalStack({ memory: true });
    s3 = new S3Client(stack.clientConfig);
    await s3.send(new CreateBucketCommand({ Bucket: 'lake' }));
    await createGroupOnStack(stack.clientConfig, scores, 's3://lake/pit');
    // The history is written with s3Offline (SageMaker's resolved folder is SageMaker's own): its table, with partition projection.
    const query = await runAthenaQuery({ athena: new AthenaClient(stack.clientConfig), s3, query: pitTable.ddl, outputLocation: 's3://lake/results/' });
    for await (const _ of query.rows());
  });
  afterAll(async () => {
    s3.destroy();
    await stack.close();
  });

  async function replaceHistory(history: readonly HistoryRow[]): Promise<void> {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'pit/' }));
    const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: 'lake', Delete: { Objects: keys } }));
    const writes: OfflineWrite[] = history.map((row) => ({ record: record(row), writeTime: new Date(row.wt), apiInvocationTime: new Date(row.ai), isDeleted: row.del }));
    if (writes.length > 0) await s3Offline({ client: s3, bucket: 'lake', prefix: 'pit' }).append(scores, writes);
  }

  it('agrees with the reference engine and the rule, window functions and all', async () => {
    const store = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: athenaOffline({ client: new AthenaClient(stack.clientConfig), s3, sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://lake/results/', tables }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(historyRow, { maxLength: 30 }),
        fc.array(spineRow, { minLength: 1, maxLength: 15 }),
        fc.boolean(),
        fc.constantFrom(undefined, '1s', '3s'),
        fc.boolean(),
        async (history, spine, inclusive, maxAge, knowledgeTime) => {
          await replaceHistory(history);
          const selection = maxAge ? scores.select('v', 'n').with({ maxAge }) : scores.select('v', 'n');
          const options = { spine, entityKey: 'card', timestamp: 'at', features: [selection], inclusive, knowledgeTime } as const;
          const athena = await trainingSet(store, options);
          expect(athena.summary.engine).toBe('backend');
          const reference = await trainingSet(store, { ...options, engine: 'reference' });
          expect(athena.rows).toEqual(reference.rows);
          spine.forEach((s, i) => {
            const expected = bruteForce(history, s, { inclusive, knowledgeTime, ...(maxAge ? { maxAgeMs: Number(maxAge[0]) * 1000 } : {}) });
            expect({ v: athena.rows[i]?.['scores__v'], n: athena.rows[i]?.['scores__n'] }).toEqual(expected ?? { v: null, n: null });
          });
        },
      ),
      { numRuns: 15 },
    );
    await store.close();
  });

  it('reads only the hourly partitions the spine and maxAge can reach, and still finds rows across day and year ends', async () => {
    const at = (iso: string) => Date.parse(iso);
    const history = [
      { id: '1', et: at('2023-12-31T22:30:00.000Z'), ai: BASE, wt: BASE, del: false, v: 1, n: 1 },
      { id: '1', et: at('2024-01-01T01:30:00.000Z'), ai: BASE, wt: BASE, del: false, v: 2, n: 2 },
      { id: '23', et: at('2023-12-31T23:59:59.999Z'), ai: BASE, wt: BASE, del: false, v: 3, n: 3 },
    ];
    await replaceHistory(history);
    const store = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: athenaOffline({ client: new AthenaClient(stack.clientConfig), s3, sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://lake/results/', tables }),
    });
    const spine = [
      { card: '1', at: new Date('2024-01-01T02:00:00.000Z') },
      { card: '1', at: new Date('2024-01-01T01:00:00.000Z') },
      { card: '23', at: new Date('2024-01-01T00:00:00.000Z') },
    ];
    for (const maxAge of ['4h', '1h', '1s']) {
      const options = { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v').with({ maxAge })] } as const;
      const pruned = await trainingSet(store, options);
      expect(pruned.rows).toEqual((await trainingSet(store, { ...options, engine: 'reference' })).rows);
    }
    const wide = await trainingSet(store, { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v').with({ maxAge: '4h' })] });
    expect(wide.rows.map((r) => r['scores__v'])).toEqual([2, 1, 3]);
    const { renderTrainingSql, buildTrainingPlan } = await import('../src/sql/index.js');
    const sql = renderTrainingSql(
      buildTrainingPlan({ timestamp: 'at', entityKey: 'card', features: [scores.select('v').with({ maxAge: '4h' })] }),
      { spine: 's', groups: new Map([['scores', 't']]), partitions: { fromMs: at('2024-01-01T00:00:00.000Z'), toMs: at('2024-01-01T02:00:00.000Z') } },
      (await import('../src/sql/render.js')).TRINO,
    );
    expect(sql).toContain("concat(year, month, day, hour) >= '2023123120' AND concat(year, month, day, hour) <= '2024010102'");
    await store.close();
  });

  it('takes its spine from an S3 object or an Athena query', async () => {
    await replaceHistory([{ id: '1', et: BASE, ai: BASE, wt: BASE, del: false, v: 7, n: 1 }]);
    await s3.send(new PutObjectCommand({ Bucket: 'lake', Key: 'labels/spine.csv', Body: 'card,at,fraud\n1,2024-01-01T00:00:05.000Z,1\nnobody,2024-01-01T00:00:05.000Z,0\n' }));
    const athena = new AthenaClient(stack.clientConfig);
    const store = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: athenaOffline({ client: athena, s3, sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://lake/results/', tables }),
    });
    const fromS3 = await trainingSet(store, { spine: s3Spine({ bucket: 'lake', key: 'labels/spine.csv', client: s3 }), entityKey: 'card', timestamp: 'at', features: [scores.select('v')] });
    expect(fromS3.rows).toEqual([
      { card: '1', at: '2024-01-01T00:00:05.000Z', fraud: '1', scores__v: 7 },
      { card: 'nobody', at: '2024-01-01T00:00:05.000Z', fraud: '0', scores__v: null },
    ]);
    const query = "SELECT * FROM (VALUES ('1', TIMESTAMP '2024-01-01 00:00:05', true)) AS t(card, label_time, fraud)";
    const fromAthena = await trainingSet(store, { spine: athenaSpine({ query, outputLocation: 's3://lake/results/', athena, s3 }), entityKey: 'card', timestamp: 'label_time', features: [scores.select('v')] });
    expect(fromAthena.rows).toEqual([{ card: '1', label_time: new Date('2024-01-01T00:00:05.000Z'), fraud: true, scores__v: 7 }]);
    await store.close();
  });

  it('stages a large spine as a temporary table, and drops and deletes it afterwards, also on failure', async () => {
    const history = Array.from({ length: 40 }, (_, i) => ({ id: IDS[i % IDS.length] as string, et: BASE + (i % 9) * 1000, ai: BASE, wt: BASE, del: i % 11 === 0, v: i, n: i % 3 }));
    await replaceHistory(history);
    const athena = new AthenaClient(stack.clientConfig);
    const store = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: athenaOffline({ client: athena, s3, sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://lake/results/', inlineSpineRows: 10, tables }),
    });
    const spine = Array.from({ length: 500 }, (_, i) => ({ card: IDS[i % IDS.length] as string, at: new Date(BASE + (i % 12) * 1000 - (i % 2)) }));
    const options = { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v', 'n')] } as const;
    const staged = await trainingSet(store, options);
    expect(staged.rows).toEqual((await trainingSet(store, { ...options, engine: 'reference' })).rows);
    const leftovers = async () => (await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'results/skewless-staging/' }))).Contents ?? [];
    expect(await leftovers()).toEqual([]);
    // A query that fails (here: a Glue table that does not exist) still cleans up after itself.
    const failing = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: athenaOffline({ client: athena, s3, sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://lake/results/', inlineSpineRows: 0, tables: { scores: { database: 'sagemaker_featurestore', table: 'no_such_table' } } }),
    });
    await expect(trainingSet(failing, options)).rejects.toThrow(/no_such_table|does not exist|Catalog/i);
    expect(await leftovers()).toEqual([]);
    await store.close();
    await failing.close();
  });

  describe('a staged spine that cannot be removed (DeleteObject fails)', () => {
    const spine = Array.from({ length: 20 }, (_, i) => ({ card: i % 2 === 0 ? '1' : 'nobody', at: new Date(BASE + 1000) }));
    const options = { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v')] } as const;
    const expected = spine.map((row) => ({ ...row, scores__v: row.card === '1' ? 7 : null }));
    /** Only the object is named: the DROP TABLE succeeded, so no table is left. */
    const leftObject = /^the staged spine was left behind; remove the object (s3:\/\/lake\/results\/skewless-staging\/[0-9a-f]{32}\/spine\.parquet) by hand \(S3 DeleteObject failed: /;
    const staged = async () => (await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'results/skewless-staging/' }))).Contents ?? [];

    /** The rows of a staged training set on `athenaOffline` with `onCleanupFailure` (if given), while every DeleteObject fails. */
    async function withDeleteFailing(onCleanupFailure?: (error: unknown) => void): Promise<readonly Record<string, unknown>[]> {
      await replaceHistory([{ id: '1', et: BASE, ai: BASE, wt: BASE, del: false, v: 7, n: 1 }]);
      const offline = athenaOffline({ client: new AthenaClient(stack.clientConfig), s3, outputLocation: 's3://lake/results/', inlineSpineRows: 10, tables, ...(onCleanupFailure ? { onCleanupFailure } : {}) });
      const store = createFeatureStore({ online: localOnline({ memory: true }), offline });
      stack.setFaults({ DeleteObject: { errorRate: 1 } });
      try {
        return (await trainingSet(store, options)).rows;
      } finally {
        stack.setFaults({});
        await store.close();
      }
    }
    afterEach(async () => {
      const objects = (await staged()).map((o) => ({ Key: o.Key as string }));
      if (objects.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: 'lake', Delete: { Objects: objects } }));
    });

    it('returns the training set, and reports to onCleanupFailure the object left behind', async () => {
      const left: unknown[] = [];
      expect(await withDeleteFailing((error) => left.push(error))).toEqual(expected);
      expect(left).toEqual([expect.objectContaining({ name: 'BackendError', message: expect.stringMatching(leftObject) })]);
      // What the report names is what is there.
      expect((await staged()).map((o) => `s3://lake/${o.Key}`)).toEqual([leftObject.exec((left[0] as Error).message)?.[1]]);
    });

    it('warns on the console by default, and when onCleanupFailure throws', async () => {
      const warned = vi.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        expect(await withDeleteFailing()).toEqual(expected);
        expect(
          await withDeleteFailing(() => {
            throw new Error('a broken logger');
          }),
        ).toEqual(expected);
        const warning = new RegExp(`^skewless: ${leftObject.source.slice(1)}`);
        expect(warned.mock.calls).toEqual([[expect.stringMatching(warning)], [expect.stringMatching(warning)]]);
      } finally {
        warned.mockRestore();
      }
    });
  });

  it('keeps hostile keys, column names and prefixes out of the SQL, on DuckDB and on Athena', async () => {
    const hostile = ["'; DROP TABLE spine; --", '" OR 1=1 --', "\\'", 'ü\u0301 🙂', '', "o''neil"];
    const history = hostile.map((id, i) => ({ id: id || 'empty', et: BASE + i * 1000, ai: BASE, wt: BASE, del: false, v: i, n: i }));
    const spine = hostile.map((id) => ({ 'weird" col; --': id || 'empty', at: new Date(BASE + 60_000) }));
    const options = { spine, entityKey: 'weird" col; --', timestamp: 'at', features: [scores.select('v').with({ prefix: 'p"; DROP TABLE x; --' })] } as const;
    await replaceHistory(history);
    const athenaStore = createFeatureStore({
      online: localOnline({ memory: true }),
      offline: athenaOffline({ client: new AthenaClient(stack.clientConfig), s3, sagemaker: new SageMakerClient(stack.clientConfig), outputLocation: 's3://lake/results/', tables }),
    });
    const local = await storeWith(history);
    for (const store of [athenaStore, local]) {
      const { rows } = await trainingSet(store, options);
      expect(rows.map((r) => r['p"; DROP TABLE x; --v'])).toEqual(hostile.map((_, i) => i));
    }
    await athenaStore.close();
  });
});

describe('skewless training-set', () => {
  it('joins a CSV spine into a Parquet file and prints the summary', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const { buildSync } = await import('esbuild');
    const { runTrainingSetCommand } = await import('../src/cli/training-set.js');
    const dir = mkdtempSync(join(tmpdir(), 'skewless-training-cli-'));
    const definitions = join(fileURLToPath(new URL('.', import.meta.url)), '.tmp', `training-${process.pid}.mjs`);
    buildSync({ entryPoints: [fileURLToPath(new URL('./fixtures/groups.ts', import.meta.url))], outfile: definitions, bundle: true, platform: 'node', format: 'esm', external: ['zod', '@duckdb/node-api', 'hyparquet', 'hyparquet-writer'], logLevel: 'error' });
    try {
      const store = createFeatureStore(localStores({ dir }));
      await store.ingest(cardActivity, [{ card_id: 'c1', amount_cents: 500, country: 'FR', ts: '2024-05-01T00:00:00.000Z' }]);
      await store.close();
      writeFileSync(join(dir, 'labels.csv'), 'card_id,label_time,fraud\nc1,2024-05-02T00:00:00Z,1\nc2,2024-05-02T00:00:00Z,0\nc1,2024-04-30T00:00:00Z,0\n');
      const out: string[] = [];
      const code = await runTrainingSetCommand(
        { definitions, spine: join(dir, 'labels.csv'), features: ['card-activity:amount,is_foreign'], entityKey: 'card_id', timestamp: 'label_time', out: join(dir, 'train.parquet'), maxAge: '30d', exclusive: false, knowledgeTime: false, dir, json: false },
        (line) => out.push(line),
        () => {},
      );
      expect(code).toBe(0);
      expect(out.join('\n')).toMatch(/3 rows -> .*train\.parquet/);
      expect(out.join('\n')).toMatch(/card-activity\s+33\.3%/);
      const { parquetReadObjects } = await import('hyparquet');
      const { readFileSync } = await import('node:fs');
      const bytes = readFileSync(join(dir, 'train.parquet'));
      const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
      expect(rows.map((r) => [r['card_id'], r['fraud'], r['card-activity__amount'], r['card-activity__is_foreign']])).toEqual([
        ['c1', '1', 5, true],
        ['c2', '0', null, null],
        ['c1', '0', null, null],
      ]);
      // A spine of no rows has no match rate: the table says so, --json writes null.
      writeFileSync(join(dir, 'none.csv'), 'card_id,label_time,fraud\n');
      for (const json of [false, true]) {
        out.length = 0;
        const empty = { definitions, spine: join(dir, 'none.csv'), features: ['card-activity:amount'], entityKey: 'card_id', timestamp: 'label_time', out: join(dir, 'none.parquet'), maxAge: undefined, exclusive: false, knowledgeTime: false, dir, json };
        expect(await runTrainingSetCommand(empty, (line) => out.push(line), () => {})).toBe(0);
        if (json) expect(JSON.parse(out.join('\n'))).toMatchObject({ rows: 0, matchRate: { 'card-activity': null } });
        else expect(out.join('\n')).toMatch(/card-activity\s+no spine rows\n/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(definitions, { force: true });
    }
  });
});

describe('skewless training-set with several groups', () => {
  it('joins each group on the spine column named as its own record identifier, unless --entity-key names one for all', async () => {
    const { runTrainingSetCommand } = await import('../src/cli/training-set.js');
    const dir = mkdtempSync(join(tmpdir(), 'skewless-training-keys-'));
    const group = (name: string, id: string, value: string) =>
      `export const ${name.replace('-', '_')} = defineFeatureGroup({ name: '${name}', recordIdentifier: '${id}', eventTime: 't', ` +
      `source: z.object({ ${id}: z.string(), t: isoTimestamp(), ${value}: z.number() }), features: z.object({ ${id}: z.string(), t: z.date(), ${value}: z.number() }), transform: (e) => e });`;
    const definitions = bundleDefinitions('training-keys', `import { z } from 'zod';\nimport { defineFeatureGroup, isoTimestamp } from './index.ts';\n${group('cards', 'card_id', 'amount')}\n${group('merchant-risk', 'merchant_id', 'score')}\n`);
    try {
      const groups = (await import(definitions)) as Record<string, AnyFeatureGroup>;
      const store = createFeatureStore(localStores({ dir }));
      const t = '2024-05-01T00:00:00.000Z';
      await store.ingest(groups['cards'] as AnyFeatureGroup, [{ card_id: 'c1', t, amount: 5 }]);
      // A merchant whose identifier is the card's: joined on card_id, its score would be read.
      await store.ingest(groups['merchant_risk'] as AnyFeatureGroup, [{ merchant_id: 'm1', t, score: 0.9 }, { merchant_id: 'c1', t, score: 0.1 }]);
      await store.close();
      writeFileSync(join(dir, 'labels.csv'), 'card_id,merchant_id,label_time\nc1,m1,2024-05-02T00:00:00Z\n');
      const run = async (features: string[], entityKey: string | undefined) => {
        const out = join(dir, 'train.csv');
        const command = { definitions, spine: join(dir, 'labels.csv'), features, entityKey, timestamp: 'label_time', out, maxAge: undefined, exclusive: false, knowledgeTime: false, dir, json: true };
        expect(await runTrainingSetCommand(command, () => {}, () => {})).toBe(0);
        return readFileSync(out, 'utf8').trim().split('\n');
      };
      const header = 'card_id,merchant_id,label_time,cards__amount,merchant-risk__score';
      expect(await run(['cards:amount', 'merchant-risk:score'], undefined)).toEqual([header, 'c1,m1,2024-05-02T00:00:00Z,5,0.9']);
      expect(await run(['merchant-risk:score', 'cards:amount'], undefined)).toEqual(['card_id,merchant_id,label_time,merchant-risk__score,cards__amount', 'c1,m1,2024-05-02T00:00:00Z,0.9,5']);
      // Named, one column for every group: the user's choice, read as given.
      expect(await run(['cards:amount', 'merchant-risk:score'], 'card_id')).toEqual([header, 'c1,m1,2024-05-02T00:00:00Z,5,0.1']);
      // A spine without a group's identifier column is refused in the command line's terms.
      writeFileSync(join(dir, 'labels.csv'), 'card_id,label_time\nc1,2024-05-02T00:00:00Z\n');
      await expect(run(['cards:amount', 'merchant-risk:score'], undefined)).rejects.toThrow(
        /has no column "merchant_id" \(the record identifier of "merchant-risk": entityKey, or the selection's key\); its columns: card_id, label_time; on the command line, each group joins on the spine column named as its record identifier; --entity-key C joins every group on column C$/,
      );
      // A spine error about no key column (a ragged row) is left as it is.
      writeFileSync(join(dir, 'labels.csv'), 'card_id,merchant_id,label_time\nc1,m1,2024-05-02T00:00:00Z\nc1\n');
      const ragged = await run(['cards:amount', 'merchant-risk:score'], undefined).catch((e: unknown) => e);
      expect(ragged).toMatchObject({ name: 'DataError', code: 'INVALID_SPINE' });
      expect((ragged as Error).message).not.toContain('on the command line');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(definitions, { force: true });
    }
  });
});

describe('a feature value of -0', () => {
  it('keeps its sign in every engine: DuckDB would hand a double it sorts on back as 0', async () => {
    // Through the codec, which writes -0 as "-0".
    const store = await storeWith([]);
    const at = new Date(BASE);
    await store.put(scores, [{ id: '1', t: at, v: -0, n: 1 }, { id: '1', t: at, v: 2, n: 1 }, { id: '2', t: at, v: -0, n: 1 }]);
    // After the write, so the row is known then too (knowledgeTime).
    const spine = [{ card: '2', at: new Date(Date.now() + 60_000) }];
    for (const engine of ['reference', 'auto'] as const) {
      for (const knowledgeTime of [false, true]) {
        const { rows } = await trainingSet(store, { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v')], engine, knowledgeTime });
        expect(Object.is(rows[0]?.['scores__v'], -0), `${engine}, knowledgeTime ${knowledgeTime}`).toBe(true);
      }
    }
  });
});

describe('a feature added to a group after its offline files were written', () => {
  // The group as first deployed, and again with an optional feature added (an UpdateFeatureGroup
  // addition): Athena reads a column added to the Glue table as null in the older files.
  const withAddition = defineFeatureGroup({
    name: 'scores',
    recordIdentifier: 'id',
    eventTime: 't',
    source: z.object({ id: z.string(), t: z.date(), v: z.number(), n: z.number().int(), mcc: z.string().optional() }),
    features: z.object({ id: z.string(), t: z.date(), v: z.number(), n: z.number().int(), mcc: z.string().optional() }),
    transform: (e) => e,
  });

  it('reads as null in the older files on every engine and into a file, whether or not it is selected', async () => {
    const store = await storeWith([]);
    await store.put(scores, [{ id: '1', t: new Date(BASE), v: 2.5, n: 1 }]);
    const spine = [{ card: '1', at: new Date(Date.now() + 60_000) }, { card: '2', at: new Date(Date.now() + 60_000) }];
    const base = { spine, entityKey: 'card', timestamp: 'at' } as const;
    for (const engine of ['reference', 'auto'] as const) {
      const old = await trainingSet(store, { ...base, features: [withAddition.select('v')], engine });
      expect(old.rows, engine).toEqual([{ ...spine[0], scores__v: 2.5 }, { ...spine[1], scores__v: null }]);
      const added = await trainingSet(store, { ...base, features: [withAddition.select('v', 'mcc')], engine });
      expect(added.rows, engine).toEqual([{ ...spine[0], scores__v: 2.5, scores__mcc: null }, { ...spine[1], scores__v: null, scores__mcc: null }]);
    }
    // The spine file into a Parquet file, inside DuckDB.
    const dir = mkdtempSync(join(tmpdir(), 'skewless-added-feature-'));
    try {
      writeFileSync(join(dir, 'spine.csv'), `card,at\n1,${spine[0]?.at.toISOString()}\n`);
      const parquet = join(dir, 'out.parquet');
      const written = await trainingSet(store, { ...base, spine: { csv: join(dir, 'spine.csv') }, features: [withAddition.select('v', 'mcc')], output: { parquet } });
      expect(written.summary).toMatchObject({ rows: 1, engine: 'backend', nullCounts: { scores__v: 0, scores__mcc: 1 } });
      const back = await trainingSet(store, { ...base, spine: { parquet }, features: [withAddition.select('n')] });
      expect(back.rows).toEqual([{ card: '1', at: spine[0]?.at, scores__v: 2.5, scores__mcc: null, scores__n: 1 }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Once a file has the column, its rows carry their values and the older rows still read as null.
    await store.put(withAddition, [{ id: '2', t: new Date(BASE), v: 1, n: 2, mcc: '5411' }]);
    for (const engine of ['reference', 'auto'] as const) {
      const both = await trainingSet(store, { ...base, features: [withAddition.select('mcc')], engine });
      expect(both.rows, engine).toEqual([{ ...spine[0], scores__mcc: null }, { ...spine[1], scores__mcc: '5411' }]);
    }
  });
});

describe('the training plan and its SQL', () => {
  const WEEK_MS = 7 * 24 * 3_600_000;
  const withTtl = (weeks: number) =>
    defineFeatureGroup({
      name: `ttl-${weeks}-weeks`,
      recordIdentifier: 'id',
      eventTime: 't',
      ttl: { Unit: 'Weeks', Value: weeks },
      source: z.object({ id: z.string(), t: z.date() }),
      features: z.object({ id: z.string(), t: z.date() }),
      transform: (e) => e,
    });
  const planOf = (...features: Parameters<typeof buildTrainingPlan>[0]['features']) => buildTrainingPlan({ timestamp: 'at', entityKey: 'card', features });

  it('refuses a plan without selections, and two selections that produce one column', () => {
    expect(() => planOf()).toThrow(DefinitionError);
    expect(() => planOf()).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: 'a training set needs at least one feature selection' }));
    expect(() => planOf(scores.select('v'), scores.select('n', 'v'))).toThrow(expect.objectContaining({ name: 'DefinitionError', code: 'INVALID_OPTION', message: 'two selections produce the column "scores__v": give one a prefix' }));
    expect(planOf(scores.select('v'), scores.select('v').with({ prefix: 'again_' })).joins.map((j) => j.prefix)).toEqual(['scores__', 'again_']);
  });

  it('is a point-in-time join, inclusive of the spine time and without knowledge time unless told', () => {
    expect(planOf(scores.select('v'))).toMatchObject({ kind: 'point-in-time-join', timestamp: 'at', inclusive: true, knowledgeTime: false });
    expect(buildTrainingPlan({ timestamp: 'at', entityKey: 'card', features: [scores.select('v')], inclusive: false, knowledgeTime: true })).toMatchObject({ inclusive: false, knowledgeTime: true });
  });

  it("keeps a group's TTL that SageMaker's range of event times can reach, and drops one longer than the whole range", () => {
    // Event times span 0000-01-01 to 9999-12-31: about 521,800 weeks.
    expect(planOf(withTtl(400_000).select('id')).joins[0]?.ttlMs).toBe(400_000 * WEEK_MS);
    expect(planOf(withTtl(600_000).select('id')).joins[0]?.ttlMs).toBeUndefined();
    expect(planOf(scores.select('v')).joins[0]?.ttlMs).toBeUndefined();
  });

  it('refuses, in every dialect, to render a plan whose group has no table, naming the group', () => {
    const plan = planOf(scores.select('v'));
    for (const dialect of [DUCKDB, TRINO]) {
      const render = () => renderTrainingSql(plan, { spine: 'spine', groups: new Map([['other', 'other_rows']]) }, dialect);
      expect(render).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG' }));
      expect(render).toThrow(/no table for group "scores" \(it has "other"\)/);
      expect(() => renderTrainingSql(plan, { spine: 'spine', groups: new Map([['other', 'o'], ['more', 'm']]) }, dialect)).toThrow(/no table for group "scores" \(it has "other", "more"\)$/);
      expect(() => renderTrainingSql(plan, { spine: 'spine', groups: new Map() }, dialect)).toThrow(/no table for group "scores" \(it has none\)$/);
    }
  });

  it('names the spine row and column of a time it cannot read', async () => {
    const store = await storeWith([]);
    // Epoch seconds as text, and epoch milliseconds as a number: never guessed.
    for (const at of ['1704067200', 1704067200000]) {
      const spine = [{ card: '1', at: new Date(BASE) }, { card: '2', at }];
      for (const engine of ['reference', 'auto'] as const) {
        const error = await trainingSet(store, { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v')], engine }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(DataError);
        expect(error).toMatchObject({ code: 'INVALID_SPINE', row: 1, column: 'at' });
        expect((error as Error).message).toBe(`spine row 1: "at" must be a Date or an ISO-8601 time with a zone, got ${typeof at === 'string' ? `"${at}"` : at}`);
      }
    }
  });

  it('matches no record for a spine row whose key is null, not even one whose identifier reads "null"; an unset key (undefined), NaN or Infinity is refused', async () => {
    const at = BASE + 1000;
    const store = await storeWith([
      { id: 'null', et: BASE, ai: BASE, wt: BASE, del: false, v: 1, n: 1 },
      { id: 'undefined', et: BASE, ai: BASE, wt: BASE, del: false, v: 2, n: 2 },
      { id: 'NaN', et: BASE, ai: BASE, wt: BASE, del: false, v: 4, n: 4 },
      { id: '1', et: BASE, ai: BASE, wt: BASE, del: false, v: 3, n: 3 },
    ]);
    const spine = [{ card: null, at: new Date(at) }, { card: '1', at: new Date(at) }];
    for (const engine of ['reference', 'auto'] as const) {
      const { rows } = await trainingSet(store, { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v')], engine });
      expect(rows.map((r) => r['scores__v']), engine).toEqual([null, 3]);
      // A property never set reads as undefined (a misspelt one, a request without it): a mistake, not a row without a key.
      for (const [card, got] of [[undefined, 'undefined (null for a row without one)'], [Number.NaN, 'NaN'], [Number.POSITIVE_INFINITY, 'Infinity']] as const) {
        await expect(trainingSet(store, { spine: [...spine, { card, at: new Date(at) }], entityKey: 'card', timestamp: 'at', features: [scores.select('v')], engine }), `${engine} ${got}`).rejects.toMatchObject({
          name: 'DataError',
          code: 'INVALID_SPINE',
          row: 2,
          column: 'card',
          message: `spine row 2: "card" must be a record identifier (text or a number), got ${got}`,
        });
      }
    }
  });
});

describe("a training set's spine and summary, case by case", () => {
  const at = new Date(BASE + 1000);
  const one = { id: '1', et: BASE, ai: BASE, wt: BASE, del: false, v: 1, n: 1 };

  it('reads a CSV spine cell for cell, empty fields as nulls; a shorter or longer row is refused with its line', () => {
    expect(spineFromCsv('a,,c\n1,2,3\n4,,\n"x, y",,\n')).toEqual([
      { a: '1', '': '2', c: '3' },
      { a: '4', '': null, c: null },
      { a: 'x, y', '': null, c: null },
    ]);
    // A missing field is not an empty one: the row may have lost a column, and the others moved.
    const shorter = () => spineFromCsv('a,b,c\n1,2,3\n4\n');
    expect(shorter).toThrow(expect.objectContaining({ name: 'DataError', code: 'INVALID_SPINE', row: 1, line: 3, message: 'the CSV spine, line 3: 1 fields, but the header names 3 (a, b, c)' }));
    const longer = () => spineFromCsv('a,b\n1,2\n1,2,3\n');
    expect(longer).toThrow(expect.objectContaining({ name: 'DataError', code: 'INVALID_SPINE', row: 1, line: 3, message: 'the CSV spine, line 3: 3 fields, but the header names 2 (a, b)' }));
    const broken = () => spineFromCsv('a,b\n1,2\n"3,4\n', 'the spine file s.csv');
    expect(broken).toThrow(/^the spine file s\.csv, line 3: /);
    expect(broken).toThrow(expect.objectContaining({ code: 'INVALID_SPINE', row: 1, line: 3 }));
    // A stray quote in a row of the right width: refused for what it is, not read as text.
    expect(() => spineFromCsv('a,b\n1,2\n3,x"y\n')).toThrow(expect.objectContaining({ code: 'INVALID_SPINE', row: 1, line: 3, message: 'the CSV spine, line 3: a quote inside an unquoted field' }));
    // A header naming a column twice: one of the two would be lost from every row.
    expect(() => spineFromCsv('id,label,id\n1,2,3\n')).toThrow(expect.objectContaining({ name: 'DataError', code: 'INVALID_SPINE', column: 'id', message: 'the CSV spine, line 1: the header names "id" in columns 1 and 3' }));
  });

  it('names a missing spine column, the part it plays, and the columns the spine has', async () => {
    const store = await storeWith([one]);
    const cases = [
      [[{}], 'at', 'the spine has no column "at" (the timestamp option: each row\'s time); its columns: (none)'],
      [[{ at }], 'card', 'the spine has no column "card" (the record identifier of "scores": entityKey, or the selection\'s key); its columns: at'],
    ] as const;
    for (const engine of ['reference', 'auto'] as const) {
      for (const [spine, column, message] of cases) {
        const error = await trainingSet(store, { spine, entityKey: 'card', timestamp: 'at', features: [scores.select('v')], engine }).catch((e: unknown) => e);
        expect(error, engine).toBeInstanceOf(DataError);
        expect(error, engine).toMatchObject({ message, code: 'INVALID_SPINE', row: 0, column });
      }
    }
  });

  it('refuses a spine column a feature would replace (a label named as the feature) on every engine, instead of replacing it', async () => {
    const store = await storeWith([one]);
    const cases = [
      [[{ card: '1', at, scores__v: 'label' }], scores.select('v'), 'scores__v'],
      [[{ card: '1', at, v: 0 }], scores.select('v').with({ prefix: '' }), 'v'],
    ] as [Record<string, unknown>[], AnyFeatureSelection, string][];
    for (const engine of ['reference', 'auto'] as const) {
      for (const [spine, selection, column] of cases) {
        const error = await trainingSet(store, { spine, entityKey: 'card', timestamp: 'at', features: [selection], engine }).catch((e: unknown) => e);
        expect(error, engine).toBeInstanceOf(DataError);
        expect(error, engine).toMatchObject({
          code: 'INVALID_SPINE',
          row: 0,
          column,
          message: `the spine has a column "${column}", which the feature "v" of "scores" would replace: give the selection a prefix (select(...).with({ prefix })), or rename the column`,
        });
      }
      // A row after the first is checked as well: rows passed in need not all have the same columns.
      const later = await trainingSet(store, { spine: [{ card: '1', at }, { card: '1', at, scores__v: 'label' }], entityKey: 'card', timestamp: 'at', features: [scores.select('v')], engine }).catch((e: unknown) => e);
      expect(later, engine).toMatchObject({ name: 'DataError', row: 1, column: 'scores__v', message: expect.stringMatching(/^spine row 1 has a column "scores__v", which the feature "v" of "scores" would replace/) });
    }
  });

  it('refuses a spine key no record identifier can be (an object, a boolean) on every engine, naming row and column', async () => {
    const store = await storeWith([one]);
    for (const engine of ['reference', 'auto'] as const) {
      for (const card of [{ id: '1' }, false]) {
        const error = await trainingSet(store, { spine: [{ card: '1', at }, { card, at }], entityKey: 'card', timestamp: 'at', features: [scores.select('v')], engine }).catch((e: unknown) => e);
        expect(error, engine).toBeInstanceOf(DataError);
        expect(error, engine).toMatchObject({ code: 'INVALID_SPINE', row: 1, column: 'card', message: expect.stringMatching(/^spine row 1: "card" must be a record identifier \(text or a number\), got /) });
      }
    }
  });

  it('counts matches per group and nulls per feature column, zero included, on every engine and into a CSV file', async () => {
    const history = [one, { ...one, id: '2', del: true }];
    const local = await storeWith(history);
    // The in-memory offline store has no engine of its own: the reference engine runs.
    const memory = await storeWith(history, memoryOffline());
    const features = [scores.select('v', 'n')];
    for (const [store, engine, expected] of [
      [local, 'auto', 'backend'],
      [local, 'reference', 'reference'],
      [memory, 'reference', 'reference'],
      [memory, 'auto', 'reference'],
    ] as const) {
      const some = await trainingSet(store, { spine: [{ card: '1', at }, { card: '2', at }, { card: '3', at }], entityKey: 'card', timestamp: 'at', features, engine });
      expect(some.summary, engine).toMatchObject({ rows: 3, matchRate: { scores: 1 / 3 }, nullCounts: { scores__v: 2, scores__n: 2 }, engine: expected });
      expect(some.summary).not.toHaveProperty('output');
      const all = await trainingSet(store, { spine: [{ card: '1', at }, { card: '1', at }], entityKey: 'card', timestamp: 'at', features, engine });
      expect(all.summary, engine).toMatchObject({ rows: 2, matchRate: { scores: 1 }, nullCounts: { scores__v: 0, scores__n: 0 } });
      const none = await trainingSet(store, { spine: [], entityKey: 'card', timestamp: 'at', features, engine });
      expect(none, engine).toMatchObject({ rows: [], summary: { rows: 0, nullCounts: {} } });
      // A share of no rows is none: not 0, which would read as "no label found its features".
      expect(Object.entries(none.summary.matchRate), engine).toEqual([['scores', undefined]]);
    }
    const csv = join(mkdtempSync(join(tmpdir(), 'skewless-training-csv-')), 'out.csv');
    const written = await trainingSet(local, { spine: [{ card: '1', at }, { card: '3', at }], entityKey: 'card', timestamp: 'at', features, output: { csv } });
    expect(written).toMatchObject({ rows: [], summary: { rows: 2, output: csv, matchRate: { scores: 0.5 }, nullCounts: { scores__v: 1, scores__n: 1 } } });
    expect(readFileSync(csv, 'utf8')).toBe('card,at,scores__v,scores__n\n1,2024-01-01T00:00:01.000Z,1,1\n3,2024-01-01T00:00:01.000Z,,\n');
  });

  it('refuses a spine file that is not Parquet as a DataError naming the file', async () => {
    const store = await storeWith([one]);
    const folder = mkdtempSync(join(tmpdir(), 'skewless-spine-'));
    const parquet = join(folder, 'labels.parquet');
    writeFileSync(parquet, 'card,at\n1,2024-01-01T00:00:00Z\n');
    for (const output of [undefined, { csv: join(folder, 'out.csv') }]) {
      const error = await trainingSet(store, { spine: { parquet }, entityKey: 'card', timestamp: 'at', features: [scores.select('v')], ...(output ? { output } : {}) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DataError);
      expect(error).toMatchObject({ code: 'INVALID_SPINE', message: expect.stringMatching(/^cannot read the spine file .*labels\.parquet as Parquet: /) });
    }
  });
});

describe('the first written, under a clock held still', () => {
  // localStores({ now }) as tests use it: every write is at one instant by the clock, yet the
  // training set must take the record the online store kept, the first written.
  const AT = BASE + 60_000;
  const record = (v: number) => ({ id: 'a', t: new Date(AT), v, n: 1 });
  const spine = [{ id: 'a', at: new Date(AT) }];

  it('takes the record of the earlier of two writes with one event time, as the online store keeps it', async () => {
    // Both orders: the feature values must not decide.
    for (const [first, second] of [[9, 1], [1, 9]] as const) {
      for (const engine of ['auto', 'reference'] as const) {
        const store = createFeatureStore(localStores({ memory: true, now: () => BASE + 3_600_000 }));
        await store.ingest(scores, [record(first)]);
        expect((await store.put(scores, [record(second)])).stale).toBe(1);
        expect(await store.get(scores, 'a')).toMatchObject({ v: first });
        const { rows } = await trainingSet(store, { spine, entityKey: 'id', timestamp: 'at', features: [scores.select('v')], engine });
        expect(rows.map((r) => r['scores__v']), `${engine}, ${first} first`).toEqual([first]);
        await store.close();
      }
    }
  });

  it('takes a delete marker written before a record of its event time, as the online store keeps the delete', async () => {
    const store = createFeatureStore(localStores({ memory: true, now: () => BASE + 3_600_000 }));
    await store.ingest(scores, [{ ...record(9), t: new Date(AT - 1) }]);
    await store.delete(scores, 'a', new Date(AT), 'SoftDelete');
    await store.put(scores, [record(1)]);
    expect(await store.get(scores, 'a')).toBeUndefined();
    const { rows } = await trainingSet(store, { spine, entityKey: 'id', timestamp: 'at', features: [scores.select('v')] });
    expect(rows.map((r) => r['scores__v'])).toEqual([null]);
    await store.close();
  });
});
