import { createHash } from 'node:crypto';
import type * as zc from 'zod/v4/core';
import type { FeatureSpec } from './feature-spec.js';
import { describeSchema } from './schema-description.js';
import { canonicalSource } from './source-text.js';

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

export interface FingerprintInput {
  readonly name: string;
  readonly recordIdentifier: string;
  readonly eventTime: string;
  readonly eventTimeFormat: string;
  readonly source: zc.$ZodType;
  readonly features: zc.$ZodType;
  readonly specs: readonly FeatureSpec[];
  readonly transform: (...args: never[]) => unknown;
  /** Functions the transform calls whose code the fingerprint covers too. */
  readonly helpers: readonly ((...args: never[]) => unknown)[];
  readonly version: string | number | undefined;
  readonly aggregations: unknown;
}

/**
 * A stable hash of everything that decides what a group writes: its name and keys, both schemas
 * (their zod definitions, see `describeSchema`), the transform's (and its listed helpers') code in canonical form (see
 * `canonicalSource`: the same in tests, plain Node and a bundle with renamed identifiers),
 * aggregation specs and `version`. 16 hex digits.
 */
export function computeFingerprint(input: FingerprintInput): string {
  const text = canonicalJson({
    fingerprintFormat: 2,
    name: input.name,
    recordIdentifier: input.recordIdentifier,
    eventTime: input.eventTime,
    eventTimeFormat: input.eventTimeFormat,
    source: describeSchema(input.source),
    features: describeSchema(input.features),
    specs: input.specs,
    ...codeOf(input.transform, input.helpers),
    version: input.version ?? null,
    aggregations: input.aggregations ?? null,
  });
  return digest(text);
}

/** The transform's and its helpers' code, canonical: what both fingerprints hash of a definition's functions. */
function codeOf(transform: (...args: never[]) => unknown, helpers: readonly ((...args: never[]) => unknown)[]): { transform: string; helpers?: string[] } {
  return {
    transform: canonicalSource(transform.toString()),
    ...(helpers.length > 0 ? { helpers: helpers.map((helper) => canonicalSource(helper.toString())) } : {}),
  };
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** One read of request features, as the fingerprint covers it: which group, which features, keyed and bounded how. */
export interface FingerprintRead {
  readonly group: string;
  readonly features: readonly string[];
  readonly key: string | undefined;
  readonly maxAge: string | undefined;
}

export interface RequestFingerprintInput {
  readonly name: string;
  readonly request: zc.$ZodType;
  readonly features: zc.$ZodType;
  readonly reads: Readonly<Record<string, FingerprintRead>>;
  readonly transform: (...args: never[]) => unknown;
  readonly helpers: readonly ((...args: never[]) => unknown)[];
  readonly version: string | number | undefined;
}

/**
 * The fingerprint of request features, made as a group's is: the name, both schemas, the transform's
 * (and its helpers') canonical code, the reads (group, features, key, maxAge; not the output prefix,
 * which renames columns only) and `version`. 16 hex digits.
 */
export function computeRequestFingerprint(input: RequestFingerprintInput): string {
  return digest(
    canonicalJson({
      fingerprintFormat: 2,
      kind: 'request-features',
      name: input.name,
      request: describeSchema(input.request),
      features: describeSchema(input.features),
      reads: Object.fromEntries(Object.entries(input.reads).map(([name, read]) => [name, { ...read, key: read.key ?? null, maxAge: read.maxAge ?? null }])),
      ...codeOf(input.transform, input.helpers),
      version: input.version ?? null,
    }),
  );
}
