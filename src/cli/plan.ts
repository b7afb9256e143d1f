import { arnPartitionOf, type DeployedFeatureGroup, diffFeatureGroup, iamPolicies, toCloudFormation, toCreateFeatureGroupInput, toStreamCloudFormation } from '../aws/plan.js';
import { type CapacityPlan, KINESIS_MAX_RECORD_BYTES, planCapacity } from '../aws/capacity.js';
import { ConfigurationError } from '../errors.js';
import { recordRate, UsageError, wholeNumber } from './args.js';
import type { AnyFeatureGroup } from '../schema/types.js';
import { describeValue } from '../util/options.js';
import { loadFeatureGroups, selectGroups } from '../load-groups.js';
import { loadSageMaker } from '../aws/sdk.js';
import { clientConfig } from '../aws/retry.js';

export interface PlanCommandOptions {
  readonly file: string;
  readonly group?: string | undefined;
  readonly roleArn?: string | undefined;
  readonly offlineStoreS3Uri?: string | undefined;
  readonly athenaResultsS3Uri?: string | undefined;
  /** The DynamoDB table holding aggregation state (groups with aggregations). */
  readonly stateTable?: string | undefined;
  /**
   * For ARNs and the offline store path in the IAM policies (default CloudFormation's `${AWS::Region}` /
   * `${AWS::AccountId}`), and the Region `--diff` calls DescribeFeatureGroup in (default the environment's).
   */
  readonly region?: string | undefined;
  readonly accountId?: string | undefined;
  readonly format: 'input' | 'cloudformation';
  /** A target rate (`10000/s`, `600/min`): adds each group's capacity plan, and to CloudFormation its stream and event source mapping. */
  readonly rate?: string | undefined;
  /** With `rate`: one source event's bytes on the stream, measured (default estimated from the source schema). */
  readonly recordBytes?: string | undefined;
  /** With `rate`: events one entity has within its longest window (default 1). */
  readonly entityEvents?: string | undefined;
  readonly diff: boolean;
  readonly json: boolean;
  /** Reads the deployed group for `--diff`; default DescribeFeatureGroup with a client from the environment. */
  readonly describe?: (name: string) => Promise<DeployedFeatureGroup | undefined>;
}

/** The role ARN printed until --role-arn names one: in the region's partition, with --account-id when given. */
function placeholderRole(options: PlanCommandOptions): string {
  return `arn:${options.region ? arnPartitionOf(options.region) : 'aws'}:iam::${options.accountId ?? '<account-id>'}:role/<feature-store-role>`;
}

/** The template parameter a CloudFormation plan's feature groups take their role from until --role-arn names one. */
const ROLE_PARAMETER = 'FeatureStoreRoleArn';

/**
 * A feature group's resource taking its role from the `FeatureStoreRoleArn` parameter: a placeholder
 * ARN would fail cfn-lint and the deploy, a parameter is given when the stack is.
 */
function withRoleParameter(resources: ReturnType<typeof toCloudFormation>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(resources).map(([id, resource]) => [id, { ...resource, Properties: { ...resource.Properties, RoleArn: { Ref: ROLE_PARAMETER } } }]));
}

/** The capacity options as planCapacity takes them, refused here with the CLI's option names (bad usage: exit 2). */
function capacityOptions(options: PlanCommandOptions): { rate: number; recordBytes?: number; entityEvents?: number } | undefined {
  const count = (text: string | undefined, option: string) => (text === undefined ? undefined : wholeNumber(text, option, 1, 'plan'));
  const recordBytes = count(options.recordBytes, '--record-bytes');
  if (recordBytes !== undefined && recordBytes > KINESIS_MAX_RECORD_BYTES) {
    throw new UsageError(`--record-bytes: a Kinesis record is at most ${KINESIS_MAX_RECORD_BYTES.toLocaleString('en-US')} bytes (1 MiB), data and partition key together, got ${describeValue(options.recordBytes)}`, 'plan');
  }
  const entityEvents = count(options.entityEvents, '--entity-events');
  if (options.rate === undefined) {
    const given = recordBytes !== undefined ? '--record-bytes' : entityEvents !== undefined ? '--entity-events' : undefined;
    if (given) throw new UsageError(`${given} sizes a plan for a target rate: give --rate too (e.g. --rate 10000/s)`, 'plan');
    return undefined;
  }
  return { rate: recordRate(options.rate, '--rate', 'plan'), ...(recordBytes === undefined ? {} : { recordBytes }), ...(entityEvents === undefined ? {} : { entityEvents }) };
}

