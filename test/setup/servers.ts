import { type ChildProcess, spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    kinesisEndpoint: string;
    /** moto's server: a second implementation of DynamoDB, SQS, S3, Kinesis and CloudFormation that we did not write. */
    motoEndpoint: string;
  }
}

interface Listening {
  listen(port: number, host: string, done: () => void): void;
  address(): AddressInfo | string | null;
  close(done: () => void): void;
}

async function start(server: Listening): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * `python3 -m moto.server`, exiting when its stdin reaches end of file: the pipe closes when the
 * process that started it ends, however it ends. A killed or restarted test worker (Stryker restarts
 * its runners after a timeout) then leaves no moto server behind.
 */
const MOTO_TIED_TO_PARENT = [
  'import os, runpy, sys, threading',
  'threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()',
  "sys.argv[0] = 'moto.server'",
  "runpy.run_module('moto.server', run_name='__main__', alter_sys=True)",
].join('\n');

/**
 * moto's server (`python3 -m moto.server`) on a free loopback port. It is required: nothing can be
 * installed from PyPI here, so a machine without it fails the run, loudly, instead of skipping.
 */
async function startMoto(): Promise<{ endpoint: string; process: ChildProcess }> {
  const child = spawn('python3', ['-c', MOTO_TIED_TO_PARENT, '-H', '127.0.0.1', '-p', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`moto's server did not start within 30 s:\n${output}`)), 30_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /Running on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.on('error', (error) => reject(new Error(`cannot start python3 -m moto.server (python3 with moto 5 is required for the tests): ${error.message}`)));
    child.on('exit', (code) => reject(new Error(`python3 -m moto.server exited with ${code} (is moto installed? python3 -m pip show moto):\n${output}`)));
  });
  // Keep reading, so a full pipe never blocks the server.
  child.stdout?.resume();
  child.stderr?.resume();
  return { endpoint, process: child };
}

/** dynalite (DynamoDB), kinesalite (Kinesis) and moto for the whole run, in memory, on loopback ports. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { default: dynalite } = await import('dynalite');
  const { default: kinesalite } = await import('kinesalite');
  const dynamo: Listening = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const kinesis: Listening = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  project.provide('dynamoEndpoint', await start(dynamo));
  project.provide('kinesisEndpoint', await start(kinesis));
  const moto = await startMoto();
  project.provide('motoEndpoint', moto.endpoint);
  return async () => {
    moto.process.removeAllListeners('exit');
    moto.process.kill('SIGTERM');
    await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    await new Promise<void>((resolve) => kinesis.close(() => resolve()));
  };
}
