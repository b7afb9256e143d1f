import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { backfill, backfillKey, type BackfillTarget } from '../backfill/backfill.js';
import { planBackfill } from '../backfill/plan.js';
import { fileSource } from '../backfill/sources/index.js';
import { loadFeatureGroups, selectGroups } from '../load-groups.js';
import { backfillOnWorkers } from '../local/worker-backfill.js';
import { localStores } from '../local/stores.js';
import { createFeatureStore } from '../store/feature-store.js';
import { jsonLine } from './json.js';

/**
 * The input each planned shard is given at least (a file smaller than this is one shard of its own):
 * below it, starting a thread (and loading the definitions there) takes longer than reading the rows,
 * so a small file is not spread over many threads.
 */
const MIN_SHARD_BYTES = 8 * 1024 * 1024;

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

/** `[#########.........]  45%  1,234,567 rows  98,765/s  ETA 12s  poison 3` */
export function progressLine(fraction: number | undefined, done: number, rate: number, eta: number | undefined, poison: number): string {
  const width = 24;
  const filled = fraction === undefined ? 0 : Math.round(Math.min(1, fraction) * width);
  const bar = fraction === undefined ? '' : `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.floor(Math.min(1, fraction) * 100)).padStart(3)}%  `;
  const etaText = eta === undefined ? '' : `  ETA ${eta < 60 ? `${Math.ceil(eta)}s` : `${Math.floor(eta / 60)}m${String(Math.ceil(eta % 60)).padStart(2, '0')}s`}`;
  return `${bar}${done.toLocaleString('en-US')} rows  ${rate.toLocaleString('en-US')}/s${etaText}  poison ${poison.toLocaleString('en-US')}`;
}

/** A progress display: redrawn in place on a terminal, a line every 10% otherwise. */
export function progressWriter(stream: Pick<NodeJS.WriteStream, 'write' | 'isTTY'>): { update(line: string, fraction: number | undefined): void; end(): void } {
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
      // The last line waits for the end, with the final counts: once, not once per update at 100%.
      if (tenth > lastTenth && (fraction === undefined || fraction < 1)) {
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
  const sources = command.from.map((file) => fileSource(file));
  const checkpointDir = join(command.dir, 'backfill', group.name, 'checkpoints');
  const display = progressWriter(err);
  const started = Date.now();
  const results: { written: number; poison: number; records: number; resumed: boolean; rejects: string[]; online?: { applied: number; stale: number; accepted: number; failed: number } } = { written: 0, poison: 0, records: 0, resumed: false, rejects: [] };

  const progress = (p: { fraction: number | undefined; done: number; recordsPerSecond: number; etaSeconds: number | undefined; poison: number }) =>
    display.update(progressLine(p.fraction, p.done, p.recordsPerSecond, p.etaSeconds, p.poison), p.fraction);
  const count = (s: { written: number; poison: number; records: number; resumed: boolean }, rejects: readonly (string | undefined)[]) => {
    results.written += s.written;
    results.poison += s.poison;
    results.records += s.records;
    results.resumed ||= s.resumed;
    for (const file of rejects) if (file) results.rejects.push(file);
  };

  // Workers write offline; the online part (latest record per identifier) is then one pass here.
  const useWorkers = command.workers > 1 && command.to !== 'online';
  const inProcess: BackfillTarget | undefined = useWorkers ? (command.to === 'both' ? 'online' : undefined) : command.to;
  if (useWorkers) {
    const summary = await backfillOnWorkers({
      definitions: resolve(command.definitions),
      group: group.name,
      shards: await planBackfill(group, { from: sources, shards: Math.max(1, Math.min(command.workers * 2, Math.floor((await inputBytes(command.from)) / MIN_SHARD_BYTES))) }),
      workers: command.workers,
      dir: command.dir,
      checkpointDir,
      ...(command.workerScript ? { workerScript: command.workerScript } : {}),
      ...(command.chunkSize ? { chunkSize: command.chunkSize } : {}),
      onProgress: progress,
    });
    count({ ...summary, resumed: summary.shards.some((s) => s.resumedAtChunk > 0) }, summary.shards.map((s) => s.rejectsFile));
  }

  const store = createFeatureStore(localStores({ dir: command.dir }));
  // After workers, the online pass reads rows whose poison the workers' rejects files already hold:
  // its own go to a scratch file, removed after, so each poison row is written once.
  const scratch = useWorkers && inProcess ? await mkdtemp(join(tmpdir(), 'skewless-online-pass-')) : undefined;
  try {
    for (const source of inProcess ? sources : []) {
      const summary = await backfill(store, group, {
        from: source,
        to: inProcess as BackfillTarget,
        ...(scratch ? { rejects: join(scratch, 'rejects.ndjson') } : {}),
        checkpoint: join(checkpointDir, `${inProcess}-${backfillKey(group, source, undefined)}.json`),
        ...(command.chunkSize ? { chunkSize: command.chunkSize } : {}),
        onProgress: progress,
      });
      // After workers the rows were already counted; this pass only adds the online outcomes.
      if (!useWorkers) count({ ...summary, resumed: summary.resumedAtChunk > 0 }, [summary.rejectsFile]);
      if (summary.online) {
        const online = (results.online ??= { applied: 0, stale: 0, accepted: 0, failed: 0 });
        for (const k of ['applied', 'stale', 'accepted', 'failed'] as const) online[k] += summary.online[k];
      }
    }
  } finally {
    display.end();
    await store.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }

  const seconds = (Date.now() - started) / 1000;
  const report = {
    group: group.name,
    to: command.to,
    records: results.records,
    resumed: results.resumed,
    written: results.written,
    poison: results.poison,
    ...(results.online ? { online: results.online } : {}),
    rejects: results.rejects,
    seconds: Number(seconds.toFixed(2)),
    recordsPerSecond: seconds > 0 ? Math.round(results.records / seconds) : results.records,
    offlineDir: join(command.dir, 'offline'),
  };
  if (command.json) out(jsonLine(report));
  else {
    // A resumed run read only the rows after its checkpoint; what is written and poison counts the whole input.
    const read = `${report.records.toLocaleString('en-US')} ${report.records === 1 ? 'row' : 'rows'} read`;
    const totals = `${report.written.toLocaleString('en-US')} written, ${report.poison.toLocaleString('en-US')} poison`;
    const counts = report.resumed ? `resumed from its checkpoint, ${read} in this run; in all ${totals}` : `${read}, ${totals}`;
    out(`backfilled ${group.name}: ${counts} in ${report.seconds}s (${report.recordsPerSecond.toLocaleString('en-US')}/s)`);
    if (command.to !== 'online') out(`  offline store: ${report.offlineDir}`);
    if (results.online) out(`  online: ${results.online.applied} applied, ${results.online.stale} stale, ${results.online.failed} failed`);
    for (const file of results.rejects) out(`  rejects: ${file}`);
  }
  // Every row refused is a schema that does not fit the data, not a run that worked: say so in the exit
  // code. Judged by the totals, which a resumed run counts over the whole input as well.
  const allPoison = results.poison > 0 && results.written === 0;
  if (allPoison) err.write(`every one of the ${results.poison.toLocaleString('en-US')} rows was poison: the source schema of "${group.name}" does not fit this data; see the rejects file for the reasons\n`);
  return allPoison || (results.online && results.online.failed > 0) ? 1 : 0;
}

async function inputBytes(files: readonly string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += (await stat(file)).size;
  return total;
}
