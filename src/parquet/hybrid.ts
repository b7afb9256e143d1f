import type { ByteBuffer } from './byte-buffer.js';
import { writeVarint } from './thrift.js';

// Parquet's integer encodings for levels, dictionary indexes and booleans.

export function bitWidth(max: number): number {
  return max <= 0 ? 0 : 32 - Math.clz32(max);
}

/** Levels of a V1 data page: their byte length, then the RLE/bit-packed hybrid. */
export function writeLevels(out: ByteBuffer, levels: Uint8Array, count: number, width: number): void {
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
export function writeHybrid(out: ByteBuffer, values: Uint8Array | Uint32Array, count: number, width: number): void {
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
export function writeBitPacked(out: ByteBuffer, bits: Uint8Array, count: number): void {
  for (let i = 0; i < count; i += 8) {
    let byte = 0;
    for (let k = 0; k < 8 && i + k < count; k++) byte |= (bits[i + k] as number) << k;
    out.byte(byte);
  }
}

function varint(out: ByteBuffer, value: number): void {
  writeVarint(value, (byte) => out.byte(byte));
}
