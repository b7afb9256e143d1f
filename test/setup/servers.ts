import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    kinesisEndpoint: string;
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

/** dynalite (DynamoDB) and kinesalite (Kinesis) for the whole run, in memory, on loopback ports. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { default: dynalite } = await import('dynalite');
  const { default: kinesalite } = await import('kinesalite');
  const dynamo: Listening = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const kinesis: Listening = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  project.provide('dynamoEndpoint', await start(dynamo));
  project.provide('kinesisEndpoint', await start(kinesis));
  return async () => {
    await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    await new Promise<void>((resolve) => kinesis.close(() => resolve()));
  };
}
