import { snappyCompress } from './snappy.js';
import { CompactWriter, writeVarint } from './thrift.js';

/** The physical types offline files use. */
export type PhysicalType = 'BOOLEAN' | 'INT64' | 'DOUBLE' | 'BYTE_ARRAY';

/** One column of a file: a top-level field, or a list (three-level LIST) of one such value. */
export interface ColumnSpec {
  readonly name: string;
  readonly type: PhysicalType;
  readonly convertedType?: 'UTF8' | 'TIMESTAMP_MILLIS';
  readonly list?: boolean;
}

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

const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]);
const TYPE: Record<PhysicalType, number> = { BOOLEAN: 0, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 };
const CONVERTED = { UTF8: 0, LIST: 3, TIMESTAMP_MILLIS: 9 } as const;
const OPTIONAL = 1;
const REPEATED = 2;
const PLAIN = 0;
const RLE = 3;
const RLE_DICTIONARY = 8;
const SNAPPY = 1;
const DATA_PAGE = 0;
const DICTIONARY_PAGE = 2;
/** A column with more distinct values than this in a row group is written PLAIN. */
const DICTIONARY_LIMIT = 1024;
/** Min/max longer than this are left out: they would bloat the footer for little pruning. */
const STATISTICS_MAX_BYTES = 64;

interface SchemaElement {
  readonly name: string;
  readonly repetition: number;
  readonly type?: PhysicalType;
  readonly children?: number;
  readonly converted?: keyof typeof CONVERTED;
}

function schemaElements(spec: ColumnSpec): SchemaElement[] {
  const leaf = { type: spec.type, ...(spec.convertedType ? { converted: spec.convertedType } : {}) };
  if (!spec.list) return [{ name: spec.name, repetition: OPTIONAL, ...leaf }];
  return [
    { name: spec.name, repetition: OPTIONAL, children: 1, converted: 'LIST' },
    { name: 'list', repetition: REPEATED, children: 1 },
    { name: 'element', repetition: OPTIONAL, ...leaf },
  ];
}

interface ChunkMeta {
  readonly type: PhysicalType;
  readonly path: readonly string[];
  readonly encodings: readonly number[];
  readonly start: number;
  readonly dataPage: number;
  readonly dictionaryPage: number | undefined;
  readonly levels: number;
  readonly nulls: number;
  readonly compressed: number;
  readonly uncompressed: number;
  readonly min: Uint8Array | undefined;
  readonly max: Uint8Array | undefined;
}

interface RowGroupMeta {
  readonly chunks: readonly ChunkMeta[];
  readonly rows: number;
  readonly start: number;
  readonly compressed: number;
  readonly uncompressed: number;
}

type Value = string | number | bigint | boolean;

/** The values of one column in the current row group, already in PLAIN bytes. */
export class Column {
  /** Rows entered in the current row group. */
  rows = 0;
  private readonly values: ByteBuffer;
  private levels = 0;
  private defs: Uint8Array;
  private reps: Uint8Array | undefined;
  private nulls = 0;
  private present = 0;
  private min: Value | undefined;
  private max: Value | undefined;
  /** Strings: some value holds a UTF-16 surrogate, so JS order is not UTF-8 byte order. */
  private byteOrder = false;
  private dictionary: Map<string | number, number> | undefined = new Map();
  private dictionaryValues = new ByteBuffer(256);
  private indexes: Uint32Array;
  private bits: Uint8Array | undefined;
  private readonly maxDef: number;

  constructor(
    readonly spec: ColumnSpec,
    expectedRows: number,
  ) {
    const perValue = spec.type === 'BYTE_ARRAY' ? 24 : spec.type === 'BOOLEAN' ? 1 : 8;
    this.values = new ByteBuffer(Math.max(64, expectedRows * perValue));
    this.defs = new Uint8Array(Math.max(16, expectedRows));
    this.reps = spec.list ? new Uint8Array(this.defs.length) : undefined;
    this.indexes = new Uint32Array(Math.max(16, expectedRows));
    this.maxDef = spec.list ? 3 : 1;
    if (spec.type === 'BOOLEAN') {
      this.bits = new Uint8Array(Math.max(16, expectedRows));
      this.dictionary = undefined;
    }
  }

  /** A missing value (for a list column, a missing list). */
  null(): void {
    this.level(0, 0);
    this.nulls++;
    this.rows++;
  }

