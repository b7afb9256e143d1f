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
