import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/index.js';
import { optionalModule } from '../src/util/optional-module.js';

describe('optional peer dependencies', () => {
  it('say what to install when the package is missing, and try again on the next call', async () => {
    let attempts = 0;
    const load = optionalModule(
      () => {
        attempts++;
        return import(/* @vite-ignore */ ['no-such', 'package-skewless'].join('-'));
      },
      'this backend',
      'no-such-package-skewless',
    );
    const error = await load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).code).toBe('MISSING_DEPENDENCY');
    expect((error as Error).message).toBe('this backend needs npm install no-such-package-skewless');
    await load().catch(() => undefined);
    expect(attempts).toBe(2);
  });

  it('import a present package once', async () => {
    let attempts = 0;
    const load = optionalModule(() => {
      attempts++;
      return import('zod');
    }, 'zod', 'zod');
    expect(await load()).toBe(await load());
    expect(attempts).toBe(1);
  });
});
