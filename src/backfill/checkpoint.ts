import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { appendFile, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RecordError } from '../errors.js';
import { deadLetterJson } from '../store/dead-letter.js';

/** What a backfill records after each chunk, to resume after the last one it finished. */
export interface Checkpoint {
  readonly version: 1;
  readonly key: string;
  /** The group's fingerprint: a checkpoint written by other code is not resumed. */
  readonly fingerprint: string;
  /** The source's revision when it has one (a file's size and modification time): a changed source is not resumed. */
  readonly revision: string | undefined;
  readonly chunkSize: number;
  readonly chunksDone: number;
  readonly rowsDone: number;
  readonly written: number;
  readonly poison: number;
  readonly rejectsBytes: number;
}

function readCheckpoint(path: string): Checkpoint | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Checkpoint;
  } catch {
    return undefined;
  }
}

/** The checkpoint at `path` if it is of this very input (as it is now), chunking and code; anything else starts over. */
export function resumableCheckpoint(path: string | undefined, input: Pick<Checkpoint, 'key' | 'chunkSize' | 'fingerprint' | 'revision'>): Checkpoint | undefined {
  const saved = path === undefined ? undefined : readCheckpoint(path);
  return saved && saved.key === input.key && saved.chunkSize === input.chunkSize && saved.fingerprint === input.fingerprint && saved.revision === input.revision ? saved : undefined;
}

export function writeCheckpoint(path: string, checkpoint: Checkpoint): void {
  mkdirSync(dirname(path), { recursive: true });
  // Written aside and renamed: a process killed mid-write leaves the previous checkpoint intact.
  writeFileSync(`${path}.tmp`, JSON.stringify(checkpoint));
  renameSync(`${path}.tmp`, path);
}

/**
 * A row the backfill refused, kept for the rejects file; `at` is its place among the rows it was read
 * with, and its error carries where the source holds it.
 */
export interface Rejected {
  readonly at: number;
  readonly raw: unknown;
  readonly error: RecordError;
}

/**
 * The rejects file: one JSON line per poison row. A resumed run cuts it back to what its checkpoint
 * counted (a crash may have come between the two writes); a new run empties it.
 */
export class RejectsFile {
  private constructor(
    readonly path: string,
    private size: number,
  ) {}

  static async open(path: string, resume: Checkpoint | undefined): Promise<RejectsFile> {
    mkdirSync(dirname(path), { recursive: true });
    if (resume) await truncate(path, resume.rejectsBytes).catch(() => writeFileSync(path, ''));
    else writeFileSync(path, '');
    return new RejectsFile(path, resume?.rejectsBytes ?? 0);
  }

  /** Bytes written so far: the checkpoint's `rejectsBytes`. */
  get bytes(): number {
    return this.size;
  }

  async append(group: string, rejected: readonly Rejected[], at: Date): Promise<void> {
    if (rejected.length === 0) return;
    const text = `${rejected.map((r) => deadLetterJson({ group, raw: r.raw, error: r.error, position: r.error.position }, at)).join('\n')}\n`;
    await appendFile(this.path, text);
    this.size += Buffer.byteLength(text);
  }
}
