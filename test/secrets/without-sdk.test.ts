// In a fresh process with @aws-sdk/client-secrets-manager failing to import as if it were not
// installed (a module resolution hook that records each attempt): a connection without
// secrets_manager never imports it; one with it fails with DRIVER_NOT_INSTALLED naming the package.
// Runs dist/, as `npm test` builds it first.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const exec = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dbmodule-no-secrets-sdk-'));

async function run(mode: 'plain' | 'secret'): Promise<{ outcome: Record<string, unknown>; imported: string[] }> {
  const log = join(dir, `${mode}.log`);
  const { stdout } = await exec(process.execPath, ['--import', pathToFileURL(fixture('block-secrets-sdk.mjs')).href, fixture('run-without-secrets-sdk.mjs'), mode], {
    env: { ...process.env, DBMODULE_SDK_PROBE_LOG: log },
  });
  const imported = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { outcome: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>, imported };
}

it('a connection without secrets_manager never imports the Secrets Manager client', async () => {
  expect(await run('plain')).toEqual({ outcome: { ok: true }, imported: [] });
});

it('a secrets_manager connection without it: DRIVER_NOT_INSTALLED naming the package to install', async () => {
  const { outcome, imported } = await run('secret');
  expect(outcome).toEqual({
    code: 'DRIVER_NOT_INSTALLED',
    message: 'connection "app": secrets_manager needs the package @aws-sdk/client-secrets-manager, which could not be loaded',
    solutions: ['npm install @aws-sdk/client-secrets-manager'],
  });
  expect(imported).toEqual(['@aws-sdk/client-secrets-manager']);
});
