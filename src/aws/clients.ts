/** A client that can be given or made on first use (loading its optional SDK package then). */
export interface LazyClient<T> {
  (): Promise<T>;
  /** Destroys the client if this helper made it; a client the caller gave is theirs to close. */
  close(): Promise<void>;
}

/** The caller's client, or one made by `create` on first use and shared after that. */
export function lazyClient<T extends { destroy(): void }>(given: T | undefined, create: () => Promise<T>): LazyClient<T> {
  let made: Promise<T> | undefined;
  const get = (() => (given ? Promise.resolve(given) : (made ??= create()))) as LazyClient<T>;
  get.close = async () => {
    if (made) (await made).destroy();
    made = undefined;
  };
  return get;
}

/**
 * An AWS SDK v3 client of a backend's service (a `DynamoDBClient` for `dynamoDbOnline`, an `S3Client`
 * for `s3Offline`, ...), as options take it: typed by shape, so skewless' types import no SDK package
 * (a program that installs only the clients its backends use type-checks with `skipLibCheck: false`).
 */
export interface AwsClient {
  send(command: never, options?: never): Promise<unknown>;
  destroy(): void;
}

/** A client the user passed, as the SDK client type the backend calls (its options take it by shape, see `AwsClient`). */
export function sdkClient<T extends AwsClient>(client: AwsClient | undefined): T | undefined {
  return client as T | undefined;
}
