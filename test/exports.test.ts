import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, unknown>;
};

/** package.json subpath -> the source module tsup builds it from. */
function sourceOf(subpath: string): string {
  if (subpath === '.') return '../src/index.ts';
  if (subpath === './engines') return '../src/engines.ts';
  return `../src/${subpath.slice(2)}/index.ts`;
}

const entries = Object.keys(pkg.exports).filter((k) => k !== './package.json');

describe('public entry points', () => {
  it('exist for every subpath in package.json', async () => {
    for (const entry of entries) {
      const mod = (await import(sourceOf(entry))) as Record<string, unknown>;
      expect(Object.keys(mod).length).toBeGreaterThan(0);
    }
  });

  it('never export the same name from two entry points', async () => {
    const owner = new Map<string, string>();
    const collisions: string[] = [];
    for (const entry of entries) {
      const mod = (await import(sourceOf(entry))) as Record<string, unknown>;
      for (const name of Object.keys(mod)) {
        const first = owner.get(name);
        if (first) collisions.push(`${name} (${first} and ${entry})`);
        else owner.set(name, entry);
      }
    }
    expect(collisions).toEqual([]);
  });

  it('export no default', async () => {
    for (const entry of entries) {
      const mod = (await import(sourceOf(entry))) as Record<string, unknown>;
      expect(mod['default']).toBeUndefined();
    }
  });

  it('export the core API names of DESIGN.md', async () => {
    const core = (await import('../src/index.js')) as Record<string, unknown>;
    for (const name of ['defineFeatureGroup', 'SkewlessError', 'formatError', 'isoTimestamp']) {
      expect(typeof core[name]).toBe('function');
    }
  });
});
