/**
 * A command's `--json` output: one line of JSON in which an absent value is `null`, so a reader finds
 * every field of the report (`JSON.stringify` alone drops a property whose value is undefined, such as
 * an audit's consistency rate when nothing was sampled), and a bigint is its decimal text.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => (field === undefined ? null : typeof field === 'bigint' ? String(field) : field));
}
