import { CreateFeatureGroupCommand, DescribeFeatureGroupCommand, SageMakerClient } from '@aws-sdk/client-sagemaker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { diffFeatureGroup, iamPolicies, toCloudFormation, toCreateFeatureGroupInput } from '../src/aws/index.js';
import { runPlan } from '../src/cli/plan.js';
import { count, defineFeatureGroup } from '../src/index.js';
import { type LocalStack, startLocalStack } from '../src/local/index.js';
import { cardActivity } from '../examples/quickstart/card-activity.js';

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
  it('lets the ingestion Lambda PutRecord into this group only', () => {
    const { ingestion } = iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '123456789012' });
    expect(ingestion.Statement).toEqual([
      { Sid: 'PutRecordIntoThisGroupOnly', Effect: 'Allow', Action: ['sagemaker:PutRecord'], Resource: ['arn:aws:sagemaker:eu-west-1:123456789012:feature-group/card-activity'] },
    ]);
  });

  it('lets the ingestion Lambda of a group with aggregations read and write its state table, nothing more', () => {
    const velocity = defineFeatureGroup({
      name: 'card-velocity',
      recordIdentifier: 'card_id',
      eventTime: 'event_time',
      source: cardActivity.source,
      features: cardActivity.features,
      transform: cardActivity.transform,
      aggregations: { n_1h: count({ window: '1h' }) },
    });
    const { ingestion } = iamPolicies(velocity, { region: 'eu-west-1', accountId: '123456789012', aggregationStateTable: 'fraud-state' });
    expect(ingestion.Statement[1]).toEqual({
      Sid: 'AggregationState',
      Effect: 'Allow',
      Action: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Resource: ['arn:aws:dynamodb:eu-west-1:123456789012:table/fraud-state'],
    });
  });

  it('lets training read only the group\'s offline prefix and use Athena in its workgroup', () => {
    const { training } = iamPolicies(cardActivity, { region: 'eu-west-1', accountId: '1', offlineStoreS3Uri: 's3://features/offline', athenaResultsS3Uri: 's3://results/athena/' });
    const resources = training.Statement.flatMap((s) => s.Resource);
    expect(resources).toContain('arn:aws:s3:::features/offline/card-activity/*');
    expect(resources).toContain('arn:aws:s3:::results/athena/*');
    expect(resources).toContain('arn:aws:athena:eu-west-1:1:workgroup/primary');
    expect(training.Statement.flatMap((s) => s.Action).some((a) => a.startsWith('sagemaker:'))).toBe(false);
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

  it('with --diff compares against the deployed group through DescribeFeatureGroup', async () => {
    const lines: string[] = [];
    expect(await runPlan({ file, format: 'input', diff: true, json: false, ...options }, (l) => lines.push(l))).toBe(0);
    expect(lines.join('\n')).toContain('up to date');
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