/** DescribeFeatureGroup with credentials from the environment, in `region` (`--region`) or the environment's. */
async function describeFromEnvironment(name: string, region: string | undefined) {
  const { SageMakerClient, DescribeFeatureGroupCommand } = await loadSageMaker();
  try {
    return await new SageMakerClient({ ...clientConfig({}), ...(region ? { region } : {}) }).send(new DescribeFeatureGroupCommand({ FeatureGroupName: name }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFound') return undefined;
    // The SDK's own words ("Region is missing") say neither which call nor how to give one.
    if ((error as { message?: string }).message === 'Region is missing') {
      throw new ConfigurationError('INVALID_CONFIG', '--diff reads each deployed group with DescribeFeatureGroup, and no AWS Region is set: pass --region or set AWS_REGION', { cause: error });
    }
    throw error;
  }
}

/**
 * `skewless plan`: CreateFeatureGroup input or CloudFormation, IAM policies, and with --diff what would change
 * (the policies then grant the deployed group's resolved offline folder). Returns the exit code.
 */
export async function runPlan(options: PlanCommandOptions, print: (line: string) => void): Promise<number> {
  const capacity = capacityOptions(options);
  const groups = selectGroups(await loadFeatureGroups(options.file), options.group);
  const createOptions = {
    roleArn: options.roleArn ?? placeholderRole(options),
    ...(options.offlineStoreS3Uri ? { offlineStoreS3Uri: options.offlineStoreS3Uri } : {}),
  };
  const describe = options.describe ?? ((name: string) => describeFromEnvironment(name, options.region));
  let breaking = false;
  const report: Record<string, unknown>[] = [];
  for (const group of groups) {
    const deployed = options.diff ? await describe(group.name) : undefined;
    // A deployed group says exactly where SageMaker writes its offline files: grant that folder.
    const resolvedOutputS3Uri = deployed?.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri;
    const roleParameter = options.format === 'cloudformation' && !options.roleArn;
    const entry: Record<string, unknown> = {
      group: group.name,
      fingerprint: group.fingerprint,
      ...(roleParameter ? { parameters: { [ROLE_PARAMETER]: { Type: 'String', Description: 'The IAM role SageMaker assumes to write the offline store (skewless plan --role-arn names it instead)' } } } : {}),
      [options.format === 'cloudformation' ? 'resources' : 'createFeatureGroupInput']:
        options.format !== 'cloudformation'
          ? toCreateFeatureGroupInput(group, createOptions)
          : roleParameter
            ? withRoleParameter(toCloudFormation(group, createOptions))
            : toCloudFormation(group, createOptions),
      iamPolicies: iamPolicies(group, {
        ...(options.region ? { region: options.region } : {}),
        ...(options.accountId ? { accountId: options.accountId } : {}),
        // And its ARN says where the policies' ARNs are.
        ...(deployed?.FeatureGroupArn ? { featureGroupArn: deployed.FeatureGroupArn } : {}),
        ...(options.offlineStoreS3Uri ? { offlineStoreS3Uri: options.offlineStoreS3Uri } : {}),
        ...(resolvedOutputS3Uri ? { resolvedOutputS3Uri } : {}),
        ...(options.athenaResultsS3Uri ? { athenaResultsS3Uri: options.athenaResultsS3Uri } : {}),
        ...(options.stateTable ? { aggregationStateTable: options.stateTable } : {}),
      }),
    };
    if (capacity) {
      const plan = planCapacity(group, capacity);
      entry['capacity'] = plan;
      if (options.format === 'cloudformation') {
        const stream = toStreamCloudFormation(group, plan);
        entry['parameters'] = { ...(entry['parameters'] as object | undefined), ...stream.Parameters };
        entry['resources'] = { ...(entry['resources'] as object), ...stream.Resources };
      }
    }
    if (options.diff) {
      const diff = deployed ? diffFeatureGroup(group, deployed) : undefined;
      entry['diff'] = diff ?? { missing: true };
      if (diff && diff.breaking.length > 0) breaking = true;
    }
    report.push(entry);
  }
  if (options.json) {
    print(JSON.stringify(report, null, 2));
    return breaking ? 1 : 0;
  }
  for (const entry of report) printEntry(entry, groups.find((g) => g.name === entry['group']) as AnyFeatureGroup, options, print);
  if (!options.roleArn) {
    print(
      options.format === 'cloudformation'
        ? `(the feature groups take their role from the ${ROLE_PARAMETER} parameter; pass --role-arn to name it instead)`
        : `(pass --role-arn to replace the placeholder ${placeholderRole(options)})`,
    );
  }
  return breaking ? 1 : 0;
}

function printEntry(entry: Record<string, unknown>, group: AnyFeatureGroup, options: PlanCommandOptions, print: (line: string) => void): void {
  print(`# ${group.name} (fingerprint ${group.fingerprint})`);
  if (entry['parameters'] !== undefined) {
    print('## CloudFormation parameters');
    print(JSON.stringify(entry['parameters'], null, 2));
  }
  print(options.format === 'cloudformation' ? `## CloudFormation resource${Object.keys(entry['resources'] as object).length === 1 ? '' : 's'}` : '## CreateFeatureGroup input');
  print(JSON.stringify(entry['resources'] ?? entry['createFeatureGroupInput'], null, 2));
  const policies = entry['iamPolicies'] as ReturnType<typeof iamPolicies>;
  print('## IAM policy: ingestion Lambda');
  print(JSON.stringify(policies.ingestion, null, 2));
  print('## IAM policy: training');
  print(JSON.stringify(policies.training, null, 2));
  if (entry['capacity'] !== undefined) printCapacity(entry['capacity'] as CapacityPlan, print);
  const diff = entry['diff'] as (ReturnType<typeof diffFeatureGroup> & { missing?: boolean }) | undefined;
  if (diff === undefined) return;
  print('## Compared with the deployed feature group');
  if (diff.missing) print('not deployed: CreateFeatureGroup with the input above');
  else if (diff.unchanged) print('up to date');
  else {
    for (const added of diff.additions) print(`+ ${added.FeatureName} ${added.FeatureType}: UpdateFeatureGroup FeatureAdditions`);
    for (const reason of diff.breaking) print(`! breaking: ${reason}; refusing (create a new feature group and backfill it)`);
  }
}

const n = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 3 });
const mb = (bytes: number) => `${n(Number((bytes / 1_000_000).toFixed(2)))} MB/s`;

