import { describe, expect, it } from 'vitest';
import { parseDsn } from '../../src/dsn/index.js';
import { ConfigError } from '../../src/errors.js';
import { thrownBy } from '../support/rejection.js';

/** The ConfigError parsing `dsn` fails with. */
const failure = (dsn: string, options: Parameters<typeof parseDsn>[1] = {}): ConfigError => thrownBy(() => parseDsn(dsn, options), ConfigError);

describe('PostgreSQL URLs', () => {
  it('postgres:// and postgresql://, scheme in any case', () => {
    expect(parseDsn('postgres://u:p@h:1/d')).toMatchObject({ family: 'postgres-url', driver: 'postgres', user: 'u', password: 'p', host: 'h', port: 1, database: 'd' });
    expect(parseDsn('PostgreSQL://u@h/d')).toMatchObject({ family: 'postgres-url', host: 'h', database: 'd' });
  });

  it('surrounding whitespace is ignored', () => {
    expect(parseDsn('  postgres://u@h/d \n')).toMatchObject({ host: 'h', database: 'd' });
  });

  it('decodes user, password, database and params; a lone % stays literal', () => {
    const parsed = parseDsn('postgres://us%65r:100%25%ZZ%@h/my%20db?application_name=a%26b&options=-c%20x%3D1&plus=a+b');
    expect(parsed).toMatchObject({ user: 'user', password: '100%%ZZ%', database: 'my db' });
    expect(parsed.params).toEqual({ application_name: 'a&b', options: '-c x=1', plus: 'a+b' });
  });

  it('invalid UTF-8 escapes stay literal instead of failing the whole value', () => {
    expect(parseDsn('postgres://u:%C3%28x%E2%82%AC@h/d').password).toBe('%C3(x€');
  });

  it('libpq query parameters host, port, user, password and dbname win over the URL', () => {
    const parsed = parseDsn('postgres://a:b@h1:1/d1?host=h2&port=2&user=c&password=e&dbname=d2&sslmode=require');
    expect(parsed).toEqual({ family: 'postgres-url', driver: 'postgres', user: 'c', password: 'e', host: 'h2', port: 2, database: 'd2', params: { sslmode: 'require' } });
  });

  it('a Unix socket through ?host= or an encoded host', () => {
    expect(parseDsn('postgres:///app?host=/var/run/postgresql')).toMatchObject({ host: '/var/run/postgresql', database: 'app' });
    expect(parseDsn('postgres://u@%2Fvar%2Frun%2Fpostgresql/app')).toMatchObject({ user: 'u', host: '/var/run/postgresql', database: 'app' });
  });

  it('an empty path and a trailing slash give no database', () => {
    expect(parseDsn('postgres://u@h').database).toBeUndefined();
    expect(parseDsn('postgres://u@h/').database).toBeUndefined();
  });

  it('params keep their order; the last duplicate wins', () => {
    const parsed = parseDsn('postgres://h/d?b=1&a=2&b=3&flag');
    expect(Object.entries(parsed.params)).toEqual([
      ['b', '3'],
      ['a', '2'],
      ['flag', ''],
    ]);
  });

  it('a username with an encoded colon and an @', () => {
    expect(parseDsn('postgres://user%40server%3Ax:pw@h/d')).toMatchObject({ user: 'user@server:x', password: 'pw' });
  });

  it('a user without a password and an empty password', () => {
    expect(parseDsn('postgres://u@h/d').password).toBeUndefined();
    expect(parseDsn('postgres://u:@h/d')).toMatchObject({ user: 'u' });
    expect(parseDsn('postgres://u:@h/d').password).toBeUndefined();
  });
});

