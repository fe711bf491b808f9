import { inspect } from 'node:util';
import type { Pool as PgPool } from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase, loadConfig, type Database } from '../../src/index.js';
import { checkConnections } from '../../src/diagnostics/check.js';
import { startAwsTap, type AwsTap } from '../support/aws-tap.js';
import { cli } from '../support/cli.js';
import { iamConnection, RDS_HOST } from '../support/iam-e2e/rds.js';
import { SecretNeedles } from '../support/iam-e2e/secret-scan.js';
import { Transcript } from '../support/iam-e2e/transcript.js';
import { awsFiles, EXTERNAL_ID, EXTERNAL_ROLE, KEY, NARROW_ROLE, OTHER_KEY, shiftedClock, startStsWorld, type StsWorld } from '../support/iam/sts.js';

const WRONG_EXTERNAL_ID = 'leak-scan-wrong-external-id-19ab';

let world: StsWorld;
let tap: AwsTap;
let files: ReturnType<typeof awsFiles>;
let db: Database | undefined;

beforeAll(async () => {
  files = awsFiles(`[profile partner]\nrole_arn = ${EXTERNAL_ROLE}\nsource_profile = base\nexternal_id = ${EXTERNAL_ID}\n`, `[base]\naws_access_key_id = ${OTHER_KEY.accessKeyId}\naws_secret_access_key = ${OTHER_KEY.secretAccessKey}\n`);
  // every STS answer goes through the tap, so the scan knows every secret STS handed out
  world = await startStsWorld({
    env: { AWS_CONFIG_FILE: files.config, AWS_SHARED_CREDENTIALS_FILE: files.credentials },
    stsEndpoint: async (aws) => {
      tap = await startAwsTap({ host: '127.0.0.1', port: aws.port });
      return tap.endpoint;
    },
  });
});

afterAll(async () => {
  await db?.close();
  await tap?.close();
  await world?.close();
  files?.remove();
});

it('no secret key, session token, token or external id appears in a log line, event, error, state, health report or check', async () => {
  const transcript = new Transcript();
  const clock = shiftedClock(world.emulator);
  const connection = (iam: Record<string, unknown>) => iamConnection(world.emulator, 'postgres', { iam, pool: { max_idle_connections: 0, max_open_connections: 2 } });
  const config = {
    connections: {
      partner: connection({ role_arn: EXTERNAL_ROLE, external_id: EXTERNAL_ID, duration: '15m' }),
      profiled: connection({ profile: 'partner' }),
    },
    default: 'partner',
  };
  db = await createDatabase(config, { clock, credentials: KEY, logger: transcript.logger });
  transcript.listen(db);
  const sent = new Set<string>();
  for (const name of db.names) (db.connection(name).pool as PgPool).on('connect', (client) => sent.add(String((client as unknown as { password: unknown }).password)));

  // sessions across two expiries of the 15-minute role credentials
  for (const minutes of [0, 5, 16, 33]) {
    clock.shift(minutes * 60);
    for (const name of db.names) await db.connection(name).query('SELECT 1');
  }
  const health = await db.health();
  transcript.texts.push(JSON.stringify(health), inspect(health, { depth: 8 }), inspect(db.config, { depth: 8 }), JSON.stringify(db.config));
  for (const name of db.names) transcript.texts.push(JSON.stringify(db.connection(name).tokenState()), inspect(db.connection(name).tokenState()));
  await db.close();
  db = undefined;
  clock.shift(0);

  // refusals: a wrong external id, an untrusted source, a profile that is not there
  await transcript.failure(createDatabase({ connections: { main: connection({ role_arn: EXTERNAL_ROLE, external_id: WRONG_EXTERNAL_ID }) } }, { credentials: KEY, logger: transcript.logger }));
  await transcript.failure(createDatabase({ connections: { main: connection({ role_arn: NARROW_ROLE, external_id: WRONG_EXTERNAL_ID }) } }, { credentials: KEY, logger: transcript.logger }));
  await transcript.failure(createDatabase({ connections: { main: connection({ profile: 'missing' }) } }, { logger: transcript.logger }));

  // check, as a library and as the CLI (logs at debug on stderr)
  const checkEnv: Record<string, string> = {
    DB_MAIN_DSN: `postgresql://app_user@localhost:${world.emulator.postgres?.port}/dbmodule_test?sslmode=verify-full&sslrootcert=${world.emulator.caFile}`,
    DB_MAIN_AWS_IAM_AUTH_ENABLED: 'true',
    DB_MAIN_AWS_IAM_AUTH_SIGNING_HOST: RDS_HOST,
    DB_MAIN_AWS_IAM_AUTH_SIGNING_PORT: '5432',
    DB_MAIN_AWS_IAM_AUTH_ROLE_ARN: EXTERNAL_ROLE,
    DB_MAIN_AWS_IAM_AUTH_EXTERNAL_ID: EXTERNAL_ID,
    AWS_ACCESS_KEY_ID: KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
    DBMODULE_LOG_LEVEL: 'debug',
  };
  const report = await checkConnections(await loadConfig({ env: checkEnv }), { credentials: KEY });
  expect(report.ok).toBe(true);
  transcript.texts.push(JSON.stringify(report));
  for (const args of [['check', '--json'], ['check'], ['config']]) {
    const run = await cli(args, checkEnv);
    transcript.texts.push(run.stdout, run.stderr);
  }
  const wrong = await cli(['check', '--json'], { ...checkEnv, DB_MAIN_AWS_IAM_AUTH_EXTERNAL_ID: WRONG_EXTERNAL_ID });
  expect(wrong.code).toBe(1);
  transcript.texts.push(wrong.stdout, wrong.stderr);

  // the scenario reached what it claims to
  const said = transcript.texts.join('\n');
  expect(said).toContain('assumed_role_arn');
  expect(said).toContain(`assuming role ${EXTERNAL_ROLE}`);
  expect(said).toContain('AWS profile "missing"');
  expect(said).toContain('"externalId":"set"');

  // every secret STS handed out, read from its answers as they went over the wire
  const answers = tap.exchanges().filter((exchange) => exchange.operation === 'AssumeRole' && exchange.status === 200);
  const secrets = answers.flatMap((exchange) => [...exchange.body.matchAll(/<(SecretAccessKey|SessionToken)>([^<]+)</g)].map((match) => ({ what: match[1] ?? '', value: match[2] ?? '' })));
  // at least: three for the role at 0, 16 and 33 minutes, one for the profile's role, two for the checks
  expect(answers.length).toBeGreaterThanOrEqual(6);
  expect(secrets.length).toBe(answers.length * 2);
  expect(tap.exchanges().some((exchange) => exchange.status === 403)).toBe(true);
  expect(sent.size).toBeGreaterThanOrEqual(4);

  const needles = new SecretNeedles()
    .add(KEY.secretAccessKey, 'secret key of KEY')
    .add(OTHER_KEY.secretAccessKey, 'secret key of OTHER_KEY')
    .add(EXTERNAL_ID, 'the external id')
    .add(WRONG_EXTERNAL_ID, 'a wrong external id')
    .addTokens(sent);
  for (const { what, value } of secrets) needles.add(value, `an assumed ${what}`);
  expect(needles.findIn(transcript.texts)).toEqual([]);
});
