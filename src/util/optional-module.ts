import { ConfigurationError } from '../errors.js';

/**
 * A loader for an optional peer dependency: imported on first use only, once, and a missing
 * package becomes a ConfigurationError that says what to install. A failed load is retried on the
 * next call. `load` must hold the literal `import('...')`, so bundlers still see the dependency.
 */
export function optionalModule<T>(load: () => Promise<T>, purpose: string, install: string): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    loading ??= load().catch((cause: unknown) => {
      loading = undefined;
      throw new ConfigurationError('MISSING_DEPENDENCY', `${purpose} needs npm install ${install}`, { cause });
    });
    return loading;
  };
}
