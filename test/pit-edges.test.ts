import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { audit, backfill, createFeatureStore, defineFeatureGroup, type FeatureStore, type SageMakerRecord, trainingSet } from '../src/index.js';
import { kinesisHandler } from '../src/lambda/index.js';
import { kinesisEvent, memoryOffline, memoryOnline } from '../src/testing/index.js';
import { cardActivity } from './fixtures/groups.js';
import { localOffline, localOnline, localStores } from '../src/local/index.js';
import type { OfflineWrite } from '../src/store/types.js';
import { type AthenaLake, athenaLake } from './fixtures/athena-lake.js';

// The point-in-time rule of README ("Training sets"): of a key's rows with event time <= t, newer than
// t - maxAge, (written by t with knowledgeTime), take the greatest event time and, among rows sharing
// it, the first written: the least by (API invocation time, write time, delete marker, the other
// feature values), as the online store keeps the first of equal event times. Null if that row is a
// delete marker or has expired by t (the group's TTL). These fixed cases sit on the edges of that
// rule, and every engine must land on the same side of each.

const rowSource = z.object({ id: z.string(), t: z.date(), v: z.number() });
/** What the groups of the rows (id, t, v) share: keys, schemas and a transform that passes rows through. */
const rowFields = {
  recordIdentifier: 'id',
  eventTime: 't',
  source: rowSource,
  features: rowSource,
  transform: (e: z.output<typeof rowSource>) => e,
} as const;

const scores = defineFeatureGroup({ name: 'pit-edges', ...rowFields });

/** The same rows in a group whose records live one minute online. */
const expiring = defineFeatureGroup({ name: 'pit-edges-ttl', ...rowFields, ttl: { Unit: 'Minutes', Value: 1 } });
/**
 * Rows tied in every time column are told apart by the other feature values, in the order the group
 * defines them: a text, a number that may be missing, then `v`.
 */
const valued = defineFeatureGroup({
  name: 'pit-edges-values',
  recordIdentifier: 'id',
  eventTime: 't',
  source: z.object({ id: z.string(), t: z.date(), s: z.string(), u: z.number().optional(), v: z.number() }),
  features: z.object({ id: z.string(), t: z.date(), s: z.string(), u: z.number().optional(), v: z.number() }),
  transform: (e) => e,
});
/** The rows of `pit-edges` in a group that stores its event time as epoch seconds (Fractional), fraction and all. */
const seconds = defineFeatureGroup({ name: 'pit-edges-seconds', ...rowFields, eventTimeFormat: 'epoch-seconds' });
type Group = typeof scores | typeof expiring | typeof valued | typeof seconds;

/** One offline row: its key, event time, API invocation time, write time (epoch ms) and value, or a delete marker. */
interface Row {
  readonly id: string;
  readonly et: number;
  readonly ai: number;
  readonly wt: number;
  readonly v?: number;
  readonly deleted?: true;
  /** The event time as written, where it is not `et` in toISOString's spelling. */
  readonly etText?: string;
  /** The text and the optional number of the group `pit-edges-values` (u left out: missing). */
  readonly s?: string;
  readonly u?: number;
}

const T = Date.UTC(2024, 0, 1);
const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;

function write(group: Group, row: Row): OfflineWrite {
  const key: SageMakerRecord = [
    { FeatureName: 'id', ValueAsString: row.id },
    { FeatureName: 't', ValueAsString: row.etText ?? (group === seconds ? String(row.et / 1000) : new Date(row.et).toISOString()) },
  ];
  const values: SageMakerRecord = [
    ...(row.s === undefined ? [] : [{ FeatureName: 's', ValueAsString: row.s }]),
    ...(row.u === undefined ? [] : [{ FeatureName: 'u', ValueAsString: String(row.u) }]),
    { FeatureName: 'v', ValueAsString: String(row.v) },
  ];
  const record: SageMakerRecord = row.deleted ? key : [...key, ...values, { FeatureName: 'skewless_fingerprint', ValueAsString: group.fingerprint }];
  return { record, writeTime: new Date(row.wt), apiInvocationTime: new Date(row.ai), isDeleted: row.deleted === true };
}

