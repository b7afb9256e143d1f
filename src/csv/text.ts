import { isUtf8 } from 'node:buffer';

/** The bytes of `data` up to where a character its end cuts off begins (at most three bytes short). */
function wholeCharacters(data: Buffer): number {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const byte = data[data.length - back] as number;
    // A continuation byte: its character began earlier.
    if ((byte & 0xc0) === 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? data.length - back : data.length;
  }
  return data.length;
}

/**
 * A file's byte chunks as UTF-8 text, a character cut by a chunk's end carried to the next. `valid`
 * is false for text whose bytes were not UTF-8 (each bad byte became U+FFFD), so a reader can refuse
 * what it holds instead of passing the replacement characters on as data; `bytes` is how many bytes
 * of the file the piece moves on by.
 */
export async function* utf8Pieces(chunks: AsyncIterable<Buffer>): AsyncGenerator<{ text: string; valid: boolean; bytes: number }> {
  let carry: Buffer | undefined;
  for await (const chunk of chunks) {
    const data = carry ? Buffer.concat([carry, chunk]) : chunk;
    const cut = wholeCharacters(data);
    carry = cut < data.length ? Buffer.from(data.subarray(cut)) : undefined;
    const piece = data.subarray(0, cut);
    yield { text: piece.toString('utf8'), valid: isUtf8(piece), bytes: chunk.length };
  }
  if (carry) yield { text: carry.toString('utf8'), valid: false, bytes: 0 };
}
