import { describe, expect, it } from 'vitest';
import { DEMO_KEYS } from '../../src/cli/demo/scenario.js';
import { cli } from '../support/cli.js';

/** Anything that would be a secret in the demo's output: the keys' secrets and full ids, or a token. */
function leaks(text: string): string[] {
  const secrets = Object.values(DEMO_KEYS).flatMap((key) => [key.secretAccessKey, key.accessKeyId]);
  return [...secrets.filter((secret) => text.includes(secret)), ...(text.match(/X-Amz-[A-Za-z-]+=|Action=connect/g) ?? [])];
}

describe('dbmodule demo', () => {
  it('narrates the IAM lifecycle and exits 0 when every step behaved, printing no secret', async () => {
    const { code, stdout, stderr } = await cli(['demo', '--verbose']);
    expect(stdout).toContain('Every step behaved as expected.');
    expect(code).toBe(0);
    const steps = stdout.split('\n').filter((line) => /^\[\d+\]/.test(line));
    expect(steps).toEqual([
      '[1] Start a local RDS IAM endpoint (the dbmodule emulator)',
      '[2] Connect with IAM authentication',
      '[3] Query through the pool',
      '[4] Sixteen minutes later: the token has expired',
      '[5] A new physical connection takes a fresh token',
      '[6] Revoke access key ...1111',
      '[7] Rotate the credentials to key ...2222',
      '[8] Close',
    ]);
    expect(stdout).not.toContain('✗');
    // the key facts of the story
    expect(stdout).toMatch(/token signed at T\+00:0\d .* key \.\.\.1111/);
    expect(stdout).toMatch(/the token from T\+00:0\d is expired/);
    expect(stdout).toMatch(/new token signed at T\+16:\d\d/);
    expect(stdout).toContain('error IAM_AUTH_FAILED');
    expect(stdout).toContain("possible cause: Database user doesn't have the rds_iam role");
    expect(stdout).toMatch(/login\(s\) refused by the emulator \(KEY_REVOKED\)/);
    expect(stdout).toMatch(/login allowed at T\+16:\d\d with key \.\.\.2222/);
    // --verbose put the library's own log lines (the seed's sequence) on stderr, secrets excluded
    expect(stderr).toContain('INFO Extracted RDS endpoint');
    expect(stderr).toContain('WARN IAM authentication failed; retrying with a new token');
    expect(leaks(stdout + stderr)).toEqual([]);
  }, 60_000);

  it('reports the same steps as JSON', async () => {
    const { code, stdout } = await cli(['demo', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { ok: boolean; steps: Array<{ step: number; ok: boolean; checks: Array<{ ok: boolean }> }> };
    expect(report.ok).toBe(true);
    expect(report.steps.map((step) => step.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(report.steps.every((step) => step.ok && step.checks.length > 0 && step.checks.every((check) => check.ok))).toBe(true);
    expect(leaks(stdout)).toEqual([]);
  }, 60_000);

  it('exits 2 on a stray argument', async () => {
    expect((await cli(['demo', 'now'])).code).toBe(2);
  });
});
