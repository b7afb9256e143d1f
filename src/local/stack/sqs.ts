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
  readonly attributes: Record<string, unknown> | undefined;
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

function queueDoesNotExist(url: unknown): AwsError {
  return new AwsError('QueueDoesNotExist', `The specified queue does not exist: ${String(url)}`);
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
    if (!queue) throw queueDoesNotExist(name);
    return queue;
  }

  #byUrl(url: unknown): Queue {
    const name = String(url ?? '').split('/').pop();
    const queue = name === undefined ? undefined : this.#queues.get(name);
    if (!queue) throw queueDoesNotExist(url);
    return queue;
  }

  #enqueue(queue: Queue, body: unknown, attributes: unknown): StoredMessage {
    if (typeof body !== 'string' || body.length === 0) throw new AwsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    if (Buffer.byteLength(body) > MAX_MESSAGE_BYTES) throw new AwsError('InvalidParameterValue', `message body is longer than ${MAX_MESSAGE_BYTES} bytes`);
    const message: StoredMessage = {
      id: randomUUID(),
      body,
      md5: md5(body),
      attributes: attributes as Record<string, unknown> | undefined,
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
    return { MessageId: message.id, MD5OfMessageBody: message.md5 };
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
        Successful.push({ Id: entry.Id, MessageId: message.id, MD5OfMessageBody: message.md5 });
      } catch (error) {
        const e = error as AwsError;
        Failed.push({ Id: entry.Id, Code: e.code, Message: e.message, SenderFault: true });
      }
    }
    return { Successful, Failed };
  }

  #receive(queue: Queue, body: Record<string, unknown>) {
    const max = Math.min(Number(body['MaxNumberOfMessages'] ?? 1), MAX_BATCH_ENTRIES);
    const timeout = Number(body['VisibilityTimeout'] ?? queue.attributes['VisibilityTimeout'] ?? 30);
    const now = Date.now();
    const Messages: unknown[] = [];
    for (const message of queue.messages) {
      if (Messages.length >= max) break;
      if (message.visibleAtMs > now) continue;
      message.receiveCount++;
      message.visibleAtMs = now + timeout * 1000;
      message.receiptHandle = `${message.id}#${message.receiveCount}`;
      Messages.push({
        MessageId: message.id,
        ReceiptHandle: message.receiptHandle,
        MD5OfBody: message.md5,
        Body: message.body,
        Attributes: { SentTimestamp: String(message.sentMs), ApproximateReceiveCount: String(message.receiveCount) },
        ...(message.attributes ? { MessageAttributes: message.attributes } : {}),
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
