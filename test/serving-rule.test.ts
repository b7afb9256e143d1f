import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createFeatureStore, defineFeatureGroup, type FeatureStore, type SageMakerRecord, trainingSet } from '../src/index.js';
import { localOffline, localOnline } from '../src/local/index.js';
import type { OfflineWrite } from '../src/store/types.js';
import { type AthenaLake, athenaLake } from './fixtures/athena-lake.js';
import { ruleRow, type RuleRow } from './fixtures/pit-rule.js';

// One rule for serving and training (README's rules): the row for t is the one with the latest event
// time at or before t, the first written among equal event times; null if it is a delete marker or
// has expired by t under the group's TTL. The online store keeps exactly that row: a write replaces
// the stored record only with a strictly later event time, and a record is gone once its event time
// + TTL is reached. These properties check the engines against each other and against a plain
// reading of the rule, and the reference engine against the online store itself.

const BASE = Date.UTC(2024, 0, 1);
const SECOND = 1000;
const TTL_MS = 3 * SECOND;

const definition = {
  recordIdentifier: 'id',
  eventTime: 't',
  source: z.object({ id: z.string(), t: z.date(), v: z.number() }),
  features: z.object({ id: z.string(), t: z.date(), v: z.number() }),
  transform: (e: { id: string; t: Date; v: number }) => e,
} as const;
const forever = defineFeatureGroup({ name: 'serving-rule', ...definition });
/** The same group whose records live three seconds online. */
const expiring = defineFeatureGroup({ name: 'serving-rule-ttl', ...definition, ttl: { Unit: 'Seconds', Value: 3 } });
type Group = typeof forever | typeof expiring;
const groupOf = (ttl: boolean): Group => (ttl ? expiring : forever);

const IDS = ['a', 'b', 'c'];

interface HistoryRow extends RuleRow {
  readonly v: number;
}

const historyRow = fc.record({
  id: fc.constantFrom(...IDS),
  et: fc.integer({ min: 0, max: 6 }).map((s) => BASE + s * SECOND),
  ai: fc.integer({ min: 0, max: 3 }).map((s) => BASE + s * SECOND),
  wt: fc.integer({ min: 0, max: 12 }).map((s) => BASE + s * SECOND),
  del: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
  v: fc.integer({ min: 0, max: 2 }),
});

const spineRow = fc.record({
  card: fc.constantFrom(...IDS, 'nobody'),
  // On a row's second, or a millisecond either side: the TTL and maxAge edges fall there too.
  at: fc.tuple(fc.integer({ min: 0, max: 12 }), fc.constantFrom(-1, 0, 1)).map(([s, d]) => new Date(BASE + s * SECOND + d)),
});

const maxAgeArb = fc.constantFrom(undefined, '1s', '2s', '5s');
const seconds = (maxAge: string | undefined) => (maxAge === undefined ? undefined : Number(maxAge.slice(0, -1)) * SECOND);

function offlineWrite(group: Group, row: HistoryRow): OfflineWrite {
  const key: SageMakerRecord = [
    { FeatureName: 'id', ValueAsString: row.id },
    { FeatureName: 't', ValueAsString: new Date(row.et).toISOString() },
  ];
  const record: SageMakerRecord = row.del ? key : [...key, { FeatureName: 'v', ValueAsString: String(row.v) }, { FeatureName: 'skewless_fingerprint', ValueAsString: group.fingerprint }];
  return { record, writeTime: new Date(row.wt), apiInvocationTime: new Date(row.ai), isDeleted: row.del };
}

/** The rule read literally: of the rows it may take, the latest event and first written; then null if a marker or expired by t. */
function bruteForce(history: readonly HistoryRow[], card: string, t: number, options: { maxAgeMs: number | undefined; ttlMs: number | undefined; knowledgeTime: boolean }): number | null {
  return ruleRow(history, card, t, options, (r) => [r.v])?.v ?? null;
}