  /** A value given as SageMaker text: a string, or an integer or a number in decimal. */
  text(value: string): void {
    this.level(this.maxDef, 0);
    this.add(value);
    this.rows++;
  }

  /** A list of values as SageMaker text (an empty list is kept apart from a missing one). */
  list(values: readonly string[]): void {
    if (values.length === 0) {
      this.level(1, 0);
      this.nulls++;
    }
    for (let i = 0; i < values.length; i++) {
      this.level(this.maxDef, i === 0 ? 0 : 1);
      this.add(values[i] as string);
    }
    this.rows++;
  }

  /** An INT64 column's value as a number (timestamps in milliseconds). */
  integer(value: number): void {
    this.level(this.maxDef, 0);
    this.addInteger(value, value);
    this.rows++;
  }

  boolean(value: boolean): void {
    this.level(this.maxDef, 0);
    const bits = this.bits as Uint8Array;
    if (this.present === bits.length) this.bits = grow(bits, bits.length * 2);
    (this.bits as Uint8Array)[this.present++] = value ? 1 : 0;
    this.observe(value);
    this.rows++;
  }

  /**
   * Writes the row group's chunk (dictionary page, data page) through `write`, starting at file
   * offset `start`, and starts the next row group empty.
   */
  flush(start: number, write: (bytes: Uint8Array) => void): ChunkMeta {
    const path = this.spec.list ? [this.spec.name, 'list', 'element'] : [this.spec.name];
    let offset = start;
    let uncompressed = 0;
    const page = (header: (w: CompactWriter, sizes: { raw: number; compressed: number }) => void, body: Uint8Array) => {
      const compressed = snappyCompress(body);
      const headerBytes = new CompactWriter().fields((w) => header(w, { raw: body.length, compressed: compressed.length })).toBytes();
      write(headerBytes);
      write(compressed);
      uncompressed += headerBytes.length + body.length;
      offset += headerBytes.length + compressed.length;
    };
    const dictionary = this.dictionary && this.present > 0 && this.dictionary.size * 2 <= this.present ? this.dictionary : undefined;
    let dictionaryPage: number | undefined;
    if (dictionary) {
      dictionaryPage = offset;
      const entries = dictionary.size;
      page((w, s) => w.i32(1, DICTIONARY_PAGE).i32(2, s.raw).i32(3, s.compressed).struct(7, (d) => d.i32(1, entries).i32(2, PLAIN)), this.dictionaryValues.view());
    }
    const dataPage = offset;
    const body = new ByteBuffer(this.levels + this.values.length + 64);
    if (this.reps) writeLevels(body, this.reps, this.levels, 1);
    writeLevels(body, this.defs, this.levels, bitWidth(this.maxDef));
    if (dictionary) {
      // At least one bit: a width of 0 (a one-value dictionary) is legal but not every reader takes it.
      const width = Math.max(1, bitWidth(dictionary.size - 1));
      body.byte(width);
      writeHybrid(body, this.indexes, this.present, width);
    } else if (this.bits) {
      writeBitPacked(body, this.bits, this.present);
    } else {
      body.append(this.values.view());
    }
    const levels = this.levels;
    const encoding = dictionary ? RLE_DICTIONARY : PLAIN;
    page(
      (w, s) =>
        w
          .i32(1, DATA_PAGE)
          .i32(2, s.raw)
          .i32(3, s.compressed)
          .struct(5, (d) => d.i32(1, levels).i32(2, encoding).i32(3, RLE).i32(4, RLE)),
      body.view(),
    );
    const [min, max] = this.statistics();
    const meta: ChunkMeta = {
      type: this.spec.type,
      path,
      encodings: dictionary ? [PLAIN, RLE, RLE_DICTIONARY] : [PLAIN, RLE],
      start,
      dataPage,
      dictionaryPage,
      levels,
      nulls: this.nulls,
      compressed: offset - start,
      uncompressed,
      min,
      max,
    };
    this.reset();
    return meta;
  }

  private reset(): void {
    this.rows = 0;
    this.levels = 0;
    this.nulls = 0;
    this.present = 0;
    this.min = undefined;
    this.max = undefined;
    this.byteOrder = false;
    this.values.length = 0;
    if (!this.bits) {
      this.dictionary = new Map();
      this.dictionaryValues = new ByteBuffer(256);
    }
  }

  private level(def: number, rep: number): void {
    if (this.levels === this.defs.length) {
      this.defs = grow(this.defs, this.levels * 2);
      if (this.reps) this.reps = grow(this.reps, this.levels * 2);
    }
    this.defs[this.levels] = def;
    if (this.reps) this.reps[this.levels] = rep;
    this.levels++;
  }

