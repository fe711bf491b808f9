/**
 * Module resolution hooks (registered by cold-start.ts with `--audit`): report every module URL
 * the process resolves, so the audit sees ESM imports as well as CJS ones. They run on the hooks
 * thread; `flush` is answered after every earlier report, because a port delivers in order.
 */

import type { MessagePort } from 'node:worker_threads';

let port: MessagePort | undefined;

export function initialize(data: { port: MessagePort }): void {
  port = data.port;
  port.on('message', (message: unknown) => {
    if (message === 'flush') port?.postMessage({ flushed: true });
  });
  port.unref();
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const result = await next(specifier, context);
  port?.postMessage({ url: result.url });
  return result;
}
