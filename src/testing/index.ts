// skewless/testing: helpers for users' own tests. Nothing here runs at import time.
export { dynamoDbStreamEvent, firehoseEvent, kafkaEvent, kinesisEvent, marshallValue, sqsEvent } from './events.js';
export type { DynamoDbChange, KafkaEventOptions, KinesisEventOptions, SqsEventOptions } from './events.js';
export { runKinesisEventSource } from './kinesis-runner.js';
export type { KinesisEventSourceOptions, KinesisEventSourceReport } from './kinesis-runner.js';
export { memoryAggregationState, memoryOffline, memoryOnline } from './memory-store.js';
export { checkDeterminism, expectParity } from './parity.js';
export type { DeterminismOptions, ParityOptions, ParityReport } from './parity.js';
export { expectServingParity } from './serving-parity.js';
export type { ServingParityReport } from './serving-parity.js';
