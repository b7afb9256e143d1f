import { ByteBuffer, grow } from './byte-buffer.js';
import { bitWidth, writeBitPacked, writeHybrid, writeLevels } from './hybrid.js';
import { type ChunkMeta, type ColumnSpec, DATA_PAGE, DICTIONARY_PAGE, PLAIN, RLE, RLE_DICTIONARY } from './schema.js';
import { snappyCompress } from './snappy.js';
import { CompactWriter } from './thrift.js';

/** A column with more distinct values than this in a row group is written PLAIN. */
const DICTIONARY_LIMIT = 1024;
/** Min/max longer than this are left out: they would bloat the footer for little pruning. */
const STATISTICS_MAX_BYTES = 64;

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
