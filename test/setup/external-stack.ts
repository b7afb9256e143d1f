import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const root = fileURLToPath(new URL('../../', import.meta.url));

export interface ExternalStack {
  readonly endpoint: string;
  readonly clientConfig: { endpoint: string; region: string; credentials: { accessKeyId: string; secretAccessKey: string } };
  setFaults(faults: Record<string, unknown>): Promise<{ counts: Record<string, { calls: number; throttled: number; failed: number; unprocessed: number }> }>;
  close(): Promise<void>;
}

/**
 * The local stack in a process of its own (Node 20 cannot run TypeScript, so esbuild bundles the
 * source first), so a load test's client and the stack each get a core.
 */
export async function spawnLocalStack(dir: string): Promise<ExternalStack> {
  const cache = `${root}node_modules/.cache/skewless-test`;
  mkdirSync(cache, { recursive: true });
  writeFileSync(
    `${cache}/stack-entry.ts`,
    `import { startLocalStack } from '${root}src/local/index.ts';
     const stack = await startLocalStack({ dir: process.argv[2], port: 0 });
     process.stdout.write(stack.endpoint + '\\n');
     process.on('SIGTERM', () => { void stack.close().then(() => process.exit(0)); });`,
  );
  buildSync({
    entryPoints: [`${cache}/stack-entry.ts`],
    outfile: `${cache}/stack.mjs`,
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['@duckdb/*', '@aws-sdk/*', 'zod'],
    logLevel: 'error',
  });
  const child: ChildProcess = spawn(process.execPath, [`${cache}/stack.mjs`, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = /^(http:\/\/\S+)\n/m.exec(text);
      if (line) resolve(line[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`the local stack process exited with ${code}`)));
  });
  return {
    endpoint,
    clientConfig: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } },
    async setFaults(faults) {
      const response = await fetch(`${endpoint}/_skewless/faults`, { method: 'PUT', body: JSON.stringify(faults) });
      return (await response.json()) as never;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
