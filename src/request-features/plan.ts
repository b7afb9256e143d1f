// How a `features` list (selections and request features) becomes what the engines already run: the
// selections to join, and the request features to run over each joined row afterwards. The join never
// learns about request features, so every engine (reference, DuckDB, Athena, the online read) stays as it is.
import { DefinitionError } from '../errors.js';
import type { AnyFeatureColumns, AnyFeatureSelection, AnyRequestFeatures } from '../schema/types.js';
import { type FeatureListPlan, isRequestFeatures, type RequestOutputColumn, requestFeaturesInternals } from './brand.js';
import { runRequestFeatures } from './run.js';
import { prefixOf, withMaxAge } from '../sql/plan.js';

/** One read as a request feature sees it: its name, and per feature the joined column holding it and its step. */
interface ResolvedRead {
  readonly name: string;
  readonly step: number;
  readonly columns: ReadonlyMap<string, string>;
}


/**
 * Splits a `features` list: selections (each with the default `maxAge` unless it has its own) to join,
 * and request features whose reads join too — reusing a listed selection of the same group, key and
 * `maxAge` that holds the read's features, else as a step of its own whose columns are dropped once the
 * request features ran. Two columns of the same name (request outputs among themselves or with a
 * selection's) are a DefinitionError.
 */
export function planFeatureList(features: readonly AnyFeatureColumns[], entityKey: string, maxAge: string | undefined): FeatureListPlan {
  const selections = features.filter((f): f is AnyFeatureSelection => !isRequestFeatures(f)).map((s) => withMaxAge(s, maxAge));
  const requestFeatures = features.filter(isRequestFeatures);
  const listed = selections.length;
  const sameRead = (a: AnyFeatureSelection, b: AnyFeatureSelection) =>
    a.group === b.group && (a.options.key ?? entityKey) === (b.options.key ?? entityKey) && a.options.maxAge === b.options.maxAge;

  const runs = requestFeatures.map((request) => {
    const reads: ResolvedRead[] = Object.entries(request.reads as Record<string, AnyFeatureSelection>).map(([name, given]) => {
      const read = withMaxAge(given, maxAge);
      let step = selections.findIndex((s, i) => i < listed && sameRead(s, read) && read.features.every((f) => s.features.includes(f)));
      if (step < 0) {
        step = selections.length;
        // A prefix no spine or selection column plausibly has; the columns are dropped once the request features ran.
        selections.push(read.with({ prefix: `__skewless_read_${step}__` }));
      }
      const prefix = prefixOf(selections[step] as AnyFeatureSelection);
      return { name, step, columns: new Map(read.features.map((f) => [f, `${prefix}${f}`])) };
    });
    return { request, reads, prefix: request.options.prefix ?? `${request.name}__` };
  });

  if (selections.length === 0) {
    const names = requestFeatures.map((r) => `"${r.name}"`).join(', ');
    throw new DefinitionError('INVALID_OPTION', `request features ${names} read no feature group, and the list has no selection to join: add a group's selection (group.select(...)) to the features, or give them reads`, { group: requestFeatures[0]?.name });
  }
  const outputs: RequestOutputColumn[] = [];
  const taken = new Set(selections.slice(0, listed).flatMap((s) => s.features.map((f) => `${prefixOf(s)}${f}`)));
  for (const { request, prefix } of runs) {
    for (const spec of requestFeaturesInternals(request).outputs) {
      const name = `${prefix}${spec.name}`;
      if (taken.has(name)) throw new DefinitionError('INVALID_OPTION', `request features "${request.name}" and another feature produce the column "${name}": give one a prefix`, { group: request.name, feature: spec.name });
      taken.add(name);
      outputs.push({ name, kind: spec.kind, list: spec.collection !== undefined, from: request.name });
    }
  }
  const hidden = selections.slice(listed).flatMap((s) => s.features.map((f) => `${prefixOf(s)}${f}`));

  return {
    selections,
    listed,
    hidden,
    outputs,
    hasRequestFeatures: runs.length > 0,
    completeRow(row, index, source, unavailable) {
      for (const { request, reads, prefix } of runs) {
        const failed = unavailable !== undefined && reads.some((read) => unavailable(read.step));
        const values = failed
          ? undefined
          : runRequestFeatures(request as AnyRequestFeatures, row, Object.fromEntries(reads.map((read) => [read.name, Object.fromEntries([...read.columns].map(([f, column]) => [f, row[column] ?? null]))])), index, source);
        for (const name of request.featureNames) row[`${prefix}${name}`] = values?.[name] ?? null;
      }
      for (const column of hidden) delete row[column];
    },
  };
}
