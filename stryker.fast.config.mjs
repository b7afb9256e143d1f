// `npm run mutation:fast`: the mutation run without the TypeScript checker. On two cores the checker
// holds one of them, so this runs about twice as fast; mutants TypeScript would refuse then run too,
// and count (killed or survived) instead of being left out as compile errors.
import base from './stryker.config.mjs';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default { ...base, checkers: [] };
