import * as z from 'zod/mini';
import type * as zc from 'zod/v4/core';
import { ConfigurationError, type SkewlessIssue } from '../errors.js';

// Options are checked at the door, once per call, with zod/mini (already what users' bundles carry):
// a JavaScript caller, an `as any` or a config read from JSON gets a ConfigurationError naming the
// option, what it got and what it takes, never a TypeError from deep inside, never a silent default.

/** How a value reads in a message. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (value instanceof Date) return `a Date (${Number.isNaN(value.getTime()) ? 'invalid' : value.toISOString()})`;
  return 'an object';
}

/**
 * What a transform returned, when it is not an object returned synchronously: `'a Promise'`, `'an array'`,
 * `'null'` or the type's name (never the value: it is user data); undefined when it is such an object.
 */
export function notAnObject(output: unknown): string | undefined {
  if (output === null) return 'null';
  if (Array.isArray(output)) return 'an array';
  if (typeof output !== 'object') return typeof output;
  return typeof (output as { then?: unknown }).then === 'function' ? 'a Promise' : undefined;
}

/**
 * Edit distance, for naming the option a misspelt key most likely meant: letters added, dropped or
 * changed, and two neighbours swapped (`form` for `from`), each one edit; case is ignored.
 */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  // d[i][j]: the distance between the first i letters of x and the first j of y.
  const d = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + (x[i - 1] === y[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
    }
  }
  return (d[x.length] as number[])[y.length] as number;
}

