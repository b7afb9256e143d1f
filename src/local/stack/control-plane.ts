import { isReservedName, isValidName } from '../../schema/names.js';
import type { FeatureDefinition } from '../../schema/feature-spec.js';
import { ttlProblem } from '../../schema/sagemaker-record.js';
import { resolvedOfflineUri, resolveOfflineUri, type StackContext, requireGroup } from './context.js';
import { AwsError } from './http.js';
import { ACCOUNT_ID, type StoredFeatureGroup } from './registry.js';

const FEATURE_TYPES = new Set(['String', 'Integral', 'Fractional']);

function validationError(message: string): AwsError {
  return new AwsError('ValidationException', message);
}

function glueTableName(name: string, createdMs: number): string {
  return `${name.toLowerCase().replace(/-/g, '_')}_${Math.floor(createdMs / 1000)}`;
}

function describe(group: StoredFeatureGroup): Record<string, unknown> {
  const offline = group.OfflineStoreConfig;
  return {
    ...group,
    CreationTime: group.CreationTime / 1000,
    LastModifiedTime: group.CreationTime / 1000,
    FeatureGroupStatus: 'Created',
    ...(offline
      ? {
          OfflineStoreConfig: {
            ...offline,
            S3StorageConfig: { ...offline.S3StorageConfig, ResolvedOutputS3Uri: resolvedOfflineUri(group) },
          },
          OfflineStoreStatus: { Status: 'Active' },
        }
      : {}),
    OnlineStoreTotalSizeBytes: 0,
  };
}

export function createFeatureGroup(context: StackContext, body: Record<string, unknown>, region: string): Record<string, unknown> {
  const name = body['FeatureGroupName'];
  if (typeof name !== 'string' || !isValidName(name)) throw validationError(`invalid FeatureGroupName ${JSON.stringify(name)}`);
  if (context.registry.get(name)) throw new AwsError('ResourceInUse', `feature group ${name} already exists`);
  const definitions = body['FeatureDefinitions'] as FeatureDefinition[] | undefined;
  if (!Array.isArray(definitions) || definitions.length === 0) throw validationError('FeatureDefinitions must be a non-empty list');
  const names = new Set<string>();
  for (const d of definitions) {
    if (!isValidName(d.FeatureName ?? '')) throw validationError(`invalid FeatureName ${JSON.stringify(d.FeatureName)}`);
    if (isReservedName(d.FeatureName)) throw validationError(`FeatureName ${d.FeatureName} is reserved`);
    if (!FEATURE_TYPES.has(d.FeatureType)) throw validationError(`invalid FeatureType ${JSON.stringify(d.FeatureType)}`);
    if (names.has(d.FeatureName)) throw validationError(`FeatureName ${d.FeatureName} is defined twice`);
    names.add(d.FeatureName);
  }
  const id = body['RecordIdentifierFeatureName'];
  const time = body['EventTimeFeatureName'];
  const byName = new Map(definitions.map((d) => [d.FeatureName, d]));
  if (typeof id !== 'string' || !byName.has(id)) throw validationError('RecordIdentifierFeatureName must name a feature definition');
  if (typeof time !== 'string' || !byName.has(time)) throw validationError('EventTimeFeatureName must name a feature definition');
  if (byName.get(time)?.FeatureType === 'Integral') throw validationError('the event time feature must be String or Fractional');
  const online = body['OnlineStoreConfig'] as StoredFeatureGroup['OnlineStoreConfig'];
  const offline = body['OfflineStoreConfig'] as StoredFeatureGroup['OfflineStoreConfig'];
  if (!online?.EnableOnlineStore && !offline) throw validationError('a feature group needs an OnlineStoreConfig or an OfflineStoreConfig');
  if (offline && !/^s3:\/\/[^/]+/.test(offline.S3StorageConfig?.S3Uri ?? '')) throw validationError('OfflineStoreConfig.S3StorageConfig.S3Uri must be an s3:// URI');
  if (definitions.some((d) => d.CollectionType) && online?.StorageType !== 'InMemory') {
    throw validationError('collection types need OnlineStoreConfig.StorageType InMemory');
  }
  // https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-storage-configurations-offline-store.html:
  // an InMemory online store has no offline store (no online-to-offline replication).
  if (offline && online?.StorageType === 'InMemory') throw validationError('an InMemory online store does not support an offline store: drop OfflineStoreConfig');
  const ttlError = online?.TtlDuration === undefined ? undefined : ttlProblem(online.TtlDuration);
  if (ttlError) throw validationError(`OnlineStoreConfig.${ttlError}`);
  const created = context.now();
  const group: StoredFeatureGroup = {
    FeatureGroupName: name,
    FeatureGroupArn: `arn:aws:sagemaker:${region}:${ACCOUNT_ID}:feature-group/${name.toLowerCase()}`,
    RecordIdentifierFeatureName: id,
    EventTimeFeatureName: time,
    FeatureDefinitions: definitions,
    CreationTime: created,
    ...(online ? { OnlineStoreConfig: online } : {}),
    ...(offline
      ? {
          OfflineStoreConfig: {
            ...offline,
            S3StorageConfig: { ...offline.S3StorageConfig, ResolvedOutputS3Uri: resolveOfflineUri(offline.S3StorageConfig.S3Uri, ACCOUNT_ID, region, name, created) },
            DataCatalogConfig: offline.DataCatalogConfig ?? {
              Catalog: 'AwsDataCatalog',
              Database: 'sagemaker_featurestore',
              TableName: glueTableName(name, created),
            },
          },
        }
      : {}),
    ...(typeof body['RoleArn'] === 'string' ? { RoleArn: body['RoleArn'] } : {}),
    ...(typeof body['Description'] === 'string' ? { Description: body['Description'] } : {}),
    ...(Array.isArray(body['Tags']) ? { Tags: body['Tags'] as StoredFeatureGroup['Tags'] } : {}),
  };
  context.registry.put(group);
  return { FeatureGroupArn: group.FeatureGroupArn };
}

