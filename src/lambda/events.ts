// The Lambda event shapes skewless handles, as AWS documents them. Defined here rather than taken
// from @types/aws-lambda so the package has no type dependency; those types are compatible.

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
  readonly functionName?: string;
}

export interface KinesisStreamRecord {
  readonly kinesis: {
    readonly partitionKey: string;
    readonly sequenceNumber: string;
    /** Base64. */
    readonly data: string;
    /** Epoch seconds, with a fraction. */
    readonly approximateArrivalTimestamp: number;
    readonly kinesisSchemaVersion?: string;
  };
  /** `shardId-000000000000:<sequence number>`. */
  readonly eventID: string;
  readonly eventSourceARN?: string;
  readonly eventSource?: string;
  readonly awsRegion?: string;
}
export interface KinesisStreamEvent {
  readonly Records: readonly KinesisStreamRecord[];
}

export interface SqsRecord {
  readonly messageId: string;
  readonly receiptHandle?: string;
  /** The message body as sent (text, not base64). */
  readonly body: string;
  readonly attributes: {
    /** Epoch milliseconds, as a string. */
    readonly SentTimestamp: string;
    readonly MessageGroupId?: string;
    readonly SequenceNumber?: string;
    readonly ApproximateReceiveCount?: string;
  };
  readonly messageAttributes?: Record<string, unknown>;
  readonly eventSourceARN: string;
  readonly eventSource?: string;
}
export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}

export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** Epoch milliseconds. */
  readonly timestamp: number;
  readonly timestampType?: string;
  /** Base64. */
  readonly key?: string | null;
  /** Base64. */
  readonly value: string | null;
  /** Each header's value as a byte array, or as a base64 string, depending on the producer path. */
  readonly headers?: readonly Record<string, readonly number[] | string>[];
}
export interface KafkaEvent {
  readonly eventSource: 'aws:kafka' | 'SelfManagedKafka' | string;
  readonly eventSourceArn?: string;
  readonly bootstrapServers?: string;
  /** Keyed by `<topic>-<partition>`. */
  readonly records: Readonly<Record<string, readonly KafkaRecord[]>>;
}

export interface DynamoDbStreamRecord {
  readonly eventID?: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventSourceARN?: string;
  readonly dynamodb: {
    /** Epoch seconds. */
    readonly ApproximateCreationDateTime?: number;
    readonly Keys?: Record<string, unknown>;
    readonly NewImage?: Record<string, unknown>;
    readonly OldImage?: Record<string, unknown>;
    readonly SequenceNumber: string;
    readonly StreamViewType?: string;
  };
}
export interface DynamoDbStreamEvent {
  readonly Records: readonly DynamoDbStreamRecord[];
}

export interface FirehoseRecord {
  readonly recordId: string;
  /** Epoch milliseconds. */
  readonly approximateArrivalTimestamp: number;
  /** Base64. */
  readonly data: string;
}
export interface FirehoseEvent {
  readonly invocationId?: string;
  readonly deliveryStreamArn?: string;
  readonly region?: string;
  readonly records: readonly FirehoseRecord[];
}
export interface FirehoseResponseRecord {
  readonly recordId: string;
  readonly result: 'Ok' | 'Dropped' | 'ProcessingFailed';
  readonly data: string;
  readonly metadata?: { readonly partitionKeys: Record<string, string> };
}
export interface FirehoseResponse {
  readonly records: FirehoseResponseRecord[];
}

/** The partial batch response of Kinesis, DynamoDB Streams and SQS event source mappings. */
export interface BatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}
/** Kafka's partial batch response: a failed record is named by its partition and offset. */
export interface KafkaBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: { readonly partition: string; readonly offset: number } }[];
}
