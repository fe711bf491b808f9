// RDS endpoint names: kinds, the instance pattern a cluster endpoint implies, and dial addresses.
import { describe, expect, it } from 'vitest';
import { defaultInstancePattern, dialAddress, instanceEndpoint, isRdsProxy, rdsEndpointKind } from '../../src/config/endpoints.js';
import { planConnection, planEndpoint } from '../../src/config/plan.js';
import { validateConfig } from '../../src/config/index.js';

describe('RDS endpoint names', () => {
  it.each([
    ['mydb.cluster-abc123def456.us-east-1.rds.amazonaws.com', 'cluster', '?.abc123def456.us-east-1.rds.amazonaws.com'],
    ['mydb.cluster-ro-abc123def456.us-east-1.rds.amazonaws.com', 'cluster-ro', '?.abc123def456.us-east-1.rds.amazonaws.com'],
    ['reporting.cluster-custom-abc123.eu-west-2.rds.amazonaws.com', 'cluster-custom', '?.abc123.eu-west-2.rds.amazonaws.com'],
    ['mydb-instance-1.abc123def456.us-east-1.rds.amazonaws.com', 'instance', '?.abc123def456.us-east-1.rds.amazonaws.com'],
    ['mydb.cluster-abc123.cn-north-1.rds.amazonaws.com.cn', 'cluster', '?.abc123.cn-north-1.rds.amazonaws.com.cn'],
    ['myproxy.proxy-abc123.us-east-1.rds.amazonaws.com', 'proxy', undefined],
    ['db.example.com', undefined, undefined],
    ['127.0.0.1', undefined, undefined],
  ])('%s is %s, instances %s', (host, kind, pattern) => {
    expect(rdsEndpointKind(host)).toBe(kind);
    expect(defaultInstancePattern(host)).toBe(pattern);
  });

  it('only proxy endpoints are proxies', () => {
    expect(isRdsProxy('myproxy.proxy-abc123.us-east-1.rds.amazonaws.com')).toBe(true);
    expect(isRdsProxy('mydb.cluster-abc123.us-east-1.rds.amazonaws.com')).toBe(false);
  });

  it('an instance endpoint replaces ? by the id; a port in the pattern wins', () => {
    expect(instanceEndpoint('?.abc123.us-east-1.rds.amazonaws.com', 'db-2', 5432)).toEqual({ host: 'db-2.abc123.us-east-1.rds.amazonaws.com', port: 5432 });
    expect(instanceEndpoint('?.internal:6432', 'DB-2', 5432)).toEqual({ host: 'db-2.internal', port: 6432 });
  });

  it('instance_addresses maps an endpoint (by host:port, else host) to the address dialled', () => {
    const addresses = { 'db-1.abc.rds.amazonaws.com:5432': '127.0.0.2:15432', 'db-2.abc.rds.amazonaws.com': '127.0.0.3' };
    expect(dialAddress({ host: 'db-1.abc.rds.amazonaws.com', port: 5432 }, addresses)).toEqual({ host: '127.0.0.2', port: 15432 });
    expect(dialAddress({ host: 'db-2.abc.rds.amazonaws.com', port: 5432 }, addresses)).toEqual({ host: '127.0.0.3', port: 5432 });
    expect(dialAddress({ host: 'db-3.abc.rds.amazonaws.com', port: 5432 }, addresses)).toEqual({ host: 'db-3.abc.rds.amazonaws.com', port: 5432 });
  });
});

const planOf = (connection: object) => planConnection(validateConfig({ connections: { writer: connection } }, { source: 'object', env: {} }).connections.writer!);

