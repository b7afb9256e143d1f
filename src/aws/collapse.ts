import type { SageMakerRecord } from '../schema/codec.js';
import { eventTimeTypeOf, type GroupSchema, parseEventTime } from '../schema/sagemaker-record.js';

/** Where one record of a put goes: to the configured stores, to the offline store alone, or nowhere more. */
export type WriteTarget = 'configured' | 'offline' | 'none';

/** One record of a put and where it goes. */
export interface PlannedWrite {
  readonly index: number;
  readonly target: WriteTarget;
}

/**
 * Writes in stages: a stage's writes may run together, and an identifier with a failed write sends
 * nothing in later stages (that record would overtake the failed one).
 */
export type WriteStages = readonly (readonly PlannedWrite[])[];

export function identifierOf(group: GroupSchema, record: SageMakerRecord): string {
  return record.find((f) => f.FeatureName === group.recordIdentifier)?.ValueAsString ?? '';
}

/**
 * Rounds holding at most one record per identifier, each to the configured stores: the order in which
 * BatchWriteRecord without collapsing writes, so each identifier's records arrive one after another.
 */
export function roundsPerIdentifier(group: GroupSchema, records: readonly SageMakerRecord[]): WriteStages {
  const rounds: PlannedWrite[][] = [];
  const seen = new Map<string, number>();
  records.forEach((record, index) => {
    const id = identifierOf(group, record);
    const round = seen.get(id) ?? 0;
    seen.set(id, round + 1);
    (rounds[round] ??= []).push({ index, target: 'configured' });
  });
  return rounds;
}

/**
 * Collapsing: of each identifier's records in one put, only the one the online write rule keeps (the
 * greatest event time; on equal event times the first) is written online; the others go to the offline
 * store alone (`offline` false: nowhere), since writing them online would change nothing. The result
 * online is the same as writing every record in order: a stored record at least as new still wins.
 * Stages keep each identifier's order: the records before its newest, then the newest, then those after
 * it, so a failure stops what follows as it does without collapsing. An identifier with a record whose
 * event time does not parse is written as without collapsing, one record per stage.
 */
export function collapseToNewest(group: GroupSchema, records: readonly SageMakerRecord[], offline: boolean): WriteStages {
  const type = eventTimeTypeOf(group);
  const byId = new Map<string, { indices: number[]; newest: number; newestMs: number; unparsed: boolean }>();
  records.forEach((record, index) => {
    const id = identifierOf(group, record);
    const text = record.find((f) => f.FeatureName === group.eventTime)?.ValueAsString;
    const ms = text === undefined ? undefined : parseEventTime(type, text);
    const entry = byId.get(id);
    if (entry === undefined) {
      byId.set(id, { indices: [index], newest: index, newestMs: ms ?? Number.NEGATIVE_INFINITY, unparsed: ms === undefined });
      return;
    }
    entry.indices.push(index);
    if (ms === undefined) entry.unparsed = true;
    else if (ms > entry.newestMs) {
      entry.newest = index;
      entry.newestMs = ms;
    }
  });
  const superseded: WriteTarget = offline ? 'offline' : 'none';
  const stages: PlannedWrite[][] = [];
  const put = (stage: number, write: PlannedWrite) => (stages[stage] ??= []).push(write);
  for (const { indices, newest, unparsed } of byId.values()) {
    if (unparsed) {
      indices.forEach((index, round) => put(round, { index, target: 'configured' }));
      continue;
    }
    const at = indices.indexOf(newest);
    const newestStage = at > 0 ? 1 : 0;
    indices.forEach((index, i) => put(i < at ? 0 : i === at ? newestStage : newestStage + 1, { index, target: i === at ? 'configured' : superseded }));
  }
  // Each stage in input order, as the calls' entries then are.
  return stages.filter((stage) => stage !== undefined).map((stage) => stage.sort((x, y) => x.index - y.index));
}

/**
 * A stage's writes as BatchWriteRecord calls of up to `size` entries, in waves: a wave's calls go out
 * together, each wave after the one before. Each identifier's writes sit side by side in input order,
 * so a call shares an identifier only with its neighbours; a call that goes on with the identifier the
 * call before it ended with waits for that call, so the identifier's records reach the store in order
 * (among records of equal event time a training set takes the first written).
 */
export function callWaves(group: GroupSchema, records: readonly SageMakerRecord[], stage: readonly PlannedWrite[], size: number): PlannedWrite[][][] {
  const byId = new Map<string, PlannedWrite[]>();
  for (const write of stage) {
    const id = identifierOf(group, records[write.index] as SageMakerRecord);
    const writes = byId.get(id);
    if (writes) writes.push(write);
    else byId.set(id, [write]);
  }
  const laid = [...byId.values()].flat();
  const idAt = (i: number) => identifierOf(group, records[(laid[i] as PlannedWrite).index] as SageMakerRecord);
  const waves: PlannedWrite[][][] = [];
  let wave = 0;
  for (let start = 0; start < laid.length; start += size) {
    wave = start > 0 && idAt(start - 1) === idAt(start) ? wave + 1 : 0;
    (waves[wave] ??= []).push(laid.slice(start, start + size));
  }
  return waves;
}