export function describeFeatureGroup(context: StackContext, body: Record<string, unknown>): Record<string, unknown> {
  return describe(requireGroup(context, String(body['FeatureGroupName']), 'control'));
}

export async function deleteFeatureGroup(context: StackContext, body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const group = requireGroup(context, String(body['FeatureGroupName']), 'control');
  // As on AWS, the offline data stays in S3; the online records go with the group.
  await context.offline.flush();
  context.registry.delete(group.FeatureGroupName);
  return {};
}

export function listFeatureGroups(context: StackContext, body: Record<string, unknown>): Record<string, unknown> {
  const contains = typeof body['NameContains'] === 'string' ? body['NameContains'].toLowerCase() : undefined;
  const descending = body['SortOrder'] !== 'Ascending';
  const byName = body['SortBy'] === 'Name';
  const groups = context.registry
    .all()
    .filter((g) => contains === undefined || g.FeatureGroupName.toLowerCase().includes(contains))
    .sort((a, b) => (byName ? a.FeatureGroupName.localeCompare(b.FeatureGroupName) : a.CreationTime - b.CreationTime) * (descending ? -1 : 1));
  const max = Math.min(Math.max(Number(body['MaxResults'] ?? 10), 1), 100);
  const start = body['NextToken'] === undefined ? 0 : Number(body['NextToken']);
  if (!Number.isInteger(start) || start < 0) throw validationError('invalid NextToken');
  const page = groups.slice(start, start + max);
  return {
    FeatureGroupSummaries: page.map((g) => ({
      FeatureGroupName: g.FeatureGroupName,
      FeatureGroupArn: g.FeatureGroupArn,
      CreationTime: g.CreationTime / 1000,
      FeatureGroupStatus: 'Created',
      ...(g.OfflineStoreConfig ? { OfflineStoreStatus: { Status: 'Active' } } : {}),
    })),
    ...(start + max < groups.length ? { NextToken: String(start + max) } : {}),
  };
}
