import { writeVarint } from './thrift.js';

/**
 * Snappy compression (the raw block format Parquet pages use): a preamble with the length, then
 * literals and back-references of up to 64 bytes within the last 64 KiB. Fast rather than small,
 * like Snappy itself; every Parquet reader decompresses it.
 *
 * ### Example
 * ```ts
 * const page = snappyCompress(new TextEncoder().encode('abcabcabcabc'));   // readable by any Snappy decoder
 * ```
 */
export function snappyCompress(input: Uint8Array): Uint8Array {
  const n = input.length;
  // Snappy's own bound on the output: literals cost their tags, copies never grow the data.
  const out = new Uint8Array(32 + n + Math.ceil(n / 6));
  let op = 0;
  writeVarint(n, (byte) => {
    out[op++] = byte;
  });
  const table = tableFor(n);
  let anchor = 0;
  let ip = 0;
  while (ip + 4 <= n) {
    const word = read32(input, ip);
    const slot = Math.imul(word, 0x1e35a7bd) >>> (32 - HASH_BITS);
    const candidate = (table[slot] as number) - 1;
    table[slot] = ip + 1;
    if (candidate < 0 || ip - candidate > MAX_OFFSET || read32(input, candidate) !== word) {
      // The farther from the last match, the larger the step: incompressible input passes quickly.
      ip += 1 + ((ip - anchor) >> 5);
      continue;
    }
    op = emitLiteral(input, anchor, ip, out, op);
    let length = 4;
    while (ip + length < n && input[candidate + length] === input[ip + length]) length++;
    op = emitCopy(ip - candidate, length, out, op);
    ip += length;
    anchor = ip;
  }
  op = emitLiteral(input, anchor, n, out, op);
  return out.subarray(0, op);
}

const HASH_BITS = 14;
const MAX_OFFSET = 65_535;
// One table for every call, made on the first (a program that never compresses never holds its
// 64 KB), cleared per call: positions are stored plus one, so 0 means empty.
let shared: Int32Array | undefined;

function tableFor(n: number): Int32Array {
  if (shared === undefined) return (shared = new Int32Array(1 << HASH_BITS));
  if (n > 0) shared.fill(0);
  return shared;
}

function read32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] as number) | ((bytes[at + 1] as number) << 8) | ((bytes[at + 2] as number) << 16) | ((bytes[at + 3] as number) << 24)) >>> 0;
}

function emitLiteral(input: Uint8Array, from: number, to: number, out: Uint8Array, at: number): number {
  const length = to - from;
  if (length === 0) return at;
  const stored = length - 1;
  if (stored < 60) {
    out[at++] = stored << 2;
  } else {
    // 60..63: the length follows in 1..4 bytes.
    const bytes = stored < 0x100 ? 1 : stored < 0x10000 ? 2 : stored < 0x1000000 ? 3 : 4;
    out[at++] = (59 + bytes) << 2;
    for (let i = 0; i < bytes; i++) out[at++] = Math.floor(stored / 2 ** (8 * i)) & 0xff;
  }
  out.set(input.subarray(from, to), at);
  return at + length;
}

function emitCopy(offset: number, length: number, out: Uint8Array, at: number): number {
  let left = length;
  // Copies hold at most 64 bytes; the split keeps the last piece at 4 or more.
  while (left >= 68) {
    at = copy2(offset, 64, out, at);
    left -= 64;
  }
  if (left > 64) {
    at = copy2(offset, 60, out, at);
    left -= 60;
  }
  if (left < 12 && offset < 2048) {
    out[at++] = ((offset >> 8) << 5) | ((left - 4) << 2) | 1;
    out[at++] = offset & 0xff;
    return at;
  }
  return copy2(offset, left, out, at);
}

function copy2(offset: number, length: number, out: Uint8Array, at: number): number {
  out[at++] = ((length - 1) << 2) | 2;
  out[at++] = offset & 0xff;
  out[at++] = offset >> 8;
  return at;
}

