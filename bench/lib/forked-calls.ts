/** Request/answer calls to a forked bench process over IPC (emulator, contenders). */

import { fork, type ChildProcess } from 'node:child_process';

export interface ForkedCalls<Call extends object> {
  readonly child: ChildProcess;
  /** Sends `request` with a fresh `id`; settles with the message that carries that id back (rejects on its `error`, or when the process exits first). */
  call(request: Call): Promise<Record<string, unknown>>;
}

/** Forks `script` (same node flags as this process); `name` says which process an error came from. */
export function forkWithCalls<Call extends object>(script: string, name: string): ForkedCalls<Call> {
  const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (answer: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  child.on('message', (message: { id: number; error?: string }) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(`${name}: ${message.error}`));
    else waiter?.resolve(message as unknown as Record<string, unknown>);
  });
  child.on('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited (${code})`));
    pending.clear();
  });
  return {
    child,
    call: (request) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ ...request, id });
      }),
  };
}