/** A capacity plan as lines: one per service, then the notes and the assumptions. */
function printCapacity(plan: CapacityPlan, print: (line: string) => void): void {
  const { kinesis, eventSourceMapping: esm, lambda, sageMaker, aggregationState: state, freshness, hotEntity } = plan;
  print(`## Capacity at ${n(plan.recordsPerSecond)} records/s`);
  const bound =
    kinesis.boundBy === 'concurrency'
      ? `for the invocations: ${n(kinesis.shardsForConcurrency)} × ParallelizationFactor ${esm.ParallelizationFactor}`
      : `writes: ${n(kinesis.shardsForRecords)} by records (1,000/s per shard), ${n(kinesis.shardsForBytes)} by bytes (${mb(kinesis.bytesPerSecond)} at 1 MB/s per shard)`;
  print(`Kinesis stream        ${n(kinesis.shards)} shard${kinesis.shards === 1 ? '' : 's'} (${bound}); Lambda reads ${Math.round(kinesis.readShare * 100)}% of each shard's 2 MB/s`);
  print(`Event source mapping  BatchSize ${n(esm.BatchSize)}, MaximumBatchingWindowInSeconds ${esm.MaximumBatchingWindowInSeconds}, ParallelizationFactor ${esm.ParallelizationFactor}, ${esm.StartingPosition}, ${esm.FunctionResponseTypes.join(', ')}`);
  print(
    `Lambda                ${n(lambda.memoryMb)} MB (one vCPU); ${lambda.msPerRecord} ms per record, ${n(lambda.recordsPerSecondPerInvocation)} records/s per invocation; ` +
      `${lambda.busyInvocations} busy on average, at most ${n(lambda.maxConcurrency)} at once (${n(kinesis.shards)} shard${kinesis.shards === 1 ? '' : 's'} × ${esm.ParallelizationFactor})`,
  );
  const provisioned = 'unavailable' in sageMaker.provisioned ? `Provisioned unavailable: ${sageMaker.provisioned.unavailable}` : `Provisioned would need ProvisionedWriteCapacityUnits ${n(sageMaker.provisioned.ProvisionedWriteCapacityUnits)}`;
  print(
    `SageMaker             ${sageMaker.writeUnitsPerRecord} write unit${sageMaker.writeUnitsPerRecord === 1 ? '' : 's'} per record (~${n(sageMaker.recordBytes)} bytes): ${n(sageMaker.writeUnitsPerSecond)} WRU/s, ` +
      `${n(sageMaker.batchWriteRecordCallsPerSecond)} BatchWriteRecord/s of 25 records; ${sageMaker.throughputMode} (the rate is a peak); ${provisioned}`,
  );
  if (state) {
    print(
      `State table           ${state.billingMode}: ${n(state.writeUnitsPerSecond)} WCU/s (${n(state.writesPerSecond)} conditional writes/s of ~${n(state.itemBytes)}-byte items, ${state.writeUnitsPerWrite} WCU each, and as many 1-WCU marks of outboxes written, 25 to a BatchWriteItem), ` +
        `${n(state.readUnitsPerSecond)} RCU/s at most (strongly consistent reads of the state items and marks of entities not cached)`,
    );
  } else print('State table           none: the group has no aggregations');
  print(`Freshness             at most ~${n(Number(freshness.boundSeconds.toFixed(2)))} s from the stream to GetRecord (batching window ${freshness.batchingWindowSeconds} s + ${n(Number(freshness.processingSecondsPerBatch.toFixed(2)))} s to process a full batch)`);
  print(
    `Hottest identifier    ${n(hotEntity.recordsPerSecond)} records/s at most (${hotEntity.limitedBy}; ceilings: ${Object.entries(hotEntity.ceilings)
      .map(([what, rate]) => `${what} ${n(rate)}`)
      .join(', ')}): above it, that identifier's records wait in its shard`,
  );
  for (const note of plan.notes) print(`! ${note}`);
  print('Assumptions:');
  for (const assumption of plan.assumptions) print(`  - ${assumption}`);
}
