import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isFeatureGroup } from './feature-group.js';
import { ConfigurationError } from './errors.js';
import type { AnyFeatureGroup } from './schema/types.js';

/**
 * Imports a definitions module and returns every feature group it exports, by name.
 *
 * ### Example
 * ```ts
 * const groups = await loadFeatureGroups('dist/features.js');   // Map { 'card-activity' => group, ... }
 * ```
 */
export async function loadFeatureGroups(file: string): Promise<Map<string, AnyFeatureGroup>> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (cause) {
    const hint = /\.[cm]?ts$/.test(file) ? ' (Node 20 cannot import TypeScript: build it first, or run with `node --import tsx`)' : '';
    throw new ConfigurationError('INVALID_CONFIG', `cannot import definitions from ${file}${hint}: ${(cause as Error).message}`, { cause });
  }
  const groups = new Map<string, AnyFeatureGroup>();
  const exportOf = new Map<AnyFeatureGroup, string>();
  for (const [exported, value] of Object.entries(module)) {
    if (!isFeatureGroup(value)) continue;
    const earlier = groups.get(value.name);
    // Two definitions of one name: which one a plan, an audit or a backfill used would be a guess.
    // The same definition made twice (a factory called twice) is one: its fingerprint says so.
    if (earlier !== undefined && earlier.fingerprint !== value.fingerprint) {
      throw new ConfigurationError(
        'INVALID_CONFIG',
        `${file} exports two feature groups named "${value.name}": ${exportOf.get(earlier)} (fingerprint ${earlier.fingerprint}) and ${exported} (fingerprint ${value.fingerprint}); export one definition per group`,
      );
    }
    if (earlier !== undefined) continue;
    groups.set(value.name, value);
    exportOf.set(value, exported);
  }
  if (groups.size === 0) throw new ConfigurationError('INVALID_CONFIG', `${file} exports no feature group made with defineFeatureGroup`);
  return groups;
}

/**
 * The groups named, or all of them; an unknown name is an error listing the known ones.
 *
 * ### Example
 * ```ts
 * const [group] = selectGroups(await loadFeatureGroups('dist/features.js'), 'card-activity');
 * ```
 */
export function selectGroups(groups: Map<string, AnyFeatureGroup>, name: string | undefined): AnyFeatureGroup[] {
  if (name === undefined) return [...groups.values()];
  const group = groups.get(name);
  if (!group) throw new ConfigurationError('INVALID_CONFIG', `no feature group "${name}" (found: ${[...groups.keys()].join(', ')})`);
  return [group];
}
