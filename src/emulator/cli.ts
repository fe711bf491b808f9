import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, messageOf } from '../errors.js';
import { createLogfmtLogger } from '../logging.js';
import type { AuthAttempt } from './auth-log.js';
import type { EmulatedAws } from './aws/server.js';
import type { EmulatedCluster } from './cluster.js';
import { startEmulator, type Emulator } from './emulator.js';
import type { EmulatorCredentials, EmulatorOptions, EmulatorTlsOptions } from './options.js';

/** Where the command writes; `env` defaults to `process.env`. */
export interface EmulateIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  env?: Record<string, string | undefined>;
}

export const EMULATE_USAGE = `Usage: dbmodule emulate [options]

Runs a local endpoint that authenticates RDS IAM tokens exactly as RDS does, then hands each
session to a real PostgreSQL / MariaDB (or, for PostgreSQL without an upstream, an embedded PGlite).

Options:
  --postgres-upstream URL        PostgreSQL to relay sessions to (default: embedded PGlite)
  --mysql-upstream URL           MySQL/MariaDB to relay sessions to (enables the MySQL endpoint)
  --no-postgres                  do not serve PostgreSQL
  --hostname NAME                name tokens are signed for and the certificate covers (repeatable;
                                 **.name: any depth; default: localhost and **.<region>.rds.amazonaws.com)
  --region REGION                region tokens must be signed for (default: us-east-1)
  --listen HOST                  address to listen on (default: 127.0.0.1)
  --postgres-port N              PostgreSQL port (default: a free port)
  --mysql-port N                 MySQL port (default: a free port)
  --postgres-advertised-port N   port PostgreSQL tokens are signed for (default: the listening port)
  --mysql-advertised-port N      port MySQL tokens are signed for (default: the listening port)
  --iam-user NAME                an IAM user (repeatable; default: every user); others log in
                                 to the upstream with their own password
  --access-key-id ID             trusted access key (default: AWS_ACCESS_KEY_ID)
  --secret-access-key KEY        its secret (default: AWS_SECRET_ACCESS_KEY; prefer the variable)
  --session-token TOKEN          for temporary credentials (default: AWS_SESSION_TOKEN)
  --tls-cert FILE --tls-key FILE certificate to present instead of a generated one
  --tls-ca FILE                  the CA of --tls-cert (written to the CA file)
  --ca-file PATH                 where to write the CA clients must trust (default: a temp file)
  --cluster ENGINE               an Aurora cluster (postgres or mysql): an endpoint per instance plus
                                 the cluster and cluster-ro endpoints, answering Aurora's topology
  --instance ID=URL              a cluster instance and the real server behind it (repeatable;
                                 the first is the writer)
  --cluster-name NAME            <NAME>.cluster-<ID>.<region>.rds.amazonaws.com (default: mydb)
  --cluster-id ID                (default: abc123def456)
  --cluster-port N               port tokens are signed for on every endpoint (default: 5432 / 3306)
  --aws                          also serve Secrets Manager and STS (plain HTTP, SigV4 against the
                                 trusted key; point an SDK at it with AWS_ENDPOINT_URL_SECRETS_MANAGER
                                 and AWS_ENDPOINT_URL_STS, or the client's endpoint option)
  --aws-port N                   its port (default: a free port)
  --aws-secret NAME=FILE         a secret whose value is FILE's content, one trailing newline
                                 dropped (repeatable; the value never goes on the command line)
  --aws-role ARN                 a role STS lets the trusted key assume (repeatable)
  --verbose                      print every authentication attempt
  -h, --help                     this text
`;

/**
 * `dbmodule emulate`: parses the flags, starts the emulator, prints where it listens and which
 * CA file to trust, and with `--verbose` prints every authentication attempt (never a token).
 * Resolves once listening; the caller stops it with `close()`.
 */
