// The local stack in its own process, as `npx skewless local` runs it, so client and server do not share a thread.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export async function spawnStack() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('../dist/cli.js', import.meta.url)), 'local', '--port', '0', '--memory'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoint = await new Promise((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (chunk) => {
      text += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(text);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`skewless local exited with ${code}`)));
  });
  const clientConfig = { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } };
  return {
    clientConfig,
    pid: child.pid,
    /** Sets the stack's injected faults through its admin endpoint; answers the calls and faults counted so far. */
    setFaults: async (faults) => {
      const response = await fetch(`${endpoint}/_skewless/faults`, { method: 'PUT', body: JSON.stringify(faults) });
      if (!response.ok) throw new Error(`setting faults failed: ${response.status}`);
      return response.json();
    },
    close: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGINT');
      }),
  };
}
