// The `cluster` block and `replicas` (DESIGN §9): defaults, the environment, and errors naming the key.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { PG_DSN, SECRET, SQLITE_DSN } from '../support/config.js';
import { rejectionOf } from '../support/rejection.js';

const object = (raw: unknown, env: Record<string, string> = {}) => validateConfig(raw, { source: 'object', env });
const one = (connection: object, env?: Record<string, string>) => object({ connections: { writer: { dsn: PG_DSN, ...connection } } }, env).connections.writer!;

describe('cluster block', () => {
  it('is absent unless configured', () => {
    const writer = one({});
    expect(writer.cluster).toBeUndefined();
    expect(writer.replicas).toBeUndefined();
  });

  it('gets the documented defaults, durations in milliseconds', () => {
    expect(one({ cluster: {} }).cluster).toEqual({
      enabled: 'auto',
      topology_refresh: 30_000,
      failover_refresh: 100,
      failover_timeout: 60_000,
      read_from: 'readers-or-writer',
      reader_selection: 'random',
      max_replica_lag: 5_000,
      instance_addresses: {},
    });
  });

  it('takes every key from the file, in its own units', () => {
    const cluster = one({
      cluster: {
        enabled: 'true',
        instance_host_pattern: '?.abc123.us-east-1.rds.amazonaws.com',
        topology_refresh: '10s',
        failover_refresh: '250ms',
        failover_timeout: 90,
        read_from: 'readers',
        reader_selection: 'lowest-lag',
        max_replica_lag: '1s',
        instance_addresses: { 'db-1.abc123.us-east-1.rds.amazonaws.com': '127.0.0.2:5432' },
      },
    }).cluster;
    expect(cluster).toEqual({
      enabled: true,
      instance_host_pattern: '?.abc123.us-east-1.rds.amazonaws.com',
      topology_refresh: 10_000,
      failover_refresh: 250,
      failover_timeout: 90_000,
      read_from: 'readers',
      reader_selection: 'lowest-lag',
      max_replica_lag: 1_000,
      instance_addresses: { 'db-1.abc123.us-east-1.rds.amazonaws.com': '127.0.0.2:5432' },
    });
  });

  it('is set from DB_<NAME>_CLUSTER_* variables, which win over the file', () => {
    const writer = one(
      { cluster: { read_from: 'writer' } },
      {
        DB_WRITER_CLUSTER_READ_FROM: 'readers',
        DB_WRITER_CLUSTER_ENABLED: 'auto',
        DB_WRITER_CLUSTER_INSTANCE_ADDRESSES: 'db-1.abc.us-east-1.rds.amazonaws.com=127.0.0.2, db-2.abc.us-east-1.rds.amazonaws.com:5432=127.0.0.3:6432',
      },
    );
    expect(writer.cluster?.read_from).toBe('readers');
    expect(writer.cluster?.instance_addresses).toEqual({
      'db-1.abc.us-east-1.rds.amazonaws.com': '127.0.0.2',
      'db-2.abc.us-east-1.rds.amazonaws.com:5432': '127.0.0.3:6432',
    });
  });

  it('an environment variable alone creates the block', () => {
    expect(one({}, { DB_WRITER_CLUSTER_MAX_REPLICA_LAG: '2s' }).cluster?.max_replica_lag).toBe(2_000);
  });

  it.each([
    [{ read_from: 'replica' }, 'connections.writer.cluster.read_from', 'expected one of readers, readers-or-writer, writer'],
    [{ reader_selection: 'fastest' }, 'connections.writer.cluster.reader_selection', 'expected one of random, least-connections, lowest-lag'],
    [{ enabled: 'maybe' }, 'connections.writer.cluster.enabled', 'expected auto, true or false'],
    [{ instance_host_pattern: 'db.abc123.rds.amazonaws.com' }, 'connections.writer.cluster.instance_host_pattern', 'expected a host name with one ? standing for the instance id'],
    [{ topology_refresh: '0s' }, 'connections.writer.cluster.topology_refresh', ''],
    [{ instance_addresses: { 'db-1': 'not an address' } }, 'connections.writer.cluster.instance_addresses', 'the address of db-1 must be host or host:port'],
  ])('%j is an error naming the key', async (cluster, path, message) => {
    const error = await rejectionOf(() => one({ cluster }), ConfigError);
    expect(error.message).toContain(`${path}: ${message}`);
  });

  it('an unknown key is named, with a suggestion from the block', async () => {
    const error = await rejectionOf(() => one({ cluster: { read_form: 'readers' } }), ConfigError);
    expect(error.message).toContain('connections.writer.cluster.read_form: unknown key; did you mean `read_from`?');
  });

  it('a cluster key at the connection level is pointed to its block', async () => {
    const error = await rejectionOf(() => one({ topology_refresh: '5s' }), ConfigError);
    expect(error.message).toContain('connections.writer.topology_refresh: unknown key; did you mean `cluster.topology_refresh`?');
  });

  it('SQLite connections refuse it', async () => {
    const error = await rejectionOf(() => object({ connections: { local: { dsn: SQLITE_DSN, cluster: {} } } }), ConfigError);
    expect(error.message).toContain('connections.local.cluster: SQLite has no clusters or replicas');
  });
});

describe('replicas', () => {
  const first = `postgresql://app:${SECRET}@replica-1.example.com:5432/app`;
  const second = 'postgresql://replica-2.example.com/app';

  it('is a list of DSNs', () => {
    expect(one({ replicas: [first, second] }).replicas).toEqual([first, second]);
  });

  it.each([
    ['a JSON array', JSON.stringify([first, second])],
    ['comma-separated', `${first}, ${second}`],
    ['newline-separated', `${first}\n${second}`],
  ])('comes from DB_<NAME>_REPLICAS as %s', (_form, value) => {
    expect(one({}, { DB_WRITER_REPLICAS: value }).replicas).toEqual([first, second]);
  });

  it('a comma inside a password does not split a DSN', () => {
    const dsn = 'postgresql://app:pa,ss@replica-1.example.com/app';
    expect(one({}, { DB_WRITER_REPLICAS: `${dsn},${second}` }).replicas).toEqual([dsn, second]);
  });

  it('an item that is not a DSN is named by its index, its value never shown', async () => {
    const error = await rejectionOf(() => one({ replicas: [first, 42] }), ConfigError);
    expect(error.message).toContain('connections.writer.replicas: item 1: expected a DSN string');
    expect(error.message).not.toContain(SECRET);
  });

  it('is redacted when the config is printed', () => {
    const printed = JSON.stringify(object({ connections: { writer: { dsn: PG_DSN, replicas: [first] } } }));
    expect(printed).toContain('replica-1.example.com');
    expect(printed).not.toContain(SECRET);
  });
});