  /** A value of a String (BYTE_ARRAY), Integral (INT64) or Fractional (DOUBLE) feature, as its text. */
  private add(text: string): void {
    const type = this.spec.type;
    if (type === 'BYTE_ARRAY') {
      const ascii = this.values.string(text);
      if (!ascii && !this.byteOrder && hasSurrogate(text)) this.byteOrder = true;
      if (this.remember(text)) this.dictionaryValues.string(text);
      this.observe(text);
    } else if (type === 'INT64') {
      const n = Number(text);
      this.addInteger(Number.isSafeInteger(n) ? n : int64(text), text);
    } else {
      const n = Number(text);
      this.values.double(n);
      if (this.remember(text)) this.dictionaryValues.double(n);
      // NaN has no place in an order: it is left out of min/max.
      if (n === n) this.observe(n);
    }
  }

  private addInteger(value: number | bigint, key: string | number): void {
    this.values.int64(value);
    if (this.remember(key)) this.dictionaryValues.int64(value);
    this.observe(value);
  }

  /**
   * Counts a value and notes its dictionary index; true when the value is new to the dictionary (the
   * caller appends it). The dictionary is given up once the row group has too many distinct values.
   */
  private remember(key: string | number): boolean {
    const dictionary = this.dictionary;
    if (!dictionary) {
      this.present++;
      return false;
    }
    let index = dictionary.get(key);
    let added = false;
    if (index === undefined) {
      index = dictionary.size;
      if (index === DICTIONARY_LIMIT) {
        this.dictionary = undefined;
        this.present++;
        return false;
      }
      dictionary.set(key, index);
      added = true;
    }
    if (this.present === this.indexes.length) this.indexes = grow(this.indexes, this.present * 2);
    this.indexes[this.present++] = index;
    return added;
  }

  private observe(value: Value): void {
    if (this.min === undefined || this.less(value, this.min)) this.min = value;
    if (this.max === undefined || this.less(this.max, value)) this.max = value;
  }

  private less(a: Value, b: Value): boolean {
    if (this.byteOrder) return Buffer.compare(Buffer.from(a as string, 'utf8'), Buffer.from(b as string, 'utf8')) < 0;
    return a < b;
  }

  /** Min and max in PLAIN bytes (nothing for an all-null chunk or an over-long string). */
  private statistics(): [Uint8Array | undefined, Uint8Array | undefined] {
    if (this.min === undefined || this.max === undefined) return [undefined, undefined];
    const bytes = (value: Value, zero: number): Uint8Array => {
      if (typeof value === 'string') return Buffer.from(value, 'utf8');
      if (typeof value === 'boolean') return Uint8Array.of(value ? 1 : 0);
      const buffer = new ByteBuffer(8);
      // Parquet's rule for doubles: a zero bound is -0 as a min and +0 as a max.
      if (this.spec.type === 'DOUBLE') buffer.double(value === 0 ? zero : (value as number));
      else buffer.int64(value);
      return buffer.view();
    };
    const min = bytes(this.min, -0);
    const max = bytes(this.max, 0);
    if (min.length > STATISTICS_MAX_BYTES || max.length > STATISTICS_MAX_BYTES) return [undefined, undefined];
    return [min, max];
  }
}

/** A growable byte buffer. */
class ByteBuffer {
  length = 0;
  private buffer: Buffer;

  constructor(capacity: number) {
    this.buffer = Buffer.allocUnsafe(capacity);
  }

  view(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }

  byte(value: number): void {
    this.room(1);
    this.buffer[this.length++] = value;
  }

