import { AthenaClient } from '@aws-sdk/client-athena';
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SageMakerClient } from '@aws-sdk/client-sagemaker';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { athenaOffline, runAthenaQuery, s3Offline, s3OfflineTable } from '../src/aws/index.js';
import { createFeatureStore, defineFeatureGroup, type FeatureStore, type SageMakerRecord, trainingSet } from '../src/index.js';
import { type LocalStack, localOffline, localOnline, startLocalStack } from '../src/local/index.js';
import type { OfflineWrite } from '../src/store/types.js';
import { createGroupOnStack } from './fixtures/stack.js';

// The point-in-time rule of README ("Training sets"): of a key's rows with event time <= t, newer than
// t - maxAge, (written by t with knowledgeTime), keep the single greatest by (event time, API
// invocation time, write time, delete marker, the other feature values). These fixed cases sit on
// the edges of that rule, and every engine must land on the same side of each.

const scores = defineFeatureGroup({
  name: 'pit-edges',
  recordIdentifier: 'id',
  eventTime: 't',
  source: z.object({ id: z.string(), t: z.date(), v: z.number() }),
  features: z.object({ id: z.string(), t: z.date(), v: z.number() }),
  transform: (e) => e,
});

/** One offline row: its key, event time, API invocation time, write time (epoch ms) and value. */
interface Row {
  readonly id: string;
  readonly et: number;
  readonly ai: number;
  readonly wt: number;
  readonly v: number;
}

const T = Date.UTC(2024, 0, 1);
const SECOND = 1000;
const HOUR = 3_600_000;

function write(row: Row): OfflineWrite {
  const record: SageMakerRecord = [
    { FeatureName: 'id', ValueAsString: row.id },
    { FeatureName: 't', ValueAsString: new Date(row.et).toISOString() },
    { FeatureName: 'v', ValueAsString: String(row.v) },
    { FeatureName: 'skewless_fingerprint', ValueAsString: scores.fingerprint },
  ];
  return { record, writeTime: new Date(row.wt), apiInvocationTime: new Date(row.ai), isDeleted: false };
}

interface Ask {
  readonly spine: readonly { card: string; at: Date }[];
  readonly maxAge?: string;
}

/** An engine: the history it reads from, then the chosen `v` per spine row (null: no row qualifies). */
interface Engine {
  readonly name: string;
  run(history: readonly Row[], ask: Ask): Promise<(number | null)[]>;
}

const selection = (ask: Ask) => (ask.maxAge ? scores.select('v').with({ maxAge: ask.maxAge }) : scores.select('v'));

async function values(store: FeatureStore, ask: Ask, options: { engine?: 'reference'; knowledgeTime: boolean }): Promise<(number | null)[]> {
  const { rows, summary } = await trainingSet(store, { spine: ask.spine, entityKey: 'card', timestamp: 'at', features: [selection(ask)], ...options });
  // The engine named ran: DuckDB or Athena, not the reference engine standing in for them.
  expect(summary.engine).toBe(options.engine === 'reference' ? 'reference' : 'backend');
  return rows.map((r) => r['pit-edges__v'] as number | null);
}

/** The embedded store: the reference engine, and DuckDB's two paths. */
function local(name: string, options: { engine?: 'reference'; knowledgeTime: boolean }): Engine {
  return {
    name,
    async run(history, ask) {
      const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
      try {
        const { offline } = await store.backends();
        await offline?.append(scores, history.map(write));
        return await values(store, ask, options);
      } finally {
        await store.close();
      }
    },
  };
}

/** The embedded store from a CSV spine to a Parquet file, wholly in DuckDB (no row becomes a JavaScript object). */
function fileToFile(name: string, options: { knowledgeTime: boolean }): Engine {
  return {
    name,
    async run(history, ask) {
      const dir = mkdtempSync(join(tmpdir(), 'skewless-pit-edges-'));
      const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
      try {
        const { offline } = await store.backends();
        await offline?.append(scores, history.map(write));
        const csv = join(dir, 'spine.csv');
        writeFileSync(csv, `card,at\n${ask.spine.map((r) => `${r.card},${r.at.toISOString()}`).join('\n')}\n`);
        const out = join(dir, 'train.parquet');
        const { summary } = await trainingSet(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [selection(ask)], output: { parquet: out }, ...options });
        expect(summary.engine).toBe('backend');
        const bytes = readFileSync(out);
        const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
        return rows.map((r) => (r['pit-edges__v'] ?? null) as number | null);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let stack: LocalStack | undefined;
let s3: S3Client;
const table = s3OfflineTable(scores, { bucket: 'pit-edges', prefix: 'rows', database: 'edges' });

/** Athena on the local stack (Trino SQL: window functions, as Athena has no ASOF JOIN), over Parquet written by s3Offline. */
function athena(name: string, options: { knowledgeTime: boolean }): Engine {
  return {
    name,
    async run(history, ask) {
      const client = s3;
      const listed = await client.send(new ListObjectsV2Command({ Bucket: 'pit-edges', Prefix: 'rows/' }));
      const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key as string }));
      if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: 'pit-edges', Delete: { Objects: keys } }));
      await s3Offline({ client, bucket: 'pit-edges', prefix: 'rows' }).append(scores, history.map(write));
      const live = stack as LocalStack;
      const store = createFeatureStore({
        online: localOnline({ memory: true }),
        offline: athenaOffline({
          client: new AthenaClient(live.clientConfig),
          s3: client,
          sagemaker: new SageMakerClient(live.clientConfig),
          outputLocation: 's3://pit-edges/results/',
          tables: { [scores.name]: { database: table.database, table: table.table } },
        }),
      });
      try {
        return await values(store, ask, options);
      } finally {
        await store.close();
      }
    },
  };
}

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  s3 = new S3Client(stack.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: 'pit-edges' }));
  await createGroupOnStack(stack.clientConfig, scores, 's3://pit-edges/rows');
  const ddl = await runAthenaQuery({ athena: new AthenaClient(stack.clientConfig), s3, query: table.ddl, outputLocation: 's3://pit-edges/results/' });
  for await (const _ of ddl.rows());
});
afterAll(async () => {
  s3?.destroy();
  await stack?.close();
});

