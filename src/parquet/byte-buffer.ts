/** A growable byte buffer. */
export class ByteBuffer {
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

/** A copy of `array` with room for `size` entries. */
export function grow<T extends Uint8Array | Uint32Array>(array: T, size: number): T {
  const next = new (array.constructor as new (n: number) => T)(size);
  next.set(array);
  return next;
}
