import type * as zc from 'zod/v4/core';
import { canonicalSource } from './source-text.js';

// A zod schema as plain data for the fingerprint: its definition tree, with the functions it holds
// (transforms, refinements) as their canonical source. Read straight off zod's definitions, which
// zod and zod/mini build alike, so the fingerprint needs no JSON Schema generator in the bundle.

/** Definition fields that say nothing about which values pass or what they become. */
const IGNORED = new Set(['error', 'abort', 'when', 'description']);

function isSchema(value: object): value is zc.$ZodType {
  return '_zod' in value && typeof (value as { _zod: { def?: unknown } })._zod.def === 'object';
}

/**
 * The description of a schema (or of a check): every definition field, nested schemas described in
 * turn, functions as canonical source text, a schema met again below itself as `(recursive)`.
 */
export function describeSchema(schema: zc.$ZodType, path: Set<object> = new Set()): unknown {
  const def = schema._zod.def as unknown as Record<string, unknown>;
  if (path.has(def)) return '(recursive)';
  path.add(def);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(def).sort()) {
    if (!IGNORED.has(key)) out[key] = describeValue(def[key], path);
  }
  path.delete(def);
  return out;
}

function describeValue(value: unknown, path: Set<object>): unknown {
  if (typeof value === 'function') return canonicalSource((value as () => unknown).toString());
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof RegExp) return `/${value.source}/${value.flags}`;
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object' || value === null) return value;
  if (isSchema(value)) return describeSchema(value, path);
  if (Array.isArray(value)) return value.map((v) => describeValue(v, path));
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = describeValue((value as Record<string, unknown>)[key], path);
  return out;
}
