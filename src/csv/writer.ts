/**
 * One CSV (RFC 4180) field: quoted when it holds a comma, quote or line break (`always` quotes every
 * field, as Athena's result files do), a quote inside doubled.
 */
export function csvField(text: string, always = false): string {
  return always || /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A CSV line of these fields, without its line break. */
export function csvLine(fields: readonly string[], always = false): string {
  return fields.map((field) => csvField(field, always)).join(',');
}
