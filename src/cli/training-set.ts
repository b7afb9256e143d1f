import { extname } from 'node:path';
import { loadFeatureGroups } from '../load-groups.js';
import { ConfigurationError, DataError } from '../errors.js';
import type { AnyFeatureSelection } from '../schema/types.js';
import { localStores } from '../local/stores.js';
import { createFeatureStore } from '../store/feature-store.js';
import { trainingSet } from '../training/training-set.js';
import { jsonLine } from './json.js';
import { requireLocalStore } from './store-dir.js';

export interface TrainingSetCommand {
  readonly definitions: string;
  readonly spine: string;
  /** `group:feature,feature` items. */
  readonly features: readonly string[];
  /** The spine column every group joins on; default: each group on the column named as its own record identifier. */
  readonly entityKey: string | undefined;
  readonly timestamp: string;
  readonly out: string;
  readonly maxAge: string | undefined;
  readonly exclusive: boolean;
  readonly knowledgeTime: boolean;
  readonly dir: string;
  readonly json: boolean;
}

/** `card-activity:amount,is_foreign` -> the group's selection of those features. */
export function parseFeatureArgument(text: string, groups: ReadonlyMap<string, { select(...features: string[]): AnyFeatureSelection }>): AnyFeatureSelection {
  const colon = text.lastIndexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const group = groups.get(name);
  if (!group) throw new ConfigurationError('INVALID_CONFIG', `--features ${text}: no feature group "${name}" (found: ${[...groups.keys()].join(', ')})`);
  const features = colon < 0 ? [] : text.slice(colon + 1).split(',').map((f) => f.trim()).filter(Boolean);
  if (features.length === 0) throw new ConfigurationError('INVALID_CONFIG', `--features ${text}: name the features, e.g. ${name}:amount,is_foreign`);
  return group.select(...features);
}

/**
 * A spine without a group's key column, said in the command line's terms: each group joins on the
 * column named as its record identifier unless `--entity-key` names one (the library says `entityKey`).
 */
function commandLineKeyHint(error: unknown, command: TrainingSetCommand, selected: readonly AnyFeatureSelection[]): unknown {
  // Only an error about a key column: a ragged row names none, and the hint would only distract.
  if (!(error instanceof DataError) || error.code !== 'INVALID_SPINE' || error.column === undefined) return error;
  if (!selected.some((s) => s.group.recordIdentifier === error.column || command.entityKey === error.column)) return error;
  const how = command.entityKey === undefined ? 'each group joins on the spine column named as its record identifier; --entity-key C joins every group on column C' : `--entity-key ${command.entityKey} joins every group on that column`;
  return new DataError('INVALID_SPINE', `${error.message}; on the command line, ${how}`, { row: error.row, column: error.column, cause: error });
}

/** A spine or output file by its extension: the command line has checked it is .csv or .parquet. */
const asFile = (path: string) => (extname(path).toLowerCase() === '.csv' ? { csv: path } : { parquet: path });

/** `skewless training-set`: a point-in-time training set from the local store in `dir` (refused if it holds none) into a file, and its summary. */
export async function runTrainingSetCommand(command: TrainingSetCommand, out: (line: string) => void, err: (text: string) => void): Promise<number> {
  const groups = await loadFeatureGroups(command.definitions);
  const selected = command.features.map((f) => parseFeatureArgument(f, groups as never));
  // The command line has no per-group key: without --entity-key each group joins on its own identifier's column.
  const features = command.entityKey === undefined ? selected.map((s) => s.with({ key: s.group.recordIdentifier })) : selected;
  const spine = asFile(command.spine);
  const output = asFile(command.out);
  requireLocalStore(command.dir);
  const store = createFeatureStore(localStores({ dir: command.dir }));
  err(`joining ${command.spine} with ${features.map((f) => f.groupName).join(', ')} as of "${command.timestamp}"...\n`);
  try {
    const { summary } = await trainingSet(store, {
      spine,
      entityKey: command.entityKey ?? (selected[0]?.group.recordIdentifier as string),
      timestamp: command.timestamp,
      features,
      output,
      inclusive: !command.exclusive,
      knowledgeTime: command.knowledgeTime,
      ...(command.maxAge ? { maxAge: command.maxAge } : {}),
    }).catch((error: unknown) => {
      throw commandLineKeyHint(error, command, selected);
    });
    if (command.json) {
      out(jsonLine(summary));
      return 0;
    }
    out(`training set: ${summary.rows.toLocaleString('en-US')} rows -> ${summary.output} (${summary.durationMs} ms, ${summary.engine === 'backend' ? 'DuckDB' : 'reference'} engine)`);
    out('  group                          match rate');
    for (const [group, rate] of Object.entries(summary.matchRate)) out(`  ${group.padEnd(30)} ${rate === undefined ? ' no spine rows' : `${(rate * 100).toFixed(1).padStart(6)}%`}`);
    out('  feature column                 nulls');
    for (const [column, nulls] of Object.entries(summary.nullCounts)) out(`  ${column.padEnd(30)} ${nulls.toLocaleString('en-US').padStart(7)}`);
    return 0;
  } finally {
    await store.close();
  }
}
