import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error the local stack answers with, in the shape of the AWS service that raised it. */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /**
     * SQS's legacy (query protocol) code, sent in the `x-amzn-query-error` header of its JSON errors,
     * which the SDKs read (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-api-responses.html).
     */
    readonly queryCode?: string,
  ) {
    super(message);
  }
}

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const encoding = String(request.headers['content-encoding'] ?? '');
  const sha = String(request.headers['x-amz-content-sha256'] ?? '');
  return encoding.includes('aws-chunked') || sha.startsWith('STREAMING-') ? decodeAwsChunked(body) : body;
}

/**
 * Decodes the `aws-chunked` body the SDK sends for streaming uploads:
 * `<hex size>[;chunk-signature=..]\r\n<bytes>\r\n` ... `0\r\n<trailers>\r\n\r\n`.
 */
export function decodeAwsChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) throw new AwsError('IncompleteBody', 'malformed aws-chunked body');
    const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1').split(';')[0] as string, 16);
    if (!Number.isFinite(size)) throw new AwsError('IncompleteBody', 'malformed aws-chunked chunk size');
    if (size === 0) break; // trailers (checksums) follow; the data is complete
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export function sendJson(response: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  response.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': requestId() });
  response.end(text);
}

/**
 * A JSON error as restJson1 (Feature Store runtime) and awsJson1.1 (control plane, Athena) clients
 * read it (and awsJson1.0, SQS): the type in the `x-amzn-errortype` header and in `__type`; only the content type differs.
 */
export function sendJsonError(
  response: ServerResponse,
  error: AwsError,
  contentType: 'application/json' | 'application/x-amz-json-1.0' | 'application/x-amz-json-1.1',
): void {
  const sqs = contentType === 'application/x-amz-json-1.0';
  const text = JSON.stringify(sqs ? { __type: `com.amazonaws.sqs#${error.code}`, message: error.message } : { __type: error.code, message: error.message, Message: error.message });
  response.writeHead(error.status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'x-amzn-errortype': error.code,
    'x-amzn-requestid': requestId(),
    ...(sqs ? { 'x-amzn-query-error': `${error.queryCode ?? error.code};Sender` } : {}),
  });
  response.end(text);
}

export function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

/** S3's restXml errors. HEAD responses carry no body, only the status. */
export function sendXmlError(response: ServerResponse, error: AwsError, head: boolean): void {
  const id = requestId();
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message><RequestId>${id}</RequestId></Error>`;
  response.writeHead(error.status, { 'content-type': 'application/xml', 'x-amz-request-id': id, ...(head ? {} : { 'content-length': Buffer.byteLength(text) }) });
  response.end(head ? undefined : text);
}

let requests = 0;
export function requestId(): string {
  return `skewless-${process.pid.toString(36)}-${(++requests).toString(36)}`;
}

/** The service a SigV4-signed request was signed for, from `Credential=AKID/date/region/SERVICE/aws4_request`. */
export function signingService(request: IncomingMessage): string | undefined {
  const auth = String(request.headers.authorization ?? '');
  return /Credential=[^/]+\/[^/]+\/[^/]+\/([^/]+)\/aws4_request/.exec(auth)?.[1];
}

export function parseJson(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new AwsError('SerializationException', 'request body is not a JSON object');
}
