import { expect, it } from 'vitest';
import { createDatabase } from '../../src/index.js';
import { startEmulator } from '../../src/emulator/index.js';
import { captureLogger } from '../support/logger.js';

it('smoke', async () => {
  const creds = { accessKeyId: 'AKIAEXAMPLE0001', secretAccessKey: 'secret-key-smoke-1234567890' };
  const emu = await startEmulator({ hostnames: ['localhost', 'mydb.cluster-abc.us-east-1.rds.amazonaws.com'], credentials: [creds], postgres: { upstream: 'postgresql://postgres@127.0.0.1:5432/dbmodule_test', advertisedPort: 5432 }, mysql: { upstream: 'mysql://root@127.0.0.1:3306/dbmodule_test', advertisedPort: 3306 } });
  const { logger, lines } = captureLogger();
  const db = await createDatabase({
    connections: {
      pg: { driver: 'postgres', dsn: `postgresql://app_user:$TOKEN@localhost:${emu.postgres!.port}/dbmodule_test?sslrootcert=${emu.caFile}&sslmode=verify-full`,
        aws_iam_auth: { enabled: true, signing_host: 'mydb.cluster-abc.us-east-1.rds.amazonaws.com', signing_port: 5432 } },
      my: { driver: 'mysql', dsn: `mysql://app_user@localhost:${emu.mysql!.port}/dbmodule_test?sslrootcert=${emu.caFile}&sslmode=verify-full`,
        aws_iam_auth: { enabled: true, signing_host: 'mydb.cluster-abc.us-east-1.rds.amazonaws.com', signing_port: 3306 } },
    }, default: 'pg' }, { logger, credentials: creds }).catch((e) => { console.log(JSON.stringify(emu.authLog.entries(), null, 1)); throw e; });
  expect((await db.connection('pg').query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
  expect((await db.connection('my').query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
  const h = await db.health();
  console.log(JSON.stringify(h.connections.pg?.token), emu.authLog.entries().map(e => e.decision));
  console.log(lines.join('\n'));
  await db.close(); await emu.close();
});
