/**
 * Thrift's compact protocol, the writing half, for Parquet's page headers and footer: fields carry
 * their id as a delta from the previous one, integers are zigzag varints.
 */
export class CompactWriter {
  readonly bytes: number[] = [];
  private readonly lastField: number[] = [0];

  i32(id: number, value: number): this {
    this.field(id, I32);
    this.varint(zigzag(value));
    return this;
  }

  /** Safe integers only: offsets, sizes and counts. */
  i64(id: number, value: number): this {
    this.field(id, I64);
    this.varint(zigzag(value));
    return this;
  }

  /** A boolean field: its value is the field's type (true 1, false 2), no bytes follow. */
  bool(id: number, value: boolean): this {
    return this.field(id, value ? BOOLEAN_TRUE : BOOLEAN_FALSE);
  }

  binary(id: number, value: Uint8Array): this {
    this.field(id, BINARY);
    this.lengthPrefixed(value);
    return this;
  }

  string(id: number, value: string): this {
    return this.binary(id, Buffer.from(value, 'utf8'));
  }

  /** A struct field: `body` writes its fields. */
  struct(id: number, body: (w: this) => void): this {
    this.field(id, STRUCT);
    return this.fields(body);
  }

  /** A list of structs, one `body` call per item. */
  structs<T>(id: number, items: readonly T[], body: (w: this, item: T) => void): this {
    this.listHeader(id, STRUCT, items.length);
    for (const item of items) this.fields((w) => body(w, item));
    return this;
  }

  i32s(id: number, values: readonly number[]): this {
    this.listHeader(id, I32, values.length);
    for (const value of values) this.varint(zigzag(value));
    return this;
  }

  strings(id: number, values: readonly string[]): this {
    this.listHeader(id, BINARY, values.length);
    for (const value of values) this.lengthPrefixed(Buffer.from(value, 'utf8'));
    return this;
  }

  /** The fields of a struct (a top-level one too), then its stop byte. */
  fields(body: (w: this) => void): this {
    this.lastField.push(0);
    body(this);
    this.bytes.push(STOP);
    this.lastField.pop();
    return this;
  }

  toBytes(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }

  private field(id: number, type: number): this {
    const last = this.lastField.length - 1;
    const delta = id - (this.lastField[last] as number);
    if (delta > 0 && delta <= 15) {
      this.bytes.push((delta << 4) | type);
    } else {
      this.bytes.push(type);
      this.varint(zigzag(id));
    }
    this.lastField[last] = id;
    return this;
  }

  private listHeader(id: number, elementType: number, size: number): void {
    this.field(id, LIST);
    if (size < 15) {
      this.bytes.push((size << 4) | elementType);
    } else {
      this.bytes.push(0xf0 | elementType);
      this.varint(size);
    }
  }

  private lengthPrefixed(value: Uint8Array): void {
    this.varint(value.length);
    for (const byte of value) this.bytes.push(byte);
  }

  private varint(value: number): void {
    writeVarint(value, (byte) => this.bytes.push(byte));
  }
}

/** An unsigned LEB128 varint (thrift, Snappy's preamble, Parquet's run headers), without 32-bit arithmetic. */
export function writeVarint(value: number, byte: (b: number) => void): void {
  let v = value;
  while (v >= 0x80) {
    byte((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  byte(v);
}

const STOP = 0;
const BOOLEAN_TRUE = 1;
const BOOLEAN_FALSE = 2;
const I32 = 5;
const I64 = 6;
const BINARY = 8;
const LIST = 9;
const STRUCT = 12;

/** Zigzag without 32-bit arithmetic, so the 64-bit fields keep every safe integer. */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}