describe('PostgreSQL key/value', () => {
  it('libpq quoting: single quotes, backslash escapes, spaces around =', () => {
    const parsed = parseDsn(String.raw`host = db.internal port=6543 user='app user' password='it\'s a \\ secret' dbname=app sslmode=verify-full`);
    expect(parsed).toEqual({
      family: 'postgres-keyvalue',
      driver: 'postgres',
      host: 'db.internal',
      port: 6543,
      user: 'app user',
      password: String.raw`it's a \ secret`,
      database: 'app',
      params: { sslmode: 'verify-full' },
    });
  });

  it('backslash escapes in unquoted values and an empty quoted value', () => {
    expect(parseDsn(String.raw`host=h password=a\ b user=''`)).toMatchObject({ host: 'h', password: 'a b' });
    expect(parseDsn(String.raw`host=h password=a\ b user=''`).user).toBeUndefined();
  });

  it('as in libpq, a blank after = is skipped and the next word is the value', () => {
    expect(parseDsn('host=h password= pw dbname=d')).toMatchObject({ password: 'pw', database: 'd' });
  });

  it('hostaddr stands in for a missing host and stays a param', () => {
    expect(parseDsn('hostaddr=10.0.0.5 dbname=d')).toMatchObject({ host: '10.0.0.5', params: { hostaddr: '10.0.0.5' } });
    expect(parseDsn('host=db hostaddr=10.0.0.5')).toMatchObject({ host: 'db', params: { hostaddr: '10.0.0.5' } });
  });

  it('no host is allowed (the driver default applies, as in libpq)', () => {
    expect(parseDsn('dbname=app user=me').host).toBeUndefined();
  });

  it('a quoted password with every special character', () => {
    const password = `@:/?#%&= !()[]{}|;"',<>\\+`;
    const quoted = password.replace(/[\\']/g, (char) => `\\${char}`);
    expect(parseDsn(`host=h password='${quoted}'`).password).toBe(password);
  });
});

describe('MySQL URLs', () => {
  it('mysql:// and mariadb://', () => {
    expect(parseDsn('mysql://u:p@h:3307/d?charset=utf8mb4')).toEqual({
      family: 'mysql-url',
      driver: 'mysql',
      user: 'u',
      password: 'p',
      host: 'h',
      port: 3307,
      database: 'd',
      params: { charset: 'utf8mb4' },
    });
    expect(parseDsn('mariadb://u@[fe80::1%25eth0]:3306/d')).toMatchObject({ family: 'mysql-url', host: 'fe80::1%eth0', port: 3306 });
  });

  it('user and password params never stay in params; the URL credentials win', () => {
    expect(parseDsn('mysql://u:p@h/d?password=q&user=v&x=1')).toMatchObject({ user: 'u', password: 'p', params: { x: '1' } });
    expect(parseDsn('mysql://h/d?password=q&user=v')).toMatchObject({ user: 'v', password: 'q', params: {} });
  });

  it('raw special characters in the password', () => {
    expect(parseDsn('mysql://root:p@ss/w?rd#1@db:3306/app')).toMatchObject({ password: 'p@ss/w?rd#1', host: 'db', port: 3306, database: 'app' });
  });
});

describe('Go MySQL form', () => {
  it.each([
    ['user:pass@tcp(db.example.com:3306)/app?parseTime=true', { user: 'user', password: 'pass', host: 'db.example.com', port: 3306, database: 'app', params: { parseTime: 'true' } }],
    ['user:pass@tcp([::1]:3306)/app', { host: '::1', port: 3306, database: 'app' }],
    ['user:pass@tcp6([2001:db8::1])/app', { host: '2001:db8::1', database: 'app' }],
    ['user@unix(/run/mysqld/mysqld.sock)/app', { user: 'user', host: '/run/mysqld/mysqld.sock', database: 'app' }],
    ['user@/app', { user: 'user', database: 'app' }],
    ['user:pw@tcp/app', { user: 'user', password: 'pw', database: 'app' }],
    ['tcp(h:3306)/app', { host: 'h', port: 3306, database: 'app' }],
    ['u:p@tcp(h)/', { host: 'h' }],
    ['u:p@tcp(h:3306)/app?tls=skip-verify&loc=Local&sslrootcert=/etc/ssl/ca.pem', { database: 'app', params: { tls: 'skip-verify', loc: 'Local', sslrootcert: '/etc/ssl/ca.pem' } }],
  ])('%s', (dsn, expected) => {
    expect(parseDsn(dsn)).toMatchObject({ family: 'mysql-go', driver: 'mysql', ...expected });
  });

  it('no network means no host (the driver default)', () => {
    expect(parseDsn('user@/app').host).toBeUndefined();
  });

  it('a password with @, /, ( and ) is split at the last @ before the network', () => {
    expect(parseDsn('us(er:p@s/s)w@tcp(db:3306)/app')).toMatchObject({ user: 'us(er', password: 'p@s/s)w', host: 'db', port: 3306, database: 'app' });
  });

  it('a plain /db is the Go form when the driver is mysql', () => {
    expect(parseDsn('/app', { driver: 'mysql' })).toMatchObject({ family: 'mysql-go', database: 'app' });
  });

  it('the database is not searched in the query', () => {
    expect(parseDsn('u@tcp(h)/app?x=/a/b').database).toBe('app');
  });
});

describe('SQLite', () => {
  it.each([
    [':memory:', ':memory:', {}],
    ['sqlite::memory:', ':memory:', {}],
    ['file::memory:?cache=shared', ':memory:', { cache: 'shared' }],
    ['sqlite:data/app.db', 'data/app.db', {}],
    ['sqlite3:data/app.db?mode=ro', 'data/app.db', { mode: 'ro' }],
    ['sqlite://./app.db', './app.db', {}],
    ['sqlite:///var/lib/app.db', '/var/lib/app.db', {}],
    ['file:app.db?mode=ro&_fk=1', 'app.db', { mode: 'ro', _fk: '1' }],
    ['file:///var/lib/my%20app.db', '/var/lib/my app.db', {}],
    ['file://localhost/var/lib/app.db', '/var/lib/app.db', {}],
    ['./data/app.sqlite3', './data/app.sqlite3', {}],
    ['/var/lib/APP.DB', '/var/lib/APP.DB', {}],
  ])('%s', (dsn, path, params) => {
    expect(parseDsn(dsn)).toEqual({ family: 'sqlite', driver: 'sqlite', path, params });
  });

  it('any plain path when the driver is sqlite, taken verbatim', () => {
    expect(parseDsn('data/my%20db?x', { driver: 'sqlite' })).toEqual({ family: 'sqlite', driver: 'sqlite', path: 'data/my%20db?x', params: {} });
  });
});

describe('bad inputs: DSN_INVALID naming the part, never the password', () => {
  const SECRET = 'S3cr3t-Pw';

  it.each([
    ['empty', '', /empty/],
    ['whitespace', ' \t\n ', /empty/],
    ['unknown scheme', `redis://u:${SECRET}@h:6379/0`, /scheme "redis:\/\/"/],
    ['missing host', `postgres://user:${SECRET}@/db`, /host is missing/],
    ['missing host without password', 'postgres://user@/db', /host is missing/],
    ['mysql URL missing host', `mysql://u:${SECRET}@:3306/db`, /host is missing/],
    ['port abc', `postgres://u:${SECRET}@h:abc/db`, /port is not a number/],
    ['port 70000', `postgres://u:${SECRET}@h:70000/db`, /port 70000 is out of range/],
    ['port 0', `mysql://u:${SECRET}@h:0/db`, /port 0 is out of range/],
    ['empty port', `postgres://u:${SECRET}@h:/db`, /port is empty/],
    ['password without host', `postgres://u:${SECRET}/db`, /port is not a number/],
    ['Go port', `u:${SECRET}@tcp(h:99999)/db`, /port 99999 is out of range/],
    ['key/value port', `host=h port=x password=${SECRET}`, /key "port" is not a number/],
    ['unterminated quote', `host=h password='${SECRET} dbname=d`, /quoted value of key "password" has no closing quote/],
    ['missing = after a value', `host=h password=${SECRET} extra words`, /word after the value of "password" has no "="/],
    ['multiple hosts', `postgres://u:${SECRET}@h1:5432,h2:5432/db`, /multiple hosts/],
    ['multiple hosts in key/value', `host=h1,h2 password=${SECRET}`, /multiple hosts/],
    ['unbracketed IPv6', `postgres://u:${SECRET}@::1:5432/db`, /brackets/],
    ['bad host characters', `postgres://u:${SECRET}@ho$t/db`, /host "ho\$t"/],
    ['Go address in a URL', `mysql://u:${SECRET}@tcp(h:3306)/db`, /Go-style address/],
    ['unsupported Go network', `u:${SECRET}@pipe(x)/db`, /network "pipe"/],
    ['Go form without /database', `u:${SECRET}@tcp(h:3306)db`, /"\/database"/],
    ['empty sqlite path', 'sqlite:', /SQLite path is empty/],
    ['file URI with a remote authority', 'file://server/share/app.db', /authority "server"/],
    ['unrecognised', 'just-some-words', /not recognised/],
    ['query parameter without a name', `postgres://u:${SECRET}@h/d?=x`, /no name/],
  ])('%s', (_name, dsn, part) => {
    const error = failure(dsn, { connection: 'writer' });
    expect(error.code).toBe('DSN_INVALID');
    expect(error.connection).toBe('writer');
    expect(error.message).toMatch(part);
    expect(error.message).toContain('connection "writer"');
    expect(error.message).not.toContain(SECRET);
  });

  it('the redacted DSN is in the message', () => {
    const error = failure(`postgres://u:${SECRET}@h:70000/db`);
    expect(error.message).toContain('postgres://u:****@h:70000/db');
  });

  it.each([
    ['mysql', `postgres://u:${SECRET}@h/db`, /driver mysql but the DSN is a PostgreSQL URL/],
    ['postgres', `mysql://u:${SECRET}@h/db`, /driver postgres but the DSN is a MySQL URL/],
    ['postgres', `u:${SECRET}@tcp(h:3306)/db`, /driver postgres but the DSN is a Go MySQL DSN/],
    ['mysql', `host=h password=${SECRET}`, /driver mysql but the DSN is a PostgreSQL key\/value string/],
    ['sqlite', `host=h password=${SECRET}`, /driver sqlite but the DSN is a PostgreSQL key\/value string/],
    ['postgres', 'app.db', /driver postgres but the DSN is a SQLite path/],
    ['mysql', 'file:app.db', /driver mysql but the DSN is a SQLite path/],
    ['sqlite', `u:${SECRET}@tcp(h:3306)/db`, /driver sqlite but the DSN is a Go MySQL DSN/],
  ] as const)('driver %s with %s is a mismatch naming both', (driver, dsn, message) => {
    const error = failure(dsn, { driver });
    expect(error.code).toBe('DSN_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SECRET);
    expect(error.solutions.join(' ')).toMatch(/driver/);
  });

  it('the driver hint settles a key/value DSN whose quoted value looks like a Go address', () => {
    const dsn = "host=h password='x@tcp(y)/z'";
    expect(parseDsn(dsn, { driver: 'postgres' })).toMatchObject({ family: 'postgres-keyvalue', password: 'x@tcp(y)/z' });
  });
});
