// Turning telemetry on and off: createDatabase's option, the configuration's `telemetry` block and
// DB_TELEMETRY_ENABLED, with the global providers of @opentelemetry/api as the default.
import { metrics, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, loadConfig, redactConfig, selectConnection, validateConfig, type DbModuleError } from '../../src/index.js';
import { loadOpenTelemetryApi } from '../../src/telemetry/load-api.js';
import { captureLogger } from '../support/logger.js';
import { startTestTelemetry, type TestTelemetry } from './sdk.js';

const sqlite = { connections: { local: { driver: 'sqlite', dsn: ':memory:' } } };
const logger = () => captureLogger().logger;

let telemetry: TestTelemetry;

beforeAll(() => {
  telemetry = startTestTelemetry();
  trace.setGlobalTracerProvider(telemetry.tracerProvider);
  metrics.setGlobalMeterProvider(telemetry.meterProvider);
});

afterAll(async () => {
  trace.disable();
  metrics.disable();
  await telemetry?.stop();
});

/** The spans of one `SELECT 1 AS <marker>` on a Database opened from `config` with `options`. */
async function spansOfOneQuery(config: object, options: Parameters<typeof createDatabase>[1] = {}): Promise<number> {
  const marker = `m${Math.random().toString(36).slice(2, 8)}`;
  await using db = await createDatabase(config, { logger: logger(), ...options });
  await db.connection().query(`SELECT 1 AS ${marker}`);
  return telemetry.spans().filter((span) => String(span.attributes['db.query.text']).includes(marker)).length;
}

describe('turning telemetry on', () => {
  it('is off by default: no span, even with an SDK registered globally', async () => {
    expect(await spansOfOneQuery(sqlite)).toBe(0);
  });

  it('telemetry: true uses the global providers', async () => {
    expect(await spansOfOneQuery(sqlite, { telemetry: true })).toBe(1);
  });

  it('the configuration key telemetry.enabled turns it on', async () => {
    expect(await spansOfOneQuery({ ...sqlite, telemetry: { enabled: true } })).toBe(1);
    expect(await spansOfOneQuery({ ...sqlite, telemetry: { enabled: 'yes' } })).toBe(1);
    expect(await spansOfOneQuery({ ...sqlite, telemetry: { enabled: false } })).toBe(0);
  });

  it('DB_TELEMETRY_ENABLED turns it on (and wins over the file, like every variable)', async () => {
    const config = await loadConfig({ env: { DB_LOCAL_DSN: 'sqlite::memory:', DB_TELEMETRY_ENABLED: 'true' } });
    expect(config.telemetry).toEqual({ enabled: true, sqlcommenter: false });
    expect(config.sources['telemetry.enabled']).toBe('env DB_TELEMETRY_ENABLED');
    expect(await spansOfOneQuery(config)).toBe(1);
    const overridden = validateConfig({ ...sqlite, telemetry: { enabled: true } }, { source: 'object', env: { DB_TELEMETRY_ENABLED: '0' } });
    expect(overridden.telemetry).toEqual({ enabled: false, sqlcommenter: false });
  });

  it("createDatabase's option wins over the configuration: false turns it off", async () => {
    expect(await spansOfOneQuery({ ...sqlite, telemetry: { enabled: true } }, { telemetry: false })).toBe(0);
    expect(await spansOfOneQuery({ ...sqlite, telemetry: { enabled: false } }, { telemetry: true })).toBe(1);
  });

  it('providers given in the option are used instead of the global ones', async () => {
    const other = startTestTelemetry();
    try {
      await using db = await createDatabase(sqlite, { logger: logger(), telemetry: { tracerProvider: other.tracerProvider, meterProvider: other.meterProvider } });
      await db.connection().query('SELECT 2 AS own_provider');
      expect(other.spans().map((span) => span.name)).toEqual(['SELECT']);
      expect((await other.duration())?.dataPoints.length).toBe(1);
      expect(telemetry.spans().some((span) => span.attributes['db.query.text'] === 'SELECT 2 AS own_provider')).toBe(false);
    } finally {
      await other.tracerProvider.shutdown();
      await other.meterProvider.shutdown();
    }
  });
});