const engines: Engine[] = [
  local('reference engine', { engine: 'reference', knowledgeTime: false }),
  local('reference engine, knowledgeTime', { engine: 'reference', knowledgeTime: true }),
  local('DuckDB (ASOF JOIN)', { knowledgeTime: false }),
  local('DuckDB (window functions: knowledgeTime)', { knowledgeTime: true }),
  fileToFile('DuckDB, CSV spine to Parquet file', { knowledgeTime: false }),
  fileToFile('DuckDB, CSV spine to Parquet file, knowledgeTime', { knowledgeTime: true }),
  athena('Athena (Trino on the local stack)', { knowledgeTime: false }),
  athena('Athena (Trino on the local stack), knowledgeTime', { knowledgeTime: true }),
];

// Rows happen at T, reach the API 5 s later and are written 10 s later; the spine asks a minute on.
const AI = T + 5 * SECOND;
const WT = T + 10 * SECOND;
const AFTER = new Date(T + 60 * SECOND);

describe.each(engines)('point-in-time ties and edges: $name', (engine) => {
  it('takes, of rows equal in event time, the one with the later api_invocation_time, though its value is smaller and it was stored first or last', async () => {
    // The later invocation carries the smaller value, so a tie-break by value alone would pick the other row.
    const history: Row[] = [
      { id: 'ai-stored-first', et: T, ai: AI + 1, wt: WT, v: 1 },
      { id: 'ai-stored-first', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'ai-stored-last', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'ai-stored-last', et: T, ai: AI + 1, wt: WT, v: 1 },
    ];
    const spine = [{ card: 'ai-stored-first', at: AFTER }, { card: 'ai-stored-last', at: AFTER }];
    expect(await engine.run(history, { spine })).toEqual([1, 1]);
  });

  it('takes, of rows equal in event time and api_invocation_time, the one with the later write_time, though its value is smaller and it was stored first or last', async () => {
    const history: Row[] = [
      { id: 'wt-stored-first', et: T, ai: AI, wt: WT + 1, v: 1 },
      { id: 'wt-stored-first', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'wt-stored-last', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'wt-stored-last', et: T, ai: AI, wt: WT + 1, v: 1 },
    ];
    const spine = [{ card: 'wt-stored-first', at: AFTER }, { card: 'wt-stored-last', at: AFTER }];
    expect(await engine.run(history, { spine })).toEqual([1, 1]);
  });

  it('ranks api_invocation_time before write_time: a later invocation wins over a later write', async () => {
    const history: Row[] = [
      { id: 'ai-over-wt', et: T, ai: AI + 1, wt: WT, v: 1 },
      { id: 'ai-over-wt', et: T, ai: AI, wt: WT + 1, v: 2 },
    ];
    expect(await engine.run(history, { spine: [{ card: 'ai-over-wt', at: AFTER }] })).toEqual([1]);
  });

  it('ranks event time before both: a later event wins over a later invocation and a later write', async () => {
    const history: Row[] = [
      { id: 'et-first', et: T + 1, ai: AI, wt: WT, v: 1 },
      { id: 'et-first', et: T, ai: AI + 1, wt: WT + 1, v: 2 },
    ];
    expect(await engine.run(history, { spine: [{ card: 'et-first', at: AFTER }] })).toEqual([1]);
  });

  it('leaves out a row exactly maxAge before t (only rows newer than t - maxAge count), and takes it a millisecond earlier', async () => {
    // The edge on an hour boundary, where the Athena engine also prunes partitions by it.
    const history: Row[] = [
      { id: 'edge', et: T - 30 * 60_000, ai: T - 30 * 60_000 + SECOND, wt: T - 30 * 60_000 + SECOND, v: 0 },
      { id: 'edge', et: T, ai: T + SECOND, wt: T + SECOND, v: 1 },
    ];
    const spine = [
      { card: 'edge', at: new Date(T + HOUR) },
      { card: 'edge', at: new Date(T + HOUR - 1) },
    ];
    expect(await engine.run(history, { spine, maxAge: '1h' })).toEqual([null, 1]);
  });
});
