import { lookup } from 'node:dns/promises';
import { mkdir, access, constants } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { ConnectionConfig, DatabaseConfig, DriverName } from '../config/types.js';
import { createDatabase } from '../database.js';
import { defaultPort, describeDsn, parseDsn } from '../dsn/index.js';
import type { ParsedDsn } from '../dsn/types.js';
import { DbModuleError, messageOf } from '../errors.js';
import { silentLogger } from '../logging.js';
import { explain } from './causes.js';

/** @public */
export type PhaseName = 'dsn' | 'file' | 'dns' | 'tcp' | 'tls' | 'credentials' | 'token' | 'authentication' | 'ping';
/** @public */
export type PhaseStatus = 'ok' | 'failed' | 'skipped';

/** One step of a connection check, with its time and, on failure, causes and solutions. @public */
export interface CheckPhase {
  phase: PhaseName;
  status: PhaseStatus;
  durationMs: number;
  detail: string;
  code?: string;
  possibleCauses?: string[];
  solutions?: string[];
}

/** @public */
export interface ConnectionCheck {
  name: string;
  driver: DriverName;
  target: string;
  ok: boolean;
  phases: CheckPhase[];
}

/** @public */
export interface CheckReport {
  ok: boolean;
  connections: ConnectionCheck[];
}

/**
 * Diagnoses connections phase by phase (DSN, DNS, TCP, authentication + ping; file access for
 * SQLite), stopping a connection at its first failed phase. Never throws for a failed check:
 * the report says what failed and why. Nothing secret appears in it.
 * @public
 */
export async function checkConnections(config: DatabaseConfig, options: { connection?: string } = {}): Promise<CheckReport> {
  const names = options.connection ? [options.connection] : Object.keys(config.connections);
  const checks: ConnectionCheck[] = [];
  for (const name of names) {
    const connection = config.connections[name];
    if (!connection) {
      const known = Object.keys(config.connections).join(', ');
      throw new DbModuleError('CONNECTION_NOT_FOUND', `no connection named "${name}"; known connections: ${known}`, { connection: name });
    }
    checks.push(await checkConnection(connection));
  }
  return { ok: checks.every((check) => check.ok), connections: checks };
}

async function checkConnection(connection: ConnectionConfig): Promise<ConnectionCheck> {
  const phases: CheckPhase[] = [];
  const check: ConnectionCheck = { name: connection.name, driver: connection.driver, target: '', ok: false, phases };
  const run = async (phase: PhaseName, step: () => Promise<string>): Promise<boolean> => {
    const started = performance.now();
    try {
      const detail = await step();
      phases.push({ phase, status: 'ok', durationMs: performance.now() - started, detail });
      return true;
    } catch (error) {
      phases.push(failedPhase(phase, performance.now() - started, error));
      return false;
    }
  };

  let dsn: ParsedDsn | undefined;
  const parsed = await run('dsn', async () => {
    dsn = parseDsn(connection.dsn, { driver: connection.driver, connection: connection.name });
    check.target = describeDsn(dsn);
    return `${dsn.family} ${check.target}`;
  });
  if (!parsed || !dsn) return check;
  const target = dsn;

  if (connection.driver === 'sqlite') {
    if (!(await run('file', () => checkSqlitePath(target)))) return check;
  } else {
    const host = target.host ?? 'localhost';
    const port = target.port ?? defaultPort(connection.driver) ?? 0;
    let address = host;
    if (!(await run('dns', async () => (address = (await lookup(host)).address, `${host} -> ${address}`)))) return check;
    if (!(await run('tcp', () => probeTcp(address, port, connection.connection_timeout)))) return check;
  }

  const ok = await run('ping', async () => {
    const single = { default: connection.name, connections: { [connection.name]: { ...rawConnection(connection) } } };
    const db = await createDatabase(single, { logger: silentLogger });
    try {
      const started = performance.now();
      await db.connection().ping();
      return `authenticated and ran the health query in ${Math.round(performance.now() - started)}ms`;
    } finally {
      await db.close();
    }
  });
  check.ok = ok;
  return check;
}

function failedPhase(phase: PhaseName, durationMs: number, error: unknown): CheckPhase {
  const coded = error instanceof DbModuleError ? error : undefined;
  const code = coded?.code ?? 'CONNECT_FAILED';
  const fallback = explain(code);
  return {
    phase,
    status: 'failed',
    durationMs,
    detail: messageOf(error),
    code,
    possibleCauses: coded?.possibleCauses.length ? coded.possibleCauses : fallback.possibleCauses,
    solutions: coded?.solutions.length ? coded.solutions : fallback.solutions,
  };
}

/** A resolved connection back in raw (file) form: durations in seconds. */
function rawConnection(connection: ConnectionConfig): Record<string, unknown> {
  const seconds = (ms: number) => ms / 1000;
  return {
    driver: connection.driver,
    dsn: connection.dsn,
    max_open_connections: 1,
    max_idle_connections: 1,
    connection_timeout: seconds(connection.connection_timeout),
    aws_iam_auth: { ...connection.aws_iam_auth },
  };
}

async function checkSqlitePath(dsn: ParsedDsn): Promise<string> {
  const path = dsn.path ?? ':memory:';
  if (path === ':memory:' || path.startsWith('file::memory:')) return 'in-memory database';
  const absolute = resolve(path);
  try {
    await access(absolute, constants.R_OK | constants.W_OK);
    return `${absolute} exists and is writable`;
  } catch {
    await mkdir(dirname(absolute), { recursive: true });
    await access(dirname(absolute), constants.W_OK);
    return `${absolute} will be created`;
  }
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DbModuleError('CONNECT_TIMEOUT', `no TCP answer from ${host}:${port} within ${timeoutMs}ms`, { retryable: true }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(`${host}:${port} accepts connections`);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new DbModuleError('CONNECT_FAILED', `TCP connection to ${host}:${port} failed: ${messageOf(error)}`, { cause: error, retryable: true }));
    });
  });
}
