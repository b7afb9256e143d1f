import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { dynamoDbTableDefinition, iamPolicies, toCloudFormation, toCreateFeatureGroupInput } from '../src/aws/index.js';
import { planCapacity } from '../src/aws/capacity.js';
import { runPlan } from '../src/cli/plan.js';
import { cardVelocity, everyType } from './fixtures/groups.js';

// What `skewless plan` generates for CloudFormation, checked by implementations we did not write:
// cfn-lint (the resource schemas CloudFormation publishes) and moto's CloudFormation.

const dir = mkdtempSync(join(tmpdir(), 'skewless-cloudformation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const roleArn = 'arn:aws:iam::123456789012:role/feature-store';
const offlineStoreS3Uri = 's3://features/offline';

function writeTemplate(name: string, resources: Record<string, unknown>, parameters?: Record<string, unknown>): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ AWSTemplateFormatVersion: '2010-09-09', ...(parameters ? { Parameters: parameters } : {}), Resources: resources }, null, 2));
  return file;
}

function cfnLint(file: string): { status: number | null; output: string } {
  const run = spawnSync('cfn-lint', [file], { encoding: 'utf8' });
  if (run.error) throw new Error(`cannot run cfn-lint (is it installed? pip install cfn-lint): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

type Resources = Record<string, { Type: string; Properties: Record<string, unknown>; DependsOn?: string }>;

/** `skewless plan --format cloudformation --json`, its resources merged into one template's. */
async function planResources(file: string, group?: string): Promise<Resources> {
  return (await planTemplate(file, group)).resources;
}

/** The same with `--rate`: the resources and the parameters of every group, merged. */
async function planTemplate(file: string, group?: string, rate?: string): Promise<{ resources: Resources; parameters: Record<string, unknown> }> {
  const lines: string[] = [];
  await runPlan({ file, group, format: 'cloudformation', diff: false, json: true, roleArn, offlineStoreS3Uri, rate }, (line) => lines.push(line));
  const entries = JSON.parse(lines.join('\n')) as { resources: Resources; parameters?: object }[];
  return { resources: Object.assign({}, ...entries.map((entry) => entry.resources)), parameters: Object.assign({}, ...entries.map((entry) => entry.parameters ?? {})) };
}

describe('skewless plan --format cloudformation', () => {
  it('passes cfn-lint for groups of every scalar feature type: string, enum, int, bigint, float, boolean, date, date as epoch seconds, optional and nullable', async () => {
    const resources = await planResources(fixture('scalar-groups.ts'));
    expect(Object.keys(resources)).toEqual(['RiderProfileFeatureGroup', 'RiderProfileEpochFeatureGroup']);
    expect(resources['RiderProfileEpochFeatureGroup']?.Properties['FeatureDefinitions']).toContainEqual({ FeatureName: 'signed_up_at', FeatureType: 'Fractional' });
    expect(cfnLint(writeTemplate('scalar-groups', resources))).toEqual({ status: 0, output: '' });
  });

  it('passes cfn-lint with --rate: each group gets a Kinesis stream with the planned shards and an event source mapping, its function a parameter', async () => {
    const { resources, parameters } = await planTemplate(fixture('scalar-groups.ts'), undefined, '10000/s');
    expect(Object.keys(parameters)).toEqual(['RiderProfileIngestionFunction', 'RiderProfileEpochIngestionFunction']);
    expect(Object.entries(resources).map(([id, r]) => `${id} ${r.Type}`)).toEqual([
      'RiderProfileFeatureGroup AWS::SageMaker::FeatureGroup',
      'RiderProfileStream AWS::Kinesis::Stream',
      'RiderProfileEventSourceMapping AWS::Lambda::EventSourceMapping',
      'RiderProfileEpochFeatureGroup AWS::SageMaker::FeatureGroup',
      'RiderProfileEpochStream AWS::Kinesis::Stream',
      'RiderProfileEpochEventSourceMapping AWS::Lambda::EventSourceMapping',
    ]);
    expect(cfnLint(writeTemplate('rate', resources, parameters))).toEqual({ status: 0, output: '' });
  });

  it('without --role-arn, takes each feature group\'s role from a FeatureStoreRoleArn parameter, which passes cfn-lint where a placeholder ARN would not', async () => {
    for (const rate of [undefined, '10000/s']) {
      const lines: string[] = [];
      await runPlan({ file: fixture('scalar-groups.ts'), format: 'cloudformation', diff: false, json: true, offlineStoreS3Uri, rate }, (line) => lines.push(line));
      const entries = JSON.parse(lines.join('\n')) as { resources: Resources; parameters: Record<string, { Type: string }> }[];
      for (const entry of entries) {
        expect(Object.keys(entry.parameters)[0]).toBe('FeatureStoreRoleArn');
        expect(entry.parameters['FeatureStoreRoleArn']?.Type).toBe('String');
        const groups = Object.values(entry.resources).filter((r) => r.Type === 'AWS::SageMaker::FeatureGroup');
        expect(groups.map((g) => g.Properties['RoleArn'])).toEqual([{ Ref: 'FeatureStoreRoleArn' }]);
      }
      const template = writeTemplate(`role-parameter-${rate ? 'rate' : 'plain'}`, Object.assign({}, ...entries.map((e) => e.resources)), Object.assign({}, ...entries.map((e) => e.parameters)));
      expect(cfnLint(template), rate).toEqual({ status: 0, output: '' });
    }
    const text: string[] = [];
    await runPlan({ file: fixture('scalar-groups.ts'), format: 'cloudformation', diff: false, json: false, offlineStoreS3Uri }, (line) => text.push(line));
    expect(text.at(-1)).toBe('(the feature groups take their role from the FeatureStoreRoleArn parameter; pass --role-arn to name it instead)');
  });

  it('refuses a group with list features, naming the CreateFeatureGroup route (cfn-lint E3002: AWS::SageMaker::FeatureGroup takes only FeatureName and FeatureType)', async () => {
    const refusal = runPlan({ file: fixture('groups.ts'), group: 'every_type', format: 'cloudformation', diff: false, json: true, roleArn }, () => {});
    await expect(refusal).rejects.toMatchObject({ name: 'ConfigurationError', code: 'INVALID_CONFIG' });
    const { message } = (await refusal.catch((error: unknown) => error)) as Error;
    expect(message).toContain('list features (tags, weights)');
    expect(message).toContain('skewless plan <definitions file> --group every_type --format input --json');
    expect(message).toContain('aws sagemaker create-feature-group --cli-input-json');
    // The route it names keeps the lists; the same definitions as a CloudFormation resource are what cfn-lint rejects.
    const input = toCreateFeatureGroupInput(everyType, { roleArn });
    expect(input.FeatureDefinitions).toContainEqual({ FeatureName: 'tags', FeatureType: 'String', CollectionType: 'List' });
    const lint = cfnLint(writeTemplate('list-features', { EveryTypeFeatureGroup: { Type: 'AWS::SageMaker::FeatureGroup', Properties: input } }));
    expect(lint.output).toMatch(/E3002 Additional properties are not allowed \('CollectionType' was unexpected\)/);
  });
});

type Policy = ReturnType<typeof iamPolicies>['ingestion'];

/** A policy as a template holds it: each ARN with a pseudo parameter (no region or account given) inside Fn::Sub. */
function inTemplate(policy: Policy) {
  return { ...policy, Statement: policy.Statement.map((s) => ({ ...s, Resource: s.Resource.map((arn) => (arn.includes('${') ? { 'Fn::Sub': arn } : arn)) })) };
}

function role(name: string, service: string, policies: Record<string, Policy>) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: name,
      AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }] },
      Policies: Object.entries(policies).map(([PolicyName, policy]) => ({ PolicyName, PolicyDocument: inTemplate(policy) })),
    },
  };
}

interface DeployedStack {
  readonly status: string;
  readonly reason: string | null;
  readonly resources: Record<
    string,
    {
      type: string;
      status: string;
      physicalId: string;
      arn?: string;
      keySchema?: unknown;
      billingMode?: string;
      inlinePolicies?: Record<string, Policy>;
      shards?: number;
      streamMode?: string;
      mapping?: Record<string, unknown>;
    }
  >;
}

/** Creates the stack in moto through boto3 (no CloudFormation client is installed for Node) and describes what it made. */
function deployToMoto(stackName: string, templateFile: string, parameters: Record<string, string> = {}): DeployedStack {
  const run = spawnSync('python3', [fixture('cloudformation-stack.py'), inject('motoEndpoint'), stackName, templateFile, ...Object.entries(parameters).map(([key, value]) => `${key}=${value}`)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`deploying ${stackName} to moto failed:\n${run.stderr}`);
  return JSON.parse(run.stdout) as DeployedStack;
}

describe("what skewless generates, deployed to moto's CloudFormation", () => {
  it('creates the ingestion and training roles with their generated policies, the online and state tables and the dead-letter queue', () => {
    const suffix = randomUUID().slice(0, 8);
    const stateTable = `skewless-state-${suffix}`;
    // No region or account: the policies carry pseudo parameters, which the stack resolves.
    const { ingestion, training } = iamPolicies(cardVelocity, { offlineStoreS3Uri, athenaResultsS3Uri: 's3://results/athena/', aggregationStateTable: stateTable });
    const template = writeTemplate('stack', {
      // moto has no AWS::SageMaker::FeatureGroup and skips it; everything around it must deploy.
      ...toCloudFormation(cardVelocity, { roleArn, offlineStoreS3Uri }),
      IngestionRole: role(`skewless-ingestion-${suffix}`, 'lambda.amazonaws.com', { ingestion }),
      TrainingRole: role(`skewless-training-${suffix}`, 'sagemaker.amazonaws.com', { training }),
      OnlineTable: { Type: 'AWS::DynamoDB::Table', Properties: dynamoDbTableDefinition(`skewless-features-${suffix}`) },
      StateTable: { Type: 'AWS::DynamoDB::Table', Properties: dynamoDbTableDefinition(stateTable) },
      DeadLetterQueue: { Type: 'AWS::SQS::Queue', Properties: { QueueName: `skewless-dead-letters-${suffix}` } },
    });

    const stack = deployToMoto(`skewless-${suffix}`, template);

    expect({ status: stack.status, reason: stack.reason }).toEqual({ status: 'CREATE_COMPLETE', reason: null });
    const { IngestionRole, TrainingRole, OnlineTable, StateTable, DeadLetterQueue } = stack.resources;
    expect(IngestionRole?.inlinePolicies?.['ingestion']?.Statement).toEqual([
      {
        Sid: 'WriteRecordsIntoThisGroupOnly',
        Effect: 'Allow',
        Action: ['sagemaker:PutRecord', 'sagemaker:BatchWriteRecord'],
        Resource: ['arn:aws:sagemaker:us-east-1:123456789012:feature-group/card-velocity'],
      },
      // The ARN the policy names is the ARN of the table the stack made.
      { Sid: 'AggregationState', Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'], Resource: [StateTable?.arn] },
    ]);
    expect(TrainingRole?.inlinePolicies?.['training']?.Statement.find((s) => s.Sid === 'ReadOfflineStoreObjects')?.Resource).toEqual([
      'arn:aws:s3:::features/offline/123456789012/sagemaker/us-east-1/offline-store/card-velocity-??????????/data/*',
      'arn:aws:s3:::features/offline/123456789012/sagemaker/us-east-1/offline-store/card-velocity-??????????/metadata/*',
    ]);
    for (const table of [OnlineTable, StateTable]) {
      expect(table).toMatchObject({ status: 'CREATE_COMPLETE', keySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }], billingMode: 'PAY_PER_REQUEST' });
    }
    expect(DeadLetterQueue?.arn).toBe(`arn:aws:sqs:us-east-1:123456789012:skewless-dead-letters-${suffix}`);
  });
});

describe("the stream and event source mapping of plan --rate, deployed to moto's CloudFormation", () => {
  it('creates the stream with the planned shards and the mapping with the planned batch size, window and ParallelizationFactor', async () => {
    const suffix = randomUUID().slice(0, 8);
    const { resources, parameters } = await planTemplate(fixture('groups.ts'), 'card-velocity', '10000/s');
    const plan = planCapacity(cardVelocity, { rate: '10000/s' });
    const functionName = `skewless-ingest-${suffix}`;
    const template = writeTemplate(
      'rate-stack',
      {
        ...resources,
        // The function the parameter names: moto creates it without running it.
        IngestionRole: { Type: 'AWS::IAM::Role', Properties: { RoleName: `skewless-ingest-${suffix}`, AssumeRolePolicyDocument: role('x', 'lambda.amazonaws.com', {}).Properties.AssumeRolePolicyDocument } },
        IngestionFunction: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            FunctionName: functionName,
            Runtime: 'nodejs24.x',
            Handler: 'index.handler',
            MemorySize: plan.lambda.memoryMb,
            Role: { 'Fn::GetAtt': ['IngestionRole', 'Arn'] },
            Code: { ZipFile: 'exports.handler = async () => ({ batchItemFailures: [] });' },
          },
        },
        CardVelocityEventSourceMapping: { ...(resources['CardVelocityEventSourceMapping'] as Resources[string]), DependsOn: 'IngestionFunction' },
      },
      parameters,
    );
    expect(cfnLint(template)).toEqual({ status: 0, output: '' });

    const stack = deployToMoto(`skewless-rate-${suffix}`, template, { CardVelocityIngestionFunction: functionName });

    expect({ status: stack.status, reason: stack.reason }).toEqual({ status: 'CREATE_COMPLETE', reason: null });
    const { CardVelocityStream, CardVelocityEventSourceMapping } = stack.resources;
    expect(CardVelocityStream).toMatchObject({ status: 'CREATE_COMPLETE', shards: plan.kinesis.shards, streamMode: 'PROVISIONED' });
    expect(CardVelocityEventSourceMapping?.mapping).toEqual({
      EventSourceArn: CardVelocityStream?.arn,
      FunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
      BatchSize: plan.eventSourceMapping.BatchSize,
      MaximumBatchingWindowInSeconds: 1,
      ParallelizationFactor: plan.eventSourceMapping.ParallelizationFactor,
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(plan.kinesis.shards).toBe(10);
  });
});
