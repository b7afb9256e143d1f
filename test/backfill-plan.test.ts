import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type BackfillShard, backfillShard, ConfigurationError, createFeatureStore, csvFile, fromRecords, ndjsonFile, planBackfill } from '../src/index.js';
import { backfillKey } from '../src/backfill/backfill.js';
import { earlierPlanFiles } from '../src/backfill/plan.js';
import { memoryOffline, memoryOnline } from '../src/testing/index.js';
import { cardActivity, cardVelocity } from './fixtures/groups.js';

// planBackfill and backfillShard as fixed cases: how many shards each source gets, which sources
// split, what is refused and in whose words, and where each shard keeps its checkpoint.

const dir = mkdtempSync(join(tmpdir(), 'skewless-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const event = (i: number) => ({ card_id: `c${i % 7}`, amount_cents: i, country: 'US', ts: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString() });
function ndjson(name: string, lines: number): string {
  const path = join(dir, name);
  writeFileSync(path, Array.from({ length: lines }, (_, i) => JSON.stringify(event(i))).join('\n'));
  return path;
}
const a = ndjson('a.ndjson', 200);
const b = ndjson('b.ndjson', 200);
const csv = join(dir, 'c.csv');
writeFileSync(csv, `card_id,amount_cents,country,ts\n${Array.from({ length: 50 }, (_, i) => Object.values(event(i)).join(',')).join('\n')}\n`);

const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e);

describe('planBackfill', () => {
  it('gives each source about shards / sources pieces, splitting only what can be split', async () => {
    // Two NDJSON files, 4 shards: each file in 2 byte ranges that meet and cover it.
    const four = await planBackfill(cardActivity, { from: [ndjsonFile(a), ndjsonFile(b)], shards: 4 });
    const half = (path: string) => Math.ceil(statSync(path).size / 2);
    expect(four.map((s) => [s.index, s.source, s.range])).toEqual([
      [0, { kind: 'ndjson', path: a }, { start: 0, end: half(a) }],
      [1, { kind: 'ndjson', path: a }, { start: half(a), end: statSync(a).size }],
      [2, { kind: 'ndjson', path: b }, { start: 0, end: half(b) }],
      [3, { kind: 'ndjson', path: b }, { start: half(b), end: statSync(b).size }],
    ]);
    expect(four.every((s) => s.group === 'card-activity')).toBe(true);
    // 3 shards over 2 sources round to 2 each (1.5 -> 2).
    expect(await planBackfill(cardActivity, { from: [ndjsonFile(a), ndjsonFile(b)], shards: 3 })).toHaveLength(4);
    // No shards option, or one per source: each source whole, without a range.
    const whole = [
      { group: 'card-activity', index: 0, source: { kind: 'ndjson', path: a } },
      { group: 'card-activity', index: 1, source: { kind: 'ndjson', path: b } },
    ];
    expect(await planBackfill(cardActivity, { from: [ndjsonFile(a), ndjsonFile(b)] })).toStrictEqual(whole);
    expect(await planBackfill(cardActivity, { from: [ndjsonFile(a), ndjsonFile(b)], shards: 2 })).toStrictEqual(whole);
    // Fewer shards than sources: still one per source.
    expect(await planBackfill(cardActivity, { from: [ndjsonFile(a), ndjsonFile(b)], shards: 1 })).toStrictEqual(whole);
    // A CSV file cannot be split (a quoted field may hold a newline): one shard, however many are asked.
    expect(await planBackfill(cardActivity, { from: csvFile(csv), shards: 4 })).toStrictEqual([{ group: 'card-activity', index: 0, source: { kind: 'csv', path: csv } }]);
    // One source on its own, not in a list.
    expect(await planBackfill(cardActivity, { from: ndjsonFile(a), shards: 3 })).toHaveLength(3);
  });

  it('plans a group with aggregations as one shard, and refuses several sources for it', async () => {
    expect(await planBackfill(cardVelocity, { from: ndjsonFile(a), shards: 8 })).toStrictEqual([{ group: 'card-velocity', index: 0, source: { kind: 'ndjson', path: a } }]);
    const error = await refusal(planBackfill(cardVelocity, { from: [ndjsonFile(a), ndjsonFile(b)] }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({
      code: 'INVALID_CONFIG',
      message: `group "card-velocity" has aggregations: each entity's history must be replayed in one piece, so plan one source (one shard) for it`,
    });
  });

  it('refuses what it cannot plan, in its own words', async () => {
    const cases: [unknown, string][] = [
      [[[event(0)]], 'planBackfill: from is a source or a list of sources (ndjsonFile(), parquetFile(), fromRecords(events), ...), got an array'],
      [{ path: a }, 'planBackfill: from is a source or a list of sources (ndjsonFile(), parquetFile(), fromRecords(events), ...), got an object'],
      [a, `planBackfill: from is the string ${JSON.stringify(a)}; for a file use ndjsonFile(path), csvFile(path), parquetFile(path) or fileSource(path)`],
      [null, 'planBackfill: from must be a source (ndjsonFile(), csvFile(), parquetFile(), fileSource(), ...), an array or an (async) iterable of raw events; got null'],
      [fromRecords([event(0)], { id: 'events' }), 'source events lives in memory and cannot be sharded: use a file, S3 or Athena source'],
    ];
    for (const [from, message] of cases) {
      const error = await refusal(planBackfill(cardActivity, { from: from as never }));
      expect(error, message).toBeInstanceOf(ConfigurationError);
      expect(error, message).toMatchObject({ code: 'INVALID_CONFIG', message });
    }
    expect(await refusal(planBackfill(cardActivity, { from: ndjsonFile(a), shards: 0 }))).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/^planBackfill options\.shards: /) });
    expect(await refusal(planBackfill(cardActivity, { from: ndjsonFile(a), shard: 2 } as never))).toMatchObject({ code: 'INVALID_CONFIG', message: 'unknown option planBackfill options.shard (did you mean "shards"?); known: from, shards' });
    expect(await refusal(planBackfill({} as never, { from: ndjsonFile(a) }))).toMatchObject({ message: expect.stringMatching(/^planBackfill: /) });
  });
});

