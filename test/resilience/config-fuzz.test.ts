/**
 * Generated configurations and DSNs (objects, environment variables, DSN text cut and
 * corrupted at random) must never make dbmodule throw anything but a DbModuleError, and no
 * password may reach a message, a warning or a printed config. Pure parsing and validation:
 * no I/O. `DBMODULE_FUZZ_RUNS` sets the total number of cases: 10,000 by default (about 3 s), 100,000 in `npm run soak` (about 30 s).
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONNECTION_KEYS, IAM_KEYS } from '../../src/config/schema.js';
import { loadConfig, validateConfig } from '../../src/config/index.js';
import { describeDsn, parseDsn, redactDsn } from '../../src/dsn/index.js';
import { DbModuleError } from '../../src/errors.js';

const TOTAL_RUNS = Number(process.env.DBMODULE_FUZZ_RUNS ?? 10_000);
/** Four properties share the total. */
const RUNS = { numRuns: Math.ceil(TOTAL_RUNS / 4) };

/** Every password starts with this marker, so even a fragment of one (cut at a special character) is caught. */
const MARKER = 'Zq7Sekr';
const NASTY = [...'@:/?#%&= !()[]{}\'"\\;,+$*~^`|<>\t'];
const suffix = fc.string({ unit: fc.oneof(fc.constantFrom(...NASTY), fc.constantFrom('a', 'B', '7', 'é', '🔑')), maxLength: 16 });
const password = suffix.map((tail) => `${MARKER}${tail}`);

const host = fc.constantFrom('db.example.com', 'mydb.cluster-abc.us-east-1.rds.amazonaws.com', '127.0.0.1', '[::1]', 'localhost', 'h', '');
const port = fc.oneof(fc.constantFrom('', ':5432', ':3306', ':0', ':99999', ':abc'), fc.integer({ min: 0, max: 70_000 }).map((n) => `:${n}`));
const user = fc.constantFrom('app', 'app_user', 'a:b', 'u@x', '', 'émile');
const database = fc.constantFrom('mydb', '', 'my db', 'a/b');
const params = fc.constantFrom('', '?sslmode=disable', '?sslmode=verify-full&sslrootcert=/ca.pem', '?connect_timeout=5', '?parseTime=true', '?sslmode=bogus', '?x', '?&&=', '?application_name=a%2');

/**
 * A DSN of any family with `secret` written raw, percent-encoded or quoted, in three pieces:
 * what comes before the password, the password, and what comes after it.
 */
function dsnWith(secret: string): fc.Arbitrary<[string, string, string]> {
  const written = fc.constantFrom(secret, encodeURIComponent(secret));
  const quoted = `'${secret.replace(/[\\']/g, '\\$&')}'`;
  return fc.oneof(
    fc.tuple(fc.constantFrom('postgres', 'postgresql', 'mysql', 'mariadb'), user, written, host, port, database, params).map(([scheme, u, p, h, po, d, q]): [string, string, string] => [`${scheme}://${u}:`, p, `@${h}${po}/${d}${q}`]),
    fc.tuple(user, written, host, port, database, params).map(([u, p, h, po, d, q]): [string, string, string] => [`${u}:`, p, `@tcp(${h}${po})/${d}${q}`]),
    // (an empty `user=` would make libpq, and us, read `password=...` as the user name)
    fc.tuple(host, user.filter((u) => u !== ''), database).map(([h, u, d]): [string, string, string] => [`host=${h} user=${u} password=`, quoted, ` dbname=${d} sslmode=disable`]),
    fc.tuple(written, database).map(([p, d]): [string, string, string] => [`sqlite:${d}?_auth_pass=`, p, '']),
  );
}

/**
 * A DSN, then possibly damaged after its password: cut short, a character dropped or inserted,
 * or whitespace around it. The character that ends the password (`@`, a blank) stays: without
 * it, or with damage before or inside the password, the text is a user name, a host or a file
 * name that no parser could know to hide.
 */
function damagedDsn(secret: string): fc.Arbitrary<string> {
  return fc.tuple(dsnWith(secret), fc.nat(), fc.nat(), fc.constantFrom(...NASTY, '', '@', '//')).map(([[head, written, tail], a, b, extra]) => {
    const at = Math.min(tail.length, 1 + (a % (tail.length + 1)));
    switch (b % 5) {
      case 0:
        return head + written + tail;
      case 1:
        return head + written + tail.slice(0, at);
      case 2:
        return head + written + tail.slice(0, at) + tail.slice(at + 1);
      case 3:
        return head + written + tail.slice(0, at) + extra + tail.slice(at);
      default:
        return ` \n${head}${written}${tail}\t `;
    }
  });
}

