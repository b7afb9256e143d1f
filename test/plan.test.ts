import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateFeatureGroupCommand, DescribeFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { diffFeatureGroup, iamPolicies, toCloudFormation, toCreateFeatureGroupInput } from '../src/aws/index.js';
import { runPlan } from '../src/cli/plan.js';
import { ConfigurationError, defineFeatureGroup } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { cardActivity } from '../examples/quickstart/card-activity.js';
import { cardVelocity, everyType } from './fixtures/groups.js';

let stack: LocalStack;
let sagemaker: SageMakerClient;
const savedEnv = { ...process.env };

beforeAll(async () => {
  stack = await startLocalStack({ memory: true });
  sagemaker = new SageMakerClient(stack.clientConfig);
  Object.assign(process.env, stack.env);
});
afterAll(async () => {
  process.env = savedEnv;
  await stack.close();
});

const options = { roleArn: 'arn:aws:iam::123456789012:role/feature-store', offlineStoreS3Uri: 's3://features/offline' };

describe('toCreateFeatureGroupInput', () => {
  it('is accepted by CreateFeatureGroup and describes back to no difference', async () => {
    const input = toCreateFeatureGroupInput(cardActivity, options);
    expect(input.Tags).toEqual([{ Key: 'skewless:fingerprint', Value: cardActivity.fingerprint }]);
    await sagemaker.send(new CreateFeatureGroupCommand(input));
    const deployed = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: cardActivity.name }));
    expect(diffFeatureGroup(cardActivity, deployed)).toEqual({ additions: [], breaking: [], unchanged: true });
  });

  it('makes an offline-only group when the online store is off', () => {
    const input = toCreateFeatureGroupInput(cardActivity, { ...options, onlineStore: false });
    expect(input.OnlineStoreConfig).toBeUndefined();
    expect(input.OfflineStoreConfig?.S3StorageConfig.S3Uri).toBe('s3://features/offline');
  });

  it('refuses an offline store for an InMemory group, which SageMaker does not support (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-storage-configurations-offline-store.html)', () => {
    const inMemory = { ...options, onlineStore: { storageType: 'InMemory' as const } };
    for (const make of [() => toCreateFeatureGroupInput(everyType, options), () => toCreateFeatureGroupInput(cardActivity, inMemory), () => toCloudFormation(cardActivity, inMemory)]) {
      expect(make).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: expect.stringContaining('feature-store-storage-configurations-offline-store.html') }));
    }
    expect(toCreateFeatureGroupInput(everyType, { roleArn: options.roleArn }).OnlineStoreConfig?.StorageType).toBe('InMemory');
  });

  it('renders a CloudFormation resource', () => {
    const resources = toCloudFormation(cardActivity, options);
    expect(Object.keys(resources)).toEqual(['CardActivityFeatureGroup']);
    expect(resources['CardActivityFeatureGroup']?.Type).toBe('AWS::SageMaker::FeatureGroup');
    expect(resources['CardActivityFeatureGroup']?.Properties.FeatureDefinitions).toEqual(cardActivity.featureDefinitions);
  });
});

describe('diffFeatureGroup', () => {
  const deployed = {
    RecordIdentifierFeatureName: 'card_id',
    EventTimeFeatureName: 'event_time',
    FeatureDefinitions: cardActivity.featureDefinitions.filter((d) => d.FeatureName !== 'is_foreign'),
  };

  it('calls an added feature an UpdateFeatureGroup addition', () => {
    const diff = diffFeatureGroup(cardActivity, deployed);
    expect(diff.additions).toEqual([{ FeatureName: 'is_foreign', FeatureType: 'Integral' }]);
    expect(diff.breaking).toEqual([]);
  });

  it('calls a changed type or a removed feature breaking', () => {
    const changed = { ...deployed, FeatureDefinitions: deployed.FeatureDefinitions.map((d) => (d.FeatureName === 'amount' ? { ...d, FeatureType: 'Integral' } : d)) };
    expect(diffFeatureGroup(cardActivity, changed).breaking).toEqual(['feature amount is Integral on AWS, Fractional here']);
    const extra = { ...deployed, FeatureDefinitions: [...cardActivity.featureDefinitions, { FeatureName: 'old', FeatureType: 'String' }] };
    expect(diffFeatureGroup(cardActivity, extra).breaking[0]).toMatch(/old exists on AWS/);
  });
});

