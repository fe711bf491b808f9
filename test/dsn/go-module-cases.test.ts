// Every DSN case of the Go module's study (reference/go-database-module.md §4.5-4.8),
// asserting the right answer where the Go module was wrong.
import { describe, expect, it } from 'vitest';
import { defaultPort, describeDsn, formatDsn, parseDsn, redactDsn } from '../../src/dsn/index.js';
import { DbModuleError } from '../../src/errors.js';
import { thrownBy } from '../support/rejection.js';

const HEADLINE = 'postgresql://someuser:7aBcdeFGhj!r7b?jk(OoL-Aen34R@some-dev-backend.cluster.us-east-1.rds.amazonaws.com/some_backend';
const EXACT = 'postgresql://someuser:7aBcdeFGhj!r7b?jk(OoL-Aen34R@cluster.us-east-1.rds.amazonaws.com/someapp';
const COMPLEX_PASSWORD = `p@ssw0rd!#$^&*()_+-=[]{}|;':",./<>`;

function endpoint(dsn: string): string {
  const parsed = parseDsn(dsn);
  return parsed.port === undefined ? `${parsed.host}` : `${parsed.host}:${parsed.port}`;
}

describe('§4.5 dsn_special_chars_test.go', () => {
  it('TestSpecialCharacterPasswordDSNParsing: every part of the headline DSN', () => {
    expect(parseDsn(HEADLINE)).toEqual({
      family: 'postgres-url',
      driver: 'postgres',
      user: 'someuser',
      password: '7aBcdeFGhj!r7b?jk(OoL-Aen34R',
      host: 'some-dev-backend.cluster.us-east-1.rds.amazonaws.com',
      database: 'some_backend',
      params: {},
    });
  });

  it('TestSpecialCharacterPasswordDSNParsing: the password can be replaced by a token', () => {
    const withToken = formatDsn(parseDsn(HEADLINE), { password: 'test-iam-token' });
    expect(withToken).toBe('postgresql://someuser:test-iam-token@some-dev-backend.cluster.us-east-1.rds.amazonaws.com/some_backend');
    expect(parseDsn(withToken).password).toBe('test-iam-token');
  });

  it('TestSpecialCharacterPasswordDSNParsingWithAWSIAM: the username and a port-less endpoint with its default port', () => {
    const parsed = parseDsn(HEADLINE, { driver: 'postgres', connection: 'iam' });
    expect(parsed.user).toBe('someuser');
    expect(parsed.port).toBeUndefined();
    expect(`${parsed.host}:${parsed.port ?? defaultPort(parsed.driver)}`).toBe('some-dev-backend.cluster.us-east-1.rds.amazonaws.com:5432');
  });

  it.each([
    ['password with @ symbol', 'postgres://user:pass@word@host.com:5432/db', 'pass@word'],
    ['password with multiple @ symbols', 'postgres://user:p@ss@w@rd@host.com:5432/db', 'p@ss@w@rd'],
    ['password with query-like characters', 'postgres://user:pass?key=value&other=test@host.com:5432/db', 'pass?key=value&other=test'],
    ['password with URL-like structure', 'postgres://user:http://example.com/path?query=value@host.com:5432/db', 'http://example.com/path?query=value'],
    ['password with colon', 'postgres://user:pass:word@host.com:5432/db', 'pass:word'],
  ])('TestEdgeCaseSpecialCharacterPasswords / %s', (_name, dsn, password) => {
    const parsed = parseDsn(dsn);
    expect(endpoint(dsn)).toBe('host.com:5432');
    expect(parsed).toMatchObject({ user: 'user', password, database: 'db', params: {} });
    const replaced = formatDsn(parsed, { password: 'test-token' });
    expect(replaced).toContain('test-token');
    expect(endpoint(replaced)).toBe('host.com:5432');
  });

  it('TestExactFailingScenario / TestDirectURLParsingFailure / TestActualURLParsingFailure', () => {
    // Node's own URL parser fails on it too, which is why the DSN layer splits credentials itself.
    expect(() => new URL(EXACT)).toThrow();
    const parsed = parseDsn(EXACT);
    expect(endpoint(EXACT)).toBe('cluster.us-east-1.rds.amazonaws.com');
    expect(parsed.password).toBe('7aBcdeFGhj!r7b?jk(OoL-Aen34R');
    expect(parsed.database).toBe('someapp');
    expect(formatDsn(parsed, { password: 'test-iam-token' })).toBe('postgresql://someuser:test-iam-token@cluster.us-east-1.rds.amazonaws.com/someapp');
  });

  it('TestDSNParsingWithoutAWSIAM / TestNonAWSIAMSpecialCharsDSNConnection: parses for the postgres driver', () => {
    expect(parseDsn(EXACT, { driver: 'postgres' }).host).toBe('cluster.us-east-1.rds.amazonaws.com');
  });

  it('TestServiceConnectWithoutPreprocessing: a PostgreSQL URL under driver sqlite is a mismatch, not silently accepted', () => {
    const error = thrownBy(() => parseDsn(EXACT, { driver: 'sqlite', connection: 'local' }), DbModuleError);
    expect(error.code).toBe('DSN_INVALID');
    expect(error.message).toMatch(/driver sqlite/);
    expect(error.message).toMatch(/PostgreSQL URL/);
    expect(error.message).not.toContain('7aBcdeFGhj');
  });

  it('TestDoubleEncodingIssue: formatting then parsing again is stable', () => {
    const once = formatDsn(parseDsn(EXACT), { password: true });
    expect(once).toBe('postgresql://someuser:7aBcdeFGhj!r7b%3Fjk(OoL-Aen34R@cluster.us-east-1.rds.amazonaws.com/someapp');
    expect(formatDsn(parseDsn(once), { password: true })).toBe(once);
    expect(parseDsn(once).password).toBe('7aBcdeFGhj!r7b?jk(OoL-Aen34R');
  });

  it('TestDebugComplexPassword: the whole password, host host.example.com', () => {
    const parsed = parseDsn(`postgres://user:${COMPLEX_PASSWORD}@host.example.com:5432/db`);
    expect(parsed).toMatchObject({ user: 'user', password: COMPLEX_PASSWORD, host: 'host.example.com', port: 5432, database: 'db' });
  });

  it.each([
    ['postgres://user:pass@word@host.com:5432/db', 'postgres://user:pass%40word@host.com:5432/db'],
    ['postgres://user:p@ss@w@rd@host.com:5432/db', 'postgres://user:p%40ss%40w%40rd@host.com:5432/db'],
    ['postgres://user:pass?key=value&other=test@host.com:5432/db', 'postgres://user:pass%3Fkey%3Dvalue%26other%3Dtest@host.com:5432/db'],
    ['postgres://user:pass:word@host.com:5432/db', 'postgres://user:pass%3Aword@host.com:5432/db'],
  ])('the raw and the encoded spelling of %s mean the same password', (raw, encoded) => {
    expect(parseDsn(encoded)).toEqual(parseDsn(raw));
  });
});

