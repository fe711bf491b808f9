import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, DbModuleError, type Database } from '../../src/index.js';
import { captureLogger } from '../support/logger.js';
import { rejectionOf } from '../support/rejection.js';
import { iamConnection } from '../support/iam-e2e/rds.js';
import { EXTERNAL_ID, EXTERNAL_ROLE, KEY, NARROW_ROLE, OTHER_ROLE, ROLE, shiftedClock, startStsWorld, type StsWorld } from '../support/iam/sts.js';

const MINUTE = 60_000;
const MARGIN = MINUTE;

let world: StsWorld;
let db: Database | undefined;

beforeAll(async () => {
  world = await startStsWorld();
});

afterEach(async () => {
  await db?.close();
  db = undefined;
  world.emulator.setClockOffset(0);
});

afterAll(async () => {
  await world?.close();
});

/** An IAM connection through the emulator's PostgreSQL endpoint (TLS verify-full), with `iam` merged into aws_iam_auth. */
function roleConnection(iam: Record<string, unknown>, pool: Record<string, unknown> = {}): Record<string, unknown> {
  return iamConnection(world.emulator, 'postgres', { iam, pool });
}

/** The AssumeRole calls of one session name, oldest first. */
const assumedAs = (sessionName: string) => world.aws.sts.assumed().filter((record) => record.roleSessionName === sessionName);

