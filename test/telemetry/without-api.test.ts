// In a fresh process, with every @opentelemetry import failing as if the package were not
// installed (a module resolution hook that also records each attempt): with telemetry off the
// built library loads and runs and never tries to import it; turned on, it asks for it by name
// and fails with DRIVER_NOT_INSTALLED. Runs dist/, as `npm test` builds it first.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dbmodule-no-otel-'));

async function run(mode: 'off' | 'option' | 'config'): Promise<{ outcome: Record<string, unknown>; imported: string[] }> {
  const log = join(dir, `${mode}.log`);
  const { stdout } = await exec(process.execPath, ['--import', pathToFileURL(fixture('block-opentelemetry.mjs')).href, fixture('run-without-opentelemetry.mjs'), mode], {
    env: { ...process.env, DBMODULE_OTEL_PROBE_LOG: log },
  });
  const imported = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { outcome: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>, imported };
}

describe('without @opentelemetry/api', () => {
  it('telemetry off: the library loads and runs, and never imports an @opentelemetry package', async () => {
    const { outcome, imported } = await run('off');
    expect(outcome).toEqual({ ok: true, rows: [{ one: 1 }] });
    expect(imported).toEqual([]);
  });

  it.each(['option', 'config'] as const)('telemetry on (%s): DRIVER_NOT_INSTALLED naming the package to install', async (mode) => {
    const { outcome, imported } = await run(mode);
    // (an `ok` here means dist/ predates telemetry: npm run build)
    expect(outcome).toEqual({ code: 'DRIVER_NOT_INSTALLED', message: 'telemetry is on but "@opentelemetry/api" is not installed; run: npm install @opentelemetry/api' });
    expect(imported).toEqual(['@opentelemetry/api']);
  });
});
