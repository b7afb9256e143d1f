import * as z from 'zod/mini';
import { booleanSchema, expected, lazySchema } from '../util/options.js';

/** Where a local backend keeps its files: `dir`, or nothing kept with `memory: true`. */
export const LOCAL_OPTIONS = /* @__PURE__ */ lazySchema(() => z.strictObject({
  dir: z.optional(z.string({ error: expected('a directory path') })),
  memory: z.optional(booleanSchema()),
}));
