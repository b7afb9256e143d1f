import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, relative, sep } from 'node:path';
import type { StackContext } from './context.js';
import { AwsError, escapeXml, readBody, requestId } from './http.js';

const XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n';
const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

interface Target {
  readonly bucket: string;
  readonly key: string;
}

/** Path-style (`/bucket/key`) or virtual-hosted (`bucket.localhost/key`) addressing. */
function targetOf(request: IncomingMessage, url: URL): Target {
  const host = String(request.headers.host ?? '').split(':')[0] ?? '';
  const path = url.pathname.split('/').map((p) => decodeURIComponent(p));
  const virtualBucket = /^(.+)\.(localhost|127\.0\.0\.1)$/.exec(host)?.[1];
  if (virtualBucket) return { bucket: virtualBucket, key: path.slice(1).join('/') };
  return { bucket: path[1] ?? '', key: path.slice(2).join('/') };
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,62}$/;

function objectPath(context: StackContext, target: Target): string {
  if (!BUCKET_NAME.test(target.bucket)) throw new AwsError('InvalidBucketName', `invalid bucket name ${target.bucket}`);
  if (target.key.split('/').some((p) => p === '..' || p === '.')) throw new AwsError('InvalidArgument', 'object keys may not contain . or .. segments');
  return join(context.s3Root, target.bucket, target.key);
}

function bucketPath(context: StackContext, bucket: string): string {
  return objectPath(context, { bucket, key: '' });
}

/** Whether `bucket` is a bucket of the stack (a name S3 would refuse is none). */
export function bucketExists(context: StackContext, bucket: string): boolean {
  return BUCKET_NAME.test(bucket) && existsSync(bucketPath(context, bucket));
}

function etag(data: Buffer): string {
  return `"${createHash('md5').update(data).digest('hex')}"`;
}

function sendXml(response: ServerResponse, status: number, xml: string): void {
  response.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml), 'x-amz-request-id': requestId() });
  response.end(xml);
}

/** Every object key under a bucket directory, skipping the dot-files offline writers use while writing. */
function listKeys(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header) : null;
  if (!match) return undefined;
  const [, from, to] = match;
  if (from === '' && to === '') return undefined;
  const start = from === '' ? Math.max(size - Number(to), 0) : Number(from);
  const end = from === '' || to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (start > end || start >= size) throw new AwsError('InvalidRange', 'The requested range is not satisfiable', 416);
  return { start, end };
}

const uploads = new Map<string, { target: Target; parts: Map<number, Buffer> }>();
/**
 * The ETags of objects completed from parts: S3's is not the object's MD5 but the MD5 of the parts'
 * binary MD5s, then `-<parts>` (an opaque value by its docs; this is the form S3 answers with).
 */
const multipartEtags = new Map<string, string>();

function multipartEtag(parts: readonly Buffer[]): string {
  const digests = parts.map((part) => createHash('md5').update(part).digest());
  return `"${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${parts.length}"`;
}

