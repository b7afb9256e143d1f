import { createHash, randomUUID } from 'node:crypto';
import { AwsError } from './http.js';
import { ACCOUNT_ID } from './registry.js';

/** SQS's own limits the local queues enforce. */
const MAX_BATCH_ENTRIES = 10;
const MAX_MESSAGE_BYTES = 1_048_576;

interface StoredMessage {
  readonly id: string;
  readonly body: string;
  readonly md5: string;
  readonly attributes: Readonly<Record<string, MessageAttribute>> | undefined;
  readonly sentMs: number;
  receiveCount: number;
  visibleAtMs: number;
  receiptHandle: string | undefined;
}

interface Queue {
  readonly name: string;
  readonly attributes: Record<string, string>;
  readonly messages: StoredMessage[];
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

/** MD5OfMessageAttributes is sent only for a message that has attributes. */
const attributesDigest = (attributes: Readonly<Record<string, MessageAttribute>> | undefined) => (attributes ? { MD5OfMessageAttributes: md5OfMessageAttributes(attributes) } : {});

/** A missing queue, as SQS's JSON protocol answers it (its documented error response). */
function queueDoesNotExist(): AwsError {
  return new AwsError('QueueDoesNotExist', 'The specified queue does not exist.', 400, 'AWS.SimpleQueueService.NonExistentQueue');
}

interface MessageAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/**
 * MD5OfMessageAttributes as SQS computes it: attributes sorted by name, each as its name, data type,
 * transport type (1 String/Number, 2 Binary) and value, lengths as 4-byte big-endian integers
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation).
 */
export function md5OfMessageAttributes(attributes: Readonly<Record<string, MessageAttribute>>): string {
  const hash = createHash('md5');
  const lengthPrefixed = (bytes: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length).update(bytes);
  };
  for (const name of Object.keys(attributes).sort()) {
    const attribute = attributes[name] as MessageAttribute;
    lengthPrefixed(Buffer.from(name, 'utf8'));
    lengthPrefixed(Buffer.from(attribute.DataType, 'utf8'));
    const binary = attribute.DataType.startsWith('Binary');
    hash.update(Buffer.from([binary ? 2 : 1]));
    lengthPrefixed(binary ? Buffer.from(attribute.BinaryValue ?? '', 'base64') : Buffer.from(attribute.StringValue ?? '', 'utf8'));
  }
  return hash.digest('hex');
}

/** The message attributes a ReceiveMessage asked for: names, `All`/`.*`, or a prefix such as `bar.*`. */
function requested(attributes: Readonly<Record<string, MessageAttribute>> | undefined, names: unknown): Record<string, MessageAttribute> | undefined {
  if (!attributes || !Array.isArray(names) || names.length === 0) return undefined;
  const wanted = names.map(String);
  const picked = Object.fromEntries(
    Object.entries(attributes).filter(([name]) => wanted.some((w) => w === 'All' || w === '.*' || w === name || (w.endsWith('.*') && name.startsWith(w.slice(0, -2))))),
  );
  return Object.keys(picked).length > 0 ? picked : undefined;
}

/**
 * The SQS calls skewless and its tests use (awsJson1.0, as the current SDK speaks it): queues,
 * send (single and batch), receive with a visibility timeout, delete. Queues live in memory: they
 * hold dead letters for a test or a demo run, not data that must survive a restart.
 */
export class LocalSqs {
  readonly #queues = new Map<string, Queue>();

  handle(operation: string, body: Record<string, unknown>, host: string): unknown {
    switch (operation) {
      case 'CreateQueue':
        return this.#create(body, host);
      case 'GetQueueUrl':
        return { QueueUrl: this.#url(this.#byName(body['QueueName']).name, host) };
      case 'ListQueues':
        return { QueueUrls: [...this.#queues.keys()].filter((n) => n.startsWith(String(body['QueueNamePrefix'] ?? ''))).map((n) => this.#url(n, host)) };
      case 'DeleteQueue':
        this.#queues.delete(this.#byUrl(body['QueueUrl']).name);
        return {};
      case 'PurgeQueue':
        this.#byUrl(body['QueueUrl']).messages.length = 0;
        return {};
      case 'SendMessage':
        return this.#send(this.#byUrl(body['QueueUrl']), body);
      case 'SendMessageBatch':
        return this.#sendBatch(this.#byUrl(body['QueueUrl']), body);
      case 'ReceiveMessage':
        return this.#receive(this.#byUrl(body['QueueUrl']), body);
      case 'DeleteMessage':
        this.#delete(this.#byUrl(body['QueueUrl']), String(body['ReceiptHandle']));
        return {};
      case 'GetQueueAttributes': {
        const queue = this.#byUrl(body['QueueUrl']);
        const now = Date.now();
        const visible = queue.messages.filter((m) => m.visibleAtMs <= now).length;
        return {
          Attributes: {
            ...queue.attributes,
            ApproximateNumberOfMessages: String(visible),
            ApproximateNumberOfMessagesNotVisible: String(queue.messages.length - visible),
          },
        };
      }
      default:
        throw new AwsError('UnsupportedOperation', `the local stack does not implement AmazonSQS.${operation}`);
    }
  }

  #url(name: string, host: string): string {
    return `http://${host}/${ACCOUNT_ID}/${name}`;
  }

  #create(body: Record<string, unknown>, host: string) {
    const name = String(body['QueueName'] ?? '');
    if (!/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(name)) throw new AwsError('InvalidParameterValue', `invalid queue name ${JSON.stringify(name)}`);
    if (!this.#queues.has(name)) {
      const attributes = { VisibilityTimeout: '30', ...((body['Attributes'] as Record<string, string> | undefined) ?? {}) };
      this.#queues.set(name, { name, attributes, messages: [] });
    }
    return { QueueUrl: this.#url(name, host) };
  }

  #byName(name: unknown): Queue {
    const queue = this.#queues.get(String(name));
    if (!queue) throw queueDoesNotExist();
    return queue;
  }

  #byUrl(url: unknown): Queue {
    const name = String(url ?? '').split('/').pop();
    const queue = name === undefined ? undefined : this.#queues.get(name);
    if (!queue) throw queueDoesNotExist();
    return queue;
  }