interface Case {
  readonly history: readonly HistoryRow[];
  readonly spine: readonly { card: string; at: Date }[];
  readonly ttl: boolean;
  readonly maxAge: string | undefined;
  readonly knowledgeTime: boolean;
}

const caseArb = (rows: number, spineRows: number) =>
  fc.record({
    history: fc.array(historyRow, { maxLength: rows }),
    spine: fc.array(spineRow, { minLength: 1, maxLength: spineRows }),
    ttl: fc.boolean(),
    maxAge: maxAgeArb,
    knowledgeTime: fc.boolean(),
  });

async function values(store: FeatureStore, c: Case, engine: 'reference' | 'auto'): Promise<(number | null)[]> {
  const group = groupOf(c.ttl);
  const selection = c.maxAge ? group.select('v').with({ maxAge: c.maxAge }) : group.select('v');
  const { rows, summary } = await trainingSet(store, { spine: c.spine, entityKey: 'card', timestamp: 'at', features: [selection], knowledgeTime: c.knowledgeTime, engine });
  expect(summary.engine).toBe(engine === 'reference' ? 'reference' : 'backend');
  return rows.map((r) => (r as Record<string, unknown>)[`${group.name}__v`] as number | null);
}

function expectedOf(c: Case): (number | null)[] {
  return c.spine.map((s) => bruteForce(c.history, s.card, s.at.getTime(), { maxAgeMs: seconds(c.maxAge), ttlMs: c.ttl ? TTL_MS : undefined, knowledgeTime: c.knowledgeTime }));
}

describe('the point-in-time rule with ties, deletes, TTL and maxAge, in every engine', () => {
  it('gives the same rows from the reference engine and DuckDB (ASOF without knowledgeTime, window functions with it), equal to the rule read literally', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb(30, 20), async (c) => {
        const store = createFeatureStore({ online: localOnline({ memory: true }), offline: localOffline({ memory: true }) });
        try {
          const { offline } = await store.backends();
          if (c.history.length > 0) await offline?.append(groupOf(c.ttl), c.history.map((row) => offlineWrite(groupOf(c.ttl), row)));
          const reference = await values(store, c, 'reference');
          expect(reference).toEqual(expectedOf(c));
          expect(await values(store, c, 'auto')).toEqual(reference);
        } finally {
          await store.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  describe('on Athena (Trino SQL on the local stack)', () => {
    let lake: AthenaLake;
    beforeAll(async () => {
      lake = await athenaLake('serving-rule', [forever, expiring]);
    });
    afterAll(() => lake?.close());

    it('gives the rows the rule reads literally', async () => {
      const store = lake.store();
      try {
        await fc.assert(
          fc.asyncProperty(caseArb(20, 12), async (c) => {
            const group = groupOf(c.ttl);
            await lake.replace(group, c.history.map((row) => offlineWrite(group, row)));
            expect(await values(store, c, 'auto')).toEqual(expectedOf(c));
          }),
          { numRuns: 15 },
        );
      } finally {
        await store.close();
      }
    });
  });
});

/** One call a producer makes, in the order made: a put, or a delete at an event time. */
type Write = { readonly id: string; readonly et: number; readonly v: number; readonly kind: 'put' } | { readonly id: string; readonly et: number; readonly kind: 'SoftDelete' | 'HardDelete' };

const writeArb: fc.Arbitrary<Write> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ id: fc.constantFrom(...IDS), et: fc.integer({ min: 0, max: 6 }).map((s) => BASE + s * SECOND), v: fc.integer({ min: 0, max: 2 }), kind: fc.constant('put' as const) }) },
  { weight: 2, arbitrary: fc.record({ id: fc.constantFrom(...IDS), et: fc.integer({ min: 0, max: 6 }).map((s) => BASE + s * SECOND), kind: fc.constant('SoftDelete' as const) }) },
  { weight: 1, arbitrary: fc.record({ id: fc.constantFrom(...IDS), et: fc.integer({ min: 0, max: 6 }).map((s) => BASE + s * SECOND), kind: fc.constant('HardDelete' as const) }) },
);