/** Values of every type a YAML file, a JSON file or an object can hold. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('10', '1h30m', '500ms', '-1s', '1x', 'yes', 'off', 'true', '0', '', ' ', '25', '2.5', 'NaN', '1e3', 'postgres', 'mysql', 'sqlite3', 'pgx', 'oracle', 'us-east-1'),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }),
  fc.string({ maxLength: 12 }),
);

const connectionName = fc.constantFrom('writer', 'reader', 'default', 'read-replica', 'a b', 'É', '', '0', '__proto__x', 'constructor');
const keyName = fc.oneof(fc.constantFrom(...CONNECTION_KEYS), fc.constantFrom('max_open_conns', 'maxOpenConnections', 'dsn ', 'password', 'token_refresh_interval'));
const iamKeyName = fc.oneof(fc.constantFrom(...IAM_KEYS), fc.constantFrom('regoin', 'enabled ', 'dbuser'));

function connectionObject(secret: string): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(
      fc.dictionary(keyName, anyValue, { maxKeys: 5 }),
      fc.option(damagedDsn(secret), { nil: undefined }),
      fc.option(fc.dictionary(iamKeyName, anyValue, { maxKeys: 4 }), { nil: undefined }),
      // a DSN where a value of another type belongs (a swapped variable) must not be echoed in the error
      fc.option(fc.tuple(fc.constantFrom('driver', 'max_open_connections', 'connection_timeout'), damagedDsn(secret)), { nil: undefined }),
      fc.option(fc.constantFrom('postgres', 'mysql', 'sqlite', 'mariadb', 'bogus'), { nil: undefined }),
    )
    .map(([rest, dsn, iam, misplaced, driver]) => ({
      ...rest,
      ...(misplaced === undefined ? {} : { [misplaced[0]]: misplaced[1] }),
      ...(dsn === undefined ? {} : { dsn }),
      ...(iam === undefined ? {} : { aws_iam_auth: iam }),
      ...(driver === undefined ? {} : { driver }),
    }));
}

function configObject(secret: string): fc.Arbitrary<unknown> {
  const section = fc.tuple(fc.dictionary(connectionName, connectionObject(secret), { maxKeys: 3 }), fc.option(connectionName, { nil: undefined }), fc.dictionary(fc.constantFrom('extra', 'conections', 'default '), anyValue, { maxKeys: 1 }));
  return fc.oneof(
    section.map(([connections, def, extra]) => ({ connections, ...(def === undefined ? {} : { default: def }), ...extra })),
    section.map(([connections, def]) => ({ database: { connections, ...(def === undefined ? {} : { default: def }) } })),
    anyValue,
  );
}

const envKey = fc.oneof(
  fc.constantFrom(...CONNECTION_KEYS.filter((key) => key !== 'aws_iam_auth')).map((key) => key.toUpperCase()),
  fc.constantFrom(...IAM_KEYS).map((key) => `AWS_IAM_AUTH_${key.toUpperCase()}`),
  // free-text keys (db_user, signing_host) take any string, so a DSN put there is that value: not generated
  fc.constantFrom('DSNN', 'AWS_IAM_AUTH', 'MAX_OPEN', 'AWS_IAM_AUTH_TOKEN_REFRESH', ''),
);

const FREE_TEXT_VARIABLES = new Set(['AWS_IAM_AUTH_DB_USER', 'AWS_IAM_AUTH_SIGNING_HOST']);

/** `DB_<NAME>_<KEY>` variables (and the default's), with DSNs and values of every kind as text. */
function environment(secret: string): fc.Arbitrary<Record<string, string>> {
  const variable = fc.tuple(fc.constantFrom('WRITER', 'READER', 'READ_REPLICA', 'DEFAULT', 'X', ''), envKey);
  const text = anyValue.map((v) => (typeof v === 'string' ? v : (JSON.stringify(v) ?? '')));
  const value = fc.tuple(variable, fc.boolean(), damagedDsn(secret), text).map(([[name, key], dsnValue, dsn, other]): [string, string] => [
    `DB_${name}_${key}`,
    dsnValue && !FREE_TEXT_VARIABLES.has(key) ? dsn : other,
  ]);
  return fc
    .tuple(
      fc.array(value, { maxLength: 6 }),
      fc.option(fc.constantFrom('writer', 'reader', 'nope', ''), { nil: undefined }),
      fc.option(damagedDsn(secret), { nil: undefined }),
    )
    .map(([pairs, def, writerDsn]) => ({
      ...Object.fromEntries(pairs),
      ...(writerDsn === undefined ? {} : { DB_WRITER_DSN: writerDsn }),
      ...(def === undefined ? {} : { DEFAULT_DB_CONNECTION: def }),
    }));
}

