/** The comparison's side of a contender running in its own process (see processes/contender.ts). */

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Route } from '../contenders/target.js';
import type { ContenderAnswers, ContenderCall, ContenderKind, Workload } from './contender-protocol.js';
import type { Engine } from './databases.js';
import type { LoadOptions, LoadResult } from './load.js';

const SCRIPT = fileURLToPath(new URL('../processes/contender.js', import.meta.url));

export interface RemoteContender {
  readonly name: ContenderKind;
  readonly label: string;
  slice(workload: Workload, options: LoadOptions): Promise<LoadResult>;
  collectGarbage(kind: 'major' | 'minor'): Promise<void>;
  /** Closes the pool and ends the process; answers how many MaxListenersExceededWarnings it printed. */
  close(): Promise<number>;
}

/** Forks the contender's process (same node flags as this one), opens its pool there and warms it up. */
export async function openRemoteContender(engine: Engine, route: Route, kind: ContenderKind, warmupMs: number): Promise<RemoteContender> {
  const child = fork(SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pending = new Map<number, { resolve: (answer: Record<string, unknown>) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  child.on('message', (message: { id: number; error?: string }) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(`${kind} contender: ${message.error}`));
    else waiter?.resolve(message as unknown as Record<string, unknown>);
  });
  child.on('exit', (code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${kind} contender process exited (${code})`));
    pending.clear();
  });
  const call = <K extends ContenderCall['op']>(request: Extract<ContenderCall, { op: K }>): Promise<ContenderAnswers[K]> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: (answer) => resolve(answer as unknown as ContenderAnswers[K]), reject });
      child.send({ ...request, id });
    });

  try {
    const { label } = await call({ op: 'open', engine, route, kind, warmupMs });
    return {
      name: kind,
      label,
      slice: async (workload, options) => {
        const answer = await call({ op: 'slice', workload, ...options });
        return { ops: answer.ops, elapsedMs: answer.elapsedMs, latenciesMs: Float64Array.from(answer.latenciesMs), cpuMicros: answer.cpuMicros };
      },
      collectGarbage: async (gcKind) => {
        await call({ op: 'gc', kind: gcKind });
      },
      close: async () => (await call({ op: 'close' })).listenerWarnings,
    };
  } catch (error) {
    child.kill();
    throw error;
  }
}
