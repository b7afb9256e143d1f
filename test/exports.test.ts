import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, unknown>;
};

/** package.json subpath -> the source module tsup builds it from. */
function sourceOf(subpath: string): string {
  if (subpath === '.') return '../src/index.ts';
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

  it('never export the same name, value or type, from two entry points', async () => {
    const ts = (await import('typescript')).default;
    const files = entries.map((entry) => sourceOf(entry).replace('../src/', 'src/'));
    const program = ts.createProgram(files, { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true });
    const checker = program.getTypeChecker();
    const owner = new Map<string, string>();
    const collisions: string[] = [];
    for (const file of files) {
      const module = checker.getSymbolAtLocation(program.getSourceFile(file) as import('typescript').SourceFile);
      const names = checker.getExportsOfModule(module as import('typescript').Symbol).map((s) => s.name);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        const first = owner.get(name);
        if (first) collisions.push(`${name} (${first} and ${file})`);
        else owner.set(name, file);
      }
    }
    expect(collisions).toEqual([]);
  }, 60_000);

  it('format no numbers as they load: locale data takes tens of milliseconds of every Lambda cold start', async () => {
    vi.resetModules();
    const formats = [vi.spyOn(Number.prototype, 'toLocaleString'), vi.spyOn(Date.prototype, 'toLocaleString'), vi.spyOn(Intl, 'NumberFormat'), vi.spyOn(Intl, 'DateTimeFormat')];
    try {
      for (const entry of entries) await import(sourceOf(entry));
      for (const format of formats) expect(format).not.toHaveBeenCalled();
    } finally {
      for (const format of formats) format.mockRestore();
    }
  });

  it('export no default', async () => {
    for (const entry of entries) {
      const mod = (await import(sourceOf(entry))) as Record<string, unknown>;
      expect(mod['default']).toBeUndefined();
    }
  });

  it('document every exported function, class and constant with TSDoc that has an example', async () => {
    const ts = (await import('typescript')).default;
    const files = ['src/index.ts', 'src/aws/index.ts', 'src/lambda/index.ts', 'src/local/index.ts', 'src/testing/index.ts', 'src/sql/index.ts'];
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

  it('point to no document outside the package: TSDoc, README, CHANGELOG and examples stand alone', () => {
    // git grep exits 1 when nothing matches: only its output counts.
    const hits = spawnSync('git', ['grep', '-l', '-e', 'DESIGN.md', '-e', 'STYLE.md', '--', 'src', 'README.md', 'CHANGELOG.md', 'examples', 'docs'], { cwd: new URL('..', import.meta.url).pathname, encoding: 'utf8' });
    expect(hits.stdout.trim()).toBe('');
  });

  it('export the core API names', async () => {
    const core = (await import('../src/index.js')) as Record<string, unknown>;
    for (const name of ['defineFeatureGroup', 'SkewlessError', 'formatError', 'isoTimestamp']) {
      expect(typeof core[name]).toBe('function');
    }
  });
});

describe('isSkewlessError', () => {
  it("recognizes another copy's errors, which instanceof does not (an app that imports the ESM build and requires the CommonJS one)", async () => {
    const mine = await import('../src/errors.js');
    // A query makes Vite load the module again: a second copy with its own classes, as a second build is.
    const other = (await import(/* @vite-ignore */ `../src/errors.ts?copy=${Date.now()}`)) as typeof mine;
    expect(other.DataError).not.toBe(mine.DataError);
    const foreign = new other.DataError('INVALID_SPINE', 'from the other copy');
    expect(foreign instanceof mine.SkewlessError).toBe(false);
    expect(mine.isSkewlessError(foreign)).toBe(true);
    expect(other.isSkewlessError(new mine.ConfigurationError('INVALID_CONFIG', 'from this copy'))).toBe(true);
    for (const value of [new Error('plain'), Object.assign(new Error('named'), { name: 'SkewlessError', code: 'INVALID_CONFIG' }), null, undefined, 'SkewlessError', {}]) {
      expect(mine.isSkewlessError(value)).toBe(false);
    }
    // Logged, the mark does not show: it is on the prototype.
    expect(Object.getOwnPropertySymbols(foreign)).toEqual([]);
  });
});
