import { describe, expect, it } from 'vitest';
import { BackendError, createFeatureStore, type DeadLetterEntry, type OnlineStore, type SageMakerRecord, type SourcePosition } from '../src/index.js';
import type { AggregationStateStore, AggregationStateUpdate } from '../src/pipeline/state.js';
import { memoryAggregationState, memoryOnline } from '../src/testing/index.js';
import { txn, velocity } from './contracts/aggregation-state.js';

// The ingest of a group with aggregations when its parts fail: the state store (a read, a save, a
// conflict, a save too large, a settle), the online writes and the dead-letter sink, and the deadline.
// Fixed cases on the in-memory stores with faults injected; every record ends with one outcome, and
// no record is written before the state that produced it is saved.

const idOf = (record: SageMakerRecord) => record.find((f) => f.FeatureName === 'card_id')?.ValueAsString;
const minuteOf = (record: SageMakerRecord) => new Date(record.find((f) => f.FeatureName === 'event_time')?.ValueAsString as string).getUTCMinutes();

/** The in-memory state store, with each method replaceable; `saves` lists each save's updates. */
function stateStore(overrides: Partial<AggregationStateStore> = {}) {
  const inner = memoryAggregationState();
  const saves: AggregationStateUpdate[][] = [];
  const states: AggregationStateStore = {
    load: (group, ids) => inner.load(group, ids),
    save: (group, updates) => {
      saves.push([...updates]);
      return inner.save(group, updates);
    },
    settle: (group, settled) => inner.settle(group, settled),
    close: () => inner.close(),
    ...overrides,
  };
  return { inner, states, saves };
}

/** The in-memory online store; a record of a card in `failing` gets a BackendError instead of being written. `writes` lists each put's records. */
function onlineStore(failing = new Set<string>()) {
  const inner = memoryOnline();
  const writes: SageMakerRecord[][] = [];
  const online: OnlineStore = {
    ...inner,
    async put(group, records, options) {
      writes.push([...records]);
      const kept = records.filter((r) => !failing.has(idOf(r) as string));
      const written = await inner.put(group, kept, options);
      return records.map((r) => (failing.has(idOf(r) as string) ? new BackendError('WRITE_FAILED', `boom on ${idOf(r)}`, { retryable: true }) : (written.shift() as never)));
    },
  };
  return { inner, online, writes };
}

const storeWith = (states: AggregationStateStore, online: OnlineStore = memoryOnline(), deadLetter?: (entries: readonly unknown[]) => void) =>
  createFeatureStore({ online, offline: false, aggregationState: states, deadLetter: deadLetter ?? (() => undefined) });

const failures = (summary: { outcomes: readonly { status: string; error?: unknown }[] }) =>
  summary.outcomes.map((o) => (o.status === 'failed' ? { code: (o.error as BackendError).code, message: (o.error as BackendError).message, retryable: (o.error as BackendError).retryable } : o.status));

