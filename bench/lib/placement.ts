/**
 * CPU placement for a run: the benchmark processes on one half of the cores, the database
 * servers and the IAM endpoint on the other, with `taskset`.
 *
 * Why: on a small machine the kernel puts each contender's server process (a PostgreSQL backend,
 * a MariaDB thread) on either core, and a contender whose server shares the client's core runs
 * differently for the whole run, by up to ±30% at concurrency 1 on the 2-core machine here.
 * Interleaving cannot cancel that bias (it is fixed per contender, not per moment); placement can.
 * The servers get their previous affinity back when the run ends.
 */

import { execFileSync } from 'node:child_process';
import os from 'node:os';

/** Set by {@link placeRun} for the processes of the run: the cores the server side runs on. */
const SERVER_CPUS_ENV = 'DBMODULE_BENCH_SERVER_CPUS';

export interface Placement {
  readonly clientCpus: string;
  readonly serverCpus: string;
  /** The server processes pinned, by name. */
  readonly servers: readonly string[];
  /** Gives the servers their previous affinity back. */
  restore(): void;
}

/**
 * Pins this process (and so every process it starts) to the client cores and the local
 * PostgreSQL postmaster and MariaDB server to the server cores (sessions opened from then on
 * inherit it). Undefined when there are fewer than 2 cores, no `taskset`, or no local server.
 */
export function placeRun(): Placement | undefined {
  const cores = os.cpus().length;
  if (cores < 2 || !run('taskset', ['-V'])) return undefined;
  const half = Math.floor(cores / 2);
  const clientCpus = range(0, half);
  const serverCpus = range(half, cores);
  const servers: Array<{ name: string; pid: string; previous: string }> = [];
  for (const [name, pattern] of [
    ['postgres', 'postgres'],
    ['mariadb', 'mariadbd|mysqld'],
  ] as const) {
    const pid = run('pgrep', ['-o', '-x', pattern])?.trim();
    const previous = pid ? affinityOf(pid) : undefined;
    if (!pid || !previous || !run('taskset', ['-a', '-p', '-c', serverCpus, pid])) continue;
    servers.push({ name, pid, previous });
  }
  if (servers.length === 0 || !run('taskset', ['-p', '-c', clientCpus, String(process.pid)])) {
    for (const server of servers) run('taskset', ['-a', '-p', '-c', server.previous, server.pid]);
    return undefined;
  }
  process.env[SERVER_CPUS_ENV] = serverCpus;
  return {
    clientCpus,
    serverCpus,
    servers: servers.map((s) => s.name),
    restore: () => {
      for (const server of servers) run('taskset', ['-a', '-p', '-c', server.previous, server.pid]);
    },
  };
}

/** Moves a process of the run that plays the server side (the IAM endpoint) to the server cores. */
export function placeOnServerCpus(pid: number | undefined): void {
  const cpus = process.env[SERVER_CPUS_ENV];
  if (cpus && pid !== undefined) run('taskset', ['-p', '-c', cpus, String(pid)]);
}

function affinityOf(pid: string): string | undefined {
  return run('taskset', ['-p', '-c', pid])?.split(':').pop()?.trim();
}

function range(from: number, to: number): string {
  return to - from === 1 ? String(from) : `${from}-${to - 1}`;
}

/** stdout of the command, or undefined when it is missing or fails. */
function run(command: string, args: readonly string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}