describe('§4.6 credential_refresh_test.go', () => {
  it.each([
    ['postgres://user:password@host:5432/mydb', 'postgresql://user@host:5432/mydb'],
    ['postgres://iamuser:some_token_placeholder@mydb.region.rds.amazonaws.com:5432/mydb', 'postgresql://iamuser@mydb.region.rds.amazonaws.com:5432/mydb'],
    [
      'postgresql://chimera_app:$TOKEN@shared-chimera-dev-backend.cluster-cbysgk6e0u2x.us-east-1.rds.amazonaws.com:5432/chimera_backend?sslmode=require',
      'postgresql://chimera_app@shared-chimera-dev-backend.cluster-cbysgk6e0u2x.us-east-1.rds.amazonaws.com:5432/chimera_backend?sslmode=require',
    ],
    ['postgres://user@host:5432/mydb', 'postgresql://user@host:5432/mydb'],
    ['postgres://host:5432/mydb', 'postgresql://host:5432/mydb'],
  ])('TestStripPasswordFromDSN: %s without its password', (dsn, stripped) => {
    expect(formatDsn(parseDsn(dsn))).toBe(stripped);
  });

  it('TestStripPasswordFromDSN: key/value with and without a password', () => {
    const withPassword = parseDsn('host=localhost port=5432 user=testuser password=secret dbname=mydb');
    expect(withPassword).toEqual({
      family: 'postgres-keyvalue',
      driver: 'postgres',
      host: 'localhost',
      port: 5432,
      user: 'testuser',
      password: 'secret',
      database: 'mydb',
      params: {},
    });
    expect(redactDsn('host=localhost port=5432 user=testuser password=secret dbname=mydb')).toBe(
      'host=localhost port=5432 user=testuser password=**** dbname=mydb',
    );
    expect(parseDsn('host=localhost port=5432 user=testuser dbname=mydb').password).toBeUndefined();
  });

  it.each([
    ['postgresql://chimera_app:$TOKEN@shared-chimera-dev-backend.cluster-cbysgk6e0u2x.us-east-1.rds.amazonaws.com:5432/chimera_backend?sslmode=require', 'chimera_app'],
    ['postgresql://db_user:TOKEN@myhost.rds.amazonaws.com:5432/mydb', 'db_user'],
    ['postgresql://iam_user:some_actual_token_value@myhost.rds.amazonaws.com:5432/mydb', 'iam_user'],
    ['postgres://myuser:password@host:5432/mydb', 'myuser'],
    ['postgres://myuser@host:5432/mydb', 'myuser'],
    ['host=localhost port=5432 user=testuser dbname=mydb', 'testuser'],
  ])('TestUsernameExtraction / TestExtractUsernameFromDSN: %s', (dsn, user) => {
    expect(parseDsn(dsn).user).toBe(user);
  });

  it.each(['postgres://host:5432/mydb', 'host=localhost port=5432 dbname=mydb'])('TestExtractUsernameFromDSN: no user in %s', (dsn) => {
    expect(parseDsn(dsn).user).toBeUndefined();
  });

  it.each([
    ['postgres://user:password@host:5432/mydb', 'mydb', {}],
    ['postgres://user:password@host:5432/mydb?sslmode=disable&connect_timeout=10', 'mydb', { sslmode: 'disable', connect_timeout: '10' }],
    ['postgres://user:password@host:5432', undefined, {}],
    ['host=localhost port=5432 dbname=mydb sslmode=disable', 'mydb', { sslmode: 'disable' }],
    ['host=localhost port=5432 sslmode=disable', undefined, { sslmode: 'disable' }],
  ])('TestExtractDatabaseAndOptions: %s', (dsn, database, params) => {
    const parsed = parseDsn(dsn);
    expect(parsed.database).toBe(database);
    expect(parsed.params).toEqual(params);
  });

  it.each([
    ['postgres', 'postgres://u@host.example.com:5432/db', 5432],
    ['postgres', 'postgres://u@host.example.com/db', 5432],
    ['mysql', 'mysql://u@host.example.com:3306/db', 3306],
    ['mysql', 'mysql://u@host.example.com/db', 3306],
  ] as const)('TestDetermineDriverAndPort: %s %s', (driver, dsn, port) => {
    const parsed = parseDsn(dsn, { driver });
    expect(parsed.driver).toBe(driver);
    expect(parsed.port ?? defaultPort(parsed.driver)).toBe(port);
  });

  it('TestHelperFunctions_StillWork', () => {
    expect(endpoint('postgres://user:password@host.example.com:5432/mydb')).toBe('host.example.com:5432');
    const replaced = formatDsn(parseDsn('postgres://user:oldpass@host.example.com:5432/mydb'), { password: 'newtoken' });
    expect(replaced).toContain('newtoken');
    expect(replaced).not.toContain('oldpass');
    expect(parseDsn('postgres://user:p@ss!word@host:5432/mydb')).toMatchObject({ password: 'p@ss!word', host: 'host', port: 5432 });
  });
});

