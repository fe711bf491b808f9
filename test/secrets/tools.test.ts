// The CLI with a `secrets_manager` connection: `check` reads the secret as the connection does (a
// `secret` phase: id, version, user, credentials; never the password) and then logs in with it;
// `exec` hands a client the secret's user and password (psql, mariadb); nothing of the secret in
// what either prints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { cli } from '../support/cli.js';
import { uniqueName } from '../support/databases.js';
import { KEY } from '../support/emulator.js';
import { privatePostgresLogins, sharedMariadbLogins, type LoginServer } from '../support/secrets/login-servers.js';

const engines = [
  { name: 'PostgreSQL', open: privatePostgresLogins, client: ['psql', '-tAc', 'SELECT current_user'] },
  { name: 'MariaDB', open: sharedMariadbLogins, client: ['mariadb', '-N', '-B', '-e', 'SELECT SUBSTRING_INDEX(CURRENT_USER(), "@", 1)'] },
] as const;

describe.each(engines)('$name', ({ open, client }) => {
  let server: LoginServer;
  let emulator: Emulator;
  let user: string;
  let password: string;
  let secret: string;

  beforeAll(async () => {
    server = await open();
    emulator = await startEmulator({ aws: true, credentials: [KEY] });
    password = `tool-${Math.random().toString(36).slice(2)}-pw`;
    user = await server.createUser('sm_tool', password);
    secret = uniqueName('app/tool');
    emulator.aws!.secrets.create(secret, { username: user, password });
  }, 60_000);

  afterAll(async () => {
    await emulator?.close();
    await server?.close();
  });

  const env = (secretId: string) => ({
    DB_MAIN_DSN: server.dsn('placeholder', 'not-the-password'),
    DB_MAIN_SECRETS_MANAGER_SECRET_ID: secretId,
    DB_MAIN_SECRETS_MANAGER_REGION: 'us-east-1',
    DB_MAIN_SECRETS_MANAGER_ENDPOINT: emulator.aws!.endpoint,
    AWS_ACCESS_KEY_ID: KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  });

  it('check: a secret phase naming the secret, its version and user, then a login with it', async () => {
    const { code, stdout, stderr } = await cli(['check', '--json'], env(secret));
    expect(stderr).not.toContain(password);
    expect(stdout).not.toContain(password);
    const report = JSON.parse(stdout) as { ok: boolean; connections: Array<{ phases: Array<{ phase: string; status: string; detail?: string }>; plan: { secret?: { secretId: string } } }> };
    expect(code).toBe(0);
    const [main] = report.connections;
    expect(main!.phases.map((phase) => [phase.phase, phase.status])).toEqual([
      ['dsn', 'ok'],
      ['secret', 'ok'],
      ['dns', 'ok'],
      ['tcp', 'ok'],
      ['ping', 'ok'],
    ]);
    const detail = main!.phases.find((phase) => phase.phase === 'secret')!.detail!;
    expect(detail).toContain(`secret "${secret}" (us-east-1, from secrets_manager.region) version `);
    expect(detail).toContain(`user "${user}"`);
    expect(main!.plan.secret?.secretId).toBe(secret);
  });

  it('check: a secret that does not exist fails its phase with SECRET_UNAVAILABLE and exit 1', async () => {
    const { code, stdout } = await cli(['check', '--json'], env('app/missing'));
    expect(code).toBe(1);
    const failed = (JSON.parse(stdout) as { connections: Array<{ phases: Array<{ phase: string; status: string; code?: string }> }> }).connections[0]!.phases.at(-1)!;
    expect(failed).toMatchObject({ phase: 'secret', status: 'failed', code: 'SECRET_UNAVAILABLE' });
  });

  it("exec: the client logs in as the secret's user with its password; neither the password nor the DSN's shows", async () => {
    const { code, stdout, stderr } = await cli(['exec', '--', ...client], env(secret));
    expect(stderr).not.toContain(password);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(user);
    expect(stdout + stderr).not.toContain('not-the-password');
  });
});