/** Everything of an error a person reads: message, causes, solutions, and the messages of its causes. */
function readableText(error: DbModuleError): string {
  const parts = [error.message, ...error.possibleCauses, ...error.solutions];
  for (let cause: unknown = error.cause, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    // a driver's own message may quote input; dbmodule's messages are the contract
    if (cause instanceof DbModuleError) parts.push(cause.message);
    if (cause instanceof AggregateError) for (const inner of cause.errors) if (inner instanceof DbModuleError) parts.push(inner.message);
  }
  return parts.join('\n');
}

function expectNoSecret(text: string, secret: string, what: string): void {
  expect(text.includes(MARKER), `${what} shows (part of) the password:\n${text}`).toBe(false);
  expect(text.includes(encodeURIComponent(secret)), `${what} shows the encoded password:\n${text}`).toBe(false);
}

/** Runs `work`; anything thrown must be a DbModuleError whose readable text holds no password. */
function expectTyped<T>(work: () => T, secret: string): T | undefined {
  try {
    return work();
  } catch (error) {
    expect(error, `threw ${inspect(error)}`).toBeInstanceOf(DbModuleError);
    expect(typeof (error as DbModuleError).code).toBe('string');
    expectNoSecret(readableText(error as DbModuleError), secret, 'error');
    return undefined;
  }
}

describe(`fuzzing configurations and DSNs (${TOTAL_RUNS} cases)`, () => {
  it('DSN text: parseDsn throws only DbModuleError, and neither its messages nor redactDsn/describeDsn show a password', () => {
    fc.assert(
      fc.property(
        password.chain((secret) => fc.tuple(fc.constant(secret), damagedDsn(secret), fc.constantFrom(undefined, 'postgres', 'mysql', 'sqlite'))),
        ([secret, dsn, hint]) => {
          // told "sqlite", any text that is not a known DSN family is a file name, shown in full
          const driver = hint === 'sqlite' && !dsn.trim().startsWith('sqlite:') ? undefined : hint;
          const parsed = expectTyped(() => parseDsn(dsn, driver ? { driver, connection: 'writer' } : {}), secret);
          expectNoSecret(redactDsn(dsn), secret, 'redactDsn');
          if (parsed) expectNoSecret(describeDsn(parsed), secret, 'describeDsn');
        },
      ),
      RUNS,
    );
  });

  it('config objects: validateConfig throws only DbModuleError; warnings and the printed config show no password', () => {
    fc.assert(
      fc.property(
        password.chain((secret) => fc.tuple(fc.constant(secret), configObject(secret))),
        ([secret, raw]) => {
          const config = expectTyped(() => validateConfig(raw, { source: 'object' }), secret);
          if (!config) return;
          expectNoSecret(config.warnings.join('\n'), secret, 'warnings');
          expectNoSecret(JSON.stringify(config), secret, 'JSON.stringify(config)');
          expectNoSecret(inspect(config, { depth: 10 }), secret, 'util.inspect(config)');
        },
      ),
      RUNS,
    );
  });

  it('environment variables over a config object: only DbModuleError, no password in messages or warnings', () => {
    fc.assert(
      fc.property(
        password.chain((secret) => fc.tuple(fc.constant(secret), configObject(secret), environment(secret))),
        ([secret, raw, env]) => {
          const config = expectTyped(() => validateConfig(raw, { source: 'object', env }), secret);
          if (config) expectNoSecret([...config.warnings, JSON.stringify(config)].join('\n'), secret, 'config');
        },
      ),
      RUNS,
    );
  });

  it('environment alone (loadConfig without a file): only DbModuleError, no password in messages or warnings', async () => {
    await fc.assert(
      fc.asyncProperty(
        password.chain((secret) => fc.tuple(fc.constant(secret), environment(secret))),
        async ([secret, env]) => {
          try {
            const config = await loadConfig({ env, cwd: '/nonexistent-dbmodule-fuzz' });
            expectNoSecret([...config.warnings, JSON.stringify(config), inspect(config, { depth: 10 })].join('\n'), secret, 'config');
          } catch (error) {
            expect(error, `threw ${inspect(error)}`).toBeInstanceOf(DbModuleError);
            expectNoSecret(readableText(error as DbModuleError), secret, 'error');
          }
        },
      ),
      RUNS,
    );
  });
});
