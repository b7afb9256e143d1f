import { type LocalStack, startLocalStack } from '../local/stack/server.js';

export interface LocalCommandOptions {
  readonly port: number;
  readonly dir: string;
  readonly memory: boolean;
}

/** `skewless local`: starts the stack and prints how to point AWS SDK code at it. */
export async function runLocal(options: LocalCommandOptions, print: (line: string) => void): Promise<LocalStack> {
  const stack = await startLocalStack(options.memory ? { port: options.port, memory: true } : { port: options.port, dir: options.dir });
  print(`skewless local stack listening on ${stack.endpoint}`);
  print('  SageMaker Feature Store runtime + control plane, Athena (on DuckDB), S3 and SQS');
  print(`  state: ${options.memory ? '(in memory)' : stack.dir}`);
  print('Point unchanged AWS SDK code at it:');
  print(`  export ${Object.entries(stack.env).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  print('Press Ctrl+C to stop.');
  return stack;
}
