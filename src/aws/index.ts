// skewless/aws: the AWS backends. Each AWS SDK client is an optional peer dependency, loaded on first use.
export { dynamoDbOnline, dynamoDbTableDefinition } from './dynamodb-online.js';
export type { DynamoDbOnlineOptions } from './dynamodb-online.js';
export type { RetryOptions } from './retry.js';
export { sageMakerOnline } from './sagemaker-online.js';
export type { SageMakerOnlineOptions } from './sagemaker-online.js';
export { diffFeatureGroup, iamPolicies, toCloudFormation, toCreateFeatureGroupInput } from './plan.js';
export type { CreateFeatureGroupInput, CreateFeatureGroupOptions, FeatureGroupDiff, IamPolicyOptions } from './plan.js';
