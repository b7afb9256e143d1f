import { isAscii, isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { DataError, type SourcePosition } from '../../errors.js';
import { BLOCK_ROWS, type BackfillItem, type BackfillSource, evenRanges, fileRevision, localFile, type ShardRange } from './source.js';

/**
 * A file as blocks of whole lines, from `start` to `end`: each block's bytes end at a newline (the
 * last block may not). A line belongs to the range its first byte is in, so ranges that tile a file
 * read every line exactly once.
 */
async function* lineBlocks(path: string, range: ShardRange | undefined): AsyncGenerator<{ bytes: Buffer; offset: number }> {
  const start = range?.start ?? 0;
  const end = range?.end ?? Number.POSITIVE_INFINITY;
  // From one byte early: if that byte is a newline, a line starts exactly at `start`.
  let offset = Math.max(0, start - 1);
  let skipping = start > 0;
  let carry: Buffer | undefined;
  let carryOffset = offset;
  for await (const chunk of createReadStream(path, { start: offset, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const data = carry ? Buffer.concat([carry, chunk]) : chunk;
    const base = carry ? carryOffset : offset;
    offset += chunk.length;
    carry = undefined;
    // A UTF-8 byte-order mark at the file's start is not part of the first line.
    let from = base === 0 && data[0] === 0xef && data[1] === 0xbb && data[2] === 0xbf ? 3 : 0;
    if (skipping) {
      const newline = data.indexOf(10);
      if (newline < 0) continue;
      skipping = false;
      from = newline + 1;
    }
    const lastNewline = data.lastIndexOf(10);
    if (lastNewline >= from) {
      // Lines starting at or after `end` belong to the next range.
      const stop = end - base;
      if (stop <= from) return;
      let cut = lastNewline + 1;
      if (stop < cut) {
        // The range ends inside this chunk: up to the end of the line its last byte is in (a newline
        // at or after it exists, the chunk's last one at the latest).
        cut = data.indexOf(10, stop - 1) + 1;
        yield { bytes: data.subarray(from, cut), offset: base + from };
        return;
      }
      yield { bytes: data.subarray(from, cut), offset: base + from };
      from = cut;
    }
    if (from < data.length) {
      carry = data.subarray(from);
      carryOffset = base + from;
    }
  }
  if (carry && !skipping && carryOffset < end) yield { bytes: carry, offset: carryOffset };
}

/**
 * Refuses a JSON array file by its first non-blank line: `[` alone (an array printed over many lines),
 * or an array whose first element is an object when that line is the file's only one, or is not JSON
 * by itself (the array goes on below). Read as NDJSON, it would be one poison row or one per line, each
 * blamed on the source schema. An array on a first line that other lines follow, like a line of
 * another array (`[1,2]`), is an event like any value.
 *
 * `head` is the file's first 64 KB: a first line longer than that is taken as the file's only one.
 */
function refuseJsonArray(file: string, head: string): void {
  const lines = head.split('\n');
  const first = lines.findIndex((line) => line.trim() !== '');
  const text = first < 0 ? '' : (lines[first] as string).trim();
  if (text !== '[' && !/^\[\s*\{/.test(text)) return;
  if (text !== '[' && lines.slice(first + 1).some((line) => line.trim() !== '') && isJson(text)) return;
  throw new DataError(
    'INVALID_SOURCE',
    `${file} holds a JSON array (it starts with "["), not newline-delimited JSON: a backfill reads one JSON event per line; write the array's elements one per line (jq -c '.[]' ${file})`,
  );
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** The first 64 KB of a file's text, enough for its first line's start: what a plan of shards checks before any shard runs. */
async function fileHead(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(1 << 16), 0, 1 << 16, 0);
    return buffer.subarray(0, bytesRead).toString('utf8').replace(/^\uFEFF/, '');
  } finally {
    await handle.close();
  }
}

/** Byte ranges of about equal size; line boundaries are found when each range is read. */
async function byteRanges(path: string, count: number): Promise<ShardRange[]> {
  const { size } = await stat(path);
  return evenRanges(size, count);
}

/**
 * Newline-delimited JSON, one raw event per line, streamed. A line that is not JSON is a poison
 * record (with its file and byte offset); blank lines are skipped. Splittable by byte range.
 *
 * ### Example
 * ```ts
 * await backfill(store, cardActivity, { from: ndjsonFile('history.ndjson') });
 * ```
 */
export function ndjsonFile(path: string): BackfillSource {
  const file = localFile(path, 'ndjsonFile');
  return {
    id: `ndjson:${file}`,
    unit: 'bytes',
    splittable: true,
    spec: { kind: 'ndjson', path: file },
    size: async () => (await stat(file)).size,
    revision: () => fileRevision(file),
    // Checked here too: each shard but the first starts past the file's first line.
    split: async (count) => {
      refuseJsonArray(file, await fileHead(file));
      return byteRanges(file, count);
    },
    async *read(_group, range) {
      if ((range?.start ?? 0) === 0) refuseJsonArray(file, await fileHead(file));
      let index = 0;
      for await (const block of lineBlocks(file, range)) {
        let items: BackfillItem[] = [];
        // Valid UTF-8 (the usual case) is decoded once per block; a block with a bad byte goes line by
        // line. ASCII, the commonest, is read as latin1: the same string, several times faster to make.
        const ascii = isAscii(block.bytes);
        const text = ascii ? block.bytes.toString('latin1') : isUtf8(block.bytes) ? block.bytes.toString('utf8') : undefined;
        let byteOffset = block.offset;
        let from = 0;
        while (from < (text ?? block.bytes).length) {
          let next = text !== undefined ? text.indexOf('\n', from) : block.bytes.indexOf(10, from);
          if (next < 0) next = (text ?? block.bytes).length;
          const lineOffset = text === undefined || ascii ? block.offset + from : byteOffset;
          // A megabyte holds thousands of lines: they go on in blocks of rows, so each block's events
          // are through the pipeline (and garbage) before the next block's are parsed.
          if (items.length === BLOCK_ROWS) {
            yield { items, at: lineOffset };
            items = [];
          }
          let line: string | Buffer = text !== undefined ? text.slice(from, next) : block.bytes.subarray(from, next);
          if (text !== undefined && !ascii) byteOffset += Buffer.byteLength(line) + 1;
          from = next + 1;
          if ((typeof line === 'string' ? line.charCodeAt(line.length - 1) : line[line.length - 1]) === 13) line = line.slice(0, -1);
          if (line.length === 0) continue;
          // A line of white space only is blank too; trimmed only when its first character could be
          // white space (32 or below, or not ASCII), which spares ordinary lines the copy.
          const first = typeof line === 'string' ? line.charCodeAt(0) : (line[0] as number);
          if ((first <= 32 || first >= 128) && line.toString().trim() === '') continue;
          const position: SourcePosition = { source: 'backfill', index: index++, file, byteOffset: lineOffset };
          if (typeof line !== 'string' && !isUtf8(line)) {
            items.push({ raw: Buffer.from(line), unreadable: 'not valid UTF-8', position });
            continue;
          }
          const json = line.toString();
          try {
            items.push({ raw: JSON.parse(json), asRead: json, position });
          } catch (error) {
            items.push({ raw: json, unreadable: `not JSON: ${(error as Error).message}`, position });
          }
        }
        yield { items, at: block.offset + block.bytes.length };
      }
    },
  };
}
