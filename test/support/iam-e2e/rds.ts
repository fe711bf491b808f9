import { randomBytes } from 'node:crypto';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../../src/emulator/index.js';
import { MYSQL_URL, PG_URL } from '../databases.js';

/** The RDS endpoint tokens are signed for; the emulator answers to it (and to localhost) with its CA. */
export const RDS_HOST = 'mydb.cluster-c9akciq32.us-east-1.rds.amazonaws.com';
export const REGION = 'us-east-1';
/** An IAM-only user: it exists nowhere but in tokens; the emulator relays it to the upstream's own login. */
export const IAM_USER = 'app_user';
export const PG_UPSTREAM = PG_URL;
export const MYSQL_UPSTREAM = MYSQL_URL;
/** RDS's ports: tokens are signed for these while the emulator listens on free ones. */
export const RDS_PORT = { postgres: 5432, mysql: 3306 } as const;

export type IamDriver = 'postgres' | 'mysql';
export const DRIVERS: readonly IamDriver[] = ['postgres', 'mysql'];

export interface RdsEmulatorOptions extends Omit<EmulatorOptions, 'postgres' | 'mysql'> {
  /** `pglite`: serve PostgreSQL sessions from the emulator's embedded database (no session limit). */
  readonly postgres?: 'real' | 'pglite' | false;
  readonly mysql?: boolean;
  /** Ports to listen on (default: free ones). */
  readonly ports?: { readonly postgres?: number; readonly mysql?: number };
  /** false: tokens must be signed for the listening port instead of RDS's. */
  readonly advertise?: boolean;
}

/**
 * The emulator as these suites use it: PostgreSQL and MariaDB relayed to the real servers,
 * tokens signed for {@link RDS_HOST} on RDS's ports, no trusted key until a test adds one.
 */
export function startRdsEmulator(options: RdsEmulatorOptions = {}): Promise<Emulator> {
  const { postgres = 'real', mysql = true, ports = {}, advertise = true, ...rest } = options;
  const endpoint = (driver: IamDriver) => ({
    ...(ports[driver] === undefined ? {} : { port: ports[driver] }),
    ...(advertise ? { advertisedPort: RDS_PORT[driver] } : {}),
  });
  return startEmulator({
    region: REGION,
    hostnames: ['localhost', RDS_HOST],
    credentials: [],
    ...rest,
    postgres: postgres === false ? false : { ...(postgres === 'real' ? { upstream: PG_UPSTREAM } : {}), ...endpoint('postgres') },
    mysql: mysql ? { upstream: MYSQL_UPSTREAM, ...endpoint('mysql') } : false,
  });
}

export interface IamConnectionOptions {
  /** Merged into `aws_iam_auth` (region, db_user, max_connects_per_second...); undefined removes a default. */
  readonly iam?: Record<string, unknown>;
  /** Added to the connection (pool settings). */
  readonly pool?: Record<string, unknown>;
  /** DSN user; default {@link IAM_USER}; `null` for none. */
  readonly user?: string | null;
  /** A password in the DSN, which IAM must strip. */
  readonly password?: string;
  /** Extra DSN query parameters. */
  readonly params?: string;
  /** TLS parameters instead of `sslrootcert=<emulator CA>&sslmode=verify-full`. */
  readonly tls?: string;
  /** DSN `host[:port]` instead of `localhost:<emulator port>`. */
  readonly hostPort?: string;
}

/**
 * A raw connection object for `createDatabase`: the DSN points at the emulator on localhost with
 * TLS verified against its CA (verify-full), the token is signed for {@link RDS_HOST} on RDS's port.
 */
export function iamConnection(emulator: Emulator, driver: IamDriver, options: IamConnectionOptions = {}): Record<string, unknown> {
  const endpoint = driver === 'postgres' ? emulator.postgres : emulator.mysql;
  if (!endpoint) throw new Error(`the emulator has no ${driver} endpoint`);
  const user = options.user === null ? '' : (options.user ?? IAM_USER);
  const auth = user ? `${user}${options.password === undefined ? '' : `:${encodeURIComponent(options.password)}`}@` : '';
  const scheme = driver === 'postgres' ? 'postgresql' : 'mysql';
  const tls = options.tls ?? `sslrootcert=${emulator.caFile}&sslmode=verify-full`;
  const query = [tls, options.params].filter(Boolean).join('&');
  return {
    driver,
    dsn: `${scheme}://${auth}${options.hostPort ?? `localhost:${endpoint.port}`}/dbmodule_test${query ? `?${query}` : ''}`,
    connection_timeout: '10s',
    ...options.pool,
    // An override of undefined removes the default (signing_host: undefined signs for the DSN host).
    aws_iam_auth: Object.fromEntries(
      Object.entries({ enabled: true, signing_host: RDS_HOST, signing_port: RDS_PORT[driver], max_connects_per_second: 1000, ...options.iam }).filter(([, value]) => value !== undefined),
    ),
  };
}

/** AWS credentials as a test hands them out: every field a secret the suites can search for. */
export interface TestCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  /** Absent for long-term keys. */
  readonly expiration?: Date;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
let keySerial = 0;

/** Fresh temporary credentials; base64 secrets carry `+ / =`, so every escaping path is exercised. */
export function newCredentials(expiresAt?: number): TestCredentials {
  keySerial += 1;
  const suffix = Array.from(randomBytes(12), (b) => ALPHABET[b % ALPHABET.length]).join('');
  return {
    accessKeyId: `ASIA${String(keySerial).padStart(4, '0')}${suffix}`,
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: `IQoJb3JpZ2luX2Vj${randomBytes(120).toString('base64')}`,
    ...(expiresAt === undefined ? {} : { expiration: new Date(expiresAt) }),
  };
}

/** Makes the emulator trust `credentials` (until their expiration, on the emulator clock). */
export function trust(emulator: Emulator, credentials: TestCredentials): void {
  emulator.addCredentials({
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken,
    ...(credentials.expiration ? { expiresAt: credentials.expiration } : {}),
  });
}

/** Issued credentials as the loopback container endpoint records them (test/support/iam). */
interface IssuedKeys {
  readonly issued: Array<{ accessKeyId: string; secretAccessKey: string; sessionToken: string; expiresAt: number }>;
}

/**
 * Makes the emulator trust every key the loopback container endpoint hands out, the moment it
 * hands it out (before the response is sent), as IAM trusts keys STS issues.
 */
export function trustIssuedKeys(server: IssuedKeys, emulator: Emulator): void {
  const { issued } = server;
  const push = issued.push.bind(issued);
  issued.push = (...items) => {
    for (const item of items) emulator.addCredentials({ accessKeyId: item.accessKeyId, secretAccessKey: item.secretAccessKey, sessionToken: item.sessionToken, expiresAt: item.expiresAt });
    return push(...items);
  };
}