describe('§4.7 edge cases the Go module got wrong', () => {
  it('a space stays a space (not +), and + stays +', () => {
    expect(parseDsn('postgres://user:a b@host.com:5432/db').password).toBe('a b');
    expect(parseDsn('postgres://user:a+b@host.com:5432/db').password).toBe('a+b');
    expect(parseDsn('postgres://user:a%20b@host.com:5432/db').password).toBe('a b');
  });

  it('p%41ss#x: %41 is decoded to A, # is kept', () => {
    expect(parseDsn('postgres://user:p%41ss#x@host.com:5432/db')).toMatchObject({ password: 'pAss#x', host: 'host.com', port: 5432, database: 'db' });
  });

  it('a single-label host without a port (docker-compose style)', () => {
    expect(parseDsn('postgres://user:pa?ss@db/mydb')).toMatchObject({ user: 'user', password: 'pa?ss', host: 'db', database: 'mydb' });
    expect(parseDsn('postgres://user:pa?ss@db/mydb').port).toBeUndefined();
    expect(parseDsn('postgres://user:pa?ss@db:5432/mydb')).toMatchObject({ password: 'pa?ss', host: 'db', port: 5432 });
  });

  it('IPv6 hosts, with a plain and with a special-character password', () => {
    expect(parseDsn('postgres://user:secret@[::1]:5432/db')).toMatchObject({ password: 'secret', host: '::1', port: 5432 });
    expect(parseDsn('postgres://user:se@c/ret?@[::1]:5432/db')).toMatchObject({ password: 'se@c/ret?', host: '::1', port: 5432 });
  });

  it('IAM: the complex password does not turn into the host ssw0rd!', () => {
    const parsed = parseDsn(`postgres://user:${COMPLEX_PASSWORD}@host.example.com:5432/db`, { driver: 'postgres' });
    expect(parsed.host).toBe('host.example.com');
    expect(formatDsn(parsed)).toBe('postgresql://user@host.example.com:5432/db');
  });

  it('IAM: sslrootcert does not become the database, and sslmode is kept', () => {
    const parsed = parseDsn('postgres://u@h.example.com:5432/mydb?sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-ca.pem');
    expect(parsed.database).toBe('mydb');
    expect(parsed.params).toEqual({ sslmode: 'verify-full', sslrootcert: '/etc/ssl/certs/rds-ca.pem' });
  });

  it('IAM: no path, the options are kept', () => {
    const parsed = parseDsn('postgres://u@h.example.com:5432?sslmode=require');
    expect(parsed).toMatchObject({ host: 'h.example.com', port: 5432, params: { sslmode: 'require' } });
    expect(parsed.database).toBeUndefined();
  });

  it('IAM: a port-less DSN gets the default port for signing', () => {
    const parsed = parseDsn('postgresql://u:x@some-dev-backend.cluster.us-east-1.rds.amazonaws.com/some_backend');
    expect(parsed.port ?? defaultPort(parsed.driver)).toBe(5432);
    expect(describeDsn(parsed)).toBe('postgres://u@some-dev-backend.cluster.us-east-1.rds.amazonaws.com:5432/some_backend');
  });

  it('IAM: the native MySQL form works', () => {
    expect(parseDsn('user:pass@tcp(localhost:3306)/db')).toEqual({
      family: 'mysql-go',
      driver: 'mysql',
      user: 'user',
      password: 'pass',
      host: 'localhost',
      port: 3306,
      database: 'db',
      params: {},
    });
  });

  it('IAM: a quoted key/value password with a space is one value', () => {
    const dsn = "host=localhost user=testuser password='sec ret' dbname=mydb";
    expect(parseDsn(dsn)).toMatchObject({ host: 'localhost', user: 'testuser', password: 'sec ret', database: 'mydb', params: {} });
    expect(redactDsn(dsn)).toBe('host=localhost user=testuser password=**** dbname=mydb');
  });

  it('sqlite is never routed to a network driver', () => {
    expect(defaultPort('sqlite')).toBeUndefined();
    expect(parseDsn('app.db').driver).toBe('sqlite');
  });
});

