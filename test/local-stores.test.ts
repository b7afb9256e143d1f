import { mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { localAggregationState, localOffline, localOnline, localStores, partitionOf } from '../src/local/index.js';
import { BackendError, ConfigurationError, createFeatureStore, type SageMakerRecord } from '../src/index.js';
import { cardActivity } from './fixtures/groups.js';
import { memoryAggregationState, memoryOffline, memoryOnline } from '../src/testing/index.js';
import type { GroupSchema } from '../src/schema/sagemaker-record.js';
import { legacyPartialFileName, partialFileName } from '../src/offline/layout.js';
import { parquetDirOffline } from '../src/offline/file-store.js';
import { contractGroup, contractRecord, onlineStoreContract } from './contracts/online-store.js';

const NOON = Date.UTC(2024, 4, 1, 12);
let clockOffset = 0;
onlineStoreContract('local DuckDB (memory)', async () => ({
  store: await localOnline({ memory: true, now: () => Date.now() + clockOffset }),
  advanceClock: (ms) => {
    clockOffset += ms;
  },
}));

describe('local online store on disk', () => {
  it('keeps records across a reopen of the same directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-online-'));
    const first = await localOnline({ dir });
    await first.put(contractGroup, [contractRecord('persisted', '2024-05-01T12:00:00Z', 3)]);
    await first.close();
    const second = await localOnline({ dir });
    expect((await second.get(contractGroup, 'persisted'))?.record).toEqual(contractRecord('persisted', '2024-05-01T12:00:00Z', 3));
    await second.close();
  });

  // The log table orders an identifier's rows by a sequence number that a reopened store continues
  // after the highest one it read, whatever order DuckDB hands the rows back in.
  it('keeps the newest write of every identifier across reopens, each reopen writing over the last', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-online-'));
    const ids = Array.from({ length: 40 }, (_, i) => `id-${i}`);
    const hour = (h: number) => `2024-05-01T${String(h).padStart(2, '0')}:00:00Z`;
    for (let round = 0; round < 3; round++) {
      const store = await localOnline({ dir });
      // The first round writes one identifier only (its row's sequence is 0); later rounds write all.
      await store.put(contractGroup, (round === 0 ? ids.slice(0, 1) : ids).map((id) => contractRecord(id, hour(round), round)));
      await store.close();
    }
    const reopened = await localOnline({ dir });
    for (const id of ids) expect((await reopened.get(contractGroup, id))?.record).toEqual(contractRecord(id, hour(2), 2));
    await reopened.close();
  });

  it('writes after a reopen of a directory holding one record win over it on the next reopen', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-online-'));
    for (let round = 0; round < 4; round++) {
      const store = await localOnline({ dir });
      await store.put(contractGroup, [contractRecord('only', `2024-05-0${round + 1}T00:00:00Z`, round)]);
      await store.close();
    }
    const reopened = await localOnline({ dir });
    expect((await reopened.get(contractGroup, 'only'))?.record).toEqual(contractRecord('only', '2024-05-04T00:00:00Z', 3));
    await reopened.close();
  });

  it('drops a group it has not read since it opened, and forgets its records', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-online-'));
    const first = await localOnline({ dir });
    await first.put(contractGroup, [contractRecord('dropped', '2024-05-01T12:00:00Z', 1)]);
    await first.close();
    const second = await localOnline({ dir });
    await second.drop(contractGroup.name);
    expect(await second.get(contractGroup, 'dropped')).toBeUndefined();
    await second.close();
  });
});

