// The attributes that are not read from a statement: error.type, db.response.status_code (what
// the server answered, never a client-side code), db.system.name of a MySQL-protocol server, and
// where a plan goes (server.address is the endpoint's name, not the address a tunnel dials).
import { describe, expect, it } from 'vitest';
import { planConnection, planEndpoint } from '../../src/config/plan.js';
import { ConnectionError, DbModuleError, QueryError, validateConfig } from '../../src/index.js';
import { endpointAttributes, errorType, mysqlFlavour, responseStatusCode } from '../../src/telemetry/attributes.js';

const plan = (dsn: string, driver: string) => planConnection(validateConfig({ connections: { c: { driver, dsn } } }, { source: 'object' }).connections.c!);

describe('error.type', () => {
  it('is the DbModuleError code, another error its name, anything else _OTHER', () => {
    expect(errorType(new QueryError('QUERY_TIMEOUT', 'slow'))).toBe('QUERY_TIMEOUT');
    expect(errorType(new TypeError('oops'))).toBe('TypeError');
    expect(errorType('a string')).toBe('_OTHER');
  });
});

describe('db.response.status_code', () => {
  const pgServerError = Object.assign(new Error('division by zero'), { code: '22012', severity: 'ERROR' });
  const mysqlServerError = Object.assign(new Error("Table 'x' doesn't exist"), { code: 'ER_NO_SUCH_TABLE', errno: 1146, sqlState: '42S02' });

  it("is the server's SQLSTATE on PostgreSQL, found through the causes", () => {
    const query = new QueryError('QUERY_FAILED', 'query failed', { cause: pgServerError, driverCode: '22012' });
    expect(responseStatusCode(query, 'postgresql')).toBe('22012');
    expect(responseStatusCode(new DbModuleError('TRANSACTION_FAILED', 'rolled back', { cause: query }), 'postgresql')).toBe('22012');
  });

  it("is the server's errno on MySQL and MariaDB", () => {
    expect(responseStatusCode(new QueryError('QUERY_FAILED', 'failed', { cause: mysqlServerError, driverCode: 'ER_NO_SUCH_TABLE' }), 'mariadb')).toBe('1146');
  });

  it('is the result code on SQLite', () => {
    expect(responseStatusCode(new QueryError('QUERY_FAILED', 'UNIQUE constraint failed', { driverCode: 'SQLITE_CONSTRAINT_PRIMARYKEY' }), 'sqlite')).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
  });

  it('is absent when the server said nothing: a socket error, a client timeout', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' });
    const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', errno: -32 });
    expect(responseStatusCode(new ConnectionError('CONNECTION_LOST', 'lost', { cause: reset }), 'postgresql')).toBeUndefined();
    expect(responseStatusCode(new QueryError('CONNECTION_LOST', 'lost', { cause: pipe, driverCode: 'EPIPE' }), 'postgresql')).toBeUndefined();
    expect(responseStatusCode(new ConnectionError('CONNECTION_LOST', 'lost', { cause: reset }), 'mysql')).toBeUndefined();
    expect(responseStatusCode(new QueryError('QUERY_TIMEOUT', 'slow', { driverCode: 'PROTOCOL_SEQUENCE_TIMEOUT' }), 'mysql')).toBeUndefined();
    expect(responseStatusCode(new QueryError('QUERY_FAILED', 'x', { driverCode: 'ERR_SOMETHING' }), 'sqlite')).toBeUndefined();
  });
});

describe('db.system.name of a MySQL-protocol server', () => {
  it('is mariadb when VERSION() says MariaDB, mysql otherwise', () => {
    expect(mysqlFlavour('10.11.6-MariaDB-1:10.11.6+maria~ubu2204')).toBe('mariadb');
    expect(mysqlFlavour('8.0.36')).toBe('mysql');
    expect(mysqlFlavour(undefined)).toBe('mysql');
  });
});

describe('where a plan goes', () => {
  it('names the database, host and port of the DSN', () => {
    expect(endpointAttributes(plan('postgresql://app@db.example.com:6432/orders', 'postgres'), 'postgresql')).toEqual({
      'db.system.name': 'postgresql',
      'db.namespace': 'orders',
      'server.address': 'db.example.com',
      'server.port': 6432,
    });
    expect(endpointAttributes(plan('mysql://app@db.example.com/shop', 'mysql'), 'mariadb')).toMatchObject({ 'server.port': 3306, 'db.namespace': 'shop' });
  });

  it('leaves out what the DSN does not say, and names an SQLite database by its file', () => {
    expect(endpointAttributes(plan('postgresql://app@db.example.com', 'postgres'), 'postgresql')).not.toHaveProperty('db.namespace');
    expect(endpointAttributes(plan('sqlite:/var/lib/app/app.db', 'sqlite'), 'sqlite')).toEqual({ 'db.system.name': 'sqlite', 'db.namespace': '/var/lib/app/app.db' });
  });

  it('names an endpoint dialled through a tunnel by its name, not the tunnel', () => {
    const base = plan('postgresql://app@db-1.abc.us-east-1.rds.amazonaws.com:5432/orders', 'postgres');
    const tunnelled = planEndpoint(base, { host: 'db-2.abc.us-east-1.rds.amazonaws.com', port: 5432 }, { host: '127.0.0.1', port: 15432 });
    expect(tunnelled.host).toBe('127.0.0.1');
    expect(endpointAttributes(tunnelled, 'postgresql')).toMatchObject({ 'server.address': 'db-2.abc.us-east-1.rds.amazonaws.com', 'server.port': 5432 });
  });
});
