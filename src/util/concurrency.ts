/** `items` in consecutive slices of at most `size`: a batch API's calls (BatchGetItem's 100 keys, BatchWriteItem's 25). */
export function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/**
 * Runs `task` over `items` with at most `limit` in flight, keeping results in input order.
 */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}

/**
 * Writes records so that records of one identifier go one after another, in input order, while
 * different identifiers go concurrently (up to `limit`). When `halt` turns a result into a value, the
 * key's later items get that value instead of running: a record written after an earlier one of its
 * identifier failed would overtake it (on equal event times the online store keeps the first).
 */
export async function inOrderPerKey<T, R>(
  items: readonly T[],
  keyOf: (item: T) => string,
  limit: number,
  task: (item: T, index: number) => Promise<R>,
  halt?: (result: R) => R | undefined,
): Promise<R[]> {
  const chains = new Map<string, number[]>();
  items.forEach((item, index) => {
    const key = keyOf(item);
    const chain = chains.get(key);
    if (chain) chain.push(index);
    else chains.set(key, [index]);
  });
  const results = new Array<R>(items.length);
  await mapConcurrent([...chains.values()], limit, async (chain) => {
    let halted: R | undefined;
    for (const index of chain) {
      if (halted !== undefined) {
        results[index] = halted;
        continue;
      }
      const result = await task(items[index] as T, index);
      results[index] = result;
      halted = halt?.(result);
    }
  });
  return results;
}

/** True while there is time to start another piece of work before `deadline` (epoch ms). */
export function beforeDeadline(deadline: number | undefined): boolean {
  return deadline === undefined || Date.now() < deadline;
}
