import * as z from 'zod/mini';
import { expected, functionSchema } from '../util/options.js';

// The option schemas the handlers and the Firehose transformation share.

export const decodeOption = () => z.optional(functionSchema('a function of the payload bytes'));
export const metricsOption = () => z.optional(z.strictObject({ namespace: z.string({ error: expected('a CloudWatch namespace') }) }));
export const logOption = () => z.optional(z.union([z.literal(false), functionSchema('a function')], { error: expected('false or a function of the log line') }));