describe('the ingest with aggregation state, when its parts fail', () => {
  it('writes nothing past the deadline: each record failed as DEADLINE_EXCEEDED, retryable, and no state saved', async () => {
    const { states, inner, saves } = stateStore();
    const summary = await storeWith(states).ingest(velocity, [txn('a', 0, 1), txn('b', 1, 2)], { deadline: Date.now() - 1 });
    const late = { code: 'DEADLINE_EXCEEDED', message: 'group "card-velocity": not written, the invocation ran out of time', retryable: true };
    expect(failures(summary)).toEqual([late, late]);
    expect(saves).toEqual([]);
    expect((await inner.load(velocity, ['a', 'b'])).size).toBe(0);
  });

  it('fails every record as READ_FAILED when the states cannot be read, saving nothing', async () => {
    const { states, saves } = stateStore({
      load: async () => {
        throw new Error('table gone');
      },
    });
    const dead: unknown[] = [];
    // The second record's 1-hour sum would be Infinity: an entity that was never read is not aggregated, so nothing is dead-lettered.
    const summary = await storeWith(states, memoryOnline(), (entries) => dead.push(...entries)).ingest(velocity, [txn('a', 0, 1e308), txn('a', 1, 1e308), txn('b', 1, 2)]);
    const failed = { code: 'READ_FAILED', message: 'group "card-velocity": reading aggregation state failed: table gone', retryable: true };
    expect(failures(summary)).toEqual([failed, failed, failed]);
    expect(saves).toEqual([]);
    expect(dead).toEqual([]);
  });

  it('reports a save that throws as its own BackendError, and anything else as WRITE_FAILED naming the state write', async () => {
    const throttled = new BackendError('THROTTLED', 'slow down', { retryable: true });
    const backend = stateStore({
      save: async () => {
        throw throttled;
      },
    });
    const first = await storeWith(backend.states).ingest(velocity, [txn('a', 0, 1)]);
    expect(first.outcomes).toEqual([{ index: 0, status: 'failed', error: throttled }]);
    expect((first.outcomes[0] as { error: unknown }).error).toBe(throttled);

    const other = stateStore({
      save: async () => {
        throw new Error('disk full');
      },
    });
    const online = onlineStore();
    const second = await storeWith(other.states, online.online).ingest(velocity, [txn('a', 0, 1), txn('b', 1, 1)]);
    const failed = { code: 'WRITE_FAILED', message: 'group "card-velocity": writing aggregation state failed: disk full', retryable: true };
    expect(failures(second)).toEqual([failed, failed]);
    // Nothing is written before its state is saved.
    expect(online.writes).toEqual([]);
  });

  it('reads and aggregates again after a conflict, counting each, and stops an entity at the third', async () => {
    /** A store where another writer commits first on the first `n` saves. */
    const racing = (n: number) => {
      const backend = stateStore();
      let raced = 0;
      backend.states.save = async (group, updates) => {
        backend.saves.push([...updates]);
        if (raced++ < n) await backend.inner.save(group, updates.map((u) => ({ ...u, pending: [] })));
        return backend.inner.save(group, updates);
      };
      return backend;
    };
    const twice = racing(2);
    const online = memoryOnline();
    const ok = await storeWith(twice.states, online).ingest(velocity, [txn('a', 0, 3)]);
    expect(ok).toMatchObject({ applied: 1, failed: 0, conflicts: 2 });
    expect(twice.saves.map((s) => s[0]?.expected)).toEqual([undefined, 1, 2]);
    // Aggregated again over the other writer's state: its window holds the record once more.
    const stored = await online.get(velocity, 'a');
    expect(velocity.codec.fromRecord(stored?.record as SageMakerRecord)).toMatchObject({ n_1h: 3, sum_1h: 9 });

    const thrice = racing(3);
    const stopped = await storeWith(thrice.states).ingest(velocity, [txn('a', 0, 3)]);
    expect(stopped).toMatchObject({ applied: 0, failed: 1, conflicts: 3 });
    expect(failures(stopped)).toEqual([
      { code: 'STATE_CONFLICT', message: 'group "card-velocity": the aggregation state of "a" kept changing while this batch ran (is the stream partitioned by the record identifier?)', retryable: true },
    ]);
    expect(thrice.saves).toHaveLength(3);
  });

  it('halves a commit its state store finds too large until one fits, then goes on in slices of that size', async () => {
    const backend = stateStore();
    backend.states.save = async (group, updates) => {
      backend.saves.push([...updates]);
      return updates.some((u) => (u.pending?.length ?? 0) > 2) ? updates.map(() => 'too-large' as const) : backend.inner.save(group, updates);
    };
    let loads = 0;
    backend.states.load = (group, ids) => {
      loads++;
      return backend.inner.load(group, ids);
    };
    const online = onlineStore();
    const summary = await storeWith(backend.states, online.online).ingest(velocity, [0, 1, 2, 3, 4].map((minute) => txn('a', minute, 1)));
    expect(summary).toMatchObject({ applied: 5, failed: 0 });
    // Read once: a smaller slice goes on from the state it saved.
    expect(loads).toBe(1);
    expect(backend.saves.map((s) => s[0]?.pending?.length)).toEqual([5, 3, 2, 2, 1]);
    expect(online.writes.map((records) => records.map(minuteOf))).toEqual([[0, 1], [2, 3], [4]]);
    expect(velocity.codec.fromRecord((await online.inner.get(velocity, 'a'))?.record as SageMakerRecord)).toMatchObject({ n_1h: 5, sum_1h: 5 });
  });

  it('fails the records of an entity when even one of them and its state do not fit', async () => {
    const backend = stateStore({ save: async (_group, updates) => updates.map(() => 'too-large' as const) });
    const summary = await storeWith(backend.states).ingest(velocity, [txn('a', 0, 1), txn('a', 1, 1)]);
    const failed = { code: 'WRITE_FAILED', message: 'group "card-velocity": one record of "a" and its aggregation state do not fit one state item', retryable: false };
    expect(failures(summary)).toEqual([failed, failed]);
    expect(summary.outcomes.map((o) => (o.status === 'failed' ? o.error.group : undefined))).toEqual(['card-velocity', 'card-velocity']);
  });

  it('writes an outbox nobody settled before the batch, counts it re-emitted, and settles the new one', async () => {
    const backend = stateStore({
      settle: async () => {
        throw new Error('settle lost');
      },
    });
    const online = onlineStore();
    // The settle fails: the batch still succeeds, and its outbox stays stored.
    expect(await storeWith(backend.states, online.online).ingest(velocity, [txn('a', 0, 1)])).toMatchObject({ applied: 1, reemitted: 0 });
    expect((await backend.inner.load(velocity, ['a'])).get('a')?.pending?.map(minuteOf)).toEqual([0]);

    const settled: unknown[] = [];
    backend.states.settle = async (group, entries) => {
      settled.push(...entries);
      return backend.inner.settle(group, entries);
    };
    const again = await storeWith(backend.states, online.online).ingest(velocity, [txn('a', 5, 1), txn('b', 6, 1)]);
    expect(again).toMatchObject({ applied: 2, reemitted: 1 });
    expect(online.writes.map((records) => records.map(minuteOf))).toEqual([[0], [0], [5, 6]]);
    expect(settled).toEqual([
      { id: 'a', version: 2 },
      { id: 'b', version: 1 },
    ]);
    expect((await backend.inner.load(velocity, ['a'])).get('a')?.pending ?? []).toEqual([]);
  });

  it('stops an entity whose outbox cannot be written again, naming it, and goes on with the others', async () => {
    const backend = stateStore({ settle: async () => undefined });
    await storeWith(backend.states).ingest(velocity, [txn('a', 0, 1)]);
    const online = onlineStore(new Set(['a']));
    const summary = await storeWith(backend.states, online.online).ingest(velocity, [txn('a', 5, 1), txn('b', 6, 1)]);
    expect(failures(summary)).toEqual([{ code: 'WRITE_FAILED', message: 'group "card-velocity": records saved with the state of "a" could not be written again: boom on a', retryable: true }, 'applied']);
    expect(summary.reemitted).toBe(1);
    // The stored state of "a" is the first batch's: nothing newer was saved over an unwritten outbox.
    expect((await backend.inner.load(velocity, ['a'])).get('a')?.version).toBe(1);
  });

  it('dead-letters a record the encoder refuses after aggregating before saving the state, and stops the entity when the sink fails', async () => {
    // Two amounts of 1e308: the second record's 1-hour sum is Infinity, which SageMaker cannot store.
    const events = [txn('a', 0, 1e308), txn('a', 1, 1e308), txn('b', 2, 1)];
    const order: string[] = [];
    const backend = stateStore();
    backend.states.save = async (group, updates) => {
      order.push(`save ${updates.map((u) => u.id).join(',')}`);
      return backend.inner.save(group, updates);
    };
    const summary = await storeWith(backend.states, memoryOnline(), (entries) => order.push(`dead-letter ${entries.length}`)).ingest(velocity, events);
    expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'poison', 'applied']);
    expect(order).toEqual(['dead-letter 1', 'save a,b']);

    const failing = stateStore();
    const stopped = await storeWith(failing.states, memoryOnline(), () => {
      throw new Error('queue gone');
    }).ingest(velocity, events);
    const failed = { code: 'WRITE_FAILED', message: 'group "card-velocity": dead-letter sink failed: queue gone', retryable: true };
    expect(failures(stopped)).toEqual([failed, failed, 'applied']);
    expect(failing.saves.map((s) => s.map((u) => u.id))).toEqual([['b']]);
  });

  it('dead-letters a record the online store says it cannot hold, keeping it out of the saved outbox and the writes, with its position', async () => {
    const backend = stateStore();
    const { online, writes } = onlineStore();
    const refusal = new BackendError('INVALID_VALUE', 'group "card-velocity": feature amount: 7 is not storable here', { group: 'card-velocity', issues: [{ code: 'invalid_value', path: ['amount'], message: 'not storable' }] });
    const picky: OnlineStore = { ...online, unstorable: (_, record) => (record.some((f) => f.FeatureName === 'amount' && f.ValueAsString === '7') ? refusal : undefined) };
    const dead: DeadLetterEntry[] = [];
    const position = (index: number): SourcePosition => ({ source: 'kinesis', index, shardId: 'shard-9', sequenceNumber: String(index + 1) });
    const summary = await storeWith(backend.states, picky, (entries) => void dead.push(...(entries as DeadLetterEntry[]))).ingest(velocity, [txn('a', 0, 1), txn('a', 1, 7), txn('b', 2, 7), txn('b', 3, 2)], { position });
    expect(summary.outcomes.map((o) => o.status)).toEqual(['applied', 'poison', 'poison', 'applied']);
    expect(dead.map((d) => [d.error.name, d.error.code, d.error.message, d.position?.index, d.error.issues?.[0]?.path])).toEqual([1, 2].map((index) => ['FeatureValidationError', 'FEATURE_VALIDATION', refusal.message, index, ['amount']]));
    expect(dead[0]?.error.cause).toBe(refusal);
    expect(backend.saves.flat().map((u) => u.pending?.map(minuteOf))).toEqual([[0], [3]]);
    expect(writes.flat().map(minuteOf)).toEqual([0, 3]);
  });

  it("reports records whose write failed, and leaves the entity's later slices unsaved and unwritten", async () => {
    const backend = stateStore();
    backend.states.save = async (group, updates) => {
      backend.saves.push([...updates]);
      return updates.some((u) => (u.pending?.length ?? 0) > 1) ? updates.map(() => 'too-large' as const) : backend.inner.save(group, updates);
    };
    const failing = new Set<string>();
    const online = onlineStore(failing);
    const store = storeWith(backend.states, online.online);
    const put = online.online.put.bind(online.online);
    // The second record of "a" fails to be written.
    online.online.put = async (group, records, options) => {
      if (records.some((r) => minuteOf(r) === 1)) failing.add('a');
      return put(group, records, options);
    };
    const summary = await store.ingest(velocity, [txn('a', 0, 1), txn('a', 1, 1), txn('a', 2, 1)]);
    expect(failures(summary)).toEqual([
      'applied',
      { code: 'WRITE_FAILED', message: 'boom on a', retryable: true },
      { code: 'WRITE_FAILED', message: 'group "card-velocity": not written, an earlier record of "a" was not written', retryable: true },
    ]);
    // Slices of one: 3 too large, 2 too large, then minute 0 and minute 1 saved; minute 2 never.
    expect(backend.saves.map((s) => s[0]?.pending?.map(minuteOf))).toEqual([[0, 1, 2], [0, 1], [0], [1]]);
    expect(online.writes.map((records) => records.map(minuteOf))).toEqual([[0], [1]]);
  });

  it('saves nothing for a batch of redelivered records the state already holds', async () => {
    const backend = stateStore();
    const position = (index: number): SourcePosition => ({ source: 'kinesis', index, shardId: 'shard-0', sequenceNumber: String(100 + index) });
    const store = storeWith(backend.states);
    const events = [txn('a', 0, 1), txn('b', 1, 1)];
    expect(await store.ingest(velocity, events, { position })).toMatchObject({ applied: 2, duplicate: 0 });
    expect(backend.saves).toHaveLength(1);
    const again = await store.ingest(velocity, events, { position });
    expect(again).toMatchObject({ applied: 0, duplicate: 2 });
    expect(again.outcomes).toEqual([
      { index: 0, status: 'duplicate' },
      { index: 1, status: 'duplicate' },
    ]);
    expect(backend.saves).toHaveLength(1);
  });

  it('settles no commit that wrote nothing: a batch whose only record the encoder refuses', async () => {
    const backend = stateStore();
    const settles: unknown[][] = [];
    backend.states.settle = async (group, entries) => {
      settles.push([...entries]);
      return backend.inner.settle(group, entries);
    };
    const store = storeWith(backend.states);
    expect(await store.ingest(velocity, [txn('a', 0, 1e308)])).toMatchObject({ applied: 1 });
    // Its 1-hour sum would be Infinity: dead-lettered, its state saved, nothing written.
    expect(await store.ingest(velocity, [txn('a', 1, 1e308)])).toMatchObject({ applied: 0, poison: 1 });
    expect((await backend.inner.load(velocity, ['a'])).get('a')?.version).toBe(2);
    expect(settles).toEqual([[{ id: 'a', version: 1 }]]);
  });

  it('settles what it wrote and nothing else; a redelivered batch still writes and settles an outbox left unsettled', async () => {
    const backend = stateStore();
    const settles: unknown[][] = [];
    let settleFails = true;
    backend.states.settle = async (group, entries) => {
      settles.push([...entries]);
      if (settleFails) throw new Error('settle lost');
      return backend.inner.settle(group, entries);
    };
    const position = (index: number): SourcePosition => ({ source: 'kinesis', index, shardId: 'shard-0', sequenceNumber: String(200 + index) });
    const online = onlineStore();
    const store = storeWith(backend.states, online.online);
    const events = [txn('a', 0, 1), txn('b', 1, 1)];
    expect(await store.ingest(velocity, events, { position })).toMatchObject({ applied: 2 });
    expect(settles).toEqual([[{ id: 'a', version: 1 }, { id: 'b', version: 1 }]]);
    // The settle was lost: both outboxes stay. The same records again are duplicates, yet the outboxes go out again and are settled.
    settleFails = false;
    const again = await store.ingest(velocity, events, { position });
    expect(again).toMatchObject({ applied: 0, duplicate: 2, reemitted: 2 });
    expect(settles.slice(1)).toEqual([[{ id: 'a', version: 1 }, { id: 'b', version: 1 }]]);
    expect([...(await backend.inner.load(velocity, ['a', 'b'])).values()].map((s) => [s.version, s.pending ?? []])).toEqual([
      [1, []],
      [1, []],
    ]);
    // Settled now: once more, nothing to write, save or settle.
    const third = await store.ingest(velocity, events, { position });
    expect(third).toMatchObject({ duplicate: 2, reemitted: 0 });
    expect(settles).toHaveLength(2);
    expect(online.writes).toHaveLength(2);
    expect(backend.saves).toHaveLength(1);
  });

  it('gives outcomes in input order across entities and kinds, and counts the retries the online store reports', async () => {
    const online = memoryOnline();
    const retrying: OnlineStore = {
      ...online,
      put: (group, records, options) => {
        options?.onRetry?.();
        options?.onRetry?.();
        return online.put(group, records, options);
      },
    };
    // Index 1 fails its source schema (poison before any state is read), index 3 its encoding after aggregating.
    const events = [txn('a', 0, 1), { card_id: 'b' }, txn('a', 2, 1), txn('c', 3, 1e308), txn('c', 4, 1e308), txn('b', 5, 1)];
    const summary = await storeWith(stateStore().states, retrying).ingest(velocity, events);
    expect(summary.outcomes.map((o) => [o.index, o.status])).toEqual([
      [0, 'applied'],
      [1, 'poison'],
      [2, 'applied'],
      [3, 'applied'],
      [4, 'poison'],
      [5, 'applied'],
    ]);
    expect(summary).toMatchObject({ applied: 4, poison: 2, retried: 2 });
  });
});

describe('the ingest with aggregation state, when nothing fails', () => {
  it('writes the records of several entities in input order', async () => {
    const online = onlineStore();
    const store = storeWith(stateStore().states, online.online);
    const summary = await store.ingest(velocity, [txn('a', 30, 1), txn('b', 31, 1), txn('a', 32, 1), txn('b', 33, 1), txn('a', 34, 1)]);
    expect(summary).toMatchObject({ applied: 5, late: 0 });
    expect(online.writes.map((records) => records.map(minuteOf))).toEqual([[30, 31, 32, 33, 34]]);
  });

  it('counts events older than the state of their entity as late, and leaves them out of the windows', async () => {
    const online = onlineStore();
    const store = storeWith(stateStore().states, online.online);
    await store.ingest(velocity, [txn('a', 30, 1), txn('b', 31, 1)]);
    expect(await store.ingest(velocity, [txn('a', 0, 1), txn('b', 1, 1), txn('a', 2, 1)])).toMatchObject({ late: 3 });
    for (const id of ['a', 'b']) expect(velocity.codec.fromRecord((await online.inner.get(velocity, id))?.record as SageMakerRecord), id).toMatchObject({ n_1h: 1, sum_1h: 1 });
  });
});
