import { writeFileSync } from 'node:fs';
import { formatAuditReport, formatLineageReport, renderAuditHtml } from '../audit/render.js';
import { loadFeatureGroups, selectGroups } from '../load-groups.js';
import { audit } from '../audit/audit.js';
import { lineage } from '../audit/lineage.js';
import { localStores } from '../local/stores.js';
import { createFeatureStore } from '../store/feature-store.js';
import { jsonLine } from './json.js';
import { requireLocalStore } from './store-dir.js';
import { outputWriteError, prepareOutputFile } from '../util/output-file.js';

export interface AuditCommand {
  readonly definitions: string;
  readonly group: string;
  readonly sample: number | undefined;
  readonly seed: number | undefined;
  readonly at: Date | undefined;
  readonly availabilityDelay: string | undefined;
  readonly tolerance: number | undefined;
  readonly dir: string;
  readonly json: boolean;
  readonly html: string | undefined;
}

/** `skewless audit`: the consistency audit of a group on the local store in `dir` (refused if it holds none), as a table, JSON or an HTML page. */
export async function runAuditCommand(command: AuditCommand, out: (line: string) => void, err: (text: string) => void): Promise<number> {
  const [group] = selectGroups(await loadFeatureGroups(command.definitions), command.group);
  requireLocalStore(command.dir);
  // Its folder is made as a checkpoint's is, and first: an audit is not lost for want of one.
  if (command.html) prepareOutputFile(command.html, '--html');
  const store = createFeatureStore(localStores({ dir: command.dir }));
  try {
    err(`auditing "${command.group}"...\n`);
    const report = await audit(store, group as NonNullable<typeof group>, {
      ...(command.sample !== undefined ? { sample: command.sample } : {}),
      ...(command.seed !== undefined ? { seed: command.seed } : {}),
      ...(command.at ? { at: command.at } : {}),
      ...(command.availabilityDelay ? { availabilityDelay: command.availabilityDelay } : {}),
      ...(command.tolerance !== undefined ? { tolerance: command.tolerance } : {}),
    });
    if (command.html) {
      try {
        writeFileSync(command.html, renderAuditHtml(report));
      } catch (cause) {
        throw outputWriteError('the audit page', command.html, cause);
      }
      err(`wrote ${command.html}\n`);
    }
    out(command.json ? jsonLine(report) : formatAuditReport(report));
    return 0;
  } finally {
    await store.close();
  }
}

/** `skewless lineage`: which fingerprints wrote a group's records, offline and online, in the local store in `dir` (refused if it holds none). */
export async function runLineageCommand(command: Pick<AuditCommand, 'definitions' | 'group' | 'sample' | 'dir' | 'json'>, out: (line: string) => void): Promise<number> {
  const [group] = selectGroups(await loadFeatureGroups(command.definitions), command.group);
  requireLocalStore(command.dir);
  const store = createFeatureStore(localStores({ dir: command.dir }));
  try {
    const report = await lineage(store, group as NonNullable<typeof group>, command.sample !== undefined ? { sample: command.sample } : {});
    out(command.json ? jsonLine(report) : formatLineageReport(report));
    return 0;
  } finally {
    await store.close();
  }
}
