import * as z from 'zod/mini';
import { booleanSchema, expected, functionSchema, lazySchema } from '../util/options.js';

/** Where a local backend keeps its files: `dir`, or nothing kept with `memory: true`. */
export const LOCAL_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  dir: z.optional(z.string({ error: expected('a directory path') })),
  memory: z.optional(booleanSchema()),
}));

/** The same with a clock (`now`, epoch milliseconds), as the stores that expire records by TTL take it. */
export const LOCAL_CLOCK_OPTIONS = /* @__PURE__ */ lazySchema(() => z.extend(LOCAL_OPTIONS(), { now: z.optional(functionSchema('a clock function')) }));