describe('iamPolicies', () => {
  it('lets the ingestion Lambda PutRecord and BatchWriteRecord into this group only (BatchWriteRecord needs both: https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-security.html)', () => {
    const { ingestion } = iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '123456789012' });
    expect(ingestion.Statement).toEqual([
      {
        Sid: 'WriteRecordsIntoThisGroupOnly',
        Effect: 'Allow',
        Action: ['sagemaker:PutRecord', 'sagemaker:BatchWriteRecord'],
        Resource: ['arn:aws:sagemaker:eu-west-1:123456789012:feature-group/card-activity'],
      },
    ]);
  });

  it('lets the ingestion Lambda of a group with aggregations read and write its state table, nothing more', () => {
    const { ingestion } = iamPolicies(cardVelocity, { region: 'eu-west-1', accountId: '123456789012', aggregationStateTable: 'fraud-state' });
    expect(ingestion.Statement[1]).toEqual({
      Sid: 'AggregationState',
      Effect: 'Allow',
      Action: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
      Resource: ['arn:aws:dynamodb:eu-west-1:123456789012:table/fraud-state'],
    });
  });

  it("writes each ARN in its region's partition (China, GovCloud, the ISO and sovereign partitions), and CloudFormation's without a region (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html)", () => {
    const arns = (options: Parameters<typeof iamPolicies>[1]) => {
      const { ingestion, training } = iamPolicies(cardVelocity, { accountId: '123456789012', offlineStoreS3Uri: 's3://features/offline', athenaResultsS3Uri: 's3://results/athena', ...options });
      return [...ingestion.Statement, ...training.Statement].flatMap((s) => s.Resource);
    };
    const partitions = { 'cn-north-1': 'aws-cn', 'cn-northwest-1': 'aws-cn', 'us-gov-west-1': 'aws-us-gov', 'us-iso-east-1': 'aws-iso', 'us-isob-east-1': 'aws-iso-b', 'eu-isoe-west-1': 'aws-iso-e', 'us-isof-south-1': 'aws-iso-f', 'eusc-de-east-1': 'aws-eusc', 'us-east-1': 'aws', 'eu-west-1': 'aws', 'il-central-1': 'aws', 'mx-central-1': 'aws' };
    for (const [region, partition] of Object.entries(partitions)) {
      const all = arns({ region });
      expect(all.length, region).toBeGreaterThan(6);
      for (const arn of all) expect(arn.split(':')[1], `${region}: ${arn}`).toBe(partition);
    }
    expect(arns({ region: 'cn-north-1' })[0]).toBe('arn:aws-cn:sagemaker:cn-north-1:123456789012:feature-group/card-velocity');
    for (const arn of arns({})) expect(arn.startsWith('arn:${AWS::Partition}:'), arn).toBe(true);
  });

  it("takes the partition, region and account of a deployed group's FeatureGroupArn where they are not given", () => {
    const featureGroupArn = 'arn:aws-cn:sagemaker:cn-northwest-1:210987654321:feature-group/card-velocity';
    const groupArn = (options: Parameters<typeof iamPolicies>[1]) => iamPolicies(cardVelocity, options).ingestion.Statement[0]?.Resource[0];
    expect(groupArn({ featureGroupArn })).toBe(featureGroupArn);
    expect(groupArn({ featureGroupArn, region: 'us-gov-west-1', accountId: '123456789012' })).toBe('arn:aws-us-gov:sagemaker:us-gov-west-1:123456789012:feature-group/card-velocity');
  });

  it("refuses a featureGroupArn that is no feature group's ARN, or another group's (its account would be granted)", () => {
    expect(() => iamPolicies(cardVelocity, { featureGroupArn: 'not-an-arn' })).toThrow(
      /^iamPolicies options\.featureGroupArn: expected a feature group's ARN, arn:<partition>:sagemaker:<region>:<account>:feature-group\/<name>, got "not-an-arn"$/,
    );
    expect(() => iamPolicies(cardVelocity, { featureGroupArn: 'arn:aws:sagemaker:eu-west-1:123456789012:feature-group/card-activity' })).toThrow(
      /^iamPolicies options\.featureGroupArn: arn:aws:sagemaker:eu-west-1:123456789012:feature-group\/card-activity is the ARN of the group "card-activity", not of "card-velocity"$/,
    );
    expect(() => iamPolicies(cardVelocity, { featureGroupArn: 'arn:aws:sagemaker:eu-west-1:123456789012:feature-group/Card-Velocity' })).not.toThrow();
  });

  const offlineObjects = (training: ReturnType<typeof iamPolicies>['training']) => training.Statement.find((s) => s.Sid === 'ReadOfflineStoreObjects')?.Resource;

  it('lets training read the group\'s offline files where SageMaker writes them, <S3Uri>/<account>/sagemaker/<region>/offline-store/<group>-<creation epoch>/data (https://docs.aws.amazon.com/sagemaker/latest/dg/feature-store-offline.html), and use Athena in its workgroup', () => {
    const { training } = iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '123456789012', offlineStoreS3Uri: 's3://features/offline', athenaResultsS3Uri: 's3://results/athena/' });
    expect(offlineObjects(training)).toEqual([
      'arn:aws:s3:::features/offline/123456789012/sagemaker/eu-west-1/offline-store/card-activity-??????????/data/*',
      // An Iceberg table's metadata, which Athena reads too, is the sibling of data.
      'arn:aws:s3:::features/offline/123456789012/sagemaker/eu-west-1/offline-store/card-activity-??????????/metadata/*',
    ]);
    const resources = training.Statement.flatMap((s) => s.Resource);
    expect(resources).toContain('arn:aws:s3:::results/athena/*');
    expect(resources).toContain('arn:aws:athena:eu-west-1:123456789012:workgroup/primary');
    expect(training.Statement.flatMap((s) => s.Action).some((a) => a.startsWith('sagemaker:'))).toBe(false);
  });

  it('grants the files SageMaker writes for the group and no other group\'s: ten ? for the creation epoch (IAM wildcards: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html)', () => {
    const { training } = iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '123456789012', offlineStoreS3Uri: 's3://features/offline/' });
    // IAM's wildcards in a resource ARN: `*` any run of characters, `?` exactly one.
    const pattern = (arn: string) => new RegExp(`^${[...arn].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('')}$`);
    const granted = (key: string) => (offlineObjects(training) ?? []).some((arn) => pattern(arn).test(`arn:aws:s3:::features/offline/${key}`));
    const store = '123456789012/sagemaker/eu-west-1/offline-store';
    expect(granted(`${store}/card-activity-1593511200/data/year=2024/month=05/day=01/hour=12/20240501T120000Z_108934320012Az11.parquet`)).toBe(true);
    expect(granted(`${store}/card-activity-1593511200/data/0aec19ca/event_time_trunc=2024-05-01/20240501T120000Z_yolTtpyuWbkaeGIl.parquet`)).toBe(true);
    expect(granted(`${store}/card-activity-1593511200/metadata/00001-6f1d0a3e.metadata.json`)).toBe(true);
    expect(granted(`${store}/card-activity-v2-1593511200/data/year=2024/month=05/day=01/hour=12/20240501T120000Z_108934320012Az11.parquet`)).toBe(false);
    expect(granted(`210987654321/sagemaker/eu-west-1/offline-store/card-activity-1593511200/data/year=2024/month=05/day=01/hour=12/x.parquet`)).toBe(false);
    expect(granted('card-activity/data/x.parquet')).toBe(false);
  });

  it('grants exactly the deployed group\'s ResolvedOutputS3Uri when it is given', () => {
    const resolvedOutputS3Uri = 's3://my-bucket/my-prefix/123456789012/sagemaker/us-east-1/offline-store/card-activity-1593511200/data';
    const { training } = iamPolicies(cardActivity, { region: 'us-east-1', accountId: '123456789012', offlineStoreS3Uri: 's3://my-bucket/my-prefix', resolvedOutputS3Uri });
    expect(offlineObjects(training)).toEqual([
      'arn:aws:s3:::my-bucket/my-prefix/123456789012/sagemaker/us-east-1/offline-store/card-activity-1593511200/data/*',
      'arn:aws:s3:::my-bucket/my-prefix/123456789012/sagemaker/us-east-1/offline-store/card-activity-1593511200/metadata/*',
    ]);
    expect(training.Statement.find((s) => s.Sid === 'ListOfflineStore')?.Resource).toEqual(['arn:aws:s3:::my-bucket']);
  });

  it('without region and account, writes the offline path with CloudFormation\'s pseudo parameters, as it writes the ARNs', () => {
    const { training } = iamPolicies(cardActivity, { offlineStoreS3Uri: 's3://features/offline' });
    expect(offlineObjects(training)?.[0]).toBe('arn:${AWS::Partition}:s3:::features/offline/${AWS::AccountId}/sagemaker/${AWS::Region}/offline-store/card-activity-??????????/data/*');
  });

  it('names the option whose S3 location is not one', () => {
    expect(() => iamPolicies(cardActivity, { resolvedOutputS3Uri: 'my-bucket/data' })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_CONFIG', message: expect.stringContaining('resolvedOutputS3Uri') }),
    );
  });
});

