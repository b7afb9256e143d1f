import { createHash } from 'node:crypto';
import * as zc from 'zod/v4/core';
import type { FeatureSpec } from './feature-spec.js';

/** JSON with object keys sorted, so equal values always serialize to equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

const IDENTIFIER_CHAR = /[\w$\u0080-\uffff]/;

/**
 * The transform's source text with formatting taken out, so the same code built by different tools
 * (vitest, tsx, esbuild, tsc, prettier-formatted or not) hashes the same: comments and whitespace
 * dropped (one space kept between two words), strings re-quoted with double quotes, trailing
 * commas, semicolons and parentheses around a lone arrow parameter removed. Renaming by a
 * minifier still changes it; README says so.
 */
export function normalizeSourceText(text: string): string {
  let out = '';
  let i = 0;
  let pendingSpace = false;
  const emit = (chunk: string): void => {
    if (pendingSpace && IDENTIFIER_CHAR.test(out.slice(-1)) && IDENTIFIER_CHAR.test(chunk.charAt(0))) out += ' ';
    pendingSpace = false;
    out += chunk;
  };
  while (i < text.length) {
    const c = text.charAt(i);
    const next = text.charAt(i + 1);
    if (c === '/' && next === '/') {
      while (i < text.length && text.charAt(i) !== '\n') i++;
      pendingSpace = true;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      pendingSpace = true;
    } else if (/\s/.test(c)) {
      pendingSpace = true;
      i++;
    } else if (c === '"' || c === "'") {
      let value = '';
      i++;
      while (i < text.length && text.charAt(i) !== c) {
        if (text.charAt(i) === '\\') {
          const escaped = text.charAt(i + 1);
          value += escaped === '"' || escaped === "'" ? escaped : `\\${escaped}`;
          i += 2;
        } else value += text.charAt(i++);
      }
      i++;
      emit(`"${value.replace(/"/g, '\\"')}"`);
    } else if (c === '`') {
      const start = i++;
      while (i < text.length && text.charAt(i) !== '`') i += text.charAt(i) === '\\' ? 2 : 1;
      emit(text.slice(start, ++i));
    } else {
      emit(c);
      i++;
    }
  }
  return out
    .replace(/;/g, '')
    .replace(/,(?=[)\]}])/g, '')
    .replace(/(^|[^\w$.])\(([A-Za-z_$][\w$]*)\)=>/g, '$1$2=>');
}

function jsonSchemaOf(schema: zc.$ZodType, io: 'input' | 'output'): unknown {
  try {
    // Dates and bigints have no JSON Schema; the feature specs below carry their types instead.
    return zc.toJSONSchema(schema, { io, unrepresentable: 'any', cycles: 'ref', reused: 'inline' });
  } catch (error) {
    return { unrepresentable: error instanceof Error ? error.message : String(error) };
  }
}

export interface FingerprintInput {
  readonly name: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly eventTimeFormat: string;
  readonly source: zc.$ZodType;
  readonly features: zc.$ZodType;
  readonly specs: readonly FeatureSpec[];
  readonly transform: (...args: never[]) => unknown;
  readonly version: string | number | undefined;
  readonly aggregations: unknown;
}

/**
 * A stable hash of everything that decides what a group writes: its name and keys, both schemas
 * (as JSON Schema), the transform's source text, aggregation specs and `version`. 16 hex digits.
 */
export function computeFingerprint(input: FingerprintInput): string {
  const text = canonicalJson({
    fingerprintFormat: 1,
    name: input.name,
    recordIdentifier: input.recordIdentifier,
    eventTime: input.eventTime,
    eventTimeFormat: input.eventTimeFormat,
    source: jsonSchemaOf(input.source, 'input'),
    features: jsonSchemaOf(input.features, 'output'),
    specs: input.specs,
    transform: normalizeSourceText(input.transform.toString()),
    version: input.version ?? null,
    aggregations: input.aggregations ?? null,
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
