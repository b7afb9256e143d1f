import type { TtlDuration } from '../schema/sagemaker-record.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import type { FeatureDefinition } from '../schema/feature-spec.js';
import { ConfigurationError } from '../errors.js';
import type { CapacityPlan } from './capacity.js';
import { requireGroup } from '../feature-group.js';
import * as z from 'zod/mini';
import { checkOptions, describeValue, expected, lazySchema, positiveInteger } from '../util/options.js';
import { accountId, hasPlaceholder, region, s3Location, tableName, text } from './options.js';

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

const CREATE_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject(
  {
    roleArn: z.string({ error: (issue) => (issue.input === undefined ? 'an IAM role ARN is required: the role SageMaker assumes to write the offline store' : `expected an IAM role ARN, got ${describeValue(issue.input)}`) }).check(z.minLength(1, 'an IAM role ARN cannot be empty')),
    offlineStoreS3Uri: z.optional(s3Location(true)),
    // Its settings are checked on their own (ONLINE_SETTINGS): a union would hide which one is wrong.
    onlineStore: z.optional(z.custom((v) => v === false || (typeof v === 'object' && v !== null && !Array.isArray(v)), { error: expected('online store settings ({ ttl, storageType }) or false for none') })),
    tableFormat: z.optional(z.enum(['Glue', 'Iceberg'], { error: expected("'Glue' or 'Iceberg'") })),
  },
  { error: expected('CreateFeatureGroup options: { roleArn, offlineStoreS3Uri, onlineStore, tableFormat }') },
));

const ONLINE_SETTINGS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  ttl: z.optional(z.strictObject({
    Unit: z.enum(['Seconds', 'Minutes', 'Hours', 'Days', 'Weeks'], { error: expected("'Seconds', 'Minutes', 'Hours', 'Days' or 'Weeks'") }),
    Value: positiveInteger('a positive whole number'),
  }, { error: expected("a TtlDuration, e.g. { Unit: 'Days', Value: 30 }") })),
  storageType: z.optional(z.enum(['Standard', 'InMemory'], { error: expected("'Standard' or 'InMemory'") })),
}));

const IAM_OPTIONS = /* @__PURE__ */ lazySchema(() =>
  z.strictObject(
    {
      region: z.optional(region()),
      accountId: z.optional(accountId()),
      offlineStoreS3Uri: z.optional(s3Location(true)),
      resolvedOutputS3Uri: z.optional(s3Location(true)),
      athenaResultsS3Uri: z.optional(s3Location(true)),
      athenaWorkGroup: z.optional(text('an Athena work group name')),
      glueDatabase: z.optional(text('a Glue database name')),
      aggregationStateTable: z.optional(tableName(true)),
      featureGroupArn: z.optional(text("a feature group's ARN")),
    },
    { error: expected('IAM policy options: { region, accountId, offlineStoreS3Uri, ... }') },
  ),
);

/** The group and the options of `toCreateFeatureGroupInput` and `toCloudFormation`, named after the function called (`where`). */
function checkCreateOptions(group: AnyFeatureGroup, options: CreateFeatureGroupOptions, where: string): void {
  requireGroup(group, where);
  checkOptions(CREATE_OPTIONS, options, `${where} options`);
  if (options.onlineStore) checkOptions(ONLINE_SETTINGS, options.onlineStore, `${where} options.onlineStore`);
}

const IN_MEMORY_OFFLINE_DOC = 'https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-storage-configurations-offline-store.html';

/**
 * The CreateFeatureGroup input for a group: its FeatureDefinitions (list features with their
 * CollectionType), keys, stores and a tag with its fingerprint. Pass it to `CreateFeatureGroupCommand`,
 * or use `toCloudFormation` for IaC. An offline store for a group whose online store is InMemory is a
 * `ConfigurationError`: SageMaker has no offline store for InMemory feature groups.
 *
 * ### Example
 * ```ts
 * const input = toCreateFeatureGroupInput(cardActivity, { roleArn, offlineStoreS3Uri: 's3://my-bucket/features' });
 * await sagemaker.send(new CreateFeatureGroupCommand(input));
 * ```
 */