export async function handleS3(context: StackContext, request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
  const method = request.method ?? 'GET';
  const target = targetOf(request, url);
  const query = url.searchParams;
  // Reads see every buffered offline write.
  if (method === 'GET' || method === 'HEAD') await context.offline.flush();

  if (target.bucket === '') {
    if (method !== 'GET') throw new AwsError('MethodNotAllowed', 'unsupported request on the service root', 405);
    const buckets = existsSync(context.s3Root) ? readdirSync(context.s3Root) : [];
    const items = buckets.map((b) => `<Bucket><Name>${escapeXml(b)}</Name><CreationDate>${new Date(0).toISOString()}</CreationDate></Bucket>`).join('');
    sendXml(response, 200, `${XML_HEADER}<ListAllMyBucketsResult xmlns="${NS}"><Buckets>${items}</Buckets></ListAllMyBucketsResult>`);
    return;
  }

  if (target.key === '') {
    const dir = bucketPath(context, target.bucket);
    if (method === 'PUT') {
      mkdirSync(dir, { recursive: true });
      response.writeHead(200, { location: `/${target.bucket}`, 'content-length': 0 });
      response.end();
      return;
    }
    if (!existsSync(dir)) throw new AwsError('NoSuchBucket', `The specified bucket does not exist: ${target.bucket}`, 404);
    if (method === 'HEAD') {
      response.writeHead(200, { 'x-amz-bucket-region': 'us-east-1', 'content-length': 0 });
      response.end();
      return;
    }
    if (method === 'DELETE') {
      if (listKeys(dir).length > 0) throw new AwsError('BucketNotEmpty', 'The bucket you tried to delete is not empty', 409);
      rmSync(dir, { recursive: true, force: true });
      response.writeHead(204);
      response.end();
      return;
    }
    if (method === 'POST' && query.has('delete')) {
      const body = (await readBody(request)).toString('utf8');
      const keys = [...body.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((m) => unescapeXml(m[1] as string));
      for (const key of keys) rmSync(objectPath(context, { bucket: target.bucket, key }), { force: true });
      const deleted = keys.map((k) => `<Deleted><Key>${escapeXml(k)}</Key></Deleted>`).join('');
      sendXml(response, 200, `${XML_HEADER}<DeleteResult xmlns="${NS}">${deleted}</DeleteResult>`);
      return;
    }
    if (method === 'GET') {
      listObjectsV2(response, target.bucket, dir, query);
      return;
    }
    throw new AwsError('MethodNotAllowed', `${method} on a bucket is not supported by the local stack`, 405);
  }

  const path = objectPath(context, target);
  // As S3 answers any object call on a bucket nobody made (PutObject too: a write does not make one).
  if (!existsSync(bucketPath(context, target.bucket))) throw new AwsError('NoSuchBucket', `The specified bucket does not exist: ${target.bucket}`, 404);
  switch (method) {
    case 'PUT': {
      const body = await readBody(request);
      const uploadId = query.get('uploadId');
      if (uploadId) {
        const upload = uploads.get(uploadId);
        if (!upload) throw new AwsError('NoSuchUpload', 'The specified upload does not exist', 404);
        upload.parts.set(Number(query.get('partNumber')), body);
        response.writeHead(200, { etag: etag(body), 'content-length': 0 });
        response.end();
        return;
      }
      writeObject(path, body);
      multipartEtags.delete(path);
      response.writeHead(200, { etag: etag(body), 'content-length': 0 });
      response.end();
      return;
    }
    case 'POST': {
      if (query.has('uploads')) {
        const uploadId = `upload-${requestId()}`;
        uploads.set(uploadId, { target, parts: new Map() });
        sendXml(response, 200, `${XML_HEADER}<InitiateMultipartUploadResult xmlns="${NS}"><Bucket>${escapeXml(target.bucket)}</Bucket><Key>${escapeXml(target.key)}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
        return;
      }
      const uploadId = query.get('uploadId');
      const upload = uploadId ? uploads.get(uploadId) : undefined;
      if (!uploadId || !upload) throw new AwsError('NoSuchUpload', 'The specified upload does not exist', 404);
      await readBody(request);
      const parts = [...upload.parts.entries()].sort(([a], [b]) => a - b).map(([, part]) => part);
      writeObject(path, Buffer.concat(parts));
      uploads.delete(uploadId);
      const tag = multipartEtag(parts);
      multipartEtags.set(path, tag);
      sendXml(response, 200, `${XML_HEADER}<CompleteMultipartUploadResult xmlns="${NS}"><Bucket>${escapeXml(target.bucket)}</Bucket><Key>${escapeXml(target.key)}</Key><ETag>${escapeXml(tag)}</ETag></CompleteMultipartUploadResult>`);
      return;
    }
    case 'DELETE': {
      const uploadId = query.get('uploadId');
      if (uploadId) uploads.delete(uploadId);
      else {
        rmSync(path, { force: true });
        multipartEtags.delete(path);
      }
      response.writeHead(204);
      response.end();
      return;
    }
    case 'GET':
    case 'HEAD': {
      if (!existsSync(path) || !statSync(path).isFile()) {
        throw new AwsError(existsSync(bucketPath(context, target.bucket)) ? 'NoSuchKey' : 'NoSuchBucket', `The specified key does not exist: ${target.key}`, 404);
      }
      const data = readFileSync(path);
      const stat = statSync(path);
      const headers: Record<string, string | number> = {
        'content-type': 'application/octet-stream',
        etag: multipartEtags.get(path) ?? etag(data),
        'last-modified': stat.mtime.toUTCString(),
        'accept-ranges': 'bytes',
        'x-amz-request-id': requestId(),
      };
      const range = parseRange(request.headers.range, data.length);
      const body = range ? data.subarray(range.start, range.end + 1) : data;
      if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${data.length}`;
      headers['content-length'] = body.length;
      response.writeHead(range ? 206 : 200, headers);
      response.end(method === 'HEAD' ? undefined : body);
      return;
    }
    default:
      throw new AwsError('MethodNotAllowed', `${method} is not supported`, 405);
  }
}

function writeObject(path: string, data: Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const partial = join(dirname(path), `.partial-${process.pid}-${Date.now()}`);
  writeFileSync(partial, data);
  renameSync(partial, path);
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|apos|quot);/g, (_, e: string) => ({ lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' })[e] as string);
}

function listObjectsV2(response: ServerResponse, bucket: string, dir: string, query: URLSearchParams): void {
  const prefix = query.get('prefix') ?? '';
  const delimiter = query.get('delimiter') ?? '';
  const maxKeys = Math.min(Number(query.get('max-keys') ?? 1000), 1000);
  const after = query.get('continuation-token') ?? query.get('start-after') ?? '';
  const keys = listKeys(dir).filter((k) => k.startsWith(prefix) && k > after);
  const contents: string[] = [];
  const prefixes = new Set<string>();
  let last = '';
  let truncated = false;
  for (const key of keys) {
    if (contents.length + prefixes.size >= maxKeys) {
      truncated = true;
      break;
    }
    last = key;
    if (delimiter) {
      const cut = key.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        prefixes.add(key.slice(0, cut + delimiter.length));
        continue;
      }
    }
    const stat = statSync(join(dir, key));
    contents.push(
      `<Contents><Key>${escapeXml(key)}</Key><LastModified>${stat.mtime.toISOString()}</LastModified><Size>${stat.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
  }
  const common = [...prefixes].map((p) => `<CommonPrefixes><Prefix>${escapeXml(p)}</Prefix></CommonPrefixes>`).join('');
  sendXml(
    response,
    200,
    `${XML_HEADER}<ListBucketResult xmlns="${NS}"><Name>${escapeXml(bucket)}</Name><Prefix>${escapeXml(prefix)}</Prefix><KeyCount>${contents.length + prefixes.size}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${truncated ? `<NextContinuationToken>${escapeXml(last)}</NextContinuationToken>` : ''}${contents.join('')}${common}</ListBucketResult>`,
  );
}