/** The known name closest to `unknown`, if one is close enough to be a likely typo. */
export function closestName(unknown: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const name of known) {
    const d = distance(unknown, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

/**
 * The message for an option key `known` does not list, naming the one it most likely meant:
 * `unknown option <shown> (did you mean "<closest>"?)`; `shown` is how the key appears (default: quoted).
 */
export function unknownOption(key: string, known: readonly string[], shown = `"${key}"`): string {
  const near = closestName(key, known);
  return `unknown option ${shown}${near ? ` (did you mean "${near}"?)` : ''}`;
}

/** `<where>: unknown option "<key>" (did you mean …); known: …` for the first key of `options` not in `known`; undefined when all are known. */
export function unknownKeyMessage(options: object, known: readonly string[], where: string): string | undefined {
  const key = Object.keys(options).find((k) => !known.includes(k));
  return key === undefined ? undefined : `${where}: ${unknownOption(key, known)}; known: ${known.join(', ')}`;
}

/** The schema at `path` inside `schema` (through objects, optionals, arrays), to list its keys. */
function schemaAt(schema: zc.$ZodType, path: readonly PropertyKey[]): zc.$ZodType | undefined {
  let current: zc.$ZodType | undefined = schema;
  for (const key of [...path, undefined]) {
    for (let depth = 0; current && depth < 8; depth++) {
      const def = current._zod.def as unknown as { type: string; innerType?: zc.$ZodType; options?: zc.$ZodType[] };
      if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default' || def.type === 'readonly') current = def.innerType;
      else break;
    }
    if (key === undefined || !current) return current;
    const def = current._zod.def as unknown as { type: string; shape?: Record<string, zc.$ZodType>; element?: zc.$ZodType; items?: zc.$ZodType[]; valueType?: zc.$ZodType };
    current = def.type === 'object' ? def.shape?.[String(key)] : def.type === 'array' ? def.element : def.type === 'tuple' ? def.items?.[Number(key)] : def.type === 'record' ? def.valueType : undefined;
  }
  return current;
}

function pathText(where: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => (typeof key === 'number' ? `${text}[${key}]` : `${text}.${String(key)}`), where);
}

/**
 * A schema built on first use, not when its module loads: a bundle drops the schemas of functions it
 * does not call (mark the call `/* @__PURE__ *\/`), and a Lambda's cold start builds only the ones it checks.
 */
export function lazySchema<S extends zc.$ZodType>(build: () => S): () => S {
  let schema: S | undefined;
  return () => (schema ??= build());
}

/** What a value of each type zod names is called in a message. */
const TYPE_WORDS: Readonly<Record<string, string>> = { object: 'an object', array: 'an array', string: 'a string', number: 'a number', boolean: 'true or false', bigint: 'a bigint', date: 'a Date', function: 'a function' };

/**
 * Words for a value of the wrong type, or not one of a list's values, where the schema has none of its
 * own (its own outrank these): given to the parse, they stand in for zod's bare "Invalid input", in
 * whatever locale the user chose.
 */
const plainWords = (issue: zc.$ZodRawIssue): string | undefined => {
  const words = issue.code === 'invalid_type' ? (TYPE_WORDS[issue.expected] ?? (issue.expected === 'nonoptional' ? 'a value' : undefined)) : issue.code === 'invalid_value' ? `one of ${issue.values.map(describeValue).join(', ')}` : undefined;
  return words && expected(words)(issue);
};

/**
 * Checks a function's options (or one argument) against their schema (or a `lazySchema`); returns
 * them as parsed. `where` names them in messages, e.g. `backfill options`.
 */
export function checkOptions<S extends zc.$ZodType>(given: S | (() => S), value: unknown, where: string): zc.output<S> {
  const schema = typeof given === 'function' ? given() : given;
  const result = z.safeParse(schema, value, { error: plainWords });
  if (result.success) return result.data;
  const issues = result.error.issues as readonly SkewlessIssue[];
  // A misspelt key comes first: it explains the option then found missing.
  const first = (result.error.issues.find((issue) => issue.code === 'unrecognized_keys') ?? result.error.issues[0]) as zc.$ZodIssue;
  let message: string;
  if (first.code === 'unrecognized_keys') {
    const known = Object.keys((schemaAt(schema, first.path)?._zod.def as unknown as { shape?: object } | undefined)?.shape ?? {});
    message = first.keys.map((key) => unknownOption(key, known, pathText(where, [...first.path, key]))).join('; ');
    message += `; known: ${known.join(', ')}`;
  } else {
    message = `${pathText(where, first.path)}: ${first.message}`;
  }
  throw new ConfigurationError('INVALID_CONFIG', message, { issues });
}

/** An expected-type message that says what was given, for a schema's `error` option. */
export function expected(what: string): (issue: { readonly input?: unknown }) => string {
  return (issue) => `expected ${what}, got ${describeValue(issue.input)}`;
}

/** A duration as the options take it: whole units, one suffix (surrounding spaces are trimmed first). */
export const DURATION_TEXT = /^\d+(ms|s|m|h|d|w)$/;

/** The message for a value that is not a documented duration: a number gets a hint with units, never a guessed one. */
export function durationMessage(value: unknown): string {
  if (typeof value === 'number') {
    return `a duration is text with a unit, got the number ${value}: did you mean '${value}s' or '${value}m'?`;
  }
  return `expected a duration such as '90s', '15m', '12h', '30d' or '2w', got ${describeValue(value)}`;
}

/** A duration as skewless documents them: `'500ms'`, `'90s'`, `'15m'`, `'12h'`, `'30d'`, `'2w'`. */
export function durationSchema() {
  return z.string({ error: (issue) => durationMessage(issue.input) }).check(z.refine((text) => DURATION_TEXT.test(text.trim()), { error: (issue) => durationMessage(issue.input) }));
}

/** A function option (a callback, a sink). */
export function functionSchema(what: string) {
  return z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { error: expected(what) });
}

/** An object with these methods: a backend or a sink passed in. */
export function objectWith(methods: readonly string[], what: string) {
  return z.custom<object>(
    (value) => typeof value === 'object' && value !== null && methods.every((m) => typeof (value as Record<string, unknown>)[m] === 'function'),
    { error: expected(`${what} (an object with ${methods.join(', ')})`) },
  );
}

/** A switch: `true` or `false`, nothing that merely reads as one (`'yes'`, `1`). */
export function booleanSchema() {
  return z.boolean({ error: expected('true or false') });
}

/** A positive whole number. */
export function positiveInteger(what = 'a positive whole number') {
  return z.number({ error: expected(what) }).check(z.refine((n) => Number.isInteger(n) && n > 0, { error: expected(what) }));
}

/** A whole number at least 0. */
export function countSchema(what = 'a whole number, 0 or more') {
  return z.number({ error: expected(what) }).check(z.refine((n) => Number.isInteger(n) && n >= 0, { error: expected(what) }));
}
