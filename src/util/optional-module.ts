import { ConfigurationError } from '../errors.js';

/**
 * A loader for an optional peer dependency: imported on first use only, once; a failed load is
 * tried again on the next call. `load` must be the literal `import('<name>').catch(missingPeer('<name>'))`:
 * bundlers see the dependency, and the `.catch` lets a bundle leave out a peer that is not installed
 * (the call then fails at run time, with the install command).
 */
export function optionalModule<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
}

/** What an optional peer's failed import becomes: a ConfigurationError naming the package to install. */
export function missingPeer(name: string): (cause: unknown) => never {
  return (cause) => {
    throw new ConfigurationError('MISSING_DEPENDENCY', `${name} is not installed: npm install ${name} (an optional peer dependency of skewless, needed here)`, { cause });
  };
}
