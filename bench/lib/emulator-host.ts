/** Starts the RDS IAM emulator in a child process and talks to it (see processes/emulator.ts). */

import { fileURLToPath } from 'node:url';
import { BENCH_CREDENTIALS, BENCH_REGION, IAM_USER_PREFIX } from './aws.js';
import type { AuthCounts, EmulatorHostCall, EmulatorProcessOptions } from './emulator-protocol.js';
import { forkWithCalls } from './forked-calls.js';
import { placeOnServerCpus } from './placement.js';

export interface EmulatorProcess {
  readonly postgresPort: number | undefined;
  readonly mysqlPort: number | undefined;
  /** The CA certificate clients must trust, as a file and as PEM. */
  readonly caFile: string;
  readonly caPem: string;
  /** Shifts the emulator's clock (absolute seconds), to follow a comparison's fake clock. */
  setClockOffset(seconds: number): Promise<void>;
  /** Authentication decisions since the last {@link clearAuthLog}. */
  authCounts(): Promise<AuthCounts>;
  clearAuthLog(): Promise<void>;
  close(): Promise<void>;
}

export interface StartEmulatorOptions {
  readonly hostnames: readonly string[];
  readonly postgres?: EmulatorProcessOptions['postgres'];
  readonly mysql?: EmulatorProcessOptions['mysql'];
}

const SCRIPT = fileURLToPath(new URL('../processes/emulator.js', import.meta.url));

/** Forks the emulator process and waits until it listens. */
export async function startEmulatorProcess(options: StartEmulatorOptions): Promise<EmulatorProcess> {
  const { child, call } = forkWithCalls<EmulatorHostCall>(SCRIPT, 'emulator process');
  // it plays RDS: on the servers' side of the machine, off the contenders' cores
  placeOnServerCpus(child.pid);

  const started = await call({
    type: 'start',
    options: {
      hostnames: options.hostnames,
      credentials: [BENCH_CREDENTIALS],
      region: BENCH_REGION,
      iamUserPrefix: IAM_USER_PREFIX,
      ...(options.postgres ? { postgres: options.postgres } : {}),
      ...(options.mysql ? { mysql: options.mysql } : {}),
    },
  });
  let closing: Promise<void> | undefined;
  return {
    postgresPort: started.postgresPort as number | undefined,
    mysqlPort: started.mysqlPort as number | undefined,
    caFile: started.caFile as string,
    caPem: started.caPem as string,
    setClockOffset: async (seconds) => {
      await call({ type: 'setClockOffset', seconds });
    },
    authCounts: async () => (await call({ type: 'authCounts' })) as unknown as AuthCounts,
    clearAuthLog: async () => {
      await call({ type: 'clearAuthLog' });
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        call({ type: 'close' }).catch(() => {});
      });
      return closing;
    },
  };
}
