import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { DbModuleError } from '../../src/errors.js';
import { classifyAuthFailure, isIamAuthFailure } from '../../src/iam/auth-errors.js';
import { MYSQL_SERVER, PASSWORD_USER, PASSWORD_USER_SECRET, PG_SERVER } from '../support/databases.js';
import { rejectionOf } from '../support/rejection.js';
import { freePort } from '../support/ports.js';

async function pgError(config: pg.ClientConfig, sql?: string): Promise<unknown> {
  const client = new pg.Client({ ...PG_SERVER, connectionTimeoutMillis: 5000, ...config });
  try {
    return await rejectionOf(client.connect().then(() => (sql ? client.query(sql) : undefined)));
  } finally {
    await client.end().catch(() => {});
  }
}

async function mysqlError(config: mysql.ConnectionOptions, sql?: string): Promise<unknown> {
  return rejectionOf(
    (async () => {
      const connection = await mysql.createConnection({ ...MYSQL_SERVER, connectTimeout: 5000, ...config });
      try {
        if (sql) await connection.query(sql);
      } finally {
        await connection.end();
      }
    })(),
  );
}

function pgDatabaseError(message: string, code: string): pg.DatabaseError {
  const error = new pg.DatabaseError(message, message.length, 'error');
  error.code = code;
  error.severity = 'FATAL';
  return error;
}

describe('isIamAuthFailure with real driver errors', () => {
  it('recognises PostgreSQL 28P01 from a wrong password', async () => {
    const error = await pgError({ user: PASSWORD_USER, password: 'not-the-password' });
    expect((error as { code?: unknown }).code).toBe('28P01');
    expect(classifyAuthFailure(error)).toBe('credentials_rejected');
    expect(isIamAuthFailure(error)).toBe(true);
  });

  it('recognises MySQL 1045 ER_ACCESS_DENIED_ERROR from a wrong password', async () => {
    const error = await mysqlError({ user: PASSWORD_USER, password: 'not-the-password' });
    expect((error as { errno?: unknown }).errno).toBe(1045);
    expect(isIamAuthFailure(error)).toBe(true);
    // The same error reduced to each single field still classifies: errno, code, sqlState.
    const { errno, code, sqlState } = error as { errno: number; code: string; sqlState: string };
    expect(isIamAuthFailure({ errno })).toBe(true);
    expect(isIamAuthFailure({ code })).toBe(true);
    expect(isIamAuthFailure({ sqlState })).toBe(true);
  });

  it('recognises them through a wrapping DbModuleError and an AggregateError', async () => {
    const pgFailure = await pgError({ user: PASSWORD_USER, password: 'wrong' });
    const wrapped = new DbModuleError('CONNECT_FAILED', 'connection "writer" failed', { cause: new Error('outer', { cause: pgFailure }) });
    expect(isIamAuthFailure(wrapped)).toBe(true);
    expect(isIamAuthFailure(new AggregateError([new Error('ECONNREFUSED ::1'), pgFailure], 'all addresses failed'))).toBe(true);
  });

  it('rejects real errors that are not authentication failures', async () => {
    const port = await freePort();
    const refused = await pgError({ user: 'postgres', port });
    expect((refused as { code?: unknown }).code).toBe('ECONNREFUSED');
    const syntax = await pgError({ user: 'postgres' }, 'SELEC 1');
    expect((syntax as { code?: unknown }).code).toBe('42601');
    const noDatabase = await pgError({ user: 'postgres', database: 'dbmodule_no_such_db' });
    expect((noDatabase as { code?: unknown }).code).toBe('3D000');
    const mysqlNoDatabase = await mysqlError({ user: 'root', database: 'dbmodule_no_such_db' });
    expect((mysqlNoDatabase as { errno?: unknown }).errno).toBe(1049);
    const mysqlNoGrant = await mysqlError({ user: PASSWORD_USER, password: PASSWORD_USER_SECRET, database: 'mysql' });
    expect((mysqlNoGrant as { errno?: unknown }).errno).toBe(1044);
    const mysqlSyntax = await mysqlError({ user: 'root' }, 'SELEC 1');
    expect((mysqlSyntax as { errno?: unknown }).errno).toBe(1064);
    for (const error of [refused, syntax, noDatabase, mysqlNoDatabase, mysqlNoGrant, mysqlSyntax]) {
      expect(classifyAuthFailure(error)).toBeUndefined();
      expect(isIamAuthFailure(error)).toBe(false);
    }
  });

  it('accepts the password of the password-checked user (the servers really check it)', async () => {
    const client = new pg.Client({ ...PG_SERVER, user: PASSWORD_USER, password: PASSWORD_USER_SECRET });
    await client.connect();
    await client.end();
  });
});

describe('classifyAuthFailure with constructed errors', () => {
  it.each<[string, unknown, string | undefined, boolean]>([
    ['RDS PostgreSQL expired token (28000 PAM)', pgDatabaseError('PAM authentication failed for user "app"', '28000'), 'credentials_rejected', true],
    ['PAM text without a code', new Error('FATAL: PAM authentication failed for user "app"'), 'credentials_rejected', true],
    ['bare SQLSTATE 28000', { code: '28000', message: 'login refused' }, 'credentials_rejected', true],
    ['RDS Proxy throttling', new Error('The IAM authentication failed because of too many competing requests.'), 'rate_limited', true],
    ['RDS Proxy MySQL 1040', Object.assign(new Error('IAM authentication rate limit exceeded'), { errno: 1040, sqlState: 'HY000' }), 'rate_limited', true],
    ['RDS Proxy IAM refusal', new Error('IAM authentication failed for user "app"'), 'proxy_iam', true],
    ['pg_hba without TLS (28000)', pgDatabaseError('pg_hba.conf rejects connection for host "10.0.0.5", user "app", database "db", SSL off', '28000'), 'hba_rejected', false],
    ['no pg_hba entry (28000)', pgDatabaseError('no pg_hba.conf entry for host "10.0.0.5", user "app", database "db", no encryption', '28000'), 'hba_rejected', false],
    ['RDS Proxy TLS only', new Error('IAM authentication is allowed only with SSL connections.'), 'tls_required', false],
    ['MySQL 3159 insecure transport', Object.assign(new Error('Connections using insecure transport are prohibited'), { errno: 3159 }), 'tls_required', false],
    ['mysql2 cleartext disabled', Object.assign(new Error('mysql_clear_password is not enabled'), { code: 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED' }), 'cleartext_disabled', false],
    ['unrelated error', new Error('socket hang up'), undefined, false],
    ['not an error', 'PAM authentication failed', undefined, false],
    ['null', null, undefined, false],
  ])('%s', (_name, error, kind, retriable) => {
    expect(classifyAuthFailure(error)).toBe(kind);
    expect(isIamAuthFailure(error)).toBe(retriable);
  });

  it('terminates on a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(isIamAuthFailure(a)).toBe(false);
  });
});
