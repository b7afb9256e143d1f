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
    transform: canonicalSource(input.transform.toString()),
    ...(input.helpers.length > 0 ? { helpers: input.helpers.map((helper) => canonicalSource(helper.toString())) } : {}),
    version: input.version ?? null,
    aggregations: input.aggregations ?? null,
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