export function toCreateFeatureGroupInput(group: AnyFeatureGroup, options: CreateFeatureGroupOptions): CreateFeatureGroupInput {
  checkCreateOptions(group, options, 'toCreateFeatureGroupInput');
  const online = options.onlineStore === false ? undefined : (options.onlineStore ?? {});
  if (online && (online.storageType ?? group.onlineStorageType) === 'InMemory' && options.offlineStoreS3Uri) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `feature group "${group.name}": its online store is InMemory, and SageMaker supports no offline store for an InMemory feature group (${IN_MEMORY_OFFLINE_DOC}); ` +
        `leave out offlineStoreS3Uri for this group (skewless plan: --group ${group.name} without --offline-s3-uri)`,
    );
  }
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

/** A group's name as the start of its resources' logical ids: `card-activity` -> `CardActivity`. */
function logicalName(name: string): string {
  return name.replace(/(^|[-_])([a-zA-Z0-9])/g, (_, _sep: string, c: string) => c.toUpperCase());
}

function logicalId(name: string): string {
  return `${logicalName(name)}FeatureGroup`;
}

/**
 * The group as a CloudFormation `AWS::SageMaker::FeatureGroup` resource, keyed by a logical id.
 * That resource's FeatureDefinitions take only FeatureName and FeatureType, so a group with list
 * features is a `ConfigurationError` naming the route that works: the CreateFeatureGroup API
 * (`toCreateFeatureGroupInput`). The same checks as `toCreateFeatureGroupInput` apply.
 *
 * ### Example
 * ```ts
 * const template = { Resources: toCloudFormation(cardActivity, { roleArn, offlineStoreS3Uri }) };
 * ```
 */
export function toCloudFormation(group: AnyFeatureGroup, options: CreateFeatureGroupOptions): Record<string, { Type: string; Properties: CreateFeatureGroupInput }> {
  checkCreateOptions(group, options, 'toCloudFormation');
  const lists = group.featureDefinitions.filter((d) => d.CollectionType !== undefined).map((d) => d.FeatureName);
  if (lists.length > 0) {
    throw new ConfigurationError(
      'INVALID_CONFIG',
      `feature group "${group.name}" has list features (${lists.join(', ')}), which AWS::SageMaker::FeatureGroup cannot declare: its FeatureDefinitions take only FeatureName and FeatureType. ` +
        `Create it with the CreateFeatureGroup API instead: toCreateFeatureGroupInput(group, options), or \`skewless plan <definitions file> --group ${group.name} --format input --json\` ` +
        'and pass its createFeatureGroupInput to `aws sagemaker create-feature-group --cli-input-json`',
    );
  }
  return { [logicalId(group.name)]: { Type: 'AWS::SageMaker::FeatureGroup', Properties: toCreateFeatureGroupInput(group, options) } };
}

/** A group's Kinesis stream and event source mapping as CloudFormation, and the parameter the template cannot know. */
export interface StreamTemplate {
  readonly Parameters: Record<string, { Type: 'String'; Description: string }>;
  readonly Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

/**
 * The stream and event source mapping a capacity plan prescribes, as CloudFormation: an
 * `AWS::Kinesis::Stream` with the plan's shards and an `AWS::Lambda::EventSourceMapping` with its
 * batch size, batching window and ParallelizationFactor, reporting batch item failures as
 * `kinesisHandler` does. The ingestion function is a parameter (`<Group>IngestionFunction`): give its
 * name or ARN when deploying, and the memory the plan says.
 *
 * ### Example
 * ```ts
 * const { Parameters, Resources } = toStreamCloudFormation(cardActivity, planCapacity(cardActivity, { rate: '10000/s' }));
 * ```
 */
export function toStreamCloudFormation(group: AnyFeatureGroup, plan: CapacityPlan): StreamTemplate {
  requireGroup(group, 'toStreamCloudFormation');
  if (typeof plan?.eventSourceMapping !== 'object' || typeof plan?.kinesis !== 'object') {
    throw new ConfigurationError('INVALID_CONFIG', `toStreamCloudFormation of "${group.name}": plan must be what planCapacity returned, got ${describeValue(plan)}`);
  }
  const name = logicalName(group.name);
  const { BatchSize, MaximumBatchingWindowInSeconds, ParallelizationFactor, StartingPosition, FunctionResponseTypes } = plan.eventSourceMapping;
  return {
    Parameters: {
      [`${name}IngestionFunction`]: {
        Type: 'String',
        Description: `Name or ARN of the Lambda that runs kinesisHandler for ${group.name}; ${plan.lambda.memoryMb} MB of memory`,
      },
    },
    Resources: {
      [`${name}Stream`]: { Type: 'AWS::Kinesis::Stream', Properties: { ShardCount: plan.kinesis.shards, StreamModeDetails: { StreamMode: 'PROVISIONED' } } },
      [`${name}EventSourceMapping`]: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          EventSourceArn: { 'Fn::GetAtt': [`${name}Stream`, 'Arn'] },
          FunctionName: { Ref: `${name}IngestionFunction` },
          StartingPosition,
          BatchSize,
          MaximumBatchingWindowInSeconds,
          ParallelizationFactor,
          FunctionResponseTypes: [...FunctionResponseTypes],
        },
      },
    },
  };
}