describe('the cluster part of a plan', () => {
  it('a cluster endpoint gets auto topology and the derived pattern without a cluster block', () => {
    const plan = planOf({ dsn: 'postgresql://app@mydb.cluster-abc123.us-east-1.rds.amazonaws.com/app' });
    expect(plan.cluster?.topology).toBe('auto');
    expect(plan.cluster?.instancePattern).toBe('?.abc123.us-east-1.rds.amazonaws.com');
  });

  it('a plain host has no cluster unless configured', () => {
    expect(planOf({ dsn: 'postgresql://app@db.example.com/app' }).cluster).toBeUndefined();
    expect(planOf({ dsn: 'postgresql://app@db.example.com/app', cluster: { enabled: true, instance_host_pattern: '?.example.com' } }).cluster?.topology).toBe(true);
  });

  it('an RDS Proxy never runs topology queries, even when asked', () => {
    expect(planOf({ dsn: 'postgresql://app@myproxy.proxy-abc123.us-east-1.rds.amazonaws.com/app', cluster: { enabled: true } }).cluster).toBeUndefined();
  });

  it('cluster.enabled: false turns topology off', () => {
    expect(planOf({ dsn: 'postgresql://app@mydb.cluster-abc123.us-east-1.rds.amazonaws.com/app', cluster: { enabled: false } }).cluster).toBeUndefined();
  });

  it('replicas inherit the parts they leave out from the main DSN', () => {
    const plan = planOf({ dsn: 'postgresql://app:pw@primary.example.com:5433/app?application_name=svc', replicas: ['postgresql://replica-1.example.com:5434'] });
    const [replica] = plan.cluster?.replicas ?? [];
    expect([replica?.host, replica?.port, replica?.user, replica?.database, replica?.dsn.password, replica?.params.application_name]).toEqual([
      'replica-1.example.com',
      5434,
      'app',
      'app',
      'pw',
      'svc',
    ]);
  });

  it('under IAM each replica and instance is signed for its own endpoint, not the signing_host of the connection', () => {
    const plan = planOf({
      dsn: 'postgresql://app@127.0.0.1:5432/app',
      aws_iam_auth: { enabled: true, region: 'us-east-1', signing_host: 'mydb.cluster-abc123.us-east-1.rds.amazonaws.com' },
      replicas: ['postgresql://replica-1.abc123.us-east-1.rds.amazonaws.com:5432/app'],
    });
    expect(plan.iam?.signingHost).toBe('mydb.cluster-abc123.us-east-1.rds.amazonaws.com');
    expect(plan.cluster?.replicas[0]?.iam?.signingHost).toBe('replica-1.abc123.us-east-1.rds.amazonaws.com');
    const instance = planEndpoint(plan, { host: 'db-2.abc123.us-east-1.rds.amazonaws.com', port: 5432 }, { host: '127.0.0.3', port: 15432 });
    expect([instance.host, instance.port, instance.iam?.signingHost, instance.iam?.signingPort, instance.tls.servername]).toEqual([
      '127.0.0.3',
      15432,
      'db-2.abc123.us-east-1.rds.amazonaws.com',
      5432,
      'db-2.abc123.us-east-1.rds.amazonaws.com',
    ]);
    expect(instance.tls.options === false ? undefined : instance.tls.options.servername).toBe('db-2.abc123.us-east-1.rds.amazonaws.com');
  });

  it('the DSN may name its endpoint while instance_addresses says where it listens (a tunnel): TLS checks and IAM signs for the name', () => {
    const name = 'mydb.cluster-abc123.us-east-1.rds.amazonaws.com';
    const plan = planOf({
      dsn: `postgresql://app@${name}:5432/app?sslmode=verify-full`,
      aws_iam_auth: { enabled: true },
      cluster: { instance_addresses: { [`${name}:5432`]: '127.0.0.1:15432' } },
    });
    expect([plan.host, plan.port, plan.endpoint, plan.iam?.signingHost, plan.iam?.signingPort, plan.tls.servername]).toEqual(['127.0.0.1', 15432, { host: name, port: 5432 }, name, 5432, name]);
    expect(plan.cluster?.topology).toBe('auto');
    expect(JSON.parse(JSON.stringify(plan))).toMatchObject({ endpoint: '127.0.0.1:15432', endpointName: `${name}:5432` });
  });

  it('a configured signing_host still wins for the DSN endpoint dialled elsewhere', () => {
    const plan = planOf({
      dsn: 'postgresql://app@db.internal:5432/app?sslmode=verify-full',
      aws_iam_auth: { enabled: true, region: 'us-east-1', signing_host: 'mydb.cluster-abc123.us-east-1.rds.amazonaws.com' },
      cluster: { enabled: false, instance_addresses: { 'db.internal': '127.0.0.1:15432' } },
    });
    expect([plan.host, plan.port, plan.iam?.signingHost, plan.tls.servername]).toEqual(['127.0.0.1', 15432, 'mydb.cluster-abc123.us-east-1.rds.amazonaws.com', 'db.internal']);
  });

  it('instance_addresses may be a function (addresses that change); an answer that is not an address names the setting', () => {
    const asked: string[] = [];
    const resolve = (endpoint: { host: string; port: number }) => {
      asked.push(`${endpoint.host}:${endpoint.port}`);
      return endpoint.host.startsWith('db-2.') ? '127.0.0.9:6000' : undefined;
    };
    expect(dialAddress({ host: 'db-2.abc.rds.amazonaws.com', port: 5432 }, resolve)).toEqual({ host: '127.0.0.9', port: 6000 });
    expect(dialAddress({ host: 'db-3.abc.rds.amazonaws.com', port: 5432 }, resolve)).toEqual({ host: 'db-3.abc.rds.amazonaws.com', port: 5432 });
    expect(asked).toEqual(['db-2.abc.rds.amazonaws.com:5432', 'db-3.abc.rds.amazonaws.com:5432']);
    expect(() => dialAddress({ host: 'db-2.abc.rds.amazonaws.com', port: 5432 }, () => 'not an address')).toThrow(/cluster\.instance_addresses answered "not an address" for db-2\.abc\.rds\.amazonaws\.com:5432/);
    const plan = planOf({ dsn: 'postgresql://app@db.example.com/app', cluster: { enabled: true, instance_host_pattern: '?.example.com', instance_addresses: resolve } });
    expect(JSON.parse(JSON.stringify(plan)).cluster.instanceAddresses).toBe('function');
  });
});