describe('skewless plan', () => {
  const file = new URL('../examples/quickstart/card-activity.ts', import.meta.url).pathname;

  it('prints the CreateFeatureGroup input and both policies', async () => {
    const lines: string[] = [];
    expect(await runPlan({ file, format: 'input', diff: false, json: false, ...options }, (l) => lines.push(l))).toBe(0);
    const text = lines.join('\n');
    expect(text).toContain('"FeatureGroupName": "card-activity"');
    expect(text).toContain('## IAM policy: ingestion Lambda');
    expect(text).toContain('"sagemaker:PutRecord"');
  });

  it("prints a placeholder role in the region's partition, with the account when given, until --role-arn names one", async () => {
    const placeholder = async (given: { region?: string; accountId?: string }) => {
      const lines: string[] = [];
      await runPlan({ file, format: 'input', diff: false, json: false, ...given }, (l) => lines.push(l));
      return lines.at(-1);
    };
    expect(await placeholder({})).toBe('(pass --role-arn to replace the placeholder arn:aws:iam::<account-id>:role/<feature-store-role>)');
    expect(await placeholder({ region: 'cn-north-1', accountId: '123456789012' })).toBe('(pass --role-arn to replace the placeholder arn:aws-cn:iam::123456789012:role/<feature-store-role>)');
    expect(await placeholder({ region: 'us-gov-west-1' })).toBe('(pass --role-arn to replace the placeholder arn:aws-us-gov:iam::<account-id>:role/<feature-store-role>)');
  });

  it('with --diff compares against the deployed group through DescribeFeatureGroup', async () => {
    const lines: string[] = [];
    expect(await runPlan({ file, format: 'input', diff: true, json: false, ...options }, (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toContain('up to date');
  });

  it('with --diff grants the offline folder DescribeFeatureGroup resolves for the deployed group', async () => {
    const deployed = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: 'card-activity' }));
    const resolved = deployed.OfflineStoreConfig?.S3StorageConfig?.ResolvedOutputS3Uri;
    expect(resolved).toMatch(/^s3:\/\/features\/offline\/.+\/data$/);
    const lines: string[] = [];
    expect(await runPlan({ file, format: 'input', diff: true, json: true, ...options }, (l) => lines.push(l))).toBe(0);
    const training = JSON.parse(lines.join('\n'))[0].iamPolicies.training as ReturnType<typeof iamPolicies>['training'];
    expect(training.Statement.find((s) => s.Sid === 'ReadOfflineStoreObjects')?.Resource[0]).toBe(`arn:aws:s3:::${resolved?.slice('s3://'.length)}/*`);
    // The deployed group's ARN says where the policies' ARNs are: its partition, region and account.
    const [, partition, , region, account] = (deployed.FeatureGroupArn as string).split(':');
    expect(training.Statement.find((s) => s.Sid === 'RunAthenaQueries')?.Resource).toEqual([`arn:${partition}:athena:${region}:${account}:workgroup/primary`]);
  });

  it('with --diff and no AWS Region anywhere, says how to give one instead of the SDK\'s "Region is missing"', async () => {
    const saved = { AWS_REGION: process.env['AWS_REGION'], AWS_DEFAULT_REGION: process.env['AWS_DEFAULT_REGION'], AWS_CONFIG_FILE: process.env['AWS_CONFIG_FILE'] };
    delete process.env['AWS_REGION'];
    delete process.env['AWS_DEFAULT_REGION'];
    process.env['AWS_CONFIG_FILE'] = join(tmpdir(), 'skewless-no-such-aws-config');
    try {
      const error = await runPlan({ file, format: 'input', diff: true, json: false }, () => undefined).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toBe('--diff reads each deployed group with DescribeFeatureGroup, and no AWS Region is set: pass --region or set AWS_REGION');
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('with --diff refuses a breaking change with exit code 1', async () => {
    const changed = defineFeatureGroup({
      name: 'card-activity',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: z.object({ card_id: z.string() }),
      features: z.object({ card_id: z.string(), event_time: z.date(), amount: z.number().int() }),
      transform: (e) => ({ card_id: e.card_id, event_time: new Date(0), amount: 1 }),
    });
    const deployed = await sagemaker.send(new DescribeFeatureGroupCommand({ FeatureGroupName: 'card-activity' }));
    expect(diffFeatureGroup(changed, deployed).breaking).toEqual(expect.arrayContaining(['feature amount is Fractional on AWS, Integral here']));
    const lines: string[] = [];
    const code = await runPlan({ file, format: 'input', diff: true, json: true, ...options, describe: async () => ({ ...deployed, FeatureDefinitions: deployed.FeatureDefinitions?.map((d) => (d.FeatureName === 'amount' ? { ...d, FeatureType: 'Integral' as const } : d)) }) }, (l) => lines.push(l));
    expect(code).toBe(1);
    expect(JSON.parse(lines.join('\n'))[0].diff.breaking).toEqual(['feature amount is Integral on AWS, Fractional here']);
  });
});

describe('skewless plan --rate', () => {
  const quickstart = new URL('../examples/quickstart/card-activity.ts', import.meta.url).pathname;
  const fraud = new URL('../examples/fraud-detection/features.ts', import.meta.url).pathname;
  const plan = async (extra: Partial<Parameters<typeof runPlan>[0]>, file = fraud) => {
    const lines: string[] = [];
    const code = await runPlan({ file, format: 'input', diff: false, json: false, ...options, ...extra }, (l) => lines.push(l));
    return { code, text: lines.join('\n'), lines };
  };

  it('prints shards, the event source mapping, Lambda, SageMaker, the state table, freshness, the hottest identifier and the assumptions', async () => {
    const { code, lines } = await plan({ rate: '10000/s' });
    expect(code).toBe(0);
    const from = lines.indexOf('## Capacity at 10,000 records/s');
    expect(from).toBeGreaterThan(0);
    const section = lines.slice(from);
    for (const start of ['Kinesis stream        10 shards', 'Event source mapping  BatchSize ', 'Lambda                1,769 MB', 'SageMaker             1 write unit per record', 'State table           PROVISIONED', 'Freshness             at most ~', 'Hottest identifier    ', 'Assumptions:']) {
      expect(section.some((line) => line.startsWith(start))).toBe(true);
    }
    expect(section).toContain('  - every record its own entity within its batch (many identifiers, few events each): per record a conditional write of its state item and a mark of its outbox written (25 to a call), both items read when not cached');
  });

  it("prints what README's example shows for the fraud-detection group", async () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8').split('\n');
    const from = readme.indexOf('## Capacity at 10,000 records/s');
    const shown = readme.slice(from, readme.indexOf('Assumptions:', from));
    const { lines } = await plan({ rate: '10000/s' });
    const printed = lines.slice(lines.indexOf('## Capacity at 10,000 records/s'));
    expect(shown.length).toBeGreaterThan(5);
    expect(printed.slice(0, shown.length)).toEqual(shown);
  });

  it('says a group without aggregations needs no state table', async () => {
    const { text } = await plan({ rate: '600/min' }, quickstart);
    expect(text).toContain('## Capacity at 10 records/s');
    expect(text).toContain('State table           none: the group has no aggregations');
  });

  it('gives the same plan as JSON, under each group\'s "capacity"', async () => {
    const { text } = await plan({ rate: '10000/s', recordBytes: '300', json: true });
    const [entry] = JSON.parse(text) as { capacity: { kinesis: { bytesPerSecond: number }; eventSourceMapping: object; assumptions: string[] } }[];
    expect(entry?.capacity.kinesis.bytesPerSecond).toBe(10_000 * (300 + 32));
    expect(entry?.capacity.eventSourceMapping).toMatchObject({ MaximumBatchingWindowInSeconds: 1, StartingPosition: 'TRIM_HORIZON', FunctionResponseTypes: ['ReportBatchItemFailures'] });
    expect(entry?.capacity.assumptions[0]).toBe('stream record 300 bytes as given, plus a 32-byte partition key');
  });

  it.each([
    [{ rate: 'fast' }, "--rate: expected records per second or per minute, such as '10000/s' or '600/min', got \"fast\""],
    [{ rate: '0' }, "--rate: a rate needs its unit, got \"0\": did you mean '0/s' or '0/min'?"],
    [{ rate: '0/s' }, '--rate: a rate must be more than 0, got "0/s"'],
    [{ rate: '10000' }, "--rate: a rate needs its unit, got \"10000\": did you mean '10000/s' or '10000/min'?"],
    [{ rate: '10000/s', recordBytes: 'big' }, '--record-bytes takes a whole number, 1 or more, got "big"'],
    [{ rate: '10000/s', recordBytes: '0' }, '--record-bytes takes a whole number, 1 or more, got "0"'],
    [{ rate: '10000/s', recordBytes: '5000000' }, '--record-bytes: a Kinesis record is at most 1,048,576 bytes (1 MiB), data and partition key together, got "5000000"'],
    [{ rate: '10000/s', entityEvents: '1.5' }, '--entity-events takes a whole number, 1 or more, got "1.5"'],
    [{ recordBytes: '300' }, '--record-bytes sizes a plan for a target rate: give --rate too (e.g. --rate 10000/s)'],
  ])('refuses %j as bad usage (exit 2) before reading the definitions', async (extra, message) => {
    await expect(plan(extra, '/nonexistent/definitions.js')).rejects.toMatchObject({ name: 'UsageError', command: 'plan', message });
  });
});