export interface IamPolicyOptions {
  /**
   * For the ARNs and the offline store path; default CloudFormation's `${AWS::Region}`, for `Fn::Sub`.
   * It also decides the ARNs' partition (`aws-cn` for `cn-north-1`, `aws-us-gov` for `us-gov-west-1`);
   * without it they carry `${AWS::Partition}`.
   */
  readonly region?: string;
  /** For the ARNs and the offline store path; default CloudFormation's `${AWS::AccountId}`, for `Fn::Sub`. */
  readonly accountId?: string;
  /** The offline store's `s3://bucket/prefix` (CreateFeatureGroup's S3Uri), under which training reads the group's files. */
  readonly offlineStoreS3Uri?: string;
  /**
   * The deployed group's `OfflineStoreConfig.S3StorageConfig.ResolvedOutputS3Uri` (DescribeFeatureGroup):
   * the exact folder SageMaker writes, granted instead of the pattern built from `offlineStoreS3Uri`.
   */
  readonly resolvedOutputS3Uri?: string | undefined;
  /** Where Athena writes results (`s3://bucket/prefix`), which training reads and writes. */
  readonly athenaResultsS3Uri?: string;
  readonly athenaWorkGroup?: string;
  readonly glueDatabase?: string;
  /** The DynamoDB table of `dynamoDbAggregationState`, for groups with aggregations; default `skewless-state`. */
  readonly aggregationStateTable?: string;
  /**
   * The deployed group's `FeatureGroupArn` (DescribeFeatureGroup): its partition, region and account
   * are used where `region` and `accountId` are not given. It must be this group's ARN.
   */
  readonly featureGroupArn?: string | undefined;
}

interface PolicyDocument {
  readonly Version: '2012-10-17';
  readonly Statement: { Sid: string; Effect: 'Allow'; Action: string[]; Resource: string[] }[];
}

function s3Parts(uri: string, option: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new ConfigurationError('INVALID_CONFIG', `${option}: ${JSON.stringify(uri)} is not an S3 location: write it as s3://bucket/prefix/`);
  return { bucket: match[1] as string, prefix: (match[2] ?? '').replace(/\/+$/, '') };
}

/**
 * The bucket and keys of a group's offline files. SageMaker writes them under
 * `<S3Uri>/<account>/sagemaker/<region>/offline-store/<group>-<creation epoch seconds>/data`
 * (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-offline.html), and an Iceberg table
 * keeps its metadata in the sibling `metadata` folder, which Athena reads too. Before the group exists
 * its creation time is unknown: ten `?` match exactly its ten digits, where `<group>-*` would also
 * match the files of `<group>-v2`.
 */