export async function runEmulateCommand(argv: string[], io: EmulateIo): Promise<{ close(): Promise<void> }> {
  const { values } = parseArgs({ args: argv, options: FLAGS, allowPositionals: false, strict: true });
  if (values.help) {
    io.stdout(EMULATE_USAGE);
    return { close: async () => {} };
  }
  const env = io.env ?? process.env;
  const options: EmulatorOptions = {
    region: values.region,
    hostnames: values.hostname,
    listen: values.listen,
    ...clusterOption(values),
    postgres: values['no-postgres'] || (values.cluster && !values['postgres-upstream']) ? false : { port: port(values['postgres-port'], '--postgres-port'), advertisedPort: port(values['postgres-advertised-port'], '--postgres-advertised-port'), upstream: values['postgres-upstream'] },
    mysql: values['mysql-upstream'] ? { port: port(values['mysql-port'], '--mysql-port'), advertisedPort: port(values['mysql-advertised-port'], '--mysql-advertised-port'), upstream: values['mysql-upstream'] } : false,
    ...awsOption(values),
    iamUsers: values['iam-user'],
    credentials: credentials(values, env),
    tls: await tlsFiles(values),
    caFile: values['ca-file'],
    env,
    logger: createLogfmtLogger(values.verbose ? 'debug' : 'warn', (line) => io.stderr(`${line}\n`)),
  };
  const emulator = await startEmulator(options);
  try {
    await seedAws(emulator, values);
  } catch (error) {
    await emulator.close();
    throw error;
  }
  io.stdout(describe(emulator, options, values));
  if (values.verbose) emulator.authLog.subscribe((attempt) => io.stdout(`${formatAttempt(attempt)}\n`));
  return { close: () => emulator.close() };
}

/** One auth-log line: the decision and its reason, the key masked, never the token. */
export function formatAttempt(attempt: AuthAttempt): string {
  const key = attempt.accessKeyId ? maskKey(attempt.accessKeyId) : '-';
  const detail = attempt.accessKeyId ? attempt.detail.split(attempt.accessKeyId).join(key) : attempt.detail;
  return [
    attempt.time.toISOString(),
    `auth ${attempt.decision}`,
    attempt.protocol,
    `user=${attempt.user}`,
    `key=${key}`,
    `host=${attempt.signedHost ?? '-'}`,
    ...(attempt.endpoint === undefined ? [] : [`endpoint=${attempt.endpoint}`]),
    `from=${attempt.remoteAddress}`,
    `tls=${attempt.tls ? 'yes' : 'no'}`,
    `reason=${attempt.reason}`,
    JSON.stringify(detail),
  ].join(' ');
}

// --- internal ---

const FLAGS = {
  'postgres-upstream': { type: 'string' },
  'mysql-upstream': { type: 'string' },
  'no-postgres': { type: 'boolean' },
  hostname: { type: 'string', multiple: true },
  region: { type: 'string' },
  listen: { type: 'string' },
  'postgres-port': { type: 'string' },
  'mysql-port': { type: 'string' },
  'postgres-advertised-port': { type: 'string' },
  'mysql-advertised-port': { type: 'string' },
  'iam-user': { type: 'string', multiple: true },
  'access-key-id': { type: 'string' },
  'secret-access-key': { type: 'string' },
  'session-token': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-ca': { type: 'string' },
  'ca-file': { type: 'string' },
  cluster: { type: 'string' },
  instance: { type: 'string', multiple: true },
  'cluster-name': { type: 'string' },
  'cluster-id': { type: 'string' },
  'cluster-port': { type: 'string' },
  aws: { type: 'boolean' },
  'aws-port': { type: 'string' },
  'aws-secret': { type: 'string', multiple: true },
  'aws-role': { type: 'string', multiple: true },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof FLAGS }>>['values'];

function port(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,5}$/.test(value)) throw new ConfigError('CONFIG_INVALID', `${flag}: "${value}" is not a port number`);
  return Number(value);
}

