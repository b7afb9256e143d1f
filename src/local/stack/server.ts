import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localOnline } from '../online-store.js';
import { LocalAthena } from './athena.js';
import { type StackContext, OfflineWriter } from './context.js';
import * as controlPlane from './control-plane.js';
import { checkFaults, type FaultConfig, type FaultCounts, FaultInjector } from './faults.js';
import {
  AwsError,
  parseJson,
  readBody,
  sendJson,
  sendJsonError,
  sendXmlError,
  signingService,
} from './http.js';
import { Registry } from './registry.js';
import * as runtime from './runtime.js';
import { handleS3 } from './s3.js';
import { LocalSqs } from './sqs.js';
import * as z from 'zod/mini';
import { checkOptions, expected } from '../../util/options.js';
import { DEFAULT_DIR } from '../../store/feature-store.js';
import { LOCAL_OPTIONS } from '../options.js';

export interface LocalStackOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  readonly port?: number;
  /** Where the stack keeps its state (`<dir>/local-stack`); default `./.skewless`. */
  readonly dir?: string;
  /** Keep state in a temporary directory removed on `close()`. */
  readonly memory?: boolean;
  /** Faults to inject from the start; change them later with `stack.setFaults()`. */
  readonly faults?: FaultConfig;
  /** The region in ARNs; default `us-east-1`. */
  readonly region?: string;
}

