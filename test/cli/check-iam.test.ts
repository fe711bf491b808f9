import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/index.js';
import { checkConnections } from '../../src/diagnostics/check.js';
import type { Emulator } from '../../src/emulator/index.js';
import { cli, iamEnv, IAM_USER, KEY, leaksSecret, SIGNING_HOST, startTestEmulator } from '../support/cli.js';

let emulator: Emulator;

beforeAll(async () => {
  emulator = await startTestEmulator();
});

afterAll(async () => {
  await emulator?.close();
});

interface Phase {
  phase: string;
  status: string;
  durationMs: number;
  detail: string;
  code?: string;
  possibleCauses?: string[];
  solutions?: string[];
  warnings?: string[];
}

async function checkJson(env: Record<string, string>) {
  const result = await cli(['check', '--json'], env);
  const report = JSON.parse(result.stdout) as { ok: boolean; connections: Array<{ phases: Phase[] }> };
  const phases = report.connections[0]?.phases ?? [];
  return { ...result, report, phases, byName: Object.fromEntries(phases.map((phase) => [phase.phase, phase])) as Record<string, Phase> };
}

describe('dbmodule check on IAM connections', () => {
  it('walks PostgreSQL through every phase, each timed, and the emulator saw one verified login', async () => {
    emulator.authLog.clear();
    const { code, phases, byName, stdout, stderr } = await checkJson(iamEnv(emulator, 'postgres'));
    expect(phases.map((phase) => phase.phase)).toEqual(['dsn', 'config', 'credentials', 'token', 'dns', 'tcp', 'tls', 'authentication', 'ping']);
    expect(phases.every((phase) => phase.status === 'ok' && typeof phase.durationMs === 'number')).toBe(true);
    expect(code).toBe(0);
    expect(byName.credentials?.detail).toContain('from env');
    expect(byName.credentials?.detail).toContain(`...${KEY.accessKeyId.slice(-4)}`);
    expect(byName.token?.detail).toContain(`signed for ${SIGNING_HOST}:5432, region us-east-1, user "${IAM_USER}"`);
    // The TLS phase saw the emulator's certificate (CN localhost, issued by its generated CA) and verified it.
    expect(byName.tls?.detail).toMatch(/TLSv1\.[23], certificate CN=\S+ issued by .+; TLS verify-full against CA file \S+ca\.pem/);
    const logins = emulator.authLog.entries().filter((attempt) => attempt.protocol === 'postgres' && attempt.decision === 'allow');
    expect(logins.map((attempt) => [attempt.signedHost, attempt.accessKeyId, attempt.tls])).toEqual([[`${SIGNING_HOST}:5432`, KEY.accessKeyId, true]]);
    expect(leaksSecret(stdout + stderr)).toBe(false);
  });

  it('reports MySQL TLS as part of authentication, which succeeds through the emulator', async () => {
    const { code, phases, byName } = await checkJson(iamEnv(emulator, 'mysql'));
    expect(phases.map((phase) => `${phase.phase}:${phase.status}`)).toEqual([
      'dsn:ok', 'config:ok', 'credentials:ok', 'token:ok', 'dns:ok', 'tcp:ok', 'tls:skipped', 'authentication:ok', 'ping:ok',
    ]);
    expect(byName.tls?.detail).toContain('checked as part of authentication');
    expect(byName.token?.detail).toContain(`${SIGNING_HOST}:3306`);
    expect(code).toBe(0);
  });

  it('fails the TLS phase when the server certificate is not signed by the RDS CA bundle (no sslrootcert)', async () => {
    const env = iamEnv(emulator, 'postgres');
    env.DB_MAIN_DSN = `postgresql://${IAM_USER}@localhost:${emulator.postgres?.port}/dbmodule_test`;
    const { code, phases, byName, stdout } = await checkJson(env);
    expect(code).toBe(1);
    expect(phases.at(-1)?.phase).toBe('tls');
    expect(byName.tls).toMatchObject({ status: 'failed', code: 'TLS_FAILED' });
    expect(byName.tls?.detail).toMatch(/SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
    expect(byName.tls?.possibleCauses?.[0]).toMatch(/not trusted/);
    expect(byName.config?.detail).toContain('against the RDS CA bundle');
    expect(leaksSecret(stdout)).toBe(false);
  });

  it('reports a MySQL certificate problem as TLS_FAILED in the authentication phase', async () => {
    const env = iamEnv(emulator, 'mysql');
    env.DB_MAIN_DSN = `mysql://${IAM_USER}@localhost:${emulator.mysql?.port}/dbmodule_test`;
    const { code, byName } = await checkJson(env);
    expect(code).toBe(1);
    expect(byName.tls?.status).toBe('skipped');
    expect(byName.authentication).toMatchObject({ status: 'failed', code: 'TLS_FAILED' });
    expect(byName.authentication?.detail).toMatch(/certificate/);
  });

  it('fails authentication with IAM_AUTH_FAILED and the seed causes when the key is revoked', async () => {
    const revoked = { accessKeyId: 'AKIACLITESTREVOKED01', secretAccessKey: 'revoked-secret-do-not-print' };
    emulator.addCredentials(revoked);
    emulator.revoke(revoked.accessKeyId);
    const env = iamEnv(emulator, 'postgres', { AWS_ACCESS_KEY_ID: revoked.accessKeyId, AWS_SECRET_ACCESS_KEY: revoked.secretAccessKey });
    const { code, stdout } = await cli(['check'], env);
    const { byName } = await checkJson(env);
    expect(code).toBe(1);
    expect(byName.authentication).toMatchObject({ status: 'failed', code: 'IAM_AUTH_FAILED' });
    expect(byName.authentication?.possibleCauses?.join('\n')).toContain("doesn't have the rds_iam role");
    expect(byName.authentication?.solutions?.join('\n')).toContain('rds-db:connect');
    expect(byName.ping).toBeUndefined();
    expect(stdout).toMatch(/authentication\s+failed/);
    expect(stdout).toContain('code: IAM_AUTH_FAILED');
    expect(stdout).toContain('possible cause: IAM policy');
    expect(stdout).not.toContain(revoked.secretAccessKey);
    expect(stdout).not.toContain(revoked.accessKeyId);
  });

  it('exits 2 when the IAM configuration cannot work (no region for a localhost endpoint)', async () => {
    const env = iamEnv(emulator, 'postgres');
    delete env.DB_MAIN_AWS_IAM_AUTH_SIGNING_HOST;
    const { code, phases, byName } = await checkJson(env);
    expect(code).toBe(2);
    expect(phases.map((phase) => phase.phase)).toEqual(['dsn', 'config']);
    expect(byName.config).toMatchObject({ status: 'failed', code: 'IAM_REGION_MISSING' });
    expect(byName.config?.solutions?.join('\n')).toContain('aws_iam_auth.region');
  });

  it('warns, without failing, when the token is signed for localhost', async () => {
    const env = iamEnv(emulator, 'postgres', { DB_MAIN_AWS_IAM_AUTH_REGION: 'us-east-1' });
    delete env.DB_MAIN_AWS_IAM_AUTH_SIGNING_HOST;
    delete env.DB_MAIN_AWS_IAM_AUTH_SIGNING_PORT;
    const { byName } = await checkJson(env);
    expect(byName.config?.status).toBe('ok');
    expect(byName.config?.warnings?.join('\n')).toMatch(/signed for an IP address or localhost/);
  });

  it('names the credentials phase and the seed solutions when no credentials resolve', async () => {
    const config = await loadConfig({ env: iamEnv(emulator, 'postgres') });
    const report = await checkConnections(config, {
      credentials: async () => {
        throw new Error('no valid providers in chain');
      },
    });
    const phases = report.connections[0]?.phases ?? [];
    expect(report.ok).toBe(false);
    expect(phases.map((phase) => `${phase.phase}:${phase.status}`)).toEqual(['dsn:ok', 'config:ok', 'credentials:failed']);
    expect(phases.at(-1)).toMatchObject({ code: 'AWS_CREDENTIALS_UNAVAILABLE' });
    expect(phases.at(-1)?.detail).toContain('no valid providers in chain');
    expect(phases.at(-1)?.solutions?.join('\n')).toContain('AWS_ACCESS_KEY_ID');
  });
});