describe('the telemetry block in the configuration', () => {
  it('is absent unless configured, and printed when it is', () => {
    expect(validateConfig(sqlite, { source: 'object' }).telemetry).toBeUndefined();
    const config = validateConfig({ ...sqlite, telemetry: { enabled: true } }, { source: 'object' });
    expect(config.telemetry).toEqual({ enabled: true, sqlcommenter: false });
    expect(config.sources['telemetry.enabled']).toBe('object');
    expect(redactConfig(config).telemetry).toEqual({ enabled: true, sqlcommenter: false });
    expect(JSON.parse(JSON.stringify(config)).telemetry).toEqual({ enabled: true, sqlcommenter: false });
    expect(selectConnection(config, 'local').telemetry).toEqual({ enabled: true, sqlcommenter: false });
    expect(validateConfig({ ...sqlite, telemetry: {} }, { source: 'object' }).telemetry).toEqual({ enabled: false, sqlcommenter: false });
  });

  it('is read from a { database: ... } wrapper too', () => {
    expect(validateConfig({ database: { ...sqlite, telemetry: { enabled: true } } }, { source: 'object' }).telemetry).toEqual({ enabled: true, sqlcommenter: false });
  });

  it('reports unknown keys and bad values by their path, and a bad variable by its name', () => {
    const problems = (raw: object, env?: Record<string, string>) => {
      try {
        validateConfig(raw, { source: 'object', ...(env ? { env } : {}) });
      } catch (error) {
        expect((error as DbModuleError).code).toBe('CONFIG_INVALID');
        return (error as Error).message;
      }
      throw new Error('expected CONFIG_INVALID');
    };
    expect(problems({ ...sqlite, telemetry: { enabeld: true } })).toContain('telemetry.enabeld: unknown key; did you mean `enabled`?');
    expect(problems({ ...sqlite, telemetry: { enabled: 'sometimes' } })).toContain('telemetry.enabled: expected a boolean');
    expect(problems({ ...sqlite, telemetry: true })).toContain('telemetry: expected a mapping, received boolean true');
    expect(problems({ ...sqlite, telemetri: {} })).toContain('telemetri: unknown key; did you mean `telemetry`?');
    expect(problems(sqlite, { DB_TELEMETRY_ENABLED: 'on-ish' })).toContain('DB_TELEMETRY_ENABLED (telemetry.enabled): expected a boolean');
  });

  it('DB_TELEMETRY_ENABLED is not mistaken for a connection named telemetry', () => {
    const config = validateConfig({ connections: { telemetry: { driver: 'sqlite', dsn: ':memory:' } } }, { source: 'object', env: { DB_TELEMETRY_ENABLED: 'true' } });
    expect(Object.keys(config.connections)).toEqual(['telemetry']);
    expect(config.telemetry).toEqual({ enabled: true, sqlcommenter: false });
    expect(config.warnings).toEqual([]);
  });
});

describe('@opentelemetry/api missing', () => {
  it('is DRIVER_NOT_INSTALLED with the install command', async () => {
    const missing = () => Promise.reject(Object.assign(new Error("Cannot find package '@opentelemetry/api'"), { code: 'ERR_MODULE_NOT_FOUND' }));
    const error = (await loadOpenTelemetryApi(missing).catch((failure: unknown) => failure)) as DbModuleError;
    expect(error.code).toBe('DRIVER_NOT_INSTALLED');
    expect(error.message).toBe('telemetry is on but "@opentelemetry/api" is not installed; run: npm install @opentelemetry/api');
    expect(error.solutions).toContain('npm install @opentelemetry/api');
  });

  it('passes any other loading error through', async () => {
    const broken = new SyntaxError('Unexpected token');
    await expect(loadOpenTelemetryApi(() => Promise.reject(broken))).rejects.toBe(broken);
  });
});