export interface LocalStack {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL`. */
  readonly endpoint: string;
  readonly port: number;
  /** The directory holding the stack's state; S3 objects are under `<dir>/s3/<bucket>/<key>`. */
  readonly dir: string;
  readonly region: string;
  /** Environment variables that point unchanged AWS SDK code at the stack. */
  readonly env: Readonly<Record<'AWS_ENDPOINT_URL' | 'AWS_REGION' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY', string>>;
  /** Options for an AWS SDK v3 client constructor: endpoint, region, dummy credentials, path-style S3. */
  readonly clientConfig: {
    readonly endpoint: string;
    readonly region: string;
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
    readonly forcePathStyle: true;
  };
  /** Replaces the injected faults (all of them: `setFaults({})` clears them) and restarts the dice from `seed`. */
  setFaults(faults: FaultConfig): void;
  /** How many faults were injected so far, per operation. */
  readonly faultCounts: FaultCounts;
  /** Writes buffered offline records to their Parquet files now. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

type Protocol = 'runtime' | 'sagemaker' | 'athena' | 'sqs' | 's3';

const JSON_1_0 = 'application/x-amz-json-1.0';

function protocolOf(request: IncomingMessage, url: URL): Protocol {
  const target = String(request.headers['x-amz-target'] ?? '');
  if (target.startsWith('SageMaker.')) return 'sagemaker';
  if (target.startsWith('AmazonAthena.')) return 'athena';
  if (target.startsWith('AmazonSQS.')) return 'sqs';
  const service = signingService(request);
  if (service === 'sagemaker') return 'runtime';
  if (service === 's3') return 's3';
  return /^\/(FeatureGroup\/|BatchGetRecord$|BatchWriteRecord$)/.test(url.pathname) ? 'runtime' : 's3';
}

function s3Operation(method: string, url: URL): string {
  const hasKey = url.pathname.split('/').filter(Boolean).length > 1;
  if (method === 'GET') return hasKey ? 'GetObject' : 'ListObjectsV2';
  if (method === 'HEAD') return hasKey ? 'HeadObject' : 'HeadBucket';
  if (method === 'PUT') return hasKey ? (url.searchParams.has('uploadId') ? 'UploadPart' : 'PutObject') : 'CreateBucket';
  if (method === 'DELETE') return hasKey ? 'DeleteObject' : 'DeleteBucket';
  return url.searchParams.has('delete') ? 'DeleteObjects' : 'MultipartUpload';
}

function runtimeOperation(method: string, path: string): string {
  if (path === '/BatchGetRecord') return 'BatchGetRecord';
  if (path === '/BatchWriteRecord') return 'BatchWriteRecord';
  return ({ PUT: 'PutRecord', GET: 'GetRecord', DELETE: 'DeleteRecord' } as Record<string, string>)[method] ?? 'Unknown';
}

const THROTTLE: Record<Protocol, AwsError> = {
  runtime: new AwsError('ThrottlingException', 'Rate exceeded (injected by the local stack)', 400),
  sagemaker: new AwsError('ThrottlingException', 'Rate exceeded (injected by the local stack)', 400),
  athena: new AwsError('TooManyRequestsException', 'Rate exceeded (injected by the local stack)', 400),
  sqs: new AwsError('RequestThrottled', 'Rate exceeded (injected by the local stack)', 400),
  s3: new AwsError('SlowDown', 'Please reduce your request rate (injected by the local stack)', 503),
};
const FAILURE: Record<Protocol, AwsError> = {
  runtime: new AwsError('InternalFailure', 'Internal failure (injected by the local stack)', 500),
  sagemaker: new AwsError('InternalFailure', 'Internal failure (injected by the local stack)', 500),
  athena: new AwsError('InternalServerException', 'Internal failure (injected by the local stack)', 500),
  sqs: new AwsError('InternalFailure', 'Internal failure (injected by the local stack)', 500),
  s3: new AwsError('InternalError', 'We encountered an internal error (injected by the local stack)', 500),
};

/**
 * Starts the local stack: one HTTP endpoint on 127.0.0.1 that speaks SageMaker Feature Store runtime,
 * the feature-group control plane, Athena, SQS queues (for dead letters) and the S3 calls skewless needs,
 * over the embedded stores.
 *
 * ### Example
 * ```ts
 * import { startLocalStack } from 'skewless/local';
 * import { SageMakerFeatureStoreRuntimeClient } from '@aws-sdk/client-sagemaker-featurestore-runtime';
 *
 * const stack = await startLocalStack({ memory: true });
 * const runtime = new SageMakerFeatureStoreRuntimeClient(stack.clientConfig);
 * // ... or run unchanged code with process.env.AWS_ENDPOINT_URL = stack.endpoint
 * await stack.close();
 * ```
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  checkOptions(
    z.extend(LOCAL_OPTIONS(), {
      port: z.optional(z.number({ error: expected('a port number') }).check(z.refine((n) => Number.isInteger(n) && n >= 0 && n <= 65_535, { error: expected('a port 0..65535') }))),
      faults: z.optional(z.unknown()),
      region: z.optional(z.string({ error: expected('a region name') })),
    }),
    options,
    'startLocalStack options',
  );
  const memory = options.memory === true;
  const dir = memory ? mkdtempSync(join(tmpdir(), 'skewless-stack-')) : join(options.dir ?? DEFAULT_DIR, 'local-stack');
  mkdirSync(dir, { recursive: true });
  const region = options.region ?? 'us-east-1';
  const s3Root = join(dir, 's3');
  mkdirSync(s3Root, { recursive: true });
  const faults = new FaultInjector(options.faults === undefined ? undefined : checkFaults(options.faults, 'startLocalStack options.faults'));
  const online = await localOnline(memory ? { memory: true } : { dir });
  const registry = new Registry(memory ? undefined : dir);
  const context: StackContext = {
    registry,
    online,
    offline: new OfflineWriter(s3Root, (name) => registry.get(name)),
    s3Root,
    faults,
    now: Date.now,
  };
  const athena = new LocalAthena(context);
  const sqs = new LocalSqs();

  const dispatch = async (protocol: Protocol, request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> => {
    const method = request.method ?? 'GET';
    if (protocol === 's3') return handleS3(context, request, response, url);
    const body = parseJson(await readBody(request));
    if (protocol === 'runtime') {
      const name = /^\/FeatureGroup\/([^/]+)$/.exec(url.pathname)?.[1];
      let result: unknown;
      if (url.pathname === '/BatchGetRecord' && method === 'POST') result = await runtime.batchGetRecord(context, body);
      else if (url.pathname === '/BatchWriteRecord' && method === 'POST') result = await runtime.batchWriteRecord(context, body);
      else if (name && method === 'PUT') result = await runtime.putRecord(context, decodeURIComponent(name), body);
      else if (name && method === 'GET') result = await runtime.getRecord(context, decodeURIComponent(name), url.searchParams);
      else if (name && method === 'DELETE') result = await runtime.deleteRecord(context, decodeURIComponent(name), url.searchParams);
      else throw new AwsError('UnknownOperationException', `no Feature Store operation at ${method} ${url.pathname}`, 404);
      return sendJson(response, 200, result ?? {});
    }
    const operation = String(request.headers['x-amz-target']).split('.')[1] ?? '';
    if (protocol === 'sqs') return sendJson(response, 200, sqs.handle(operation, body, String(request.headers.host)), JSON_1_0);
    let result: unknown;
    if (protocol === 'sagemaker') {
      switch (operation) {
        case 'CreateFeatureGroup':
          result = controlPlane.createFeatureGroup(context, body, region);
          break;
        case 'DescribeFeatureGroup':
          result = controlPlane.describeFeatureGroup(context, body);
          break;
        case 'DeleteFeatureGroup':
          result = await controlPlane.deleteFeatureGroup(context, body);
          await online.drop(String(body['FeatureGroupName']));
          break;
        case 'ListFeatureGroups':
          result = controlPlane.listFeatureGroups(context, body);
          break;
        default:
          throw new AwsError('UnknownOperationException', `the local stack does not implement SageMaker.${operation}`);
      }
    } else {
      switch (operation) {
        case 'StartQueryExecution':
          result = athena.start(body);
          break;
        case 'GetQueryExecution':
          result = athena.get(body);
          break;
        case 'GetQueryResults':
          result = athena.results(body);
          break;
        case 'StopQueryExecution':
          result = athena.stop(body);
          break;
        default:
          throw new AwsError('UnknownOperationException', `the local stack does not implement AmazonAthena.${operation}`);
      }
    }
    return sendJson(response, 200, result, 'application/x-amz-json-1.1');
  };

  /** `/_skewless/faults`: set (PUT) or read (GET) faults from another process, e.g. a test runner. */
  const admin = async (request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> => {
    if (url.pathname !== '/_skewless/faults') return sendJson(response, 404, { message: `unknown admin path ${url.pathname}` });
    if (request.method === 'PUT') faults.set(checkFaults(parseJson(await readBody(request)), 'faults'));
    return sendJson(response, 200, { counts: faults.counts });
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/_skewless/')) {
      await admin(request, response, url).catch((error: unknown) => sendJson(response, 400, { message: String(error) }));
      return;
    }
    const protocol = protocolOf(request, url);
    const method = request.method ?? 'GET';
    const operation =
      protocol === 's3'
        ? s3Operation(method, url)
        : protocol === 'runtime'
          ? runtimeOperation(method, url.pathname)
          : (String(request.headers['x-amz-target']).split('.')[1] ?? '');
    try {
      const latency = faults.latency(operation);
      if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
      const fault = faults.decide(operation);
      if (fault) {
        request.resume(); // the body is not read; drain it so the connection can be reused
        throw (fault === 'throttle' ? THROTTLE : FAILURE)[protocol];
      }
      await dispatch(protocol, request, response, url);
    } catch (caught) {
      const error =
        caught instanceof AwsError
          ? caught
          : new AwsError(protocol === 's3' ? 'InternalError' : 'InternalFailure', caught instanceof Error ? caught.message : String(caught), 500);
      if (response.headersSent) {
        response.destroy();
        return;
      }
      if (protocol === 's3') sendXmlError(response, error, method === 'HEAD');
      else sendJsonError(response, error, protocol === 'runtime' ? 'application/json' : protocol === 'sqs' ? JSON_1_0 : 'application/x-amz-json-1.1');
    }
  };

  const server: Server = createServer((request, response) => void handle(request, response));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'skewless-local', secretAccessKey: 'skewless-local' };

  return {
    endpoint,
    port,
    dir,
    region,
    env: { AWS_ENDPOINT_URL: endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    clientConfig: { endpoint, region, credentials, forcePathStyle: true },
    setFaults: (config) => faults.set(checkFaults(config, 'setFaults')),
    faultCounts: faults.counts,
    flush: () => context.offline.flush(),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await context.offline.close();
      await athena.close();
      await online.close();
      if (memory) rmSync(dir, { recursive: true, force: true });
    },
  };
}