function clusterOption(values: Values): Pick<EmulatorOptions, 'cluster'> {
  const engine = values.cluster;
  if (engine === undefined) {
    const stray = (['instance', 'cluster-name', 'cluster-id', 'cluster-port'] as const).find((flag) => values[flag] !== undefined);
    if (stray) throw new ConfigError('CONFIG_INVALID', `--${stray} needs --cluster postgres|mysql`);
    return {};
  }
  if (engine !== 'postgres' && engine !== 'mysql') throw new ConfigError('CONFIG_INVALID', `--cluster: "${engine}" is not postgres or mysql`);
  const instances = (values.instance ?? []).map((value) => {
    const at = value.indexOf('=');
    if (at <= 0) throw new ConfigError('CONFIG_INVALID', '--instance: expected ID=URL (db-1=postgresql://postgres@127.0.0.1:5433/app)');
    return { id: value.slice(0, at), upstream: value.slice(at + 1) };
  });
  const clusterPort = port(values['cluster-port'], '--cluster-port');
  return {
    cluster: {
      engine,
      instances,
      ...(values['cluster-name'] ? { name: values['cluster-name'] } : {}),
      ...(values['cluster-id'] ? { clusterId: values['cluster-id'] } : {}),
      ...(clusterPort === undefined ? {} : { port: clusterPort }),
    },
  };
}

function awsOption(values: Values): Pick<EmulatorOptions, 'aws'> {
  if (!values.aws) {
    const stray = (['aws-port', 'aws-secret', 'aws-role'] as const).find((flag) => values[flag] !== undefined);
    if (stray) throw new ConfigError('CONFIG_INVALID', `--${stray} needs --aws`);
    return {};
  }
  const awsPort = port(values['aws-port'], '--aws-port');
  return { aws: awsPort === undefined ? true : { port: awsPort } };
}

/** The secrets and roles of `--aws-secret` / `--aws-role`. */
async function seedAws(emulator: Emulator, values: Values): Promise<void> {
  if (!emulator.aws) return;
  for (const entry of values['aws-secret'] ?? []) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new ConfigError('CONFIG_INVALID', '--aws-secret: expected NAME=FILE (app/db=./db-secret.json)');
    const file = entry.slice(at + 1);
    let value: string;
    try {
      value = await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError('CONFIG_INVALID', `--aws-secret: cannot read ${file}: ${messageOf(error)}`, { cause: error });
    }
    emulator.aws.secrets.create(entry.slice(0, at), value.replace(/\r?\n$/, ''));
  }
  for (const arn of values['aws-role'] ?? []) emulator.aws.sts.defineRole(arn);
}

function credentials(values: Values, env: Record<string, string | undefined>): EmulatorCredentials[] {
  const accessKeyId = values['access-key-id'] ?? env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = values['secret-access-key'] ?? env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId && !secretAccessKey) return [];
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError('CONFIG_INVALID', 'an access key needs both --access-key-id (AWS_ACCESS_KEY_ID) and --secret-access-key (AWS_SECRET_ACCESS_KEY)');
  }
  const sessionToken = values['session-token'] ?? env.AWS_SESSION_TOKEN;
  return [sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey }];
}

async function tlsFiles(values: Values): Promise<EmulatorTlsOptions | undefined> {
  const certFile = values['tls-cert'];
  const keyFile = values['tls-key'];
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw new ConfigError('CONFIG_INVALID', '--tls-cert and --tls-key go together');
  const read = async (file: string, flag: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new ConfigError('CONFIG_INVALID', `${flag}: cannot read ${file}: ${messageOf(error)}`, { cause: error });
    }
  };
  const caFile = values['tls-ca'];
  return {
    cert: await read(certFile, '--tls-cert'),
    key: await read(keyFile, '--tls-key'),
    ...(caFile ? { ca: await read(caFile, '--tls-ca') } : {}),
  };
}