function offlineStoreObjects(group: AnyFeatureGroup, options: IamPolicyOptions, region: string, account: string): { bucket: string; keys: string[] } | undefined {
  let location: { bucket: string; prefix: string };
  if (options.resolvedOutputS3Uri !== undefined) location = s3Parts(options.resolvedOutputS3Uri, 'iamPolicies options.resolvedOutputS3Uri');
  else if (options.offlineStoreS3Uri !== undefined) {
    const root = s3Parts(options.offlineStoreS3Uri, 'iamPolicies options.offlineStoreS3Uri');
    const folder = [root.prefix, account, 'sagemaker', region, 'offline-store', `${group.name}-${'?'.repeat(10)}`, 'data'];
    location = { bucket: root.bucket, prefix: folder.filter((part) => part !== '').join('/') };
  } else return undefined;
  const { bucket, prefix } = location;
  const table = prefix.endsWith('/data') ? prefix.slice(0, -'/data'.length) : undefined;
  return { bucket, keys: [`${prefix === '' ? '' : `${prefix}/`}*`, ...(table === undefined ? [] : [`${table}/metadata/*`])] };
}

/** Each ARN partition but `aws` by the start of its regions' names, as the AWS SDK's partition table matches them. */
const PARTITIONS: Record<string, string> = { cn: 'aws-cn', 'us-gov': 'aws-us-gov', eusc: 'aws-eusc', 'us-iso': 'aws-iso', 'us-isob': 'aws-iso-b', 'eu-isoe': 'aws-iso-e', 'us-isof': 'aws-iso-f' };

/** The partition a region's ARNs carry: `aws-cn` for `cn-north-1`, `aws-us-gov` for `us-gov-west-1`, `aws` for the others. */
export function arnPartitionOf(region: string): string {
  const start = Object.keys(PARTITIONS).find((name) => region.startsWith(`${name}-`));
  return start === undefined ? 'aws' : (PARTITIONS[start] as string);
}

/** Partition, region and account of `arn`, which must be the ARN of the feature group `name` (SageMaker lowercases its name there). */
function groupArnParts(arn: string, name: string): [string, string, string] {
  const match = /^arn:([a-z-]+):sagemaker:([a-z0-9-]+):(\d{12}):feature-group\/(.+)$/.exec(typeof arn === 'string' ? arn : '');
  if (!match) {
    throw new ConfigurationError('INVALID_CONFIG', `iamPolicies options.featureGroupArn: expected a feature group's ARN, arn:<partition>:sagemaker:<region>:<account>:feature-group/<name>, got ${describeValue(arn)}`);
  }
  if ((match[4] as string).toLowerCase() !== name.toLowerCase()) {
    throw new ConfigurationError('INVALID_CONFIG', `iamPolicies options.featureGroupArn: ${arn} is the ARN of the group "${match[4]}", not of "${name}"`);
  }
  return [match[1] as string, match[2] as string, match[3] as string];
}

/**
 * Least-privilege IAM policies per role: the ingestion Lambda may only write records into this group
 * (PutRecord, and BatchWriteRecord, which `sageMakerOnline()` calls by default) and, for a group with
 * aggregations, read and write its state table; training may only run Athena in its workgroup and
 * read the group's Glue table and offline files — the folder SageMaker resolves for this group
 * (`resolvedOutputS3Uri` when the group is deployed, else a pattern that matches only this group's).
 *
 * ### Example
 * ```ts
 * const { ingestion, training } = iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '123456789012', offlineStoreS3Uri, athenaResultsS3Uri });
 * // once deployed, the exact folder, and the partition, region and account of the group's ARN:
 * const deployed = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: cardActivity.name }));
 * iamPolicies(cardActivity, { featureGroupArn: deployed.FeatureGroupArn, resolvedOutputS3Uri: deployed.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri });
 * ```
 */
