import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultPort, describeDsn, formatDsn, parseDsn } from '../../src/dsn/index.js';
import type { ParsedDsn } from '../../src/dsn/index.js';

describe('defaultPort', () => {
  it('5432, 3306, none', () => {
    expect(defaultPort('postgres')).toBe(5432);
    expect(defaultPort('mysql')).toBe(3306);
    expect(defaultPort('sqlite')).toBeUndefined();
  });
});

describe('describeDsn', () => {
  it.each([
    ['postgres://app:secret@db.internal/app?sslmode=require&password=x', 'postgres://app@db.internal:5432/app'],
    ["host=db port=6432 user=app password='x y' dbname=app", 'postgres://app@db:6432/app'],
    ['mysql://root:pw@[::1]/shop', 'mysql://root@[::1]:3306/shop'],
    ['app:pw@unix(/run/mysqld/mysqld.sock)/app', 'mysql://app@unix(/run/mysqld/mysqld.sock)/app'],
    ['app:pw@/app', 'mysql://app@localhost:3306/app'],
    ['postgres://odd%20user%0A:pw@h/my%2Fdb', 'postgres://odd%20user%0A@h:5432/my%2Fdb'],
    ['sqlite:///var/lib/app.db?mode=ro', 'sqlite:/var/lib/app.db'],
    [':memory:', 'sqlite::memory:'],
  ])('%s', (dsn, description) => {
    expect(describeDsn(parseDsn(dsn))).toBe(description);
  });

  it('never contains the password', () => {
    expect(describeDsn(parseDsn('postgres://u:TopSecret1@h/d'))).not.toContain('TopSecret1');
  });
});

describe('formatDsn', () => {
  const parsed = parseDsn('postgres://app:p a+ss@db.example.com:5432/my db?sslmode=require&application_name=a b');

  it('leaves the password out by default, writes it or a replacement on request', () => {
    expect(formatDsn(parsed)).toBe('postgresql://app@db.example.com:5432/my%20db?sslmode=require&application_name=a%20b');
    expect(formatDsn(parsed, { password: true })).toBe('postgresql://app:p%20a%2Bss@db.example.com:5432/my%20db?sslmode=require&application_name=a%20b');
    expect(formatDsn(parsed, { password: 'tok/en=' })).toBe('postgresql://app:tok%2Fen%3D@db.example.com:5432/my%20db?sslmode=require&application_name=a%20b');
    expect(formatDsn(parsed, { params: false })).toBe('postgresql://app@db.example.com:5432/my%20db');
  });

  it('Go MySQL DSNs come back as mysql:// URLs, sockets as an encoded host', () => {
    expect(formatDsn(parseDsn('u:p@unix(/run/my.sock)/app'), { password: true })).toBe('mysql://u:p@%2Frun%2Fmy.sock/app');
    expect(formatDsn(parseDsn('u:p@tcp([::1]:3306)/app'), { password: true })).toBe('mysql://u:p@[::1]:3306/app');
  });

  it('SQLite as a file: URI', () => {
    expect(formatDsn(parseDsn('/var/lib/my app.db'))).toBe('file:///var/lib/my%20app.db');
    expect(formatDsn(parseDsn('data/x?.db', { driver: 'sqlite' }))).toBe('file:data/x%3F.db');
    expect(formatDsn(parseDsn('sqlite:data/x.db?mode=ro'))).toBe('file:data/x.db?mode=ro');
    expect(formatDsn(parseDsn(':memory:'))).toBe('file::memory:');
  });

  const text = fc.string({ unit: fc.constantFrom(...'@:/?#%&= !()[]+\'"\\', 'a', 'Z', '9', 'é', '😀'), minLength: 1, maxLength: 12 });
  const network: fc.Arbitrary<ParsedDsn> = fc
    .record({
      driver: fc.constantFrom('postgres' as const, 'mysql' as const),
      user: text,
      password: text,
      host: fc.constantFrom('db', 'db.example.com', '10.0.0.1', '::1', '/var/run/sock'),
      port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      database: fc.option(text, { nil: undefined }),
      params: fc.dictionary(text.filter((key) => !['host', 'port', 'user', 'password', 'dbname'].includes(key)), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
    })
    .map((parts) => ({
      family: parts.driver === 'postgres' ? ('postgres-url' as const) : ('mysql-url' as const),
      ...parts,
    }));

  it('parseDsn(formatDsn(x)) gives x back for any parts', () => {
    fc.assert(
      fc.property(network, (parts) => {
        const again = parseDsn(formatDsn(parts, { password: true }));
        expect(again).toEqual(parts);
      }),
      { numRuns: 300 },
    );
  });

  it('SQLite paths round-trip through file: URIs', () => {
    fc.assert(
      fc.property(fc.constantFrom('', '/', './'), text, (prefix, name) => {
        const path = `${prefix}${name}`;
        fc.pre(path !== '' && !path.startsWith('//'));
        expect(parseDsn(formatDsn({ family: 'sqlite', driver: 'sqlite', path, params: {} })).path).toBe(path);
      }),
      { numRuns: 300 },
    );
  });
});
