import type * as zc from 'zod/v4/core';

// Raw events from tabular sources (CSV text cells), typed by the group's source schema.

type CellKind = 'number' | 'bigint' | 'boolean' | 'text';

interface Def {
  readonly type: string;
  readonly innerType?: zc.$ZodType;
  readonly shape?: Record<string, zc.$ZodType>;
  readonly in?: zc.$ZodType;
}

function kindOf(schema: zc.$ZodType | undefined): CellKind {
  let current = schema;
  for (let depth = 0; current && depth < 10; depth++) {
    const def = current._zod.def as unknown as Def;
    switch (def.type) {
      case 'number':
        return 'number';
      case 'bigint':
        return 'bigint';
      case 'boolean':
        return 'boolean';
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
      case 'catch':
      case 'nonoptional':
        current = def.innerType;
        break;
      case 'pipe':
        // A codec such as isoTimestamp() reads its input side.
        current = def.in;
        break;
      default:
        return 'text';
    }
  }
  return 'text';
}

/**
 * Converts a CSV row to the raw event the source schema expects: each column typed by the schema's
 * field (numbers, bigints, booleans); other fields stay text; an empty unquoted cell is absent.
 * A cell that does not read as its type is kept as text, so the schema reports it as poison.
 */
export function csvRowReader(source: zc.$ZodType, header: readonly string[]): (cells: readonly (string | undefined)[]) => Record<string, unknown> {
  const shape = (source._zod.def as unknown as Def).shape ?? {};
  const kinds = header.map((name) => kindOf(shape[name]));
  return (cells) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < header.length; i++) {
      const cell = cells[i];
      if (cell === undefined) continue;
      out[header[i] as string] = typed(kinds[i] as CellKind, cell);
    }
    return out;
  };
}

function typed(kind: CellKind, cell: string): unknown {
  switch (kind) {
    case 'number': {
      const n = cell.trim() === '' ? Number.NaN : Number(cell);
      return Number.isNaN(n) ? cell : n;
    }
    case 'bigint':
      return /^-?\d+$/.test(cell) ? BigInt(cell) : cell;
    case 'boolean':
      return cell === 'true' || cell === '1' ? true : cell === 'false' || cell === '0' ? false : cell;
    default:
      return cell;
  }
}