describe('§4.8 inputs that Node URL and pg-connection-string get wrong', () => {
  it.each([
    ['postgres://user:7aBcdeFGhj!r7b?jk(OoL-Aen34R@host.com:5432/db', '7aBcdeFGhj!r7b?jk(OoL-Aen34R'],
    ['postgres://user:pass?key=value&other=test@host.com:5432/db', 'pass?key=value&other=test'],
    ['postgres://user:http://example.com/path?query=value@host.com:5432/db', 'http://example.com/path?query=value'],
    ['postgres://user:pass@word@host.com:5432/db', 'pass@word'],
    ['postgres://user:p@ss@w@rd@host.com:5432/db', 'p@ss@w@rd'],
    ['postgres://user:pass:word@host.com:5432/db', 'pass:word'],
    ['postgres://user:a%20b@host.com:5432/db', 'a b'],
    ['postgres://user:a+b@host.com:5432/db', 'a+b'],
  ])('%s', (dsn, password) => {
    expect(parseDsn(dsn)).toMatchObject({ user: 'user', password, host: 'host.com', port: 5432, database: 'db' });
  });

  it('the # password is not a fragment: host host.example.com, password whole, database db', () => {
    expect(parseDsn(`postgres://user:${COMPLEX_PASSWORD}@host.example.com:5432/db`)).toMatchObject({
      user: 'user',
      password: COMPLEX_PASSWORD,
      host: 'host.example.com',
      database: 'db',
    });
  });

  it('sslrootcert is not read at parse time (a missing file is not a parse error)', () => {
    expect(parseDsn('postgres://u@h/db?sslrootcert=/nonexistent/ca.pem').params.sslrootcert).toBe('/nonexistent/ca.pem');
  });
});
