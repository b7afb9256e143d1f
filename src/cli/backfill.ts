import { extname, join, resolve } from 'node:path';
import type { BackfillSummary, BackfillTarget } from '../backfill/backfill.js';
import { planBackfill } from '../backfill/plan.js';
import { type BackfillSource, csvFile, ndjsonFile, parquetFile } from '../backfill/sources.js';
import { loadFeatureGroups, selectGroups } from '../definitions.js';
import { ConfigurationError } from '../errors.js';
import { backfillOnWorkers } from '../local/backfill-workers.js';
import { createFeatureStore } from '../store/feature-store.js';

export interface BackfillCommand {
  readonly definitions: string;
  readonly group: string;
  readonly from: readonly string[];
  readonly to: BackfillTarget;
  readonly workers: number;
  readonly dir: string;
  readonly chunkSize: number | undefined;
  readonly json: boolean;
  /** The worker thread script; default the one in dist/ (tests pass one built from src). */
  readonly workerScript?: string;
}

/** The source for a file, by its extension. */
export function sourceForFile(file: string): BackfillSource {
  switch (extname(file).toLowerCase()) {
    case '.ndjson':
    case '.jsonl':
    case '.json':
      return ndjsonFile(file);
    case '.csv':
      return csvFile(file);
    case '.parquet':
      return parquetFile(file);
    default:
      throw new ConfigurationError('INVALID_CONFIG', `cannot tell the format of ${file}: name it .ndjson, .jsonl, .csv or .parquet`);
  }
}

/** `[#########.........]  45%  1,234,567 rows  98,765/s  ETA 12s  poison 3` */
export function progressLine(fraction: number | undefined, done: number, rate: number, eta: number | undefined, poison: number): string {
  const width = 24;
  const filled = fraction === undefined ? 0 : Math.round(Math.min(1, fraction) * width);
  const bar = fraction === undefined ? '' : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(Math.min(1, fraction) * 100)).padStart(3)}%  `;
  const etaText = eta === undefined ? '' : `  ETA ${eta < 60 ? `${Math.ceil(eta)}s` : `${Math.floor(eta / 60)}m${String(Math.ceil(eta % 60)).padStart(2, '0')}s`}`;
  return `${bar}${done.toLocaleString('en-US')} rows  ${rate.toLocaleString('en-US')}/s${etaText}  poison ${poison.toLocaleString('en-US')}`;
}

/** A progress display: redrawn in place on a terminal, a line every 10% otherwise. */
function progressWriter(stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>): { update(line: string, fraction: number | undefined): void; end(): void } {
  let lastTenth = -1;
  let drawn = false;
  let pending: string | undefined;
  return {
    update(line, fraction) {
      if (stream.isTTY) {
        stream.write(`\r${line}\u001b[K`);
        drawn = true;
        return;
      }
      const tenth = fraction === undefined ? lastTenth + 1 : Math.floor(fraction * 10);
      if (tenth > lastTenth) {
        lastTenth = tenth;
        stream.write(`${line}\n`);
        pending = undefined;
      } else pending = line;
    },
    end() {
      if (drawn) stream.write('\n');
      else if (pending) stream.write(`${pending}\n`);
    },
  };
}

/**
 * `skewless backfill`: one process, or `--workers N` threads over a plan of shards. Checkpoints live
 * under `<dir>/backfill/<group>/`, so running the same command again after a crash resumes it.
 */
export async function runBackfillCommand(command: BackfillCommand, out: (line: string) => void, err: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>): Promise<number> {
  const [group] = selectGroups(await loadFeatureGroups(command.definitions), command.group);
  if (!group) return 1;
  const sources = command.from.map(sourceForFile);
  const checkpointDir = join(command.dir, 'backfill', group.name, 'checkpoints');
  const display = progressWriter(err);
  const started = Date.now();
  const results: { written: number; poison: number; records: number; rejects: string[]; online?: BackfillSummary['online'] } = { written: 0, poison: 0, records: 0, rejects: [] };

  const offlineToo = command.to !== 'online';
  if (command.workers > 1 && offlineToo) {
    const shards = await planBackfill(group, { from: sources, shards: command.workers * 2 });
    const summary = await backfillOnWorkers({
      definitions: resolve(command.definitions),
      group: group.name,
      shards,
      workers: command.workers,
      dir: command.dir,
      checkpointDir,
      ...(command.workerScript ? { workerScript: command.workerScript } : {}),
      ...(command.chunkSize ? { chunkSize: command.chunkSize } : {}),
      onProgress: (p) => display.update(progressLine(p.fraction, p.done, p.recordsPerSecond, p.etaSeconds, p.poison), p.fraction),
    });
    results.written += summary.written;
    results.poison += summary.poison;
    results.records += summary.records;
    for (const s of summary.shards) if (s.rejectsFile) results.rejects.push(s.rejectsFile);
  }

  // One process: everything when there are no workers, else the online pass the workers leave.
  const store = createFeatureStore({ dir: command.dir });
  try {
    const target: BackfillTarget = command.workers > 1 && offlineToo ? (command.to === 'both' ? 'online' : 'offline') : command.to;
    if (!(command.workers > 1 && command.to === 'offline')) {
      for (const source of sources) {
        const summary = await store.backfill(group, {
          from: source,
          to: target,
          checkpoint: join(checkpointDir, `${target}-${Buffer.from(source.id).toString('base64url').slice(-40)}.json`),
          ...(command.chunkSize ? { chunkSize: command.chunkSize } : {}),
          onProgress: (p) => display.update(progressLine(p.fraction, p.done, p.recordsPerSecond, p.etaSeconds, p.poison), p.fraction),
        });
        if (target !== 'online' || command.workers <= 1) {
          results.written += summary.written;
          results.poison += summary.poison;
          results.records += summary.records;
          if (summary.rejectsFile) results.rejects.push(summary.rejectsFile);
        }
        if (summary.online) results.online = summary.online;
      }
    }
  } finally {
    display.end();
    await store.close();
  }

  const seconds = (Date.now() - started) / 1000;
  const report = {
    group: group.name,
    to: command.to,
    records: results.records,
    written: results.written,
    poison: results.poison,
    ...(results.online ? { online: results.online } : {}),
    rejects: results.rejects,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSecond: seconds > 0 ? Math.round(results.records / seconds) : results.records,
    offlineDir: join(command.dir, 'offline'),
  };
  if (command.json) out(JSON.stringify(report));
  else {
    out(`backfilled ${group.name}: ${report.records.toLocaleString('en-US')} rows read, ${report.written.toLocaleString('en-US')} written, ${report.poison.toLocaleString('en-US')} poison in ${report.seconds}s (${report.recordsPerSecond.toLocaleString('en-US')}/s)`);
    if (command.to !== 'online') out(`  offline store: ${report.offlineDir}`);
    if (results.online) out(`  online: ${results.online.applied} applied, ${results.online.stale} stale, ${results.online.failed} failed`);
    for (const file of results.rejects) out(`  rejects: ${file}`);
  }
  return results.online && results.online.failed > 0 ? 1 : 0;
}