/**
 * Leaves out writes at or before the event time of an earlier HardDelete of their identifier: the
 * online store forgets a hard-deleted record's event time and serves such a write, while the rule
 * keeps the marker (README's rules name this limit).
 */
function withinHardDeleteLimit(writes: readonly Write[]): Write[] {
  const forgotten = new Map<string, number>();
  return writes.filter((w) => {
    const bound = forgotten.get(w.id);
    if (bound !== undefined && w.et <= bound) return false;
    if (w.kind === 'HardDelete') forgotten.set(w.id, w.et);
    return true;
  });
}

describe('the training row at t is what the online store serves at t, after the same writes', () => {
  it('holds for random writes with ties on event time, deletes, the TTL and maxAge, all made before t (local online store, reference engine and DuckDB)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(writeArb, { minLength: 1, maxLength: 25 }).map(withinHardDeleteLimit),
        // Milliseconds between writes: several writes can land in one event-time second, and records expire between them.
        fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 25, maxLength: 25 }),
        fc.constantFrom(0, 1, 999, 1000, 2999, 3000, 3001, 5000),
        fc.boolean(),
        maxAgeArb,
        fc.boolean(),
        async (writes, gaps, after, ttl, maxAge, knowledgeTime) => {
          const group = groupOf(ttl);
          let clock = BASE;
          const store = createFeatureStore({ online: localOnline({ memory: true, now: () => clock }), offline: localOffline({ memory: true }), now: () => clock });
          try {
            for (const [i, w] of writes.entries()) {
              clock += gaps[i] as number;
              if (w.kind === 'put') {
                const summary = await store.ingest(group, [{ id: w.id, t: new Date(w.et), v: w.v }]);
                expect(summary.applied + summary.stale).toBe(1);
              } else await store.delete(group, w.id, new Date(w.et), w.kind);
            }
            // t after every write and every event time, so the online store has seen all the rule sees.
            const t = Math.max(clock, ...writes.map((w) => w.et)) + after;
            clock = t;
            const maxAgeMs = seconds(maxAge);
            const served = await Promise.all(
              IDS.map(async (id) => {
                const record = await store.get(group, id);
                if (!record || (maxAgeMs !== undefined && record.t.getTime() <= t - maxAgeMs)) return null;
                return record.v;
              }),
            );
            const c: Case = { history: [], spine: IDS.map((card) => ({ card, at: new Date(t) })), ttl, maxAge, knowledgeTime };
            expect(await values(store, c, 'reference')).toEqual(served);
            expect(await values(store, c, 'auto')).toEqual(served);
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('the documented limit of HardDelete', () => {
  it('serves online a write at or before a hard-deleted event time, while the training row stays null', async () => {
    let clock = BASE + 10 * SECOND;
    const store = createFeatureStore({ online: localOnline({ memory: true, now: () => clock }), offline: localOffline({ memory: true }), now: () => clock });
    try {
      await store.ingest(forever, [{ id: 'a', t: new Date(BASE), v: 1 }]);
      clock += 1;
      await store.delete(forever, 'a', new Date(BASE + SECOND), 'HardDelete');
      clock += 1;
      await store.ingest(forever, [{ id: 'a', t: new Date(BASE + SECOND), v: 2 }]);
      clock += 1;
      expect(await store.get(forever, 'a')).toMatchObject({ v: 2 });
      const c: Case = { history: [], spine: [{ card: 'a', at: new Date(clock) }], ttl: false, maxAge: undefined, knowledgeTime: false };
      expect(await values(store, c, 'reference')).toEqual([null]);
      expect(await values(store, c, 'auto')).toEqual([null]);
    } finally {
      await store.close();
    }
  });
});