describe('a folder of local stores open once', () => {
  const openAlready = 'is open already in this process (another localStores(), localOnline(), localAggregationState() or local stack on the same folder, not closed)';

  it('refuses a second store on a folder this process has open, under any path to it, until the first is closed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-twice-'));
    const first = createFeatureStore(localStores({ dir }));
    await first.put(cardActivity, [{ card_id: 'c1', event_time: new Date(NOON), amount: 1, is_foreign: false }]);
    // Before, the second store kept its own copy: the first's write was not there, and its own writes were lost on reopen.
    const second = createFeatureStore(localStores({ dir }));
    const refusal = second.get(cardActivity, 'c1');
    await expect(refusal).rejects.toThrow(ConfigurationError);
    await expect(refusal).rejects.toThrow(`${join(dir, 'online.duckdb')} ${openAlready}`);
    // Through a symbolic link to the folder, or a path spelled another way, it is the same file.
    const link = `${dir}-link`;
    symlinkSync(dir, link);
    for (const other of [link, `${dir}/./`]) {
      await expect(localOnline({ dir: other })).rejects.toThrow(openAlready);
      await expect(localAggregationState({ dir: other })).rejects.toThrow(openAlready);
    }
    await second.close();
    await first.close();
    // Closed, the folder opens again, with what was written; closing twice releases nothing a later store holds.
    await first.close().catch(() => undefined);
    const third = createFeatureStore(localStores({ dir: link }));
    expect(await third.get(cardActivity, 'c1')).toMatchObject({ amount: 1 });
    await expect(localOnline({ dir })).rejects.toThrow(openAlready);
    await third.close();
    // Stores in memory share nothing, so any number may be open.
    const memory = [await localOnline({ memory: true }), await localOnline({ memory: true })];
    await Promise.all(memory.map((m) => m.close()));
  });

  it('closes every backend a store was given, used or not, and each one after another fails to close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-unused-'));
    // Never used: localStores opened its files when called, and close releases them all.
    await createFeatureStore(localStores({ dir })).close();
    await (await localOnline({ dir })).close();
    await (await localAggregationState({ dir })).close();
    const closed: string[] = [];
    const failing = new Error('online close failed');
    const online = { ...memoryOnline(), close: async () => Promise.reject(failing) };
    const offline = { ...memoryOffline(), close: async () => void closed.push('offline') };
    const state = { ...memoryAggregationState(), close: async () => void closed.push('state') };
    await expect(createFeatureStore({ online, offline, aggregationState: state }).close()).rejects.toBe(failing);
    expect(closed).toEqual(['state', 'offline']);
  });

  it("refuses a folder another process holds as a ConfigurationError naming it, not DuckDB's bare Error", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-held-'));
    const file = join(dir, 'online.duckdb');
    const holder = spawn(process.execPath, ['--input-type=module', '-e', `const { DuckDBInstance } = await import('@duckdb/node-api'); await DuckDBInstance.create(${JSON.stringify(file)}); console.log('held'); setInterval(() => {}, 1000);`], { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((ready, failed) => {
        holder.stdout.on('data', () => ready());
        holder.on('exit', (code) => failed(new Error(`the holder exited with ${code}`)));
      });
      const refusal = localOnline({ dir });
      await expect(refusal).rejects.toThrow(ConfigurationError);
      // DuckDB names the holder's PID on Linux, where this runs.
      await expect(refusal).rejects.toThrow(`${file} is open in another process (PID ${holder.pid}): DuckDB lets one process at a time write a database file; stop that process`);
      // Refused, the folder is not counted as open here.
      holder.kill();
      await new Promise((exited) => holder.once('exit', exited));
      await (await localOnline({ dir })).close();
    } finally {
      holder.kill();
    }
  });
});

describe('in-process online stores and list features', () => {
  const listGroup: GroupSchema = {
    ...contractGroup,
    name: 'list-group',
    featureDefinitions: [
      ...contractGroup.featureDefinitions.slice(0, 2),
      { FeatureName: 'tags', FeatureType: 'String', CollectionType: 'List' },
      { FeatureName: 'weights', FeatureType: 'Fractional', CollectionType: 'Set' },
    ],
  };
  const listRecord = (): SageMakerRecord => [
    { FeatureName: 'id', ValueAsString: 'a' },
    { FeatureName: 'event_time', ValueAsString: '2024-05-01T12:00:00Z' },
    { FeatureName: 'tags', ValueAsStringList: ['x', ''] },
    { FeatureName: 'weights', ValueAsStringList: [] },
  ];

  it.each([
    ['memoryOnline', async () => (await import('../src/testing/index.js')).memoryOnline()],
    ['localOnline', () => localOnline({ memory: true })],
  ])('%s keeps lists as written, as its own copy, and reads a selection of features', async (_name, open) => {
    const store = await open();
    const record = listRecord();
    await store.put(listGroup, [record]);
    (record[2] as { ValueAsStringList: string[] }).ValueAsStringList.push('late');
    expect((await store.get(listGroup, 'a'))?.record).toEqual(listRecord());
    expect((await store.get(listGroup, 'a', { features: ['tags', 'id'] }))?.record).toEqual([listRecord()[0], listRecord()[2]]);
    await store.close();
  });
});

