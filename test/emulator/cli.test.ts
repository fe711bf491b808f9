import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runEmulateCommand } from '../../src/emulator/cli.js';
import { isDbModuleError } from '../../src/errors.js';
import { IAM_USER, KEY, MYSQL_UPSTREAM, mysqlConnection, PG_UPSTREAM, pgClient, sign } from '../support/emulator.js';
import type { Emulator } from '../../src/emulator/index.js';
import { rejectionOf } from '../support/rejection.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s), env: { AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey } } };
}

/** The endpoint as printed (`postgres   127.0.0.1:PORT -> ...`). */
function printed(text: string, protocol: string): number {
  const match = new RegExp(`${protocol}\\s+127\\.0\\.0\\.1:(\\d+) -> `).exec(text);
  if (!match) throw new Error(`no ${protocol} line in:\n${text}`);
  return Number(match[1]);
}

describe('dbmodule emulate', () => {
  it('prints where it listens and which CA to trust, and the printed values work', async () => {
    const { out, io } = capture();
    const handle = await runEmulateCommand(['--postgres-upstream', PG_UPSTREAM, '--mysql-upstream', MYSQL_UPSTREAM, '--region', 'eu-west-1', '--hostname', 'localhost'], io);
    try {
      const text = out.join('');
      const pgPort = printed(text, 'postgres');
      const myPort = printed(text, 'mysql');
      const caFile = /CA file\s+(\S+)/.exec(text)?.[1] ?? '';
      expect(readFileSync(caFile, 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(text).toContain('region eu-west-1');
      expect(text).toContain(`tokens signed for localhost:${pgPort}`);
      expect(text).toContain('AKIA…0001');
      expect(text).not.toContain(KEY.secretAccessKey);
      const view = { postgres: { port: pgPort }, mysql: { port: myPort }, caFile } as unknown as Emulator;
      const client = pgClient(view, await sign({ port: pgPort, region: 'eu-west-1' }));
      await client.connect();
      await client.end();
      await (await mysqlConnection(view, await sign({ port: myPort, region: 'eu-west-1' }))).end();
    } finally {
      await handle.close();
    }
  });

  it('with --verbose prints every attempt, never the token or its signature', async () => {
    const { out, io } = capture();
    const handle = await runEmulateCommand(['--postgres-upstream', PG_UPSTREAM, '--verbose', '--iam-user', IAM_USER], io);
    try {
      const port = printed(out.join(''), 'postgres');
      const view = { postgres: { port }, caFile: /CA file\s+(\S+)/.exec(out.join(''))?.[1] } as unknown as Emulator;
      const good = await sign({ port });
      const bad = await sign({ port, credentials: { ...KEY, secretAccessKey: 'wrong' } });
      await (async () => {
        const client = pgClient(view, good);
        await client.connect();
        await client.end();
      })();
      expect((await rejectionOf(pgClient(view, bad).connect())).code).toBe('28000');
      const lines = out.join('').split('\n').filter((line) => line.includes(' auth '));
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(new RegExp(`auth allow postgres user=${IAM_USER} key=AKIA…0001 host=localhost:${port} from=127.0.0.1 tls=yes reason=OK`));
      expect(lines[1]).toMatch(/auth deny postgres .* reason=SIGNATURE_MISMATCH/);
      const all = out.join('');
      for (const token of [good, bad]) {
        expect(all).not.toContain(token);
        expect(all).not.toContain(/X-Amz-Signature=([0-9a-f]+)/.exec(token)?.[1] ?? 'missing');
      }
      expect(all).not.toContain(KEY.accessKeyId); // masked
    } finally {
      await handle.close();
    }
  });

  it('refuses bad flags with errors the CLI maps to usage errors', async () => {
    const { io } = capture();
    const badPort = await rejectionOf(runEmulateCommand(['--postgres-port', 'eighty'], io));
    expect(isDbModuleError(badPort) && badPort.code).toBe('CONFIG_INVALID');
    expect(badPort.message).toContain('--postgres-port');
    const unknown = await rejectionOf(runEmulateCommand(['--no-such-flag'], io));
    expect(unknown.code).toBe('ERR_PARSE_ARGS_UNKNOWN_OPTION');
    const badUrl = await rejectionOf(runEmulateCommand(['--mysql-upstream', 'postgres://root:s3cret-pw@127.0.0.1/x'], io));
    expect(isDbModuleError(badUrl) && badUrl.code).toBe('CONFIG_INVALID');
    expect(badUrl.message).not.toContain('s3cret-pw');
  });

  it('prints its usage with --help and starts nothing', async () => {
    const { out, io } = capture();
    const handle = await runEmulateCommand(['--help'], io);
    expect(out.join('')).toContain('--postgres-upstream URL');
    await handle.close();
  });
});

describe('dbmodule emulate --cluster', () => {
  it('prints the endpoints and the instance_addresses to use, and a connection configured from them finds the cluster', async () => {
    const { out, io } = capture();
    const handle = await runEmulateCommand(['--cluster', 'postgres', '--instance', `db-1=${PG_UPSTREAM}`, '--instance', `db-2=${PG_UPSTREAM}`, '--cluster-name', 'orders', '--cluster-id', 'xyz789'], io);
    try {
      const text = out.join('');
      expect(text).toContain('writer  orders.cluster-xyz789.us-east-1.rds.amazonaws.com at 127.0.0.1:');
      expect(text).toContain('reader  orders.cluster-ro-xyz789.us-east-1.rds.amazonaws.com at 127.0.0.1:');
      expect(text).toMatch(/db-2 {4}db-2\.xyz789\.us-east-1\.rds\.amazonaws\.com at 127\.0\.0\.1:\d+ \(reader\)/);
      expect(text).not.toMatch(/^ {2}postgres {3}/m);
      const mapping = /DB_<NAME>_CLUSTER_INSTANCE_ADDRESSES=(\S+)/.exec(text)?.[1] ?? '';
      const caFile = /CA file\s+(\S+)/.exec(text)?.[1] ?? '';
      const { createDatabase } = await import('../../src/index.js');
      const db = await createDatabase(
        {
          connections: {
            app: {
              dsn: `postgresql://${IAM_USER}@orders.cluster-xyz789.us-east-1.rds.amazonaws.com:5432/dbmodule_test?sslmode=verify-full&sslrootcert=${caFile}`,
              aws_iam_auth: { enabled: true },
              cluster: { instance_addresses: mapping },
            },
          },
        },
        { credentials: KEY },
      );
      try {
        expect(db.connection().topology()).toMatchObject({ source: 'aurora-postgresql', writer: { id: 'db-1' }, readers: [{ id: 'db-2', host: 'db-2.xyz789.us-east-1.rds.amazonaws.com', port: 5432 }] });
        const { rows } = await db.connection().reader().query<{ id: string }>('SELECT aurora_db_instance_identifier() AS id');
        expect(rows[0]?.id).toBe('db-2');
      } finally {
        await db.close();
      }
    } finally {
      await handle.close();
    }
  });

  it('names the flag at fault', async () => {
    const { io } = capture();
    expect((await rejectionOf(() => runEmulateCommand(['--instance', `db-1=${PG_UPSTREAM}`], io), Error)).message).toBe('--instance needs --cluster postgres|mysql');
    expect((await rejectionOf(() => runEmulateCommand(['--cluster', 'oracle'], io), Error)).message).toBe('--cluster: "oracle" is not postgres or mysql');
    expect((await rejectionOf(() => runEmulateCommand(['--cluster', 'postgres', '--instance', 'db-1'], io), Error)).message).toContain('--instance: expected ID=URL');
    expect((await rejectionOf(() => runEmulateCommand(['--cluster', 'postgres'], io), Error)).message).toContain('cluster.instances: at least one instance');
  });
});

describe('dbmodule emulate --aws', () => {
  it('serves Secrets Manager and STS at the printed URL, with the secrets and roles of its flags', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { GetSecretValueCommand, SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    const { AssumeRoleCommand, STSClient } = await import('@aws-sdk/client-sts');
    const dir = await mkdtemp(join(tmpdir(), 'dbmodule-cli-aws-'));
    const file = join(dir, 'secret.json');
    await writeFile(file, '{"password":"cli-secret-pw"}\n');
    const { out, io } = capture();
    const role = 'arn:aws:iam::123456789012:role/cli-role';
    const handle = await runEmulateCommand(['--no-postgres', '--aws', '--aws-secret', `cli/db=${file}`, '--aws-role', role], io);
    try {
      const text = out.join('');
      const endpoint = /AWS_ENDPOINT_URL_SECRETS_MANAGER=(\S+)/.exec(text)?.[1] ?? '';
      expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(text).toContain(`AWS_ENDPOINT_URL_STS=${endpoint}`);
      expect(text).toContain('secrets: cli/db');
      expect(text).not.toContain('cli-secret-pw');
      expect(text).not.toMatch(/^ {2}postgres {3}/m);
      // as printed: the SDK takes the endpoints from the environment
      const saved = { sm: process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER, sts: process.env.AWS_ENDPOINT_URL_STS };
      process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = /AWS_ENDPOINT_URL_SECRETS_MANAGER=(\S+)/.exec(text)?.[1];
      process.env.AWS_ENDPOINT_URL_STS = /AWS_ENDPOINT_URL_STS=(\S+)/.exec(text)?.[1];
      const sm = new SecretsManagerClient({ region: 'us-east-1', credentials: KEY, maxAttempts: 1 });
      const sts = new STSClient({ region: 'us-east-1', credentials: KEY, maxAttempts: 1 });
      try {
        expect((await sm.send(new GetSecretValueCommand({ SecretId: 'cli/db' }))).SecretString).toBe('{"password":"cli-secret-pw"}');
        expect((await sts.send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'cli' }))).AssumedRoleUser?.Arn).toBe('arn:aws:sts::123456789012:assumed-role/cli-role/cli');
      } finally {
        sm.destroy();
        sts.destroy();
        for (const [name, value] of [['AWS_ENDPOINT_URL_SECRETS_MANAGER', saved.sm], ['AWS_ENDPOINT_URL_STS', saved.sts]] as const) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      }
    } finally {
      await handle.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names the flag at fault', async () => {
    const { io } = capture();
    expect((await rejectionOf(() => runEmulateCommand(['--aws-role', 'arn:aws:iam::123456789012:role/x'], io), Error)).message).toBe('--aws-role needs --aws');
    expect((await rejectionOf(() => runEmulateCommand(['--no-postgres', '--aws', '--aws-secret', 'no-file'], io), Error)).message).toContain('--aws-secret: expected NAME=FILE');
    expect((await rejectionOf(() => runEmulateCommand(['--no-postgres', '--aws', '--aws-role', 'not-an-arn'], io), Error)).message).toContain('not a role ARN');
  });
});
