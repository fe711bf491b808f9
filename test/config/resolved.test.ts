// The resolved config: frozen, branded, and never printing a password.
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isResolvedConfig, redactConfig, validateConfig } from '../../src/config/index.js';
import { MYSQL_DSN, PG_DSN, SECRET } from '../support/config.js';

const config = validateConfig(
  { default: 'pg', connections: { pg: { dsn: PG_DSN, aws_iam_auth: { enabled: true, region: 'us-east-1' } }, my: { dsn: MYSQL_DSN } } },
  { source: 'object' },
);

describe('resolved config', () => {
  it('is deeply frozen: mutation throws in strict mode', () => {
    const connection = config.connections.pg;
    if (!connection) throw new Error('missing connection');
    for (const part of [config, config.connections, connection, connection.aws_iam_auth, config.sources, config.warnings]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (connection as { max_open_connections: number }).max_open_connections = 99;
    }).toThrow(TypeError);
    expect(() => {
      (config.connections as Record<string, unknown>).extra = {};
    }).toThrow(TypeError);
    expect(() => {
      (config.warnings as string[]).push('x');
    }).toThrow(TypeError);
    expect(connection.max_open_connections).toBe(10);
  });

  it('is recognised by isResolvedConfig; copies and look-alikes are not', () => {
    expect(isResolvedConfig(config)).toBe(true);
    expect(isResolvedConfig({ ...config })).toBe(false);
    expect(isResolvedConfig(structuredClone({ default: config.default, connections: {}, sources: {}, warnings: [] }))).toBe(false);
    expect(isResolvedConfig(redactConfig(config))).toBe(false);
    expect(isResolvedConfig(null)).toBe(false);
    expect(isResolvedConfig('config')).toBe(false);
  });

  it('JSON.stringify shows redacted DSNs only, for the whole config and each connection', () => {
    const json = JSON.stringify(config);
    expect(json).not.toContain(SECRET);
    const parsed = JSON.parse(json) as { connections: Record<string, { dsn: string; max_open_connections: number }> };
    expect(parsed.connections.pg?.dsn).toBe('postgresql://app:****@db.example.com:5432/app');
    expect(parsed.connections.my?.dsn).toBe('mysql://app:****@db.example.com:3306/app');
    expect(parsed.connections.pg?.max_open_connections).toBe(10);
    expect(JSON.stringify(config.connections.pg)).not.toContain(SECRET);
    expect(JSON.stringify({ nested: config.connections })).not.toContain(SECRET);
  });

  it('util.inspect (console.log) shows redacted DSNs only', () => {
    const printed = inspect(config, { depth: 10 });
    expect(printed).not.toContain(SECRET);
    expect(printed).toContain('postgresql://app:****@db.example.com:5432/app');
    expect(inspect(config.connections.pg)).not.toContain(SECRET);
    expect(inspect({ wrapper: config.connections }, { depth: 10 })).not.toContain(SECRET);
  });

  it('keeps the real DSN readable for the drivers', () => {
    expect(config.connections.pg?.dsn).toBe(PG_DSN);
  });

  it('hides toJSON and the inspect hook from keys, spreads and equality', () => {
    expect(Object.keys(config)).toEqual(['default', 'connections', 'sources', 'warnings']);
    expect(Object.keys({ ...config.connections.pg })).not.toContain('toJSON');
    expect(Object.getOwnPropertySymbols({ ...config.connections.pg })).toEqual([]);
  });
});

describe('redactConfig', () => {
  it('is a plain, mutable, JSON-able copy with every DSN redacted', () => {
    const redacted = redactConfig(config);
    expect(Object.isFrozen(redacted)).toBe(false);
    expect(JSON.parse(JSON.stringify(redacted))).toEqual(redacted);
    expect(JSON.stringify(redacted)).not.toContain(SECRET);
    expect(redacted.connections.pg).toMatchObject({ dsn: 'postgresql://app:****@db.example.com:5432/app', aws_iam_auth: { enabled: true, region: 'us-east-1' } });
    expect(redacted.sources).toEqual(config.sources);
  });
});
