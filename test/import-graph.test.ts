import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layers of src/ as imports, type-only imports included: data flows down, nothing imports upward.

const root = fileURLToPath(new URL('../src/', import.meta.url));
const files: string[] = [];
const walk = (dir: string) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (path.endsWith('.ts')) files.push(path);
  }
};
walk(root);

/** Every relative import of a file, static or dynamic, type-only or not, as the file it names. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/^(?:import|export)\s[^'";]*?from\s+'(\.[^']+)'/gms), ...text.matchAll(/import\('(\.[^']+)'\)/g)].map((m) => m[1] as string);
  return specifiers.map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts'))).filter((target) => files.includes(target));
}

/** A file's node in the folder graph: its top-level folder, or the file itself at the top level. */
function unitOf(file: string): string {
  const parts = relative(root, file).split('/');
  return parts.length > 1 ? `${parts[0]}/` : (parts[0] as string);
}

/** The cycles of a graph (its strongly connected components with more than one node, or a self-loop). */
function cycles(nodes: readonly string[], next: (node: string) => readonly string[]): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || next(v).includes(v)) found.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return found;
}

const edges = new Map(files.map((f) => [f, importsOf(f)]));

describe('the import graph of src/', () => {
  it('has no circle between files', () => {
    expect(cycles(files, (f) => edges.get(f) ?? []).map((c) => c.map((f) => relative(root, f)))).toEqual([]);
  });

  it('has no circle between top-level folders (and top-level files)', () => {
    const units = new Map<string, Set<string>>();
    for (const [file, targets] of edges) {
      const from = unitOf(file);
      for (const target of targets) {
        const to = unitOf(target);
        if (to === from) continue;
        if (!units.has(from)) units.set(from, new Set());
        units.get(from)?.add(to);
      }
    }
    expect(cycles([...units.keys()], (u) => [...(units.get(u) ?? [])])).toEqual([]);
  });

  it('keeps the store below the engines and the backends: store/ imports neither', () => {
    const upward = [...edges]
      .filter(([file]) => unitOf(file) === 'store/')
      .flatMap(([file, targets]) => targets.filter((t) => /^(backfill|training|audit|local|aws|lambda|cli|testing)\//.test(unitOf(t))).map((t) => `${relative(root, file)} -> ${relative(root, t)}`));
    expect(upward).toEqual([]);
  });
});
