import * as z from 'zod/mini';
import { BackendError } from '../errors.js';
import { checkOptions, functionSchema } from '../util/options.js';
import { checkRecord, expiresAtMs, type GroupSchema, recordOf, storedForm, type StoredRecord } from '../schema/sagemaker-record.js';
import type { OfflineStore, OfflineStoredRow, OfflineWrite, OnlineRecord, OnlineStore, OnlineWriteOutcome } from '../store/types.js';
import { writesByPartition } from '../offline/layout.js';
import type { AggregationSaveOutcome, AggregationStateStore, StoredAggregationState } from '../pipeline/state.js';

interface Row {
  readonly eventTimeMs: number;
  /** The store's own copy of the record; undefined for a soft-delete marker. */
  readonly stored: StoredRecord | undefined;
  readonly expiresAtMs: number | undefined;
}

/**
 * An online store in plain memory with the same write rule as every backend: for unit tests and
 * benchmarks that should not depend on DuckDB or a network. Not durable.
 *
 * ### Example
 * ```ts
 * const store = createFeatureStore({ online: memoryOnline(), offline: memoryOffline() });
 * ```
 */
export function memoryOnline(options: { readonly now?: () => number } = {}): OnlineStore {
  checkOptions(z.strictObject({ now: z.optional(functionSchema('a clock function')) }), options, 'memoryOnline options');
  const now = options.now ?? Date.now;
  const groups = new Map<string, Map<string, Row>>();
  const rowsOf = (group: GroupSchema) => {
    let rows = groups.get(group.name);
    if (!rows) groups.set(group.name, (rows = new Map()));
    return rows;
  };
  const live = (row: Row | undefined) => (row && (row.expiresAtMs === undefined || row.expiresAtMs > now()) ? row : undefined);
  const read = (row: Row | undefined, features?: readonly string[]): OnlineRecord | undefined => {
    const found = live(row);
    if (found?.stored === undefined) return undefined;
    const record = recordOf(found.stored, features);
    return found.expiresAtMs === undefined ? { record } : { record, expiresAt: new Date(found.expiresAtMs) };
  };
  return {
    async put(group, records, options = {}) {
      const rows = rowsOf(group);
      return records.map((record): OnlineWriteOutcome => {
        // As a remote store under a Lambda's time budget: a write not started by the deadline is reported.
        if (options.deadline !== undefined && Date.now() >= options.deadline) {
          return new BackendError('DEADLINE_EXCEEDED', `group "${group.name}": not written, the invocation ran out of time`, { retryable: true, group: group.name });
        }
        const checked = checkRecord(group, record);
        if (!checked.ok) throw new TypeError(`group "${group.name}": ${checked.problem.message}`);
        const before = live(rows.get(checked.id));
        if (before && checked.eventTimeMs <= before.eventTimeMs) return 'stale';
        rows.set(checked.id, { eventTimeMs: checked.eventTimeMs, stored: storedForm(record), expiresAtMs: expiresAtMs(checked.eventTimeMs, options.ttl) });
        return 'applied';
      });
    },
    async get(group, id, options = {}) {
      return read(rowsOf(group).get(id), options.features);
    },
    async getMany(group, ids, options = {}) {
      const rows = rowsOf(group);
      const out = new Map<string, OnlineRecord>();
      for (const id of ids) {
        const found = read(rows.get(id), options.features);
        if (found) out.set(id, found);
      }
      return out;
    },
    async delete(group, id, eventTime, mode) {
      const marker = checkRecord(group, [
        { FeatureName: group.recordIdentifier, ValueAsString: id },
        { FeatureName: group.eventTime, ValueAsString: eventTime },
      ]);
      if (!marker.ok) throw new TypeError(`group "${group.name}": ${marker.problem.message}`);
      const rows = rowsOf(group);
      const before = live(rows.get(id));
      if (before && marker.eventTimeMs <= before.eventTimeMs) return 'stale';
      if (mode === 'HardDelete') rows.delete(id);
      else rows.set(id, { eventTimeMs: marker.eventTimeMs, stored: undefined, expiresAtMs: undefined });
      return 'deleted';
    },
    async close() {
      groups.clear();
    },
  };
}

