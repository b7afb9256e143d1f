import type { FeatureValue, SageMakerRecord } from '../../schema/codec.js';
import { checkRecord, type TtlDuration, ttlProblem } from '../../schema/sagemaker-record.js';
import { type StackContext, requireGroup } from './context.js';
import { AwsError } from './http.js';
import { onlineEnabled, schemaOf, type StoredFeatureGroup } from './registry.js';

type Target = 'OnlineStore' | 'OfflineStore';

const BATCH_WRITE_MAX = 25;
const BATCH_GET_MAX = 100;

function targets(group: StoredFeatureGroup, requested: readonly string[] | undefined): Set<Target> {
  const available = new Set<Target>();
  if (onlineEnabled(group)) available.add('OnlineStore');
  if (group.OfflineStoreConfig) available.add('OfflineStore');
  if (requested === undefined || requested.length === 0) return available;
  for (const target of requested) {
    if (target !== 'OnlineStore' && target !== 'OfflineStore') throw new AwsError('ValidationError', `unknown target store ${target}`);
    if (!available.has(target)) {
      throw new AwsError('ValidationError', `feature group ${group.FeatureGroupName} has no ${target}`);
    }
  }
  return new Set(requested as Target[]);
}

function asRecord(value: unknown): SageMakerRecord {
  if (!Array.isArray(value) || value.length === 0) throw new AwsError('ValidationError', 'Record must be a non-empty list of FeatureValues');
  for (const item of value) {
    if (typeof item !== 'object' || item === null || typeof (item as FeatureValue).FeatureName !== 'string') {
      throw new AwsError('ValidationError', 'each FeatureValue needs a FeatureName');
    }
  }
  return value as SageMakerRecord;
}

/** PutRecord's effect, shared by PutRecord and BatchWriteRecord. */
async function writeRecord(
  context: StackContext,
  group: StoredFeatureGroup,
  rawRecord: unknown,
  requestedTargets: readonly string[] | undefined,
  ttl: TtlDuration | undefined,
): Promise<void> {
  const record = asRecord(rawRecord);
  const checked = checkRecord(schemaOf(group), record);
  if (!checked.ok) throw new AwsError('ValidationError', checked.problem.message);
  const problem = ttl === undefined ? undefined : ttlProblem(ttl);
  if (problem) throw new AwsError('ValidationError', problem);
  const to = targets(group, requestedTargets);
  if (to.has('OnlineStore')) {
    const effectiveTtl = ttl ?? group.OnlineStoreConfig?.TtlDuration;
    await context.online.put(schemaOf(group), [record], effectiveTtl ? { ttl: effectiveTtl } : {});
  }
  if (to.has('OfflineStore')) {
    // Every record goes offline, also one too old for the online store: that is history.
    const now = new Date(context.now());
    context.offline.enqueue(group, { record, writeTime: now, apiInvocationTime: now, isDeleted: false });
  }
}

export async function putRecord(context: StackContext, name: string, body: Record<string, unknown>): Promise<undefined> {
  const group = requireGroup(context, name);
  await writeRecord(context, group, body['Record'], body['TargetStores'] as string[] | undefined, body['TtlDuration'] as TtlDuration | undefined);
  return undefined;
}

export async function getRecord(context: StackContext, name: string, query: URLSearchParams): Promise<Record<string, unknown>> {
  const group = requireGroup(context, name, 'GetRecord');
  const id = query.get('RecordIdentifierValueAsString');
  if (!id) throw new AwsError('ValidationError', 'RecordIdentifierValueAsString is required');
  if (!onlineEnabled(group)) throw new AwsError('ValidationError', `feature group ${name} has no OnlineStore`);
  const features = query.getAll('FeatureName');
  const found = await context.online.get(schemaOf(group), id, { features });
  if (!found) return {};
  const withExpiry = query.get('ExpirationTimeResponse') === 'Enabled' && found.expiresAt;
  return withExpiry ? { Record: found.record, ExpiresAt: (found.expiresAt as Date).toISOString() } : { Record: found.record };
}

export async function deleteRecord(context: StackContext, name: string, query: URLSearchParams): Promise<undefined> {
  const group = requireGroup(context, name);
  const id = query.get('RecordIdentifierValueAsString');
  const eventTime = query.get('EventTime');
  if (!id || !eventTime) throw new AwsError('ValidationError', 'RecordIdentifierValueAsString and EventTime are required');
  const mode = query.get('DeletionMode') ?? 'SoftDelete';
  if (mode !== 'SoftDelete' && mode !== 'HardDelete') throw new AwsError('ValidationError', `unknown DeletionMode ${mode}`);
  const marker: SageMakerRecord = [
    { FeatureName: group.RecordIdentifierFeatureName, ValueAsString: id },
    { FeatureName: group.EventTimeFeatureName, ValueAsString: eventTime },
  ];
  const checked = checkRecord(schemaOf(group), marker);
  if (!checked.ok) throw new AwsError('ValidationError', checked.problem.message);
  const to = targets(group, query.getAll('TargetStores'));
  if (to.has('OnlineStore')) {
    const status = await context.online.delete(schemaOf(group), id, eventTime, mode);
    // As documented: a HardDelete older than the stored record fails and writes no marker;
    // a SoftDelete older than it leaves the record but still writes the marker.
    if (status === 'stale' && mode === 'HardDelete') {
      throw new AwsError('ValidationError', `EventTime ${eventTime} is not later than the stored record's event time`);
    }
  }
  if (to.has('OfflineStore')) {
    const now = new Date(context.now());
    context.offline.enqueue(group, { record: marker, writeTime: now, apiInvocationTime: now, isDeleted: true });
  }
  return undefined;
}

