// How ReaderRouter chooses: reader_selection among the eligible readers, read_from, and moving
// work that never reached a reader. The pools here are stand-ins for routing decisions only;
// the real drivers are exercised in postgres-cluster and mysql-cluster tests.
import { describe, expect, it } from 'vitest';
import type { InstancePool, OpenedPool } from '../../src/cluster/instance-pools.js';
import { ReaderRouter, type ReaderCandidate, type ReaderRouterOptions } from '../../src/cluster/reader-router.js';
import { planConnection } from '../../src/config/plan.js';
import type { ReaderSelection, ReadFrom } from '../../src/config/types.js';
import { connectionConfig } from '../support/connection-config.js';
import type { DriverPool, QueryResult } from '../../src/drivers/types.js';
import { DbModuleError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

/** A pool that answers every statement with its own name, or fails as told. */
function instance(key: string, fail?: DbModuleError): InstancePool {
  const pool = {
    native: { key },
    query: async () => {
      if (fail) throw fail;
      return { rows: [{ from: key }], rowCount: 1 } as QueryResult<never>;
    },
  } as unknown as DriverPool;
  const opened: OpenedPool = { pool, close: async () => {} };
  return { key, plan: undefined as never, opened: Promise.resolve(opened), ready: opened, inFlight: 0, healthy: true };
}

function router(candidates: ReaderCandidate[], options: { readFrom?: ReadFrom; selection?: ReaderSelection; random?: () => number } = {}) {
  const unhealthy: string[] = [];
  const writer = { query: async () => ({ rows: [{ from: 'writer' }], rowCount: 1 }), transaction: async () => 'writer' } as unknown as ReaderRouterOptions['writer'];
  const routerOptions: ReaderRouterOptions = {
    plan: planConnection(connectionConfig('postgres', { name: 'app', dsn: 'postgres://app@db.example.com/app' }, {})),
    readFrom: options.readFrom ?? 'readers-or-writer',
    selection: options.selection ?? 'random',
    candidates: () => candidates.filter((candidate) => candidate.pool.healthy),
    writer,
    writerNative: () => ({ key: 'writer' }),
    routingPool: (choose) => ({ choose }),
    runner: { queryOn: (pool, sql, params) => pool.query(sql, params), transactionOn: async () => 'reader' as never },
    markUnhealthy: (pool) => {
      pool.healthy = false;
      unhealthy.push(pool.key);
    },
    ...(options.random ? { random: options.random } : {}),
  };
  return { reader: new ReaderRouter(routerOptions), unhealthy };
}

const from = async (reader: ReaderRouter) => ((await reader.query('SELECT 1')).rows[0] as { from: string }).from;
const lost = () => new DbModuleError('CONNECT_FAILED', 'refused', { retryable: true });

describe('reader selection', () => {
  it('random picks by the random source', async () => {
    const candidates = [{ pool: instance('a') }, { pool: instance('b') }, { pool: instance('c') }];
    expect(await from(router(candidates, { random: () => 0 }).reader)).toBe('a');
    expect(await from(router(candidates, { random: () => 0.5 }).reader)).toBe('b');
    expect(await from(router(candidates, { random: () => 0.99 }).reader)).toBe('c');
  });

  it('least-connections picks the reader with the fewest statements running', async () => {
    const busy = instance('busy');
    busy.inFlight = 3;
    const idle = instance('idle');
    idle.inFlight = 1;
    expect(await from(router([{ pool: busy }, { pool: idle }], { selection: 'least-connections' }).reader)).toBe('idle');
  });

  it('lowest-lag picks the reader furthest ahead', async () => {
    const candidates = [{ pool: instance('behind'), lagMs: 900 }, { pool: instance('ahead'), lagMs: 20 }];
    expect(await from(router(candidates, { selection: 'lowest-lag' }).reader)).toBe('ahead');
  });

  it('read_from: writer never asks a reader', async () => {
    expect(await from(router([{ pool: instance('a') }], { readFrom: 'writer' }).reader)).toBe('writer');
  });

  it('the native router follows the same rules', () => {
    const { reader } = router([{ pool: instance('a') }], { random: () => 0 });
    const { choose } = reader.pool as unknown as { choose: () => { key: string } };
    expect(choose().key).toBe('a');
    const none = router([], { readFrom: 'readers' }).reader.pool as unknown as { choose: () => unknown };
    expect(() => none.choose()).toThrow(/no reader is available/);
  });
});

describe('a reader that cannot be reached', () => {
  it('is marked unhealthy and the statement goes to the next reader', async () => {
    const { reader, unhealthy } = router([{ pool: instance('down', lost()) }, { pool: instance('up') }], { random: () => 0 });
    expect(await from(reader)).toBe('up');
    expect(unhealthy).toEqual(['down']);
  });

  it('with none left, readers-or-writer reads from the writer and readers fails retryable', async () => {
    expect(await from(router([{ pool: instance('down', lost()) }]).reader)).toBe('writer');
    const error = await rejectionOf(() => router([{ pool: instance('down', lost()) }], { readFrom: 'readers' }).reader.query('SELECT 1'), DbModuleError);
    expect([error.code, error.retryable, (error.cause as Error).message]).toEqual(['CONNECT_FAILED', true, 'refused']);
  });

  it('a statement that failed on the server is not moved', async () => {
    const sqlError = new DbModuleError('QUERY_FAILED', 'syntax error');
    const { reader, unhealthy } = router([{ pool: instance('a', sqlError) }, { pool: instance('b') }], { random: () => 0 });
    expect(await rejectionOf(() => reader.query('SELEC 1'), DbModuleError)).toBe(sqlError);
    expect(unhealthy).toEqual([]);
  });
});
