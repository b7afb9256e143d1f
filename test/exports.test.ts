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

  it('document every exported function, class and constant with TSDoc that has an example', async () => {
    const ts = (await import('typescript')).default;
    const files = ['src/index.ts', 'src/aws/index.ts', 'src/lambda/index.ts', 'src/local/index.ts', 'src/testing/index.ts', 'src/engines.ts'];
    const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true });
    const checker = program.getTypeChecker();
    const undocumented: string[] = [];
    for (const file of files) {
      const module = checker.getSymbolAtLocation(program.getSourceFile(file) as import('typescript').SourceFile);
      for (const exported of checker.getExportsOfModule(module as import('typescript').Symbol)) {
        const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        if (!(symbol.flags & (ts.SymbolFlags.Function | ts.SymbolFlags.Class | ts.SymbolFlags.Variable))) continue;
        const docs = (symbol.getDeclarations() ?? []).flatMap((d) => [...ts.getJSDocCommentsAndTags(d), ...(ts.isVariableDeclaration(d) ? ts.getJSDocCommentsAndTags(d.parent.parent) : [])]);
        if (!docs.some((doc) => doc.getText().includes('### Example'))) undocumented.push(`${file}: ${exported.name}`);
      }
    }
    expect(undocumented).toEqual([]);
  }, 60_000);

  it('export the core API names of DESIGN.md', async () => {
    const core = (await import('../src/index.js')) as Record<string, unknown>;
    for (const name of ['defineFeatureGroup', 'SkewlessError', 'formatError', 'isoTimestamp']) {
      expect(typeof core[name]).toBe('function');
    }
  });
});
