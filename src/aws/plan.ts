import type { TtlDuration } from '../schema/sagemaker-record.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';

export interface CreateFeatureGroupOptions {
  /** The role SageMaker assumes to write the offline store. */
  readonly roleArn: string;
  /** `s3://bucket/prefix` for the offline store; omit for an online-only group. */
  readonly offlineStoreS3Uri?: string;
  /** Online store settings, or `false` for an offline-only group. Default: enabled, Standard tier. */
  readonly onlineStore?: false | { readonly ttl?: TtlDuration; readonly storageType?: 'Standard' | 'InMemory' };
  readonly tableFormat?: 'Glue' | 'Iceberg';
}

/** The CreateFeatureGroup request (and CloudFormation properties) for a group. */
export interface CreateFeatureGroupInput {
  readonly FeatureGroupName: string;
  readonly RecordIdentifierFeatureName: string;
  readonly EventTimeFeatureName: string;
  readonly FeatureDefinitions: FeatureDefinition[];
  readonly OnlineStoreConfig?: { EnableOnlineStore: boolean; StorageType?: 'Standard' | 'InMemory'; TtlDuration?: TtlDuration };
  readonly OfflineStoreConfig?: { S3StorageConfig: { S3Uri: string }; TableFormat?: 'Glue' | 'Iceberg' };
  readonly RoleArn: string;
  readonly Description?: string;
  readonly Tags: { Key: string; Value: string }[];
}

/**
 * The CreateFeatureGroup input for a group: its FeatureDefinitions, keys, stores and a tag with its
 * fingerprint. Pass it to `CreateFeatureGroupCommand`, or use `toCloudFormation` for IaC.
 *
 * ### Example
 * ```ts
 * const input = toCreateFeatureGroupInput(cardActivity, { roleArn, offlineStoreS3Uri: 's3://my-bucket/features' });
 * await sagemaker.send(new CreateFeatureGroupCommand(input));
 * ```
 */
export function toCreateFeatureGroupInput(group: AnyFeatureGroup, options: CreateFeatureGroupOptions): CreateFeatureGroupInput {
  const online = options.onlineStore === false ? undefined : (options.onlineStore ?? {});
  return {
    FeatureGroupName: group.name,
    RecordIdentifierFeatureName: group.recordIdentifier,
    EventTimeFeatureName: group.eventTime,
    FeatureDefinitions: group.featureDefinitions.map((d) => ({ ...d })),
    ...(online
      ? {
          OnlineStoreConfig: {
            EnableOnlineStore: true,
            StorageType: online.storageType ?? group.onlineStorageType,
            ...((online.ttl ?? group.ttl) ? { TtlDuration: online.ttl ?? group.ttl } : {}),
          },
        }
      : {}),
    ...(options.offlineStoreS3Uri
      ? { OfflineStoreConfig: { S3StorageConfig: { S3Uri: options.offlineStoreS3Uri }, TableFormat: options.tableFormat ?? 'Glue' } }
      : {}),
    RoleArn: options.roleArn,
    ...(group.description ? { Description: group.description } : {}),
    Tags: [{ Key: 'skewless:fingerprint', Value: group.fingerprint }],
  };
}

function logicalId(name: string): string {
  return `${name.replace(/(^|[-_])([a-zA-Z0-9])/g, (_, _sep: string, c: string) => c.toUpperCase())}FeatureGroup`;
}

/**
 * The group as a CloudFormation `AWS::SageMaker::FeatureGroup` resource, keyed by a logical id.
 *
 * ### Example
 * ```ts
 * const template = { Resources: toCloudFormation(cardActivity, { roleArn, offlineStoreS3Uri }) };
 * ```
 */
export function toCloudFormation(group: AnyFeatureGroup, options: CreateFeatureGroupOptions): Record<string, { Type: string; Properties: CreateFeatureGroupInput }> {
  return { [logicalId(group.name)]: { Type: 'AWS::SageMaker::FeatureGroup', Properties: toCreateFeatureGroupInput(group, options) } };
}

export interface IamPolicyOptions {
  readonly region?: string;
  readonly accountId?: string;
  /** The offline store's `s3://bucket/prefix`, which training reads. */
  readonly offlineStoreS3Uri?: string;
  /** Where Athena writes results (`s3://bucket/prefix`), which training reads and writes. */
  readonly athenaResultsS3Uri?: string;
  readonly athenaWorkGroup?: string;
  readonly glueDatabase?: string;
  /** The DynamoDB table of `dynamoDbAggregationState`, for groups with aggregations; default `skewless-state`. */
  readonly aggregationStateTable?: string;
}

interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: { Sid: string; Effect: 'Allow'; Action: string[]; Resource: string[] }[];
}

function s3Parts(uri: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new TypeError(`not an S3 URI: ${uri}`);
  return { bucket: match[1] as string, prefix: (match[2] ?? '').replace(/\/+$/, '') };
}

/**
 * Least-privilege IAM policies per role: the ingestion Lambda may only PutRecord into this group
 * (and, for a group with aggregations, read and write its state table);
 * training may only run Athena in its workgroup and read the group's offline data and Glue table.
 *
 * ### Example
 * ```ts
 * const { ingestion, training } = iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '123456789012', offlineStoreS3Uri, athenaResultsS3Uri });
 * ```
 */