  append(bytes: Uint8Array): void {
    this.room(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  uint32(value: number): void {
    this.room(4);
    this.buffer.writeUInt32LE(value, this.length);
    this.length += 4;
  }

  /** PLAIN BYTE_ARRAY: length, then UTF-8. Returns whether the string was ASCII. */
  string(value: string): boolean {
    const n = value.length;
    this.room(4 + n * 3);
    const buffer = this.buffer;
    const at = this.length + 4;
    let i = 0;
    // Short ASCII strings are copied here: cheaper than a call into the encoder.
    if (n <= 32) {
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buffer[at + i] = c;
      }
    }
    const written = i === n ? n : buffer.write(value, at, 'utf8');
    buffer.writeUInt32LE(written, this.length);
    this.length = at + written;
    return written === n;
  }

  int64(value: number | bigint): void {
    this.room(8);
    if (typeof value === 'bigint') {
      this.buffer.writeBigInt64LE(value, this.length);
    } else {
      const high = Math.floor(value / 4_294_967_296);
      const low = value - high * 4_294_967_296;
      const buffer = this.buffer;
      const at = this.length;
      buffer[at] = low;
      buffer[at + 1] = low >>> 8;
      buffer[at + 2] = low >>> 16;
      buffer[at + 3] = low >>> 24;
      buffer[at + 4] = high;
      buffer[at + 5] = high >> 8;
      buffer[at + 6] = high >> 16;
      buffer[at + 7] = high >> 24;
    }
    this.length += 8;
  }

  double(value: number): void {
    this.room(8);
    this.buffer.writeDoubleLE(value, this.length);
    this.length += 8;
  }

  private room(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(next, 0, 0, this.length);
    this.buffer = next;
  }
}

function grow<T extends Uint8Array | Uint32Array>(array: T, size: number): T {
  const next = new (array.constructor as new (n: number) => T)(size);
  next.set(array);
  return next;
}

function int64(text: string): bigint {
  const value = BigInt(text);
  if (BigInt.asIntN(64, value) !== value) throw new RangeError(`${text} does not fit a Parquet INT64`);
  return value;
}

function hasSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) return true;
  }
  return false;
}

function bitWidth(max: number): number {
  return max <= 0 ? 0 : 32 - Math.clz32(max);
}

/** Levels of a V1 data page: their byte length, then the RLE/bit-packed hybrid. */
function writeLevels(out: ByteBuffer, levels: Uint8Array, count: number, width: number): void {
  const lengthAt = out.length;
  out.uint32(0);
  writeHybrid(out, levels, count, width);
  const view = out.view();
  new DataView(view.buffer, view.byteOffset).setUint32(lengthAt, out.length - lengthAt - 4, true);
}

/**
 * The RLE/bit-packed hybrid: runs of 8 or more equal values as one repeated value, the rest in
 * bit-packed groups of 8 (the last group padded with zeros).
 */
function writeHybrid(out: ByteBuffer, values: Uint8Array | Uint32Array, count: number, width: number): void {
  const valueBytes = (width + 7) >> 3;
  let i = 0;
  while (i < count) {
    const value = values[i] as number;
    let run = 1;
    while (i + run < count && values[i + run] === value) run++;
    if (run >= 8) {
      varint(out, run * 2);
      for (let b = 0; b < valueBytes; b++) out.byte((value >>> (8 * b)) & 0xff);
      i += run;
      continue;
    }
    // Bit-pack groups of 8 until a run of 8 starts at a group boundary.
    const start = i;
    let groups = 0;
    do {
      groups++;
      i += 8;
    } while (i < count && !runOf8(values, i, count));
    varint(out, groups * 2 + 1);
    packBits(out, values, start, groups * 8, count, width);
  }
}

function runOf8(values: Uint8Array | Uint32Array, at: number, count: number): boolean {
  if (at + 8 > count) return false;
  const value = values[at];
  for (let k = 1; k < 8; k++) if (values[at + k] !== value) return false;
  return true;
}

/** `n` values from `start`, `width` bits each, least significant bit first; past `count` they are 0. */
function packBits(out: ByteBuffer, values: Uint8Array | Uint32Array, start: number, n: number, count: number, width: number): void {
  let acc = 0;
  let bits = 0;
  for (let k = 0; k < n; k++) {
    const value = start + k < count ? (values[start + k] as number) : 0;
    // Up to 7 pending bits plus a value of up to 32 bits: a safe integer, so plain arithmetic.
    acc += value * 2 ** bits;
    bits += width;
    while (bits >= 8) {
      out.byte(acc & 0xff);
      acc = Math.floor(acc / 256);
      bits -= 8;
    }
  }
  if (bits > 0) out.byte(acc & 0xff);
}

/** PLAIN booleans: one bit each, least significant first. */
function writeBitPacked(out: ByteBuffer, bits: Uint8Array, count: number): void {
  for (let i = 0; i < count; i += 8) {
    let byte = 0;
    for (let k = 0; k < 8 && i + k < count; k++) byte |= (bits[i + k] as number) << k;
    out.byte(byte);
  }
}

function varint(out: ByteBuffer, value: number): void {
  writeVarint(value, (byte) => out.byte(byte));
}
