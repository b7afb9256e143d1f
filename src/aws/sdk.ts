import { missingPeer, optionalModule } from '../util/optional-module.js';

// One loader per AWS SDK package skewless uses. Each is an optional peer dependency, imported on
// first use, so a program (and its bundle) carries only the clients its backends call.

/** `@aws-sdk/client-sagemaker-featurestore-runtime`: PutRecord, GetRecord, BatchGetRecord, ... */
export const loadFeatureStoreRuntime = /* @__PURE__ */ optionalModule(() =>
  import('@aws-sdk/client-sagemaker-featurestore-runtime').catch(missingPeer('@aws-sdk/client-sagemaker-featurestore-runtime')),
);
/** `@aws-sdk/client-sagemaker`: the feature-group control plane. */
export const loadSageMaker = /* @__PURE__ */ optionalModule(() => import('@aws-sdk/client-sagemaker').catch(missingPeer('@aws-sdk/client-sagemaker')));
/** `@aws-sdk/client-dynamodb`. */
export const loadDynamoDb = /* @__PURE__ */ optionalModule(() => import('@aws-sdk/client-dynamodb').catch(missingPeer('@aws-sdk/client-dynamodb')));
/** `@aws-sdk/client-s3`. */
export const loadS3 = /* @__PURE__ */ optionalModule(() => import('@aws-sdk/client-s3').catch(missingPeer('@aws-sdk/client-s3')));
/** `@aws-sdk/client-athena`. */
export const loadAthena = /* @__PURE__ */ optionalModule(() => import('@aws-sdk/client-athena').catch(missingPeer('@aws-sdk/client-athena')));
/** `@aws-sdk/client-sqs`. */
export const loadSqs = /* @__PURE__ */ optionalModule(() => import('@aws-sdk/client-sqs').catch(missingPeer('@aws-sdk/client-sqs')));
/** `@aws-sdk/client-kinesis`. */
export const loadKinesis = /* @__PURE__ */ optionalModule(() => import('@aws-sdk/client-kinesis').catch(missingPeer('@aws-sdk/client-kinesis')));