/** The cluster's endpoints, and the instance_addresses that make a client dial them by name. */
function describeCluster(cluster: EmulatedCluster): string[] {
  const addresses = cluster.addresses();
  const at = (endpoint: string) => addresses[`${endpoint}:${cluster.port}`];
  const lines = [
    `  cluster    ${cluster.engine}, tokens signed for each endpoint's name and port ${cluster.port}`,
    `             writer  ${cluster.clusterEndpoint} at ${at(cluster.clusterEndpoint)}`,
    `             reader  ${cluster.readerEndpoint} at ${at(cluster.readerEndpoint)}`,
    ...cluster.instances().map((instance) => `             ${instance.id.padEnd(7)} ${instance.endpoint} at ${instance.address} (${instance.role}) -> ${instance.upstream}`),
    '  dial the endpoints by name: in the connection\'s cluster block',
    '             instance_addresses:',
    ...Object.entries(addresses).map(([endpoint, address]) => `               "${endpoint}": "${address}"`),
    `             or DB_<NAME>_CLUSTER_INSTANCE_ADDRESSES=${Object.entries(addresses).map(([endpoint, address]) => `${endpoint}=${address}`).join(',')}`,
  ];
  return lines;
}

function maskKey(accessKeyId: string): string {
  return accessKeyId.length <= 8 ? '****' : `${accessKeyId.slice(0, 4)}…${accessKeyId.slice(-4)}`;
}

/** The AWS endpoint, how to point an SDK at it, and what it holds. */
function describeAws(aws: EmulatedAws, values: Values): string[] {
  const secrets = (values['aws-secret'] ?? []).map((entry) => entry.slice(0, entry.indexOf('=')));
  const roles = values['aws-role'] ?? [];
  return [
    `  aws        ${aws.endpoint} -> Secrets Manager and STS, account ${aws.accountId}, requests signed for ${aws.region}`,
    `             AWS_ENDPOINT_URL_SECRETS_MANAGER=${aws.endpoint} AWS_ENDPOINT_URL_STS=${aws.endpoint}`,
    `             (or the SDK client's endpoint option: new SecretsManagerClient({ endpoint: '${aws.endpoint}' }))`,
    `             secrets: ${secrets.length > 0 ? secrets.join(', ') : 'none (--aws-secret NAME=FILE)'}`,
    `             roles:   ${roles.length > 0 ? roles.join(', ') : 'none (--aws-role ARN)'}`,
  ];
}

function describe(emulator: Emulator, options: EmulatorOptions, values: Values): string {
  const lines = [`dbmodule emulate: RDS IAM endpoint, region ${emulator.region}`];
  const signedFor = (port: number) => emulator.hostnames.map((name) => `${name}:${port}`).join(', ');
  if (emulator.postgres) {
    const p = emulator.postgres;
    lines.push(`  postgres   ${p.host}:${p.port} -> ${p.backend === 'pglite' ? 'embedded PGlite' : p.backend}`, `             tokens signed for ${signedFor(p.advertisedPort)}`);
  }
  if (emulator.mysql) {
    const m = emulator.mysql;
    lines.push(`  mysql      ${m.host}:${m.port} -> ${m.backend}`, `             tokens signed for ${signedFor(m.advertisedPort)}`);
  }
  if (emulator.cluster) lines.push(...describeCluster(emulator.cluster));
  if (emulator.aws) lines.push(...describeAws(emulator.aws, values));
  lines.push(
    `  CA file    ${emulator.caFile}`,
    `             trust it: sslmode=verify-full&sslrootcert=${emulator.caFile} (PostgreSQL), ssl.ca (mysql2), --ssl-ca (mysql)`,
  );
  const keys = options.credentials ?? [];
  lines.push(
    keys.length > 0
      ? `  keys       ${keys.map((key) => maskKey(key.accessKeyId)).join(', ')}`
      : '  keys       none: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (every token is refused until then)',
  );
  lines.push(`  IAM users  ${Array.isArray(options.iamUsers) && options.iamUsers.length > 0 ? options.iamUsers.join(', ') : 'every user'}`);
  return `${lines.join('\n')}\n`;
}
