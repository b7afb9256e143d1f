// After tsup: a declaration file whose types name Node's own (Buffer, NodeJS.*) gets
// `/// <reference types="node" />`, so it type-checks where `types` lists no packages (TypeScript 6
// and later by default) as long as @types/node is installed. tsup's declaration bundler drops such
// references from the sources, so they are added here.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

const REFERENCE = '/// <reference types="node" />\n';
// Globals @types/node declares and ES's own library does not (without `lib: ["dom"]`).
const NODE_TYPES = /\b(?:Buffer|AbortSignal|URL|NodeJS\.\w+)\b/;
const dist = new URL('../dist/', import.meta.url);

for (const name of readdirSync(dist).filter((file) => /\.d\.c?ts$/.test(file))) {
  const file = new URL(name, dist);
  const text = readFileSync(file, 'utf8');
  // Doc comments name Buffer too; only the declarations count.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '');
  if (NODE_TYPES.test(code) && !text.startsWith(REFERENCE)) writeFileSync(file, REFERENCE + text);
}
