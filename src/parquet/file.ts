import { Column } from './column.js';
import { type ChunkMeta, type ColumnSpec, CONVERTED, OPTIONAL, type PhysicalType, REPEATED, type RowGroupMeta, SNAPPY, TYPE } from './schema.js';
import { CompactWriter } from './thrift.js';

export type { ColumnSpec, PhysicalType } from './schema.js';

/**
 * Builds one Parquet file column by column, value by value, straight into page bytes: no array of
 * values and no object per value, which is what made offline writes the bulk of a backfill's time.
 * Every column is OPTIONAL. Each row group is one page per column: a dictionary page and indexes
 * when a column repeats few values, otherwise PLAIN; pages are Snappy-compressed; each column chunk
 * carries min/max/null-count statistics.
 *
 * ### Example
 * ```ts
 * const file = new ParquetFileBuilder([{ name: 'id', type: 'BYTE_ARRAY', convertedType: 'UTF8' }]);
 * file.column(0).text('a');
 * file.endRowGroup(1);
 * const bytes = file.finish();
 * ```
 */
export class ParquetFileBuilder {
  private readonly columns: Column[];
  private readonly parts: Uint8Array[] = [MAGIC];
  private offset = MAGIC.length;
  private readonly rowGroups: RowGroupMeta[] = [];

  constructor(
    private readonly specs: readonly ColumnSpec[],
    expectedRows = 1024,
  ) {
    this.columns = specs.map((spec) => new Column(spec, expectedRows));
  }

  /** The column `index` of the current row group. */
  column(index: number): Column {
    return this.columns[index] as Column;
  }

  /** Closes the current row group of `rows` rows (each column must have had one entry per row). */
  endRowGroup(rows: number): void {
    const start = this.offset;
    const chunks: ChunkMeta[] = [];
    let uncompressed = 0;
    for (const column of this.columns) {
      if (column.rows !== rows) throw new Error(`parquet column ${column.spec.name}: ${column.rows} rows, expected ${rows}`);
      const chunk = column.flush(this.offset, (bytes) => this.push(bytes));
      uncompressed += chunk.uncompressed;
      chunks.push(chunk);
    }
    this.rowGroups.push({ chunks, rows, start, compressed: this.offset - start, uncompressed });
  }

  /** The whole file: the row groups written so far and the footer. */
  finish(): Uint8Array {
    const footer = new CompactWriter().fields((w) => {
      w.i32(1, 1);
      w.structs(2, [undefined, ...this.specs.flatMap(schemaElements)], (s, element) => {
        if (!element) {
          s.string(4, 'schema').i32(5, this.specs.length);
          return;
        }
        if (element.type !== undefined) s.i32(1, TYPE[element.type]);
        s.i32(3, element.repetition).string(4, element.name);
        if (element.children !== undefined) s.i32(5, element.children);
        if (element.converted !== undefined) s.i32(6, CONVERTED[element.converted]);
        // LogicalType (10) TIMESTAMP (8): TimestampType { isAdjustedToUTC (1), unit (2): TimeUnit MILLIS (1) }.
        if (element.adjustedToUtc !== undefined) s.struct(10, (l) => l.struct(8, (t) => t.bool(1, element.adjustedToUtc as boolean).struct(2, (u) => u.struct(1, () => undefined))));
      });
      w.i64(3, this.rowGroups.reduce((n, g) => n + g.rows, 0));
      w.structs(4, this.rowGroups, (g, group) => {
        g.structs(1, group.chunks, (c, chunk) => {
          c.i64(2, chunk.start);
          c.struct(3, (m) => {
            m.i32(1, TYPE[chunk.type]).i32s(2, chunk.encodings).strings(3, chunk.path).i32(4, SNAPPY);
            m.i64(5, chunk.levels).i64(6, chunk.uncompressed).i64(7, chunk.compressed).i64(9, chunk.dataPage);
            if (chunk.dictionaryPage !== undefined) m.i64(11, chunk.dictionaryPage);
            m.struct(12, (s) => {
              s.i64(3, chunk.nulls);
              if (chunk.max) s.binary(5, chunk.max);
              if (chunk.min) s.binary(6, chunk.min);
            });
          });
        });
        g.i64(2, group.uncompressed).i64(3, group.rows).i64(5, group.start).i64(6, group.compressed);
      });
      w.string(6, 'skewless');
      // Min/max follow each type's own order (signed integers, UTF-8 bytes): TypeDefinedOrder per leaf.
      w.structs(7, this.columns, (o) => o.struct(1, () => undefined));
    });
    const bytes = footer.toBytes();
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, bytes.length, true);
    this.push(bytes);
    this.push(length);
    this.push(MAGIC);
    return Buffer.concat(this.parts, this.offset);
  }

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.offset += bytes.length;
  }
}

const MAGIC = /* @__PURE__ */ new Uint8Array([0x50, 0x41, 0x52, 0x31]);

interface SchemaElement {
  readonly name: string;
  readonly repetition: number;
  readonly type?: PhysicalType;
  readonly children?: number;
  readonly converted?: keyof typeof CONVERTED;
  readonly adjustedToUtc?: boolean;
}

function schemaElements(spec: ColumnSpec): SchemaElement[] {
  const leaf = { type: spec.type, ...(spec.convertedType ? { converted: spec.convertedType } : {}), ...(spec.adjustedToUtc !== undefined && spec.convertedType === 'TIMESTAMP_MILLIS' ? { adjustedToUtc: spec.adjustedToUtc } : {}) };
  if (!spec.list) return [{ name: spec.name, repetition: OPTIONAL, ...leaf }];
  return [
    { name: spec.name, repetition: OPTIONAL, children: 1, converted: 'LIST' },
    { name: 'list', repetition: REPEATED, children: 1 },
    { name: 'element', repetition: OPTIONAL, ...leaf },
  ];
}
