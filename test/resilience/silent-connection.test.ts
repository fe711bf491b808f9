import { afterAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../support/fault-proxy.js';
import { waitFor } from '../support/wait.js';
import { NET_DRIVERS, SERVER, dropIdentities, newIdentity, openMain, report, sessionIds, sessionOf, perTestCleanup } from '../support/resilience/harness.js';
import { recordSockets } from '../support/resilience/sockets.js';
import { DbModuleError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

const { track } = perTestCleanup();
afterAll(dropIdentities);

const QUERY_TIMEOUT_MS = 300;
const CONNECT_TIMEOUT_MS = 1_000;

describe.each(NET_DRIVERS)('%s: a connection that goes silent', (driver) => {
  it('a query fails with QUERY_TIMEOUT within query_timeout + 10%, its socket is closed though the network never answers, and the pool serves again once it does', async () => {
    const identity = await newIdentity(driver);
    const proxy = track(await startFaultProxy(SERVER[driver]));
    const sockets = track(recordSockets(proxy.port));
    const db = track(await openMain(driver, identity.dsn(proxy.port), { max_open_connections: 2, query_timeout: `${QUERY_TIMEOUT_MS}ms`, connection_timeout: `${CONNECT_TIMEOUT_MS}ms` }));
    const connection = db.connection();
    const first = await sessionOf(db, driver);

    proxy.blackhole();
    const started = performance.now();
    const error = await rejectionOf(connection.query('SELECT 1'), DbModuleError);
    const elapsed = performance.now() - started;
    expect(error).toMatchObject({ code: 'QUERY_TIMEOUT', retryable: false, connection: 'main' });
    expect(elapsed).toBeGreaterThanOrEqual(QUERY_TIMEOUT_MS - 5);
    expect(elapsed).toBeLessThanOrEqual(QUERY_TIMEOUT_MS * 1.1);

    // still silent: a new session can't be opened either, and that is bounded too
    const opening = performance.now();
    const connectError = await rejectionOf(connection.query('SELECT 1'), DbModuleError);
    expect(connectError).toMatchObject({ code: 'CONNECT_TIMEOUT', retryable: true });
    const connectElapsed = performance.now() - opening;
    expect(connectElapsed).toBeLessThanOrEqual(CONNECT_TIMEOUT_MS * 1.1);
    report(`${driver} silent connection`, { queryTimeoutMs: QUERY_TIMEOUT_MS, failedAfterMs: Math.round(elapsed), connectionTimeoutMs: CONNECT_TIMEOUT_MS, connectFailedAfterMs: Math.round(connectElapsed) });

    // no socket to the silent server stays open (a half-closed one would wait for a FIN forever)
    await waitFor(() => sockets.open().length === 0, CONNECT_TIMEOUT_MS * 2, 'every socket to the silent server closed');
    expect(connection.stats()).toMatchObject({ total: 0, inUse: 0, waiting: 0 });

    proxy.restore();
    const next = await sessionOf(db, driver);
    expect(next).not.toBe(first);
    await waitFor(async () => !(await sessionIds(identity)).includes(first), 5_000, 'the timed-out session ended on the server');
    expect(connection.stats()).toMatchObject({ total: 1, waiting: 0 });
  });

  it('latency below query_timeout is served; latency beyond it times out', async () => {
    const identity = await newIdentity(driver);
    const proxy = track(await startFaultProxy(SERVER[driver]));
    const db = track(await openMain(driver, identity.dsn(proxy.port), { max_open_connections: 1, query_timeout: `${QUERY_TIMEOUT_MS}ms` }));
    const connection = db.connection();
    await connection.query('SELECT 1');
    // one round trip crosses the proxy twice
    proxy.setLatency(QUERY_TIMEOUT_MS / 4);
    expect((await connection.query<{ n: number }>('SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
    proxy.setLatency(QUERY_TIMEOUT_MS);
    expect(await rejectionOf(connection.query('SELECT 1'), DbModuleError)).toMatchObject({ code: 'QUERY_TIMEOUT' });
    proxy.setLatency(0);
    expect((await connection.query<{ n: number }>('SELECT 8 AS n')).rows).toEqual([{ n: 8 }]);
  });

  it('every session socket has TCP keepalive on, probing after 30 s idle', async () => {
    const identity = await newIdentity(driver);
    const proxy = track(await startFaultProxy(SERVER[driver]));
    const sockets = track(recordSockets(proxy.port));
    const db = track(await openMain(driver, identity.dsn(proxy.port), { max_open_connections: 3 }));
    const connection = db.connection();
    await Promise.all(Array.from({ length: 3 }, () => connection.transaction((tx) => tx.query('SELECT 1'))));
    expect(sockets.sockets).toHaveLength(3);
    expect(sockets.sockets.map((socket) => sockets.keepAlive.get(socket))).toEqual(Array.from({ length: 3 }, () => ({ enable: true, initialDelay: 30_000 })));
  });
});