describe('backfillShard', () => {
  it('runs a shard with a checkpoint of its own, named by group and five-digit index', async () => {
    const shards = await planBackfill(cardActivity, { from: ndjsonFile(a), shards: 2 });
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: join(dir, 'store') });
    const checkpoints = join(dir, 'checkpoints');
    const summaries = [];
    for (const shard of shards) summaries.push(await backfillShard(store, cardActivity, shard, { checkpointDir: checkpoints }));
    expect(summaries.reduce((n, s) => n + s.records, 0)).toBe(200);
    expect(readdirSync(checkpoints).sort()).toEqual(['card-activity-shard-00000.json', 'card-activity-shard-00001.json']);
    // Without checkpointDir the shard runs without a checkpoint: none is added to the directory.
    const again = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: join(dir, 'again') });
    expect(await backfillShard(again, cardActivity, shards[1] as BackfillShard)).toMatchObject({ records: summaries[1]?.records });
    expect(readdirSync(checkpoints)).toHaveLength(2);
    await store.close();
    await again.close();
  });

  it('refuses a shard of another group, and what is not a shard', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), dir: join(dir, 'refused') });
    const [shard] = (await planBackfill(cardActivity, { from: ndjsonFile(a) })) as [BackfillShard];
    const other = await refusal(backfillShard(store, cardVelocity, shard));
    expect(other).toBeInstanceOf(ConfigurationError);
    expect(other).toMatchObject({ code: 'INVALID_CONFIG', message: 'shard 0 belongs to group "card-activity", not "card-velocity"' });
    for (const notShard of [{}, { group: 'card-activity', index: 0 }, { group: 'card-activity', index: 0, source: {} }, { group: 'card-activity', index: -1, source: { kind: 'ndjson' } }]) {
      const error = await refusal(backfillShard(store, cardActivity, notShard as never));
      expect(error, JSON.stringify(notShard)).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/^backfillShard shard/) });
    }
    expect(await refusal(backfillShard(store, cardActivity, 'shard-0' as never))).toMatchObject({ message: expect.stringContaining('expected a shard from planBackfill') });
    // A range edited by hand so that it reads nothing is refused, not a run of 0 rows.
    expect(await refusal(backfillShard(store, cardActivity, { ...shard, range: { start: 30_000, end: 10 } }))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'backfillShard shard.range: expected its start at or before its end, got start 30000 and end 10',
    });
    expect(await refusal(backfillShard(store, {} as never, shard))).toMatchObject({ message: expect.stringMatching(/^backfillShard: /) });
    await store.close();
  });
});

describe('earlierPlanFiles', () => {
  it("picks the files an earlier plan of the same sources wrote, not this plan's, another source's or a gone source's", async () => {
    const shards = await planBackfill(cardActivity, { from: [ndjsonFile(a), ndjsonFile(b)], shards: 4 });
    const gone = ndjson('gone.ndjson', 10);
    const goneShards = await planBackfill(cardActivity, { from: ndjsonFile(gone), shards: 1 });
    rmSync(gone);
    const pick = earlierPlanFiles([...shards, ...goneShards]);
    const keyOf = (path: string, range?: { start: number; end: number }) => backfillKey(cardActivity, ndjsonFile(path), range);
    const [first] = shards;
    // This plan's own shard files stay.
    expect(pick(`backfill-${keyOf(a, first?.range)}-000000`)).toBe(false);
    // The whole-source run of a, and a shard of another plan of a (other byte ranges), go.
    expect(pick(`backfill-${keyOf(a)}-000000`)).toBe(true);
    expect(pick(`backfill-${keyOf(a)}-r0-7-000003`)).toBe(true);
    expect(pick(`backfill-${keyOf(b)}-000001`)).toBe(true);
    // Another source's files and other files stay; so do a gone source's (its shard fails when it runs).
    expect(pick(`backfill-${keyOf(csv)}-000000`)).toBe(false);
    expect(pick('20240101T000000Z-abc')).toBe(false);
    writeFileSync(gone, '');
    const goneKey = backfillKey(cardActivity, ndjsonFile(gone), undefined);
    rmSync(gone);
    expect(pick(`backfill-${goneKey}-000000`)).toBe(false);
  });
});