interface Ask {
  readonly spine: readonly { card: string; at: Date }[];
  readonly maxAge?: string;
  /** Read the group with a one-minute TTL. */
  readonly ttl?: boolean;
  /** Read the group `pit-edges-values`. */
  readonly valued?: boolean;
  /** Read the group `pit-edges-seconds` (event time as epoch seconds). */
  readonly seconds?: boolean;
  /** trainingSet's `maxAge`: the default for a selection without its own. */
  readonly defaultMaxAge?: string;
}

/** An engine: the history it reads from, then the chosen `v` per spine row (null: no row qualifies). */
interface Engine {
  readonly name: string;
  readonly knowledgeTime: boolean;
  run(history: readonly Row[], ask: Ask): Promise<(number | null)[]>;
}

const groupOf = (ask: Ask): Group => (ask.valued ? valued : ask.seconds ? seconds : ask.ttl ? expiring : scores);
const selectV = (ask: Ask) => (ask.valued ? valued.select('v') : ask.seconds ? seconds.select('v') : (ask.ttl ? expiring : scores).select('v'));
const selection = (ask: Ask) => (ask.maxAge ? selectV(ask).with({ maxAge: ask.maxAge }) : selectV(ask));
const column = (ask: Ask) => `${groupOf(ask).name}__v`;
const defaults = (ask: Ask) => (ask.defaultMaxAge === undefined ? {} : { maxAge: ask.defaultMaxAge });

async function values(store: FeatureStore, ask: Ask, options: { engine?: 'reference'; knowledgeTime: boolean }): Promise<(number | null)[]> {
  const { rows, summary } = await trainingSet(store, { spine: ask.spine, entityKey: 'card', timestamp: 'at', features: [selection(ask)], ...defaults(ask), ...options });
  // The engine named ran: DuckDB or Athena, not the reference engine standing in for them.
  expect(summary.engine).toBe(options.engine === 'reference' ? 'reference' : 'backend');
  return rows.map((r) => (r as Record<string, unknown>)[column(ask)] as number | null);
}