  #enqueue(queue: Queue, body: unknown, attributes: unknown): StoredMessage {
    if (typeof body !== 'string' || body.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) throw new AwsError('InvalidParameterValue', `message body is longer than ${MAX_MESSAGE_BYTES} bytes`);
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      md5: md5(body),
      attributes: attributes && Object.keys(attributes).length > 0 ? (attributes as Record<string, MessageAttribute>) : undefined,
      sentMs: Date.now(),
      receiveCount: 0,
      visibleAtMs: 0,
      receiptHandle: undefined,
    };
    queue.messages.push(message);
    return message;
  }

  #send(queue: Queue, body: Record<string, unknown>) {
    const message = this.#enqueue(queue, body['MessageBody'], body['MessageAttributes']);
    return { MessageId: message.id, MD5OfMessageBody: message.md5, ...attributesDigest(message.attributes) };
  }

  #sendBatch(queue: Queue, body: Record<string, unknown>) {
    const entries = (body['Entries'] as { Id: string; MessageBody: unknown; MessageAttributes?: unknown }[] | undefined) ?? [];
    if (entries.length === 0) throw new AwsError('AWS.SimpleQueueService.EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry in the request.');
    if (entries.length > MAX_BATCH_ENTRIES) throw new AwsError('AWS.SimpleQueueService.TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}.`);
    const total = entries.reduce((sum, e) => sum + Buffer.byteLength(String(e.MessageBody ?? '')), 0);
    if (total > MAX_MESSAGE_BYTES) throw new AwsError('AWS.SimpleQueueService.BatchRequestTooLong', `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes.`);
    const Successful: unknown[] = [];
    const Failed: unknown[] = [];
    for (const entry of entries) {
      try {
        const message = this.#enqueue(queue, entry.MessageBody, entry.MessageAttributes);
        Successful.push({ Id: entry.Id, MessageId: message.id, MD5OfMessageBody: message.md5, ...attributesDigest(message.attributes) });
      } catch (error) {
        const e = error as AwsError;
        Failed.push({ Id: entry.Id, Code: e.code, Message: e.message, SenderFault: true });
      }
    }
    return { Successful, Failed };
  }

  #receive(queue: Queue, body: Record<string, unknown>) {
    const max = (body['MaxNumberOfMessages'] ?? 1) as number;
    if (!Number.isInteger(max) || max < 1 || max > MAX_BATCH_ENTRIES) {
      throw new AwsError('InvalidParameterValue', `Value ${String(max)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and ${MAX_BATCH_ENTRIES}, if provided.`);
    }
    const system = [...((body['MessageSystemAttributeNames'] as string[] | undefined) ?? []), ...((body['AttributeNames'] as string[] | undefined) ?? [])];
    const wantsSystem = (name: string) => system.includes('All') || system.includes(name);
    const timeout = Number(body['VisibilityTimeout'] ?? queue.attributes['VisibilityTimeout'] ?? 30);
    const now = Date.now();
    const Messages: unknown[] = [];
    for (const message of queue.messages) {
      if (Messages.length >= max) break;
      if (message.visibleAtMs > now) continue;
      message.receiveCount++;
      message.visibleAtMs = now + timeout * 1000;
      message.receiptHandle = `${message.id}#${message.receiveCount}`;
      // Only what the call asked for: message attributes by name or prefix, system attributes by name.
      const attributes = requested(message.attributes, body['MessageAttributeNames']);
      const systemAttributes = {
        ...(wantsSystem('SentTimestamp') ? { SentTimestamp: String(message.sentMs) } : {}),
        ...(wantsSystem('ApproximateReceiveCount') ? { ApproximateReceiveCount: String(message.receiveCount) } : {}),
      };
      Messages.push({
        MessageId: message.id,
        ReceiptHandle: message.receiptHandle,
        MD5OfBody: message.md5,
        Body: message.body,
        ...(Object.keys(systemAttributes).length > 0 ? { Attributes: systemAttributes } : {}),
        ...(attributes ? { MessageAttributes: attributes, MD5OfMessageAttributes: md5OfMessageAttributes(attributes) } : {}),
      });
    }
    return Messages.length > 0 ? { Messages } : {};
  }

  #delete(queue: Queue, receiptHandle: string): void {
    const at = queue.messages.findIndex((m) => m.receiptHandle === receiptHandle);
    if (at < 0) throw new AwsError('ReceiptHandleIsInvalid', `The input receipt handle "${receiptHandle}" is not a valid receipt handle.`);
    queue.messages.splice(at, 1);
  }
}