describe('aws_iam_auth.role_arn', () => {
  it('assumes the role with the given static keys; its credentials sign the tokens the server accepts', async () => {
    const { logger, entries } = captureLogger();
    const logged = world.emulator.authLog.entries().length;
    db = await createDatabase({ connections: { main: roleConnection({ role_arn: ROLE, role_session_name: 'orders-api' }) } }, { credentials: KEY, logger });
    expect((await db.connection().query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    const assumed = assumedAs('orders-api');
    expect(assumed).toHaveLength(1);
    expect(assumed[0]).toMatchObject({ roleArn: ROLE, roleSessionName: 'orders-api', sourceAccessKeyId: KEY.accessKeyId });
    const issued = assumed[0]?.issuedAccessKeyId ?? '';
    // every login was signed with the assumed key, none with the source key
    const logins = world.emulator.authLog.entries().slice(logged);
    expect(logins.length).toBeGreaterThan(0);
    expect(logins.every((attempt) => attempt.decision === 'allow' && attempt.accessKeyId === issued)).toBe(true);

    const state = db.connection().tokenState();
    expect(state).toMatchObject({ status: 'valid', credentialSource: 'assumed-role', assumedRoleArn: ROLE, accessKeyIdSuffix: issued.slice(-4), credentialExpiresAt: assumed[0]?.expiresAt.getTime() });
    expect(state?.credentialProfile).toBeUndefined();
    // an hour's credentials: the token's own 15 minutes bound it
    expect(state?.expiresAt).toBe((state?.issuedAt ?? 0) + 15 * MINUTE - MARGIN);
    const health = await db.health();
    expect(health.connections.main?.token).toMatchObject({ credentialSource: 'assumed-role', assumedRoleArn: ROLE, credentialExpiresAt: assumed[0]?.expiresAt.getTime() });

    expect(entries).toContainEqual({
      level: 'debug',
      message: 'AWS credentials for IAM signing',
      fields: { connection: 'main', credentials: `role ${ROLE} assumed with the static credentials given in code`, role_arn: ROLE, role_session_name: 'orders-api', sts_region: 'us-east-1' },
    });
    expect(entries.find((entry) => entry.message === 'IAM token refreshed')?.fields).toMatchObject({ credential_source: 'assumed-role', assumed_role_arn: ROLE, credentials_expire_at: assumed[0]?.expiresAt.toISOString() });
  });

  it('names the session dbmodule-<connection> by default; connections with other roles never share a provider or token', async () => {
    const config = {
      connections: {
        orders: roleConnection({ role_arn: ROLE }),
        reports: roleConnection({ role_arn: OTHER_ROLE }),
        // the same endpoint, user, role and session as orders: one provider, one token
        orders_too: roleConnection({ role_arn: ROLE, role_session_name: 'dbmodule-orders' }),
      },
      default: 'orders',
    };
    db = await createDatabase(config, { credentials: KEY, logger: captureLogger().logger });
    for (const name of db.names) await db.connection(name).query('SELECT 1');
    expect(assumedAs('dbmodule-orders').map((record) => record.roleArn)).toEqual([ROLE]);
    expect(assumedAs('dbmodule-reports').map((record) => record.roleArn)).toEqual([OTHER_ROLE]);
    const orders = db.connection('orders').tokenState();
    const reports = db.connection('reports').tokenState();
    expect(orders?.assumedRoleArn).toBe(ROLE);
    expect(reports?.assumedRoleArn).toBe(OTHER_ROLE);
    expect(reports?.accessKeyIdSuffix).not.toBe(orders?.accessKeyIdSuffix);
    expect(db.connection('orders_too').tokenState()).toEqual(orders);
  });

  it('without credentials in code, assumes the role with the default chain (here: the environment keys)', async () => {
    process.env.AWS_ACCESS_KEY_ID = KEY.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = KEY.secretAccessKey;
    try {
      db = await createDatabase({ connections: { chain: roleConnection({ role_arn: ROLE, role_session_name: 'from-the-chain' }) } }, { logger: captureLogger().logger });
      expect(assumedAs('from-the-chain')).toMatchObject([{ roleArn: ROLE, sourceAccessKeyId: KEY.accessKeyId }]);
      expect(db.connection().tokenState()).toMatchObject({ credentialSource: 'assumed-role', assumedRoleArn: ROLE });
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });
});

describe('aws_iam_auth.external_id', () => {
  it('is sent to STS: the role that asks for it is assumed', async () => {
    db = await createDatabase({ connections: { partner: roleConnection({ role_arn: EXTERNAL_ROLE, external_id: EXTERNAL_ID, role_session_name: 'partner-ok' }) } }, { credentials: KEY, logger: captureLogger().logger });
    await db.connection().query('SELECT 1');
    expect(assumedAs('partner-ok')).toMatchObject([{ roleArn: EXTERNAL_ROLE }]);
  });

  it.each([
    ['missing', undefined, 'aws_iam_auth.external_id is not set'],
    ['wrong', 'not-the-partner-id', 'aws_iam_auth.external_id is not the value'],
  ])('%s: AWS_CREDENTIALS_UNAVAILABLE naming the role, the trust policy and the external id, never its value', async (_name, externalId, cause) => {
    const { logger, lines } = captureLogger();
    const coded = await rejectionOf(
      createDatabase({ connections: { partner: roleConnection({ role_arn: EXTERNAL_ROLE, role_session_name: 'partner-denied', ...(externalId ? { external_id: externalId } : {}) }) } }, { credentials: KEY, logger }),
      DbModuleError,
    );
    expect(coded.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(coded.connection).toBe('partner');
    expect(coded.message).toContain(`connection "partner": assuming role ${EXTERNAL_ROLE} (session "partner-denied", source credentials: the static credentials given in code) failed: AccessDenied: `);
    expect(coded.message).toContain(`is not authorized to perform: sts:AssumeRole on resource: ${EXTERNAL_ROLE}`);
    expect(coded.possibleCauses.join('\n')).toContain(`The trust policy of ${EXTERNAL_ROLE}`);
    expect(coded.possibleCauses.join('\n')).toContain(cause);
    expect(coded.solutions.join('\n')).toContain(`aws sts assume-role --role-arn ${EXTERNAL_ROLE} --role-session-name partner-denied`);
    expect(coded.solutions.join('\n')).toContain('sts:AssumeRole');
    expect(assumedAs('partner-denied')).toEqual([]);
    const said = [coded.message, JSON.stringify(coded), ...coded.possibleCauses, ...coded.solutions, ...lines].join('\n');
    expect(said).not.toContain(EXTERNAL_ID);
    if (externalId) expect(said).not.toContain(externalId);
  });

  it('a source identity the trust policy does not name is refused the same way', async () => {
    const error = await rejectionOf(createDatabase({ connections: { narrow: roleConnection({ role_arn: NARROW_ROLE }) } }, { credentials: KEY, logger: captureLogger().logger }), DbModuleError);
    expect(error.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(error.message).toContain(`assuming role ${NARROW_ROLE}`);
    expect(error.possibleCauses.join('\n')).toContain('does not name the source identity');
    expect(error.retryable).toBe(false);
  });

  it('a duration over the role maximum is said to be one', async () => {
    const error = await rejectionOf(createDatabase({ connections: { long: roleConnection({ role_arn: ROLE, duration: '2h' }) } }, { credentials: KEY, logger: captureLogger().logger }), DbModuleError);
    expect(error.code).toBe('AWS_CREDENTIALS_UNAVAILABLE');
    expect(error.message).toContain('ValidationError: The requested DurationSeconds exceeds the MaxSessionDuration set for this role.');
    expect(error.possibleCauses.join('\n')).toContain("aws_iam_auth.duration (7200 s) exceeds the role's MaxSessionDuration");
  });
});

describe('assumed credentials expire: aws_iam_auth.duration 15m', () => {
  it('no token outlives the role credentials that signed it; past their expiry the role is assumed again and new sessions open', async () => {
    const clock = shiftedClock(world.emulator);
    // max_idle_connections 0: every query opens a new physical session, which takes a token valid now
    const connection = roleConnection({ role_arn: ROLE, role_session_name: 'short-lived', duration: '15m' }, { max_idle_connections: 0, max_open_connections: 2 });
    db = await createDatabase({ connections: { main: connection } }, { clock, credentials: KEY, logger: captureLogger().logger });
    const main = db.connection();
    const expiryOf = (accessKeyId: string | undefined): number => {
      const record = assumedAs('short-lived').find((assumed) => assumed.issuedAccessKeyId === accessKeyId);
      if (!record) throw new Error(`no AssumeRole issued ${String(accessKeyId)}`);
      return record.expiresAt.getTime();
    };

    const first = assumedAs('short-lived')[0];
    expect(first?.expiresAt.getTime()).toBeLessThanOrEqual(clock.now() + 15 * MINUTE);
    const logged = world.emulator.authLog.entries().length;
    // 40 minutes of test time, 5 at a time: the credentials expire twice on the way
    for (let minute = 0; minute <= 40; minute += 5) {
      clock.shift(minute * 60);
      await main.query('SELECT 1');
      const state = main.tokenState();
      expect(state?.credentialSource).toBe('assumed-role');
      // the token is handed out until a margin before the credentials expire, never after
      expect(state?.credentialExpiresAt).toBe(expiryOf(world.aws.sts.assumed().find((record) => record.issuedAccessKeyId.endsWith(state?.accessKeyIdSuffix ?? '?'))?.issuedAccessKeyId));
      expect(state?.expiresAt).toBeLessThanOrEqual((state?.credentialExpiresAt ?? 0) - MARGIN);
    }
    const logins = world.emulator.authLog.entries().slice(logged);
    expect(logins.length).toBeGreaterThanOrEqual(9);
    // not one login was refused: no token signed with expired credentials reached the server
    expect(logins.filter((attempt) => attempt.decision !== 'allow')).toEqual([]);
    // each login happened before the credentials that signed it expired
    for (const attempt of logins) expect(attempt.time.getTime()).toBeLessThan(expiryOf(attempt.accessKeyId));
    // the role was assumed again after each expiry: at 0, 15 and 30 minutes at least
    const issued = new Set(logins.map((attempt) => attempt.accessKeyId));
    expect(issued.size).toBeGreaterThanOrEqual(3);
    expect(assumedAs('short-lived').length).toBeGreaterThanOrEqual(3);
  });
});
