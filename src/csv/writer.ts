/**
 * One CSV (RFC 4180) field: quoted when it holds a comma, quote or line break, or is empty (an empty
 * field left bare is a null, as DuckDB writes and reads them: `""` is the empty string), a quote
 * inside doubled. `always` quotes every field, as Athena's result files do.
 */
export function csvField(text: string, always = false): string {
  return always || text === '' || /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV line of these fields, without its line break. */
export function csvLine(fields: readonly string[], always = false): string {
  return fields.map((field) => csvField(field, always)).join(',');
}
