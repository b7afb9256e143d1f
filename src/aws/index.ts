// skewless/aws: the AWS backends. Each AWS SDK client is an optional peer dependency, loaded on first use.
export { dynamoDbOnline, dynamoDbTableDefinition } from './dynamodb-online.js';
export type { DynamoDbOnlineOptions } from './dynamodb-online.js';
export type { RetryOptions } from './retry.js';
export { sageMakerOnline } from './sagemaker-online.js';
export type { SageMakerOnlineOptions } from './sagemaker-online.js';
export { diffFeatureGroup, iamPolicies, toCloudFormation, toCreateFeatureGroupInput } from './plan.js';
export type { CreateFeatureGroupInput, CreateFeatureGroupOptions, FeatureGroupDiff, IamPolicyOptions } from './plan.js';
export { s3Offline } from './s3-offline.js';
export type { S3OfflineOptions } from './s3-offline.js';
export { athenaOffline } from './athena-offline.js';
export type { AthenaOfflineOptions } from './athena-offline.js';
export { runAthenaQuery } from './athena-query.js';
export type { AthenaColumn, AthenaQuery, AthenaResult } from './athena-query.js';
export { s3DeadLetter, sqsDeadLetter } from './dead-letter.js';
export type { S3DeadLetterOptions, SqsDeadLetterOptions } from './dead-letter.js';
export { athenaSource, awsSourceFromSpec, backfillShardHandler, s3ParquetFile } from './backfill.js';
export type { AthenaSourceOptions, BackfillShardHandlerOptions, BackfillShardResult, S3ObjectOptions } from './backfill.js';