/**
 * An offline store in plain memory that keeps every write as SageMaker would lay it out: typed
 * feature columns plus `write_time`, `api_invocation_time` and `is_deleted`.
 *
 * ### Example
 * ```ts
 * const offline = memoryOffline();
 * const rows = await offline.scan(cardActivity);
 * ```
 */
export function memoryOffline(): OfflineStore & { readonly writes: ReadonlyMap<string, readonly OfflineWrite[]> } {
  const writes = new Map<string, OfflineWrite[]>();
  // Named files (backfills): a rewrite of a name replaces its rows, as a file on disk would be.
  const named = new Map<string, Map<string, readonly OfflineWrite[]>>();
  return {
    writes,
    availabilityDelay: '0s',
    async append(group, batch, options = {}) {
      for (const write of batch) {
        const checked = checkRecord(group, write.record);
        if (!checked.ok) throw new TypeError(`group "${group.name}": ${checked.problem.message}`);
      }
      if (options.fileName !== undefined) {
        // One file per partition the writes fall in, as on disk: `<partition>/<name>`.
        const files = named.get(group.name) ?? new Map<string, readonly OfflineWrite[]>();
        for (const [partition, writes] of writesByPartition(group, batch)) files.set(`${partition}/${options.fileName}`, writes);
        named.set(group.name, files);
        return;
      }
      const list = writes.get(group.name) ?? [];
      for (const write of batch) list.push(write);
      writes.set(group.name, list);
    },
    async scan(group) {
      const all = [...(writes.get(group.name) ?? []), ...[...(named.get(group.name)?.values() ?? [])].flat()];
      return all.map((write) => {
        const row: Record<string, unknown> = {};
        const values = new Map(write.record.map((f) => [f.FeatureName, f]));
        for (const d of group.featureDefinitions) {
          const f = values.get(d.FeatureName);
          const parse = (text: string) => (d.FeatureType === 'Integral' ? BigInt(text) : d.FeatureType === 'Fractional' ? Number(text) : text);
          row[d.FeatureName] = f === undefined ? null : d.CollectionType ? (f.ValueAsStringList ?? []).map(parse) : parse(f.ValueAsString ?? '');
        }
        return { ...row, write_time: write.writeTime, api_invocation_time: write.apiInvocationTime, is_deleted: write.isDeleted } as OfflineStoredRow;
      });
    },
    async removeFiles(group, select) {
      const files = named.get(group.name);
      let removed = 0;
      for (const path of [...(files?.keys() ?? [])]) {
        if (!select(path.slice(path.lastIndexOf('/') + 1))) continue;
        files?.delete(path);
        removed++;
      }
      return removed;
    },
    async close() {
      writes.clear();
      named.clear();
    },
  };
}

/**
 * Aggregation state in plain memory, with the same versioned conditional write and outbox as the
 * DynamoDB store: for unit tests, `expectParity` and benchmarks. Not durable.
 *
 * ### Example
 * ```ts
 * const store = createFeatureStore({ online: memoryOnline(), offline: false, aggregationState: memoryAggregationState() });
 * ```
 */
export function memoryAggregationState(): AggregationStateStore & { readonly items: Map<string, StoredAggregationState> } {
  const items = new Map<string, StoredAggregationState>();
  const key = (group: GroupSchema, id: string) => `${group.name}#${id}`;
  return {
    items,
    async load(group, ids) {
      const out = new Map<string, StoredAggregationState>();
      for (const id of ids) {
        const found = items.get(key(group, id));
        // Copies, as a real store's reads are: the caller may change what it got.
        if (found) out.set(id, structuredClone(found));
      }
      return out;
    },
    async save(group, updates) {
      return updates.map((u): AggregationSaveOutcome => {
        const current = items.get(key(group, u.id));
        if (current?.version !== u.expected) return 'conflict';
        const version = (u.expected ?? 0) + 1;
        const pending = u.pending && u.pending.length > 0 ? { pending: structuredClone(u.pending) } : {};
        items.set(key(group, u.id), { state: structuredClone(u.state), version, ...pending });
        return 'saved';
      });
    },
    async settle(group, settled) {
      for (const { id, version } of settled) {
        const current = items.get(key(group, id));
        if (current?.version === version && current.pending) items.set(key(group, id), { state: current.state, version });
      }
    },
    async close() {},
  };
}