describe('local offline store', () => {
  const written = new Date('2024-06-01T00:00:00.123Z');

  it('lays rows out as SageMaker\'s Glue-format offline store, partitioned by event time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-offline-'));
    const offline = await localOffline({ dir });
    await offline.append(contractGroup, [
      { record: contractRecord('a', '2024-05-01T12:59:59.999Z'), writeTime: written, apiInvocationTime: written, isDeleted: false },
      { record: contractRecord('b', '2024-05-01T13:00:00Z'), writeTime: written, apiInvocationTime: written, isDeleted: false },
    ]);
    const files = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet'));
    expect(files.map((f) => relative('', f).split('/').slice(0, 6).join('/')).sort()).toEqual([
      'contract-group/data/year=2024/month=05/day=01/hour=12',
      'contract-group/data/year=2024/month=05/day=01/hour=13',
    ]);
    await offline.close();
  });

  it('reads back typed columns with write_time, api_invocation_time and is_deleted', async () => {
    const offline = await localOffline({ memory: true });
    await offline.append(contractGroup, [
      { record: contractRecord('a', '2024-05-01T12:00:00Z', 1.5, '-9223372036854775808'), writeTime: written, apiInvocationTime: written, isDeleted: false },
      {
        record: [
          { FeatureName: 'id', ValueAsString: 'a' },
          { FeatureName: 'event_time', ValueAsString: '2024-05-01T13:00:00Z' },
        ],
        writeTime: written,
        apiInvocationTime: written,
        isDeleted: true,
      },
    ]);
    const rows = (await offline.scan(contractGroup)).sort((x, y) => String(x['event_time']).localeCompare(String(y['event_time'])));
    expect(rows).toEqual([
      { id: 'a', event_time: '2024-05-01T12:00:00Z', amount: 1.5, count: -(2n ** 63n), write_time: written, api_invocation_time: written, is_deleted: false },
      { id: 'a', event_time: '2024-05-01T13:00:00Z', amount: null, count: null, write_time: written, api_invocation_time: written, is_deleted: true },
    ]);
    await offline.close();
  });

  it('never reads what a write left behind when it was killed: the partial file is not a *.parquet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'skewless-offline-'));
    const offline = await localOffline({ dir });
    await offline.append(contractGroup, [{ record: contractRecord('a', '2024-05-01T12:00:00Z'), writeTime: written, apiInvocationTime: written, isDeleted: false }]);
    const partition = join(dir, 'contract-group', 'data', 'year=2024', 'month=05', 'day=01', 'hour=12');
    // What a backfill killed while writing its first chunk leaves: an empty file under the writer's partial name.
    writeFileSync(join(partition, partialFileName('backfill-a584d0618bc30acc-000000.parquet')), '');
    expect((await offline.scan(contractGroup)).map((row) => row['id'])).toEqual(['a']);
    await offline.close();
    expect((await parquetDirOffline({ dir }).scan(contractGroup)).map((row) => row['id'])).toEqual(['a']);
  });

  it("repairs what earlier releases' killed writes left: a rewrite of the file removes it, and so does removing its name", async () => {
    for (const open of [(dir: string) => localOffline({ dir }), async (dir: string) => parquetDirOffline({ dir })]) {
      const dir = mkdtempSync(join(tmpdir(), 'skewless-offline-'));
      const offline = await open(dir);
      const row = { record: contractRecord('a', '2024-05-01T12:00:00Z'), writeTime: written, apiInvocationTime: written, isDeleted: false };
      await offline.append(contractGroup, [row]);
      const partition = join(dir, 'contract-group', 'data', 'year=2024', 'month=05', 'day=01', 'hour=12');
      // Named as releases before this one named a file being written: `*.parquet` read it.
      writeFileSync(join(partition, legacyPartialFileName('backfill-k-000000.parquet')), '');
      writeFileSync(join(partition, partialFileName('backfill-k-000001.parquet')), '');
      await offline.append(contractGroup, [row], { fileName: 'backfill-k-000000' });
      expect(readdirSync(partition).filter((f) => f.startsWith('.')).sort()).toEqual([partialFileName('backfill-k-000001.parquet')]);
      expect(await offline.removeFiles?.(contractGroup, (name) => name.startsWith('backfill-k-'))).toBe(1);
      expect(readdirSync(partition).filter((f) => f.includes('backfill-k-'))).toEqual([]);
      await offline.close();
    }
  });

  it('reads a damaged file as a BackendError READ_FAILED naming the group and the file', async () => {
    const junk = (dir: string) => join(dir, 'contract-group', 'data', 'year=2024', 'month=05', 'day=01', 'hour=12', 'junk.parquet');
    for (const open of [(dir: string) => localOffline({ dir }), async (dir: string) => parquetDirOffline({ dir })]) {
      const dir = mkdtempSync(join(tmpdir(), 'skewless-offline-'));
      const offline = await open(dir);
      await offline.append(contractGroup, [{ record: contractRecord('a', '2024-05-01T12:00:00Z'), writeTime: written, apiInvocationTime: written, isDeleted: false }]);
      writeFileSync(junk(dir), 'not a Parquet file');
      const error = await offline.scan(contractGroup).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect(error).toMatchObject({ code: 'READ_FAILED', group: 'contract-group', retryable: false });
      expect((error as Error).message).toMatch(/^offline store: reading (the files of|\S+ of) "contract-group" failed: /);
      expect((error as Error).message).toContain(junk(dir).slice(dir.length));
      expect((error as Error).cause).toBeInstanceOf(Error);
      await offline.close();
    }
  });

  it('reads nothing, without failing, before the first write', async () => {
    const offline = await localOffline({ memory: true });
    expect(await offline.scan(contractGroup)).toEqual([]);
    await offline.close();
  });

  it('partitions by UTC hour of the event time', () => {
    expect(partitionOf(Date.parse('2024-12-31T23:30:00-01:00'))).toBe('year=2025/month=01/day=01/hour=00');
    expect(partitionOf(Date.parse('0001-01-01T00:00:00Z'))).toBe('year=0001/month=01/day=01/hour=00');
  });
});

onlineStoreContract('plain memory (skewless/testing)', async () => {
  let offset = 0;
  const { memoryOnline } = await import('../src/testing/index.js');
  return {
    store: memoryOnline({ now: () => Date.now() + offset }),
    advanceClock: (ms) => {
      offset += ms;
    },
  };
});
