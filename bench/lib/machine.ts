/** What the numbers were measured on. */

import os from 'node:os';
import { serverAddress } from './databases.js';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly postgres: string;
  readonly mariadb: string;
  /** 1-minute load average when the run started: other work on the machine shows here. */
  readonly loadAverageAtStart: number;
}

export async function describeMachine(): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: await serverVersion('postgres'),
    mariadb: await serverVersion('mysql'),
    loadAverageAtStart: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

async function serverVersion(engine: 'postgres' | 'mysql'): Promise<string> {
  const a = serverAddress(engine);
  try {
    if (engine === 'postgres') {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ host: a.host, port: a.port, user: a.user, password: a.password, database: a.database });
      await client.connect();
      try {
        return (await client.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? 'unknown';
      } finally {
        await client.end();
      }
    }
    const mysql = await import('mysql2/promise');
    const connection = await mysql.createConnection({ host: a.host, port: a.port, user: a.user, password: a.password ?? '', database: a.database });
    try {
      const [rows] = await connection.query('SELECT VERSION() AS v');
      return String((rows as { v: string }[])[0]?.v ?? 'unknown');
    } finally {
      await connection.end();
    }
  } catch (error) {
    return `unreachable (${error instanceof Error ? error.message : String(error)})`;
  }
}
