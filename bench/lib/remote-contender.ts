/** The comparison's side of a contender running in its own process (see processes/contender.ts). */

import { fileURLToPath } from 'node:url';
import type { Route } from '../contenders/target.js';
import type { ContenderAnswers, ContenderCall, ContenderKind, Workload } from './contender-protocol.js';
import type { Engine } from './databases.js';
import { forkWithCalls } from './forked-calls.js';
import type { LoadOptions, LoadResult } from './load.js';
import type { Contender } from './rounds.js';

const SCRIPT = fileURLToPath(new URL('../processes/contender.js', import.meta.url));

export interface RemoteContender {
  readonly name: ContenderKind;
  readonly label: string;
  /** What the contender's own check after warm-up found, when it has one (see QueryTarget.verify). */
  readonly verified?: string;
  slice(workload: Workload, options: LoadOptions): Promise<LoadResult>;
  collectGarbage(kind: 'major' | 'minor'): Promise<void>;
  /** Closes the pool and ends the process; answers how many MaxListenersExceededWarnings it printed. */
  close(): Promise<number>;
}

/** Forks the contender's process (same node flags as this one), opens its pool there and warms it up. */
export async function openRemoteContender(engine: Engine, route: Route, kind: ContenderKind, warmupMs: number): Promise<RemoteContender> {
  const forked = forkWithCalls<ContenderCall>(SCRIPT, `${kind} contender`);
  const call = async <K extends ContenderCall['op']>(request: Extract<ContenderCall, { op: K }>): Promise<ContenderAnswers[K]> =>
    (await forked.call(request)) as unknown as ContenderAnswers[K];

  try {
    const { label, verified } = await call({ op: 'open', engine, route, kind, warmupMs });
    return {
      name: kind,
      label,
      ...(verified === undefined ? {} : { verified }),
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
    forked.child.kill();
    throw error;
  }
}

/** `target` running `workload`, as compareThroughput takes a contender (named `name`, shown as `label`). */
export function workloadContender(target: Pick<RemoteContender, 'slice' | 'collectGarbage'>, name: string, label: string, workload: Workload): Contender {
  return { name, label, runSlice: (options) => target.slice(workload, options), collectGarbage: (kind) => target.collectGarbage(kind) };
}