interface Identifier {
  FeatureGroupName: string;
  RecordIdentifiersValueAsString: string[];
  FeatureNames?: string[];
}

export async function batchGetRecord(context: StackContext, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const identifiers = body['Identifiers'];
  // The model: 1..100 Identifiers, each with 1..100 RecordIdentifiersValueAsString; the quota: at most
  // 100 records per call (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-quotas.html).
  if (!Array.isArray(identifiers) || identifiers.length === 0 || identifiers.length > BATCH_GET_MAX) {
    throw new AwsError('ValidationError', `Identifiers must hold 1 to ${BATCH_GET_MAX} entries, got ${Array.isArray(identifiers) ? identifiers.length : 'none'}`);
  }
  for (const entry of identifiers as Identifier[]) {
    const ids = entry.RecordIdentifiersValueAsString;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > BATCH_GET_MAX) {
      throw new AwsError('ValidationError', `RecordIdentifiersValueAsString must hold 1 to ${BATCH_GET_MAX} identifiers, got ${Array.isArray(ids) ? ids.length : 'none'}`);
    }
  }
  const total = (identifiers as Identifier[]).reduce((n, i) => n + i.RecordIdentifiersValueAsString.length, 0);
  if (total > BATCH_GET_MAX) throw new AwsError('ValidationError', `BatchGetRecord takes at most ${BATCH_GET_MAX} records per call, got ${total}`);
  const withExpiry = body['ExpirationTimeResponse'] === 'Enabled';
  const Records: unknown[] = [];
  const Errors: unknown[] = [];
  const UnprocessedIdentifiers: Identifier[] = [];
  for (const entry of identifiers as Identifier[]) {
    const group = context.registry.get(entry.FeatureGroupName);
    const ids = entry.RecordIdentifiersValueAsString ?? [];
    if (!group || !onlineEnabled(group)) {
      for (const id of ids) {
        Errors.push({
          FeatureGroupName: entry.FeatureGroupName,
          RecordIdentifierValueAsString: id,
          ErrorCode: group ? 'ValidationError' : 'ResourceNotFound',
          ErrorMessage: group ? `feature group ${entry.FeatureGroupName} has no OnlineStore` : `Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name [${entry.FeatureGroupName}].`,
        });
      }
      continue;
    }
    const unprocessed = ids.filter(() => context.faults.unprocessed('BatchGetRecord'));
    const processed = ids.filter((id) => !unprocessed.includes(id));
    if (unprocessed.length > 0) {
      UnprocessedIdentifiers.push({ FeatureGroupName: entry.FeatureGroupName, RecordIdentifiersValueAsString: unprocessed, ...(entry.FeatureNames ? { FeatureNames: entry.FeatureNames } : {}) });
    }
    const found = await context.online.getMany(schemaOf(group), processed);
    for (const id of processed) {
      const hit = found.get(id);
      if (!hit) continue;
      const wanted = entry.FeatureNames?.length ? new Set(entry.FeatureNames) : undefined;
      Records.push({
        FeatureGroupName: entry.FeatureGroupName,
        RecordIdentifierValueAsString: id,
        Record: wanted ? hit.record.filter((f) => wanted.has(f.FeatureName)) : hit.record,
        ...(withExpiry && hit.expiresAt ? { ExpiresAt: hit.expiresAt.toISOString() } : {}),
      });
    }
  }
  return { Records, Errors, UnprocessedIdentifiers };
}

interface Entry {
  FeatureGroupName: string;
  Record: unknown;
  TargetStores?: string[];
  TtlDuration?: TtlDuration;
}

export async function batchWriteRecord(context: StackContext, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const entries = body['Entries'];
  // 1 to 25 entries (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_feature_store_BatchWriteRecord.html).
  if (!Array.isArray(entries) || entries.length === 0 || entries.length > BATCH_WRITE_MAX) {
    throw new AwsError('ValidationError', `Entries must hold 1 to ${BATCH_WRITE_MAX} entries, got ${Array.isArray(entries) ? entries.length : 'none'}`);
  }
  const Errors: unknown[] = [];
  const UnprocessedEntries: Entry[] = [];
  for (const entry of entries as Entry[]) {
    if (context.faults.unprocessed('BatchWriteRecord')) {
      UnprocessedEntries.push(entry);
      continue;
    }
    try {
      const group = requireGroup(context, entry.FeatureGroupName);
      await writeRecord(context, group, entry.Record, entry.TargetStores, entry.TtlDuration ?? (body['TtlDuration'] as TtlDuration | undefined));
    } catch (error) {
      if (!(error instanceof AwsError)) throw error;
      Errors.push({ Entry: entry, ErrorCode: error.code, ErrorMessage: error.message });
    }
  }
  return { Errors, UnprocessedEntries };
}