/** The embedded store: the reference engine, and DuckDB's two paths. */
function local(name: string, options: { engine?: 'reference'; knowledgeTime: boolean }): Engine {
  return {
    name,
    knowledgeTime: options.knowledgeTime,
    async run(history, ask) {
      const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
      try {
        const { offline } = await store.backends();
        await offline?.append(groupOf(ask), history.map((row) => write(groupOf(ask), row)));
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
    knowledgeTime: options.knowledgeTime,
    async run(history, ask) {
      const dir = mkdtempSync(join(tmpdir(), 'skewless-pit-edges-'));
      const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
      try {
        const { offline } = await store.backends();
        await offline?.append(groupOf(ask), history.map((row) => write(groupOf(ask), row)));
        const csv = join(dir, 'spine.csv');
        writeFileSync(csv, `card,at\n${ask.spine.map((r) => `${r.card},${r.at.toISOString()}`).join('\n')}\n`);
        const out = join(dir, 'train.parquet');
        const { summary } = await trainingSet(store, { spine: { csv }, entityKey: 'card', timestamp: 'at', features: [selection(ask)], output: { parquet: out }, ...defaults(ask), ...options });
        expect(summary.engine).toBe('backend');
        const bytes = readFileSync(out);
        const rows = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
        return rows.map((r) => (r[column(ask)] ?? null) as number | null);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let lake: AthenaLake | undefined;

/** Athena on the local stack (Trino SQL: window functions, as Athena has no ASOF JOIN), over Parquet written by s3Offline. */
function athena(name: string, options: { knowledgeTime: boolean }): Engine {
  return {
    name,
    knowledgeTime: options.knowledgeTime,
    async run(history, ask) {
      const live = lake as AthenaLake;
      await live.replace(groupOf(ask), history.map((row) => write(groupOf(ask), row)));
      const store = live.store();
      try {
        return await values(store, ask, options);
      } finally {
        await store.close();
      }
    },
  };
}

beforeAll(async () => {
  lake = await athenaLake('pit-edges', [scores, expiring, valued, seconds]);
});
afterAll(() => lake?.close());

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

/**
 * Two rows at T with the same invocation and write times, under two keys: `<name>-stored-first` is
 * stored with the row the rule takes first, `<name>-stored-last` with it last; the spine asks for both.
 */
function storedBothWays(name: string, taken: Omit<Row, 'id' | 'et' | 'ai' | 'wt'>, other: Omit<Row, 'id' | 'et' | 'ai' | 'wt'>): { history: Row[]; spine: Ask['spine'] } {
  const row = (key: string, values: Omit<Row, 'id' | 'et' | 'ai' | 'wt'>): Row => ({ id: `${name}-${key}`, et: T, ai: AI, wt: WT, ...values });
  return {
    history: [row('stored-first', taken), row('stored-first', other), row('stored-last', other), row('stored-last', taken)],
    spine: [{ card: `${name}-stored-first`, at: AFTER }, { card: `${name}-stored-last`, at: AFTER }],
  };
}

describe.each(engines)('point-in-time ties and edges: $name', (engine) => {
  it('takes, of rows equal in event time, the one with the earlier api_invocation_time, though its value is larger and it was stored first or last', async () => {
    // The earlier invocation carries the larger value, so a tie-break by value alone would pick the other row.
    const history: Row[] = [
      { id: 'ai-stored-first', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'ai-stored-first', et: T, ai: AI + 1, wt: WT, v: 1 },
      { id: 'ai-stored-last', et: T, ai: AI + 1, wt: WT, v: 1 },
      { id: 'ai-stored-last', et: T, ai: AI, wt: WT, v: 2 },
    ];
    const spine = [{ card: 'ai-stored-first', at: AFTER }, { card: 'ai-stored-last', at: AFTER }];
    expect(await engine.run(history, { spine })).toEqual([2, 2]);
  });

  it('takes, of rows equal in event time and api_invocation_time, the one with the earlier write_time, though its value is larger and it was stored first or last', async () => {
    const history: Row[] = [
      { id: 'wt-stored-first', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'wt-stored-first', et: T, ai: AI, wt: WT + 1, v: 1 },
      { id: 'wt-stored-last', et: T, ai: AI, wt: WT + 1, v: 1 },
      { id: 'wt-stored-last', et: T, ai: AI, wt: WT, v: 2 },
    ];
    const spine = [{ card: 'wt-stored-first', at: AFTER }, { card: 'wt-stored-last', at: AFTER }];
    expect(await engine.run(history, { spine })).toEqual([2, 2]);
  });

  it('takes, of rows equal in every time column, the least feature value, stored first or last', async () => {
    const history: Row[] = [
      { id: 'value-stored-first', et: T, ai: AI, wt: WT, v: 1 },
      { id: 'value-stored-first', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'value-stored-last', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'value-stored-last', et: T, ai: AI, wt: WT, v: 1 },
    ];
    const spine = [{ card: 'value-stored-first', at: AFTER }, { card: 'value-stored-last', at: AFTER }];
    expect(await engine.run(history, { spine })).toEqual([1, 1]);
  });

  it('breaks a tie on one feature value by the next, in the order the group defines them, stored first or last', async () => {
    const equal = storedBothWays('next', { s: 'x', u: 1, v: 1 }, { s: 'x', u: 1, v: 2 });
    const bothMissing = storedBothWays('both-missing', { s: 'x', v: 1 }, { s: 'x', v: 2 });
    const spine = [...equal.spine, ...bothMissing.spine];
    expect(await engine.run([...equal.history, ...bothMissing.history], { spine, valued: true })).toEqual([1, 1, 1, 1]);
  });

  it('ranks a missing value before every number, a negative one too, as SQL engines sort nulls first', async () => {
    // By `v` alone the other row would win.
    const { history, spine } = storedBothWays('missing', { s: 'x', v: 2 }, { s: 'x', u: -1, v: 1 });
    expect(await engine.run(history, { spine, valued: true })).toEqual([2, 2]);
  });

  it('orders text by code point, as SQL engines compare UTF-8 bytes, not by UTF-16 units', async () => {
    // U+FF01 comes before U+1F600 by code point; in UTF-16 the emoji's lead surrogate (U+D83D) comes first.
    const { history, spine } = storedBothWays('text', { s: '\uFF01', u: 1, v: 2 }, { s: '\u{1F600}', u: 1, v: 1 });
    expect(await engine.run(history, { spine, valued: true })).toEqual([2, 2]);
  });

  it('ties rows whose event times spell one instant differently (with and without milliseconds), and takes the least value', async () => {
    const { history, spine } = storedBothWays('spelled', { etText: '2024-01-01T00:00:00Z', v: 1 }, { etText: '2024-01-01T00:00:00.000Z', v: 2 });
    expect(await engine.run(history, { spine })).toEqual([1, 1]);
  });

  it('ranks api_invocation_time before write_time: an earlier invocation wins over an earlier write', async () => {
    const history: Row[] = [
      { id: 'ai-over-wt', et: T, ai: AI, wt: WT + 1, v: 2 },
      { id: 'ai-over-wt', et: T, ai: AI + 1, wt: WT, v: 1 },
    ];
    expect(await engine.run(history, { spine: [{ card: 'ai-over-wt', at: AFTER }] })).toEqual([2]);
  });

  it('ranks event time before both: a later event wins over an earlier invocation and an earlier write', async () => {
    const history: Row[] = [
      { id: 'et-first', et: T + 1, ai: AI + 1, wt: WT + 1, v: 1 },
      { id: 'et-first', et: T, ai: AI, wt: WT, v: 2 },
    ];
    expect(await engine.run(history, { spine: [{ card: 'et-first', at: AFTER }] })).toEqual([1]);
  });

  it('keeps a record when a delete marker at its very event time comes later, as an online delete at the stored event time does not apply', async () => {
    const history: Row[] = [
      { id: 'put-then-delete', et: T, ai: AI, wt: WT, v: 3 },
      { id: 'put-then-delete', et: T, ai: AI + 1, wt: WT + 1, deleted: true },
    ];
    expect(await engine.run(history, { spine: [{ card: 'put-then-delete', at: AFTER }] })).toEqual([3]);
  });

  it('gives null when a delete marker comes first at an event time, as an online put at a soft delete\'s event time does not apply', async () => {
    const history: Row[] = [
      { id: 'delete-then-put', et: T, ai: AI + 1, wt: WT + 1, v: 3 },
      { id: 'delete-then-put', et: T, ai: AI, wt: WT, deleted: true },
    ];
    expect(await engine.run(history, { spine: [{ card: 'delete-then-put', at: AFTER }] })).toEqual([null]);
  });

  it('takes the record over a delete marker equal to it in every time column, stored first or last', async () => {
    const history: Row[] = [
      { id: 'marker-stored-first', et: T, ai: AI, wt: WT, deleted: true },
      { id: 'marker-stored-first', et: T, ai: AI, wt: WT, v: 4 },
      { id: 'marker-stored-last', et: T, ai: AI, wt: WT, v: 4 },
      { id: 'marker-stored-last', et: T, ai: AI, wt: WT, deleted: true },
    ];
    const spine = [{ card: 'marker-stored-first', at: AFTER }, { card: 'marker-stored-last', at: AFTER }];
    expect(await engine.run(history, { spine })).toEqual([4, 4]);
  });

  it('breaks ties the same way with maxAge set', async () => {
    const history: Row[] = [
      { id: 'tie-fresh', et: T, ai: AI + 1, wt: WT, v: 1 },
      { id: 'tie-fresh', et: T, ai: AI, wt: WT, v: 2 },
      { id: 'tie-deleted', et: T, ai: AI, wt: WT, deleted: true },
      { id: 'tie-deleted', et: T, ai: AI + 1, wt: WT, v: 1 },
    ];
    const spine = [{ card: 'tie-fresh', at: AFTER }, { card: 'tie-deleted', at: AFTER }];
    expect(await engine.run(history, { spine, maxAge: '1h' })).toEqual([2, null]);
  });

  it('takes the first row written by t with knowledgeTime, the first written at all without it', async () => {
    // The first invocation's row lands offline late (a backfill): at AFTER only the second is known.
    const history: Row[] = [
      { id: 'known-later', et: T, ai: AI, wt: AFTER.getTime() + 1, v: 1 },
      { id: 'known-later', et: T, ai: AI + 1, wt: WT, v: 2 },
    ];
    expect(await engine.run(history, { spine: [{ card: 'known-later', at: AFTER }] })).toEqual([engine.knowledgeTime ? 2 : 1]);
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

  it("applies trainingSet's maxAge to a selection without its own, and a selection's own maxAge over it", async () => {
    const history: Row[] = [{ id: 'default-age', et: T, ai: AI, wt: WT, v: 1 }];
    const spine = [{ card: 'default-age', at: new Date(T + 2 * HOUR) }];
    expect(await engine.run(history, { spine, defaultMaxAge: '1h' })).toEqual([null]);
    expect(await engine.run(history, { spine, defaultMaxAge: '3h' })).toEqual([1]);
    expect(await engine.run(history, { spine, defaultMaxAge: '1h', maxAge: '3h' })).toEqual([1]);
    expect(await engine.run(history, { spine, defaultMaxAge: '3h', maxAge: '1h' })).toEqual([null]);
  });

  it('reads event times stored as epoch seconds with a fraction: a row half a second past the second counts from that instant, not a millisecond before', async () => {
    const history: Row[] = [
      // Written the instant they happened, so knowledgeTime knows each from its event time on.
      { id: 'epoch', et: T - SECOND, ai: T - SECOND, wt: T - SECOND, v: 0 },
      { id: 'epoch', et: T + 500, ai: T + 500, wt: T + 500, v: 1 },
    ];
    const spine = [
      { card: 'epoch', at: new Date(T + 499) },
      { card: 'epoch', at: new Date(T + 500) },
    ];
    expect(await engine.run(history, { spine, seconds: true })).toEqual([0, 1]);
    // maxAge counts from the fractional event time too.
    expect(await engine.run(history, { spine: [{ card: 'epoch', at: new Date(T + 500 + SECOND) }], seconds: true, maxAge: '1s' })).toEqual([null]);
  });
});

// The group's TTL (one minute here): a record is served online while now < event time + TTL, and
// gone from the instant that is reached. The training row for t follows: null once it has expired.
describe.each(engines)('point-in-time join and the group TTL: $name', (engine) => {
  // Across an hour boundary, where the Athena engine prunes partitions by the TTL.
  const ET = T - 30 * SECOND;
  const known = { ai: T - 20 * SECOND, wt: T - 20 * SECOND };

  it('takes a row a millisecond before it expires, and gives null from the instant event time + TTL is reached', async () => {
    const history: Row[] = [{ id: 'ttl-edge', et: ET, ...known, v: 1 }];
    const spine = [
      { card: 'ttl-edge', at: new Date(ET + MINUTE - 1) },
      { card: 'ttl-edge', at: new Date(ET + MINUTE) },
      { card: 'ttl-edge', at: new Date(ET + MINUTE + 1) },
    ];
    expect(await engine.run(history, { spine, ttl: true })).toEqual([1, null, null]);
  });

  it('does not fall back to an older row when the chosen one has expired: the online store holds only the latest', async () => {
    // The older row was written after the newer one, and is no closer to being served.
    const history: Row[] = [
      { id: 'no-resurrection', et: ET, ...known, v: 2 },
      { id: 'no-resurrection', et: ET - 40 * SECOND, ai: known.ai + SECOND, wt: known.wt + SECOND, v: 1 },
    ];
    const spine = [
      { card: 'no-resurrection', at: new Date(ET + MINUTE - 1) },
      { card: 'no-resurrection', at: new Date(ET + MINUTE) },
    ];
    expect(await engine.run(history, { spine, ttl: true })).toEqual([2, null]);
  });

  it('applies the tighter of maxAge and the TTL', async () => {
    const history: Row[] = [{ id: 'both', et: ET, ...known, v: 1 }];
    const spine = [
      { card: 'both', at: new Date(ET + 30 * SECOND - 1) },
      { card: 'both', at: new Date(ET + 30 * SECOND) },
      { card: 'both', at: new Date(ET + MINUTE - 1) },
      { card: 'both', at: new Date(ET + MINUTE) },
    ];
    expect(await engine.run(history, { spine, ttl: true, maxAge: '30s' })).toEqual([1, null, null, null]);
    expect(await engine.run(history, { spine, ttl: true, maxAge: '2m' })).toEqual([1, 1, 1, null]);
  });

  it('keeps the tie rule under a TTL: the first written of equal event times, until it expires', async () => {
    const history: Row[] = [
      { id: 'ttl-tie', et: ET, ai: known.ai + 1, wt: known.wt, v: 1 },
      { id: 'ttl-tie', et: ET, ...known, v: 2 },
    ];
    const spine = [
      { card: 'ttl-tie', at: new Date(ET + MINUTE - 1) },
      { card: 'ttl-tie', at: new Date(ET + MINUTE) },
    ];
    expect(await engine.run(history, { spine, ttl: true })).toEqual([2, null]);
  });

  it('never expires rows of a group without a TTL', async () => {
    const history: Row[] = [{ id: 'forever', et: ET - 400 * 24 * HOUR, ...known, v: 1 }];
    expect(await engine.run(history, { spine: [{ card: 'forever', at: new Date(ET + MINUTE) }] })).toEqual([1]);
  });
});

describe('records of one identifier with one event time, written together', () => {
  // The online store keeps the first written; the offline rule must take the same one, on every path
  // that writes both (README: "of records with equal event times the first written").
  const first = { card_id: 'd', amount_cents: 1300, country: 'FR', ts: '2024-05-01T12:00:00Z' };
  const second = { ...first, amount_cents: 1250 };
  const spine = [{ card_id: 'd', at: new Date('2024-05-02T00:00:00Z') }];
  const amounts = async (store: FeatureStore) => {
    const online = (await store.get(cardActivity, 'd'))?.amount;
    const training = [];
    for (const engine of ['auto', 'reference'] as const) {
      const { rows } = await trainingSet(store, { spine, entityKey: 'card_id', timestamp: 'at', features: [cardActivity.select('amount')], engine });
      training.push(rows[0]?.['card-activity__amount']);
    }
    const { consistencyRate } = await audit(store, cardActivity, { availabilityDelay: '0s', at: new Date(Date.now() + 1000) });
    return { online, training, consistencyRate };
  };
  const expected = { online: 13, training: [13, 13], consistencyRate: 1 };

  it('store.ingest', async () => {
    const store = createFeatureStore(localStores({ dir: mkdtempSync(join(tmpdir(), 'skewless-equal-')) }));
    await store.ingest(cardActivity, [first, second]);
    expect(await amounts(store)).toEqual(expected);
    await store.close();
  });

  it('backfill to both', async () => {
    const store = createFeatureStore(localStores({ dir: mkdtempSync(join(tmpdir(), 'skewless-equal-')) }));
    await backfill(store, cardActivity, { from: [first, second], to: 'both' });
    expect(await amounts(store)).toEqual(expected);
    await store.close();
  });

  it('kinesisHandler on the in-memory stores', async () => {
    const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline(), deadLetter: () => {} });
    await kinesisHandler(cardActivity, { store, log: false })(kinesisEvent([first, second]), {} as never);
    expect(await amounts(store)).toEqual(expected);
    await store.close();
  });
});
