import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type AnyFeatureGroup, ConfigurationError } from '../src/index.js';
import { loadFeatureGroups } from '../src/load-groups.js';
import { bundleDefinitions } from './fixtures/definitions.js';

const built: string[] = [];
afterAll(() => {
  for (const file of built) rmSync(file, { force: true });
});

/** A definitions module exporting `body`, over three definitions of one group: v1, v2 and v1 made again. */
function definitions(name: string, body: string): string {
  const group = (version: number) =>
    `defineFeatureGroup({ name: 'cards', recordIdentifier: 'id', eventTime: 't', source: z.object({ id: z.string(), t: isoTimestamp() }), ` +
    `features: z.object({ id: z.string(), t: z.date(), v: z.number() }), transform: (e) => ({ ...e, v: ${version} }) })`;
  const file = bundleDefinitions(name, `import { z } from 'zod';\nimport { defineFeatureGroup, isoTimestamp } from './index.ts';\nconst v1 = ${group(1)};\nconst v2 = ${group(2)};\nconst v1Again = ${group(1)};\n${body}\n`);
  built.push(file);
  return file;
}

describe('loadFeatureGroups', () => {
  it('refuses two definitions exported under one group name, naming both exports and their fingerprints', async () => {
    const file = definitions('two-versions', 'export { v1 as cards, v2 as cardsNext };');
    const loading = loadFeatureGroups(file);
    await expect(loading).rejects.toThrow(ConfigurationError);
    await expect(loading).rejects.toThrow(new RegExp(`exports two feature groups named "cards": cards \\(fingerprint [0-9a-f]{16}\\) and cardsNext \\(fingerprint [0-9a-f]{16}\\); export one definition per group$`));
  });

  it('takes one definition exported under two names, or made twice alike, as one group', async () => {
    const file = definitions('one-twice', 'export { v1 as cards, v1 as default, v1Again as again };\nexport const unused = v2.name;');
    const groups = await loadFeatureGroups(file);
    expect([...groups.keys()]).toEqual(['cards']);
    const { cards, again } = (await import(file)) as Record<string, AnyFeatureGroup>;
    // Module namespaces list exports alphabetically: `again` is met first, and kept.
    expect(groups.get('cards')).toBe(again);
    expect(again).not.toBe(cards);
    expect(again?.fingerprint).toBe(cards?.fingerprint);
  });
});
