import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, DbModuleError, type Database } from '../../src/index.js';
import type { Emulator } from '../../src/emulator/index.js';
import { isolateAwsEnvironment } from '../support/iam/credentials-server.js';
import { captureLogger } from '../support/logger.js';
import { credentialsSource, type CredentialsSource } from '../support/iam-e2e/credentials.js';
import { DRIVERS, iamConnection, newCredentials, RDS_HOST, RDS_PORT, startRdsEmulator, type IamDriver } from '../support/iam-e2e/rds.js';

type Log = ReturnType<typeof captureLogger>;

let emulator: Emulator;
let source: CredentialsSource;

beforeAll(async () => {
  emulator = await startRdsEmulator();
  source = credentialsSource(emulator, { now: () => Date.now() });
});

afterAll(async () => {
  await emulator?.close();
});

/** Opens one connection named `main` that must fail; returns the error and everything logged. */
async function openFailing(connection: Record<string, unknown>, options: { credentials?: CredentialsSource['provider'] | ReturnType<typeof newCredentials> } = {}): Promise<{ error: DbModuleError; log: Log }> {
  const log = captureLogger();
  let db: Database | undefined;
  try {
    db = await createDatabase({ connections: { main: connection } }, { logger: log.logger, ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(DbModuleError);
    return { error: error as DbModuleError, log };
  } finally {
    await db?.close();
  }
  throw new Error('createDatabase was expected to fail');
}

const errorLines = (log: Log) => log.entries.filter((entry) => entry.level === 'error');
const warnings = (log: Log) => log.entries.filter((entry) => entry.level === 'warn');
/** True when some entry of `list` contains every fragment (case-insensitive). */
const mentions = (list: readonly string[], ...fragments: string[]): boolean =>
  list.some((item) => fragments.every((fragment) => item.toLowerCase().includes(fragment.toLowerCase())));

describe("the seed's five failure categories", () => {
  it.each(DRIVERS)('1. credentials: nothing in the AWS default chain is AWS_CREDENTIALS_UNAVAILABLE with the seed\'s solutions (%s)', async (driver) => {
    const restore = isolateAwsEnvironment({});
    try {
      const { error, log } = await openFailing(iamConnection(emulator, driver));
      expect(error.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
      expect(error.connection).toBe('main');
      expect(error.message).toContain('connection "main"');
      expect(error.message).toContain(`${RDS_HOST}:${RDS_PORT[driver]}`);
      expect(mentions(error.possibleCauses, 'no aws credentials')).toBe(true);
      expect(mentions(error.solutions, 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY')).toBe(true);
      expect(mentions(error.solutions, '~/.aws/credentials')).toBe(true);
      expect(mentions(error.solutions, 'instance profile')).toBe(true);
      // The seed also listed "verify the region"; the region is known (us-east-1, logged below) and
      // plays no part in finding credentials, so that hint would send the user the wrong way.
      expect(mentions(error.solutions, 'region')).toBe(false);
      expect(mentions(error.possibleCauses, 'expired')).toBe(false);
      expect(errorLines(log)).toEqual([
        { level: 'error', message: 'Failed to load AWS configuration', fields: expect.objectContaining({ connection: 'main', code: 'AWS_CREDENTIALS_UNAVAILABLE', region: 'us-east-1', possible_causes: error.possibleCauses }) },
      ]);
    } finally {
      restore();
    }
  });

  it.each<[string, IamDriver, string]>([
    ['a PostgreSQL socket DSN', 'postgres', 'postgresql://app_user@/dbmodule_test?host=/var/run/postgresql'],
    ['a MySQL unix-socket DSN', 'mysql', 'app_user@unix(/var/run/mysqld/mysqld.sock)/dbmodule_test'],
  ])('2. endpoint extraction: %s is IAM_ENDPOINT_INVALID with the expected DSN format', async (_, driver, dsn) => {
    const { error, log } = await openFailing({ driver, dsn, aws_iam_auth: { enabled: true, region: 'us-east-1' } }, { credentials: source.provider });
    expect(error.code).toBe('IAM_ENDPOINT_INVALID');
    expect(error.connection).toBe('main');
    expect(error.message).toMatch(/needs a TCP host.*socket \/var\/run/);
    expect(mentions(error.solutions, 'postgresql://user@host.rds.amazonaws.com:5432/dbname')).toBe(true);
    expect(mentions(error.solutions, 'host:port')).toBe(true);
    expect(errorLines(log)).toEqual([
      { level: 'error', message: 'Failed to extract RDS endpoint from DSN', fields: { connection: 'main', error: error.message, dsn_format: 'Expected format: postgresql://user@host:port/db' } },
    ]);
  });

  it('3. username: no user in the DSN nor in aws_iam_auth.db_user is IAM_USERNAME_MISSING', async () => {
    const { error, log } = await openFailing(iamConnection(emulator, 'postgres', { user: null }), { credentials: source.provider });
    expect(error.code).toBe('IAM_USERNAME_MISSING');
    expect(error.connection).toBe('main');
    expect(mentions(error.solutions, 'username in the DSN')).toBe(true);
    expect(mentions(error.solutions, 'aws_iam_auth.db_user')).toBe(true);
    expect(mentions(error.solutions, 'username exists')).toBe(true);
    expect(errorLines(log)).toEqual([{ level: 'error', message: 'Database username not found', fields: { connection: 'main', dsn_has_username: false, config_has_db_user: false } }]);
  });

  it('4. credential store: a host that is no RDS endpoint and no region is IAM_REGION_MISSING', async () => {
    const { error, log } = await openFailing({ driver: 'postgres', dsn: 'postgresql://app_user@db.internal.example.com:6432/app', aws_iam_auth: { enabled: true } }, { credentials: source.provider });
    expect(error.code).toBe('IAM_REGION_MISSING');
    expect(error.connection).toBe('main');
    expect(error.message).toContain('db.internal.example.com');
    expect(mentions(error.possibleCauses, 'region')).toBe(true);
    expect(mentions(error.solutions, 'aws_iam_auth.region')).toBe(true);
    expect(mentions(error.solutions, 'signing_host')).toBe(true);
    expect(errorLines(log)).toEqual([
      {
        level: 'error',
        message: 'Failed to create AWS RDS credential store',
        fields: expect.objectContaining({ connection: 'main', endpoint: 'db.internal.example.com:6432', username: 'app_user', error: error.message, possible_causes: expect.any(String) }),
      },
    ]);
  });

  it.each(DRIVERS)('5. ping: a token signed for the wrong region is refused; IAM_AUTH_FAILED after bounded retries, with a warning naming both regions (%s)', async (driver) => {
    const logged = emulator.authLog.entries().length;
    const { error, log } = await openFailing(iamConnection(emulator, driver, { iam: { region: 'us-west-2' } }), { credentials: source.provider });
    expect(error.code).toBe('IAM_AUTH_FAILED');
    expect(error.connection).toBe('main');
    expect(error.message).toContain(`${RDS_HOST}:${RDS_PORT[driver]}`);
    expect(mentions(error.possibleCauses, 'token')).toBe(true);
    expect(mentions(error.possibleCauses, 'rds_iam')).toBe(true);
    expect(mentions(error.solutions, 'rds-db:connect')).toBe(true);
    expect(mentions(error.solutions, 'region')).toBe(true);
    expect(mentions(error.solutions, 'aws sts get-caller-identity')).toBe(true);
    expect(mentions(error.solutions, 'security groups')).toBe(true);
    // The driver's own refusal stays on the cause chain.
    expect((error.cause as DbModuleError).code).toBe('AUTH_FAILED');

    const refused = emulator.authLog.entries().slice(logged);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeLessThanOrEqual(4);
    expect(refused.every((attempt) => attempt.decision === 'deny' && attempt.reason === 'WRONG_REGION')).toBe(true);

    const mismatch = warnings(log).find((entry) => entry.message.includes('region differs'));
    expect(mismatch?.fields).toMatchObject({ region: 'us-west-2', hostname_region: 'us-east-1' });
    expect(errorLines(log)).toEqual([
      {
        level: 'error',
        message: 'Database ping failed with IAM authentication',
        fields: expect.objectContaining({ connection: 'main', code: 'IAM_AUTH_FAILED', timeout: '10s', possible_causes: error.possibleCauses }),
      },
    ]);
  });

  it('5. ping: credentials the server does not know are IAM_AUTH_FAILED too', async () => {
    const stranger = newCredentials();
    const logged = emulator.authLog.entries().length;
    const { error } = await openFailing(iamConnection(emulator, 'mysql'), { credentials: stranger });
    expect(error.code).toBe('IAM_AUTH_FAILED');
    const refused = emulator.authLog.entries().slice(logged);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused.every((attempt) => attempt.reason === 'UNKNOWN_KEY' && attempt.accessKeyId === stranger.accessKeyId)).toBe(true);
  });
});

describe('warnings and refusals', () => {
  it.each(DRIVERS)('IAM with TLS disabled is refused with the reason (%s)', async (driver) => {
    const tls = driver === 'postgres' ? 'sslmode=disable' : 'ssl-mode=DISABLED';
    const logged = emulator.authLog.entries().length;
    const { error, log } = await openFailing(iamConnection(emulator, driver, { tls }), { credentials: source.provider });
    expect(error.code).toBe('TLS_FAILED');
    expect(error.connection).toBe('main');
    expect(error.message).toContain(tls);
    expect(error.message).toMatch(/token.*in the clear/);
    expect(mentions(error.solutions, 'verify-full')).toBe(true);
    expect(errorLines(log).map((entry) => entry.message)).toEqual(['IAM authentication refused: TLS is disabled']);
    // Refused before any connection attempt: the token never left the process.
    expect(emulator.authLog.entries().slice(logged)).toEqual([]);
  });

  it('a token signed for localhost works with an endpoint that accepts it, and is warned about', async () => {
    const local = await startRdsEmulator({ advertise: false, mysql: false });
    try {
      const localSource = credentialsSource(local, { now: () => Date.now() });
      const log = captureLogger();
      const connection = iamConnection(local, 'postgres', { iam: { signing_host: undefined, signing_port: undefined, region: 'us-east-1' } });
      const db = await createDatabase({ connections: { main: connection } }, { logger: log.logger, credentials: localSource.provider });
      await db.close();
      const port = local.postgres?.port;
      expect(local.authLog.entries().map((attempt) => [attempt.decision, attempt.signedHost])).toEqual([['allow', `localhost:${port}`]]);
      expect(warnings(log)).toEqual([{ level: 'warn', message: expect.stringContaining('IP address or localhost'), fields: expect.objectContaining({ host: 'localhost' }) }]);
    } finally {
      await local.close();
    }
  });

  it.each(DRIVERS)('a DSN without a port signs for the default port (%s)', async (driver) => {
    // The emulator takes RDS's own port on a second loopback address (the real servers hold
    // 127.0.0.1), so a DSN without a port reaches it.
    const address = '127.0.0.2';
    const rds = await startRdsEmulator({ listen: address, hostnames: [RDS_HOST, address], advertise: false, ports: { [driver]: RDS_PORT[driver] }, postgres: driver === 'postgres' ? 'real' : false, mysql: driver === 'mysql' });
    try {
      const rdsSource = credentialsSource(rds, { now: () => Date.now() });
      const log = captureLogger();
      // mysql2 gives Node no server name for an IP host, so Node checks the certificate against
      // "localhost" and verify-full cannot pass; verify-ca still checks the emulator's CA.
      const tls = `sslrootcert=${rds.caFile}&sslmode=${driver === 'postgres' ? 'verify-full' : 'verify-ca'}`;
      const connection = iamConnection(rds, driver, { hostPort: address, tls, iam: { signing_port: undefined } });
      expect(String(connection.dsn)).not.toMatch(new RegExp(`${address}:`));
      const db = await createDatabase({ connections: { main: connection } }, { logger: log.logger, credentials: rdsSource.provider });
      const state = db.connection().tokenState();
      await db.close();
      expect(rds.authLog.entries().map((attempt) => [attempt.decision, attempt.signedHost])).toEqual([['allow', `${RDS_HOST}:${RDS_PORT[driver]}`]]);
      expect(state).toMatchObject({ signedHost: RDS_HOST, signedPort: RDS_PORT[driver] });
      expect(log.entries.find((entry) => entry.message === 'Extracted RDS endpoint')?.fields).toMatchObject({ endpoint: `${address}:${RDS_PORT[driver]}` });
    } finally {
      await rds.close();
    }
  });
});

describe("the seed's log sequence", () => {
  // Example Log Output (Debug Level) of the seed, in order, at its levels.
  const SEED_SEQUENCE: ReadonlyArray<[string, string]> = [
    ['info', 'Starting AWS IAM authentication setup'],
    ['debug', 'Loading AWS configuration'],
    ['debug', 'AWS configuration loaded successfully'],
    ['debug', 'Processing DSN for IAM authentication'],
    ['debug', 'Password stripped from DSN'],
    ['info', 'Extracted RDS endpoint'],
    ['debug', 'Extracted database configuration'],
    ['debug', 'Extracted username from DSN'],
    ['info', 'IAM authentication will use database user'],
    ['debug', 'Determined database driver configuration'],
    ['info', 'Creating AWS RDS credential store'],
    ['debug', 'AWS RDS credential store created successfully'],
    ['info', 'Database connection with AWS IAM authentication configured successfully'],
    ['debug', 'Testing database connection'],
    ['info', 'Database connection test successful'],
  ];

  it('one successful connection logs the sequence in order, and nothing at warn or error', async () => {
    const log = captureLogger();
    const dsnPassword = '$TOKEN';
    const connection = iamConnection(emulator, 'postgres', { password: dsnPassword });
    const db = await createDatabase({ connections: { main: connection } }, { logger: log.logger, credentials: source.provider });
    await db.close();
    const seedMessages = new Set(SEED_SEQUENCE.map(([, message]) => message));
    const sequence = log.entries.filter((entry) => seedMessages.has(entry.message));
    expect(sequence.map((entry) => [entry.level, entry.message])).toEqual(SEED_SEQUENCE);
    const fields = (message: string) => sequence.find((entry) => entry.message === message)?.fields;
    expect(fields('Starting AWS IAM authentication setup')).toMatchObject({ driver: 'postgres' });
    expect(fields('Processing DSN for IAM authentication')).toMatchObject({ original_dsn_length: String(connection.dsn).length });
    expect(fields('Extracted RDS endpoint')).toMatchObject({ endpoint: `localhost:${emulator.postgres?.port}` });
    expect(fields('Extracted username from DSN')).toMatchObject({ username: 'app_user' });
    expect(fields('Creating AWS RDS credential store')).toMatchObject({ endpoint: `${RDS_HOST}:5432`, username: 'app_user' });
    expect(fields('AWS RDS credential store created successfully')).toMatchObject({ region: 'us-east-1' });
    expect(log.entries.filter((entry) => entry.level === 'warn' || entry.level === 'error')).toEqual([]);
  });
});
