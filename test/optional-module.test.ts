import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../src/index.js';
import { missingPeer, optionalModule } from '../src/util/optional-module.js';

describe('optional peer dependencies', () => {
  it('say what to install when the package is missing, and try again on the next call', async () => {
    let attempts = 0;
    const load = optionalModule(() => {
      attempts++;
      return Promise.reject(new Error("Cannot find package 'no-such-package-skewless'")).catch(missingPeer('no-such-package-skewless'));
    });
    const error = await load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).code).toBe('MISSING_DEPENDENCY');
    expect((error as Error).message).toMatch(/^no-such-package-skewless is not installed: npm install no-such-package-skewless/);
    await load().catch(() => undefined);
    expect(attempts).toBe(2);
  });

  it('import a present package once', async () => {
    let attempts = 0;
    const load = optionalModule(() => {
      attempts++;
      return import('zod').catch(missingPeer('zod'));
    });
    expect(await load()).toBe(await load());
    expect(attempts).toBe(1);
  });
});

describe('the source', () => {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts')) files.push(path);
    }
  };
  walk(new URL('../src/', import.meta.url).pathname);

  it('assembles no module name at run time: every import() names its module literally', () => {
    const computed: string[] = [];
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(/(?<!typeof )\bimport\(\s*([^)]*)\)/g)) {
        const argument = (match[1] as string).replace(/\/\*[\s\S]*?\*\//g, '').trim();
        // A literal name, or a path built from the user's own file (loading their definitions).
        if (/^'[^']+'$/.test(argument) || /^pathToFileURL\(/.test(argument)) continue;
        computed.push(`${file}: import(${argument})`);
      }
      if (/\['[@\w-]+',\s*'[\w-]+'\]\.join\(|\['[\w-]+'\]\.join\(''\)/.test(text)) computed.push(`${file}: a module name joined from parts`);
    }
    expect(computed).toEqual([]);
  });

  it('imports every optional peer through its one loader, with a .catch a bundler can see', () => {
    const peers = Object.keys((JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { peerDependenciesMeta: object }).peerDependenciesMeta);
    for (const peer of peers) {
      // Value imports only: `typeof import('...')` is a type.
      const importers = files.filter((file) => readFileSync(file, 'utf8').replaceAll(`typeof import('${peer}')`, '').includes(`import('${peer}')`));
      expect({ peer, importers: importers.length }).toEqual({ peer, importers: 1 });
      const text = readFileSync(importers[0] as string, 'utf8');
      expect(text).toContain(`import('${peer}').catch(missingPeer('${peer}'))`);
    }
  });
});
