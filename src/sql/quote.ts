/**
 * The only two ways a name or a value enters SQL text in skewless. Everything else is bound as a
 * parameter. Both dialects we render (DuckDB and Trino) quote identifiers with double quotes and
 * strings with single quotes, doubling the quote character inside.
 */

/** Quotes an identifier (table, column, schema). Refuses NUL, which no engine accepts in a name. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw new TypeError(`not a usable SQL identifier: ${JSON.stringify(name)}`);
  }
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quotes a string literal, for the few places a value cannot be bound (COPY targets, file globs). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new TypeError('a SQL string literal cannot hold NUL');
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Quotes an identifier for Athena DDL (Hive), which uses backticks: the one way a name enters a
 * CREATE EXTERNAL TABLE or DROP TABLE statement.
 */
export function quoteHiveIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw new TypeError(`not a usable SQL identifier: ${JSON.stringify(name)}`);
  }
  return `\`${name.replaceAll('`', '``')}\``;
}
