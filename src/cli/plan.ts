import { type DeployedFeatureGroup, diffFeatureGroup, iamPolicies, toCloudFormation, toCreateFeatureGroupInput } from '../aws/plan.js';
import type { AnyFeatureGroup } from '../schema/types.js';
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
  /** For ARNs and the offline store path in the IAM policies; default CloudFormation's `${AWS::Region}` / `${AWS::AccountId}`. */
  readonly region?: string | undefined;
  readonly accountId?: string | undefined;
  readonly format: 'input' | 'cloudformation';
  readonly diff: boolean;
  readonly json: boolean;
  /** Reads the deployed group for `--diff`; default DescribeFeatureGroup with a client from the environment. */
  readonly describe?: (name: string) => Promise<DeployedFeatureGroup | undefined>;
}

const PLACEHOLDER_ROLE = 'arn:aws:iam::<account-id>:role/<feature-store-role>';

async function describeFromEnvironment(name: string) {
  const { SageMakerClient, DescribeFeatureGroupCommand } = await loadSageMaker();
  try {
    return await new SageMakerClient(clientConfig({})).send(new DescribeFeatureGroupCommand({ FeatureGroupName: name }));
  } catch (error) {
    if ((error as { name?: string }).name === 'ResourceNotFound') return undefined;
    throw error;
  }
}

/**
 * `skewless plan`: CreateFeatureGroup input or CloudFormation, IAM policies, and with --diff what would change
 * (the policies then grant the deployed group's resolved offline folder). Returns the exit code.
 */
export async function runPlan(options: PlanCommandOptions, print: (line: string) => void): Promise<number> {
  const groups = selectGroups(await loadFeatureGroups(options.file), options.group);
  const createOptions = {
    roleArn: options.roleArn ?? PLACEHOLDER_ROLE,
    ...(options.offlineStoreS3Uri ? { offlineStoreS3Uri: options.offlineStoreS3Uri } : {}),
  };
  const describe = options.describe ?? describeFromEnvironment;
  let breaking = false;
  const report: Record<string, unknown>[] = [];
  for (const group of groups) {
    const deployed = options.diff ? await describe(group.name) : undefined;
    // A deployed group says exactly where SageMaker writes its offline files: grant that folder.
    const resolvedOutputS3Uri = deployed?.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri;
    const entry: Record<string, unknown> = {
      group: group.name,
      fingerprint: group.fingerprint,
      [options.format === 'cloudformation' ? 'resources' : 'createFeatureGroupInput']:
        options.format === 'cloudformation' ? toCloudFormation(group, createOptions) : toCreateFeatureGroupInput(group, createOptions),
      iamPolicies: iamPolicies(group, {
        ...(options.region ? { region: options.region } : {}),
        ...(options.accountId ? { accountId: options.accountId } : {}),
        ...(options.offlineStoreS3Uri ? { offlineStoreS3Uri: options.offlineStoreS3Uri } : {}),
        ...(resolvedOutputS3Uri ? { resolvedOutputS3Uri } : {}),
        ...(options.athenaResultsS3Uri ? { athenaResultsS3Uri: options.athenaResultsS3Uri } : {}),
        ...(options.stateTable ? { aggregationStateTable: options.stateTable } : {}),
      }),
    };
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
  if (!options.roleArn) print(`(pass --role-arn to replace the placeholder ${PLACEHOLDER_ROLE})`);
  return breaking ? 1 : 0;
}

function printEntry(entry: Record<string, unknown>, group: AnyFeatureGroup, options: PlanCommandOptions, print: (line: string) => void): void {
  print(`# ${group.name} (fingerprint ${group.fingerprint})`);
  print(options.format === 'cloudformation' ? '## CloudFormation resource' : '## CreateFeatureGroup input');
  print(JSON.stringify(entry['resources'] ?? entry['createFeatureGroupInput'], null, 2));
  const policies = entry['iamPolicies'] as ReturnType<typeof iamPolicies>;
  print('## IAM policy: ingestion Lambda');
  print(JSON.stringify(policies.ingestion, null, 2));
  print('## IAM policy: training');
  print(JSON.stringify(policies.training, null, 2));
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