export function iamPolicies(group: AnyFeatureGroup, options: IamPolicyOptions = {}): { ingestion: PolicyDocument; training: PolicyDocument } {
  const region = options.region ?? '${AWS::Region}';
  const account = options.accountId ?? '${AWS::AccountId}';
  const groupArn = `arn:aws:sagemaker:${region}:${account}:feature-group/${group.name.toLowerCase()}`;
  const workGroup = options.athenaWorkGroup ?? 'primary';
  const database = options.glueDatabase ?? 'sagemaker_featurestore';
  const training: PolicyDocument['Statement'] = [
    {
      Sid: 'RunAthenaQueries',
      Effect: 'Allow',
      Action: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
      Resource: [`arn:aws:athena:${region}:${account}:workgroup/${workGroup}`],
    },
    {
      Sid: 'ReadOfflineStoreTable',
      Effect: 'Allow',
      Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
      Resource: [
        `arn:aws:glue:${region}:${account}:catalog`,
        `arn:aws:glue:${region}:${account}:database/${database}`,
        `arn:aws:glue:${region}:${account}:table/${database}/*`,
      ],
    },
  ];
  if (options.offlineStoreS3Uri) {
    const { bucket, prefix } = s3Parts(options.offlineStoreS3Uri);
    training.push(
      { Sid: 'ReadOfflineStoreObjects', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [`arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}${group.name}/*`] },
      { Sid: 'ListOfflineStore', Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: [`arn:aws:s3:::${bucket}`] },
    );
  }
  if (options.athenaResultsS3Uri) {
    const { bucket, prefix } = s3Parts(options.athenaResultsS3Uri);
    training.push({
      Sid: 'AthenaResults',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      Resource: [`arn:aws:s3:::${bucket}/${prefix ? `${prefix}/` : ''}*`],
    });
  }
  return {
    ingestion: {
      Version: '2012-10-17',
      Statement: [
        { Sid: 'PutRecordIntoThisGroupOnly', Effect: 'Allow', Action: ['sagemaker:PutRecord'], Resource: [groupArn] },
        // The window state: one read per batch, one conditional write per entity (no transactions, no scans).
        ...(Object.keys(group.aggregations).length > 0
          ? [
              {
                Sid: 'AggregationState',
                Effect: 'Allow' as const,
                Action: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
                Resource: [`arn:aws:dynamodb:${region}:${account}:table/${options.aggregationStateTable ?? 'skewless-state'}`],
              },
            ]
          : []),
      ],
    },
    training: { Version: '2012-10-17', Statement: training },
  };
}

/** What `skewless plan --diff` found between a group's definition and the deployed feature group. */
export interface FeatureGroupDiff {
  /** Features to add with UpdateFeatureGroup (FeatureAdditions). */
  readonly additions: FeatureDefinition[];
  /** Changes SageMaker cannot apply in place: a new feature group (and a backfill) is needed. */
  readonly breaking: string[];
  readonly unchanged: boolean;
}

/**
 * Compares a group with a DescribeFeatureGroup response: added features are an UpdateFeatureGroup;
 * a changed type, a removed feature or other keys are breaking changes.
 *
 * ### Example
 * ```ts
 * const diff = diffFeatureGroup(cardActivity, await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: cardActivity.name })));
 * ```
 */
export function diffFeatureGroup(
  group: AnyFeatureGroup,
  deployed: {
    readonly RecordIdentifierFeatureName?: string | undefined;
    readonly EventTimeFeatureName?: string | undefined;
    readonly FeatureDefinitions?: readonly { FeatureName?: string | undefined; FeatureType?: string | undefined; CollectionType?: string | undefined }[] | undefined;
  },
): FeatureGroupDiff {
  const breaking: string[] = [];
  if (deployed.RecordIdentifierFeatureName !== group.recordIdentifier) {
    breaking.push(`record identifier is ${deployed.RecordIdentifierFeatureName} on AWS, ${group.recordIdentifier} here`);
  }
  if (deployed.EventTimeFeatureName !== group.eventTime) {
    breaking.push(`event time is ${deployed.EventTimeFeatureName} on AWS, ${group.eventTime} here`);
  }
  const remote = new Map((deployed.FeatureDefinitions ?? []).map((d) => [d.FeatureName ?? '', d]));
  const additions: FeatureDefinition[] = [];
  for (const local of group.featureDefinitions) {
    const existing = remote.get(local.FeatureName);
    if (!existing) additions.push({ ...local });
    else if (existing.FeatureType !== local.FeatureType || (existing.CollectionType ?? undefined) !== local.CollectionType) {
      breaking.push(
        `feature ${local.FeatureName} is ${existing.FeatureType}${existing.CollectionType ? ` ${existing.CollectionType}` : ''} on AWS, ${local.FeatureType}${local.CollectionType ? ` ${local.CollectionType}` : ''} here`,
      );
    }
  }
  for (const name of remote.keys()) {
    if (!group.featureDefinitions.some((d) => d.FeatureName === name)) breaking.push(`feature ${name} exists on AWS but not here (SageMaker cannot remove features)`);
  }
  return { additions, breaking, unchanged: additions.length === 0 && breaking.length === 0 };
}