export function iamPolicies(group: AnyFeatureGroup, options: IamPolicyOptions = {}): { ingestion: PolicyDocument; training: PolicyDocument } {
  requireGroup(group, 'iamPolicies');
  checkOptions(IAM_OPTIONS, options, 'iamPolicies options');
  // Without them, every ARN and the offline path carry CloudFormation's pseudo parameters: in a
  // template's Fn::Sub they become the stack's own region and account, where its feature group and
  // offline files live; left unresolved, IAM matches no resource with them, so a missing option can
  // only deny access, never widen it (a `*` for the account would reach every account's folder).
  // arn:partition:sagemaker:region:account:feature-group/name
  const [arnPartition, arnRegion, arnAccount] = options.featureGroupArn === undefined ? [] : groupArnParts(options.featureGroupArn, group.name);
  const region = options.region ?? arnRegion ?? '${AWS::Region}';
  const account = options.accountId ?? arnAccount ?? '${AWS::AccountId}';
  // A region given as a placeholder is the stack's own: so is the partition.
  const partition = options.region !== undefined && !hasPlaceholder(options.region) ? arnPartitionOf(options.region) : (arnPartition ?? '${AWS::Partition}');
  const groupArn = `arn:${partition}:sagemaker:${region}:${account}:feature-group/${group.name.toLowerCase()}`;
  const workGroup = options.athenaWorkGroup ?? 'primary';
  const database = options.glueDatabase ?? 'sagemaker_featurestore';
  const training: PolicyDocument['Statement'] = [
    {
      Sid: 'RunAthenaQueries',
      Effect: 'Allow',
      Action: ['athena:StartQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StopQueryExecution'],
      Resource: [`arn:${partition}:athena:${region}:${account}:workgroup/${workGroup}`],
    },
    {
      Sid: 'ReadOfflineStoreTable',
      Effect: 'Allow',
      Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions'],
      Resource: [
        `arn:${partition}:glue:${region}:${account}:catalog`,
        `arn:${partition}:glue:${region}:${account}:database/${database}`,
        `arn:${partition}:glue:${region}:${account}:table/${database}/*`,
      ],
    },
  ];
  const offline = offlineStoreObjects(group, options, region, account);
  if (offline) {
    training.push(
      { Sid: 'ReadOfflineStoreObjects', Effect: 'Allow', Action: ['s3:GetObject'], Resource: offline.keys.map((key) => `arn:${partition}:s3:::${offline.bucket}/${key}`) },
      { Sid: 'ListOfflineStore', Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: [`arn:${partition}:s3:::${offline.bucket}`] },
    );
  }
  if (options.athenaResultsS3Uri) {
    const { bucket, prefix } = s3Parts(options.athenaResultsS3Uri, 'iamPolicies options.athenaResultsS3Uri');
    training.push({
      Sid: 'AthenaResults',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
      Resource: [`arn:${partition}:s3:::${bucket}/${prefix ? `${prefix}/` : ''}*`],
    });
  }
  return {
    ingestion: {
      Version: '2012-10-17',
      Statement: [
        // BatchWriteRecord is authorised as both actions on the group it writes
        // (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-security.html).
        { Sid: 'WriteRecordsIntoThisGroupOnly', Effect: 'Allow', Action: ['sagemaker:PutRecord', 'sagemaker:BatchWriteRecord'], Resource: [groupArn] },
        // The window state: one read per batch, one conditional write per entity, the marks of outboxes
        // written 25 to a call, UpdateItem for outboxes saved by 0.1 (no transactions, no scans).
        ...(Object.keys(group.aggregations).length > 0
          ? [
              {
                Sid: 'AggregationState',
                Effect: 'Allow' as const,
                Action: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
                Resource: [`arn:${partition}:dynamodb:${region}:${account}:table/${options.aggregationStateTable ?? 'skewless-state'}`],
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

/** The part of a DescribeFeatureGroup response that `diffFeatureGroup` and `skewless plan` read. */
export interface DeployedFeatureGroup {
  readonly RecordIdentifierFeatureName?: string | undefined;
  readonly EventTimeFeatureName?: string | undefined;
  readonly FeatureDefinitions?: readonly { FeatureName?: string | undefined; FeatureType?: string | undefined; CollectionType?: string | undefined }[] | undefined;
  /** Where SageMaker writes the offline files (`iamPolicies`' `resolvedOutputS3Uri`). */
  readonly OfflineStoreConfig?: { readonly S3StorageConfig?: { readonly ResolvedOutputS3Uri?: string | undefined } | undefined } | undefined;
  /** `arn:<partition>:sagemaker:<region>:<account>:feature-group/<name>`: where the group is. */
  readonly FeatureGroupArn?: string | undefined;
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
export function diffFeatureGroup(group: AnyFeatureGroup, deployed: DeployedFeatureGroup): FeatureGroupDiff {
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
