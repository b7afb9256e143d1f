import type { Checkpoint } from './checkpoint.js';
import type { OnlineCounts } from './chunk.js';

/** What a backfill reports after every chunk and at the end. */
export interface BackfillProgress {
  /** Input rows read so far (poison included). */
  readonly done: number;
  readonly written: number;
  readonly poison: number;
  /** How far through the input, 0..1, when the source's size is known. */
  readonly fraction: number | undefined;
  readonly recordsPerSecond: number;
  /** Seconds left at the current rate, when the size is known. */
  readonly etaSeconds: number | undefined;
  readonly elapsedMs: number;
}

/** A backfill's running totals (from its checkpoint when resumed) and the progress it reports. */
export class BackfillTotals {
  rowsDone: number;
  written: number;
  poison: number;
  chunksDone: number;
  /** Rows this run read (a resumed run does not count the rows it skipped). */
  rowsThisRun = 0;
  /** How far through the source the written chunks reach, in its rows or bytes. */
  at: number;
  readonly online: OnlineCounts = { applied: 0, stale: 0, accepted: 0, failed: 0 };
  private readonly started = Date.now();

  constructor(
    resume: Checkpoint | undefined,
    private readonly rangeStart: number,
    private readonly rangeSize: number | undefined,
  ) {
    this.rowsDone = resume?.rowsDone ?? 0;
    this.written = resume?.written ?? 0;
    this.poison = resume?.poison ?? 0;
    this.chunksDone = resume?.chunksDone ?? 0;
    this.at = rangeStart;
  }

  /** Counts a finished chunk. */
  add(chunk: number, done: { rows: number; written: number; poison: number; online: OnlineCounts; at: number }): void {
    this.rowsDone += done.rows;
    this.rowsThisRun += done.rows;
    this.written += done.written;
    this.poison += done.poison;
    for (const k of ['applied', 'stale', 'accepted', 'failed'] as const) this.online[k] += done.online[k];
    this.chunksDone = chunk + 1;
    // Progress counts what is written, not what has been read ahead.
    this.at = done.at;
  }

  elapsedMs(): number {
    return Date.now() - this.started;
  }

  progress(): BackfillProgress {
    const elapsedMs = this.elapsedMs();
    const rate = elapsedMs > 0 ? (this.rowsThisRun * 1000) / elapsedMs : 0;
    const fraction = this.rangeSize ? Math.min(1, (this.at - this.rangeStart) / this.rangeSize) : undefined;
    // No estimate before the first row is written, or without a size; 0 once done.
    const etaSeconds = fraction ? ((elapsedMs / 1000) * (1 - fraction)) / fraction : undefined;
    return { done: this.rowsDone, written: this.written, poison: this.poison, fraction, recordsPerSecond: Math.round(rate), etaSeconds, elapsedMs };
  }
}
