import type { AthenaClient } from '@aws-sdk/client-athena';
import type { S3Client } from '@aws-sdk/client-s3';
import { CsvRows } from '../csv/reader.js';
import { BackendError } from '../errors.js';
import { type RetryOptions, countAttempts } from './retry.js';
import { callError, s3ReadError } from './errors.js';
import { loadAthena, loadS3 } from './sdk.js';
import { type AwsClient, sdkClient } from './clients.js';
import * as z from 'zod/mini';
import { checkOptions, expected, lazySchema } from '../util/options.js';
import { awsClient, retryOptions, s3Location, text } from './options.js';

/** Athena refuses query strings longer than this many bytes. */
export const MAX_QUERY_BYTES = 262_144;

export interface AthenaQuery {
  readonly athena: AwsClient;
  readonly s3: AwsClient;
  readonly query: string;
  readonly outputLocation: string;
  readonly database?: string | undefined;
  readonly workGroup?: string | undefined;
  readonly retry?: RetryOptions | undefined;
}

export interface AthenaColumn {
  readonly name: string;
  readonly type: string;
}

export interface AthenaResult {
  readonly queryExecutionId: string;
  readonly columns: readonly AthenaColumn[];
  /** The data rows, streamed from the query's CSV result file; `undefined` is SQL NULL. */
  /** `s3://` URL of the result file. */
  readonly location: string;
  rows(): AsyncIterable<(string | undefined)[]>;
}

const QUERY_OPTIONS = /* @__PURE__ */ lazySchema(() =>
  z.strictObject(
    {
      athena: awsClient(),
      s3: awsClient(),
      query: text('the SQL text of the query').check(z.minLength(1, 'the query is empty')),
      outputLocation: s3Location(),
      database: z.optional(text('a Glue database name')),
      workGroup: z.optional(text('an Athena work group name')),
      retry: z.optional(retryOptions()),
    },
    { error: expected('an Athena query: { athena, s3, query, outputLocation, ... }') },
  ),
);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs a query and waits for it. Results are read from the S3 result file as a stream, never paged
 * through GetQueryResults (which is slow and caps pages at 1,000 rows); only the column types come
 * from GetQueryResults.
 *
 * ### Example
 * ```ts
 * const result = await runAthenaQuery({ athena, s3, query: 'SELECT 1', outputLocation: 's3://results/' });
 * for await (const row of result.rows()) console.log(row);
 * ```
 */
export async function runAthenaQuery(input: AthenaQuery): Promise<AthenaResult> {
  checkOptions(QUERY_OPTIONS, input, 'runAthenaQuery');
  const bytes = Buffer.byteLength(input.query, 'utf8');
  if (bytes > MAX_QUERY_BYTES) {
    throw new BackendError('INVALID_REQUEST', `the query is ${bytes} bytes; Athena accepts at most ${MAX_QUERY_BYTES}`);
  }
  const m = await loadAthena();
  const retry = input.retry ?? {};
  const athena = sdkClient<AthenaClient>(input.athena) as AthenaClient;
  const s3 = sdkClient<S3Client>(input.s3) as S3Client;
  const { QueryExecutionId: id } = await countAttempts(
    () =>
      athena.send(
        new m.StartQueryExecutionCommand({
          QueryString: input.query,
          ResultConfiguration: { OutputLocation: input.outputLocation },
          ...(input.database ? { QueryExecutionContext: { Database: input.database } } : {}),
          ...(input.workGroup ? { WorkGroup: input.workGroup } : {}),
        }),
      ),
    retry,
    (error) => callError(error, 'Athena StartQueryExecution'),
  );
  if (!id) throw new BackendError('READ_FAILED', 'Athena returned no QueryExecutionId');
  let wait = 25;
  let resultLocation: string | undefined;
  for (;;) {
    const { QueryExecution } = await countAttempts(() => athena.send(new m.GetQueryExecutionCommand({ QueryExecutionId: id })), retry, (error) => callError(error, 'Athena GetQueryExecution'));
    const state = QueryExecution?.Status?.State;
    if (state === 'SUCCEEDED') {
      resultLocation = QueryExecution?.ResultConfiguration?.OutputLocation;
      break;
    }
    if (state === 'FAILED' || state === 'CANCELLED') {
      throw new BackendError('READ_FAILED', `Athena query ${id} ${state}: ${QueryExecution?.Status?.StateChangeReason ?? 'no reason given'}`);
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 1000);
  }
  const metadata = await countAttempts(() => athena.send(new m.GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1 })), retry, (error) => callError(error, 'Athena GetQueryResults'));
  const columns = (metadata.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => ({ name: c.Name ?? '', type: c.Type ?? 'varchar' }));
  const location = resultLocation ?? '';
  return {
    queryExecutionId: id,
    columns,
    location,
    rows: () => resultFileRows(s3, location, id, retry),
  };
}

/**
 * Parses Athena's CSV result file as it streams: every value quoted, `""` inside a value for a quote,
 * an empty unquoted field for NULL (so NULL and the empty string stay apart).
 */
export async function* parseCsv(chunks: AsyncIterable<Uint8Array | string>): AsyncIterable<(string | undefined)[]> {
  const decoder = new TextDecoder();
  const rows = new CsvRows();
  for await (const chunk of chunks) {
    for (const row of rows.push(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }))) yield row.cells;
  }
  for (const row of rows.end()) yield row.cells;
}

/** The rows of a finished query's CSV result file on S3, streamed, header skipped. */
export async function* resultFileRows(client: S3Client, location: string, queryExecutionId: string, retry: RetryOptions = {}): AsyncGenerator<(string | undefined)[]> {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(location);
  if (!match) throw new BackendError('READ_FAILED', `Athena query ${queryExecutionId} has no S3 result file (${location})`);
  const s3 = await loadS3();
  const object = await countAttempts(() => client.send(new s3.GetObjectCommand({ Bucket: match[1], Key: match[2] })), retry, (error) =>
    s3ReadError(error, match[1] as string, match[2] as string),
  );
  let header = true;
  for await (const row of parseCsv(object.Body as AsyncIterable<Uint8Array>)) {
    if (header) header = false;
    else yield row;
  }
}
