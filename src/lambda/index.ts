// skewless/lambda: ingestion handlers. Each runs the group's one pipeline through the store.
export type { BatchItem, HandlerOptions, ItemStatus } from './batch.js';
export { decodeBase64, jsonPayload, unmarshallItem } from './decode.js';
export type { PayloadDecoder, PayloadMeta } from './decode.js';
export type {
  BatchResponse,
  DynamoDbStreamEvent,
  DynamoDbStreamRecord,
  FirehoseEvent,
  FirehoseRecord,
  FirehoseResponse,
  FirehoseResponseRecord,
  KafkaBatchResponse,
  KafkaEvent,
  KafkaRecord,
  KinesisStreamEvent,
  KinesisStreamRecord,
  LambdaContext,
  SqsEvent,
  SqsRecord,
} from './events.js';
export { dynamoDbStreamHandler, firehoseTransform, kafkaHandler, kinesisHandler, sqsHandler } from './handlers.js';
export type { DynamoDbStreamHandlerOptions } from './handlers.js';
export type { FirehoseTransformOptions } from './firehose.js';
export { featureVectorHandler } from './serving.js';
export type { FeatureVectorHandlerOptions, HttpRequestEvent, HttpResponse } from './serving.js';
