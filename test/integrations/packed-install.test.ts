// A new user's install: the packed tarball in an application of its own with pg, mysql2 and
// Kysely. Strict TypeScript accepts the typed pools and `dbmodule/kysely` without a cast, and
// the application and dbmodule share one copy of each driver (`instanceof` holds across them).
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MYSQL_URL, PG_URL } from '../support/databases.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const require = createRequire(import.meta.url);
/** The version this repository tests with, so the install is served from the npm cache. */
const pinned = (name: string) => `${name}@${(require(`${ROOT}/node_modules/${name}/package.json`) as { version: string }).version}`;
let app: string;

beforeAll(async () => {
  app = mkdtempSync(path.join(tmpdir(), 'dbmodule-app-'));
  // dist/ is built by `npm test` before the tests run
  await run('npm', ['pack', '--silent', '--pack-destination', app], { cwd: ROOT });
  const tarball = readdirSync(app).find((file) => file.endsWith('.tgz'));
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `./${tarball}`, ...['pg', 'mysql2', 'kysely', '@types/pg'].map(pinned)], { cwd: app, timeout: 180_000 });
}, 240_000);

afterAll(() => {
  if (app) rmSync(app, { recursive: true, force: true });
});

it('strict TypeScript takes the typed pools and dbmodule/kysely as they are, and one copy of each driver is loaded', async () => {
  writeFileSync(
    path.join(app, 'main.ts'),
    `import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely';
import mysql from 'mysql2';
import pg from 'pg';
import { createDatabase, type Connection } from 'dbmodule';
import { kyselyDialect } from 'dbmodule/kysely';

function dialectOf(connection: Connection) {
  if (connection.driver === 'postgres') return new PostgresDialect({ pool: connection.pool });
  if (connection.driver === 'mysql') return new MysqlDialect({ pool: connection.pool });
  throw new Error('no dialect');
}

const db = await createDatabase({ connections: { pg: { driver: 'postgres', dsn: process.env.PG_URL! }, my: { driver: 'mysql', dsn: process.env.MYSQL_URL! } }, default: 'pg' });
const answers: Record<string, unknown> = {};
for (const name of ['pg', 'my']) {
  const connection = db.connection(name);
  const viaHelper = new Kysely<Record<string, never>>({ dialect: kyselyDialect(connection) });
  const viaPool = new Kysely<Record<string, never>>({ dialect: dialectOf(connection) });
  answers[name] = [
    Number((await sql<{ n: number }>\`SELECT 40 + 2 AS n\`.execute(viaHelper)).rows[0]?.n),
    Number((await sql<{ n: number }>\`SELECT 40 + 3 AS n\`.execute(viaPool)).rows[0]?.n),
  ];
  await viaHelper.destroy();
  await viaPool.destroy();
}
const pgConnection = db.connection('pg');
const myConnection = db.connection('my');
answers.pgInstance = pgConnection.driver === 'postgres' && pgConnection.pool instanceof pg.Pool;
const bare = mysql.createPool({});
answers.myInstance = myConnection.driver === 'mysql' && Object.getPrototypeOf(myConnection.pool) === Object.getPrototypeOf(bare);
bare.end();
await db.close();
console.log(JSON.stringify(answers));
`,
  );
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUncheckedIndexedAccess: true, skipLibCheck: false, outDir: 'out', types: ['node'] }, files: ['main.ts'] }),
  );
  await run(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json', '--typeRoots', path.join(ROOT, 'node_modules/@types')], { cwd: app });

  // one copy: nothing of the drivers is installed under dbmodule itself
  const nested = readdirSync(path.join(app, 'node_modules/dbmodule')).filter((entry) => entry === 'node_modules');
  expect(nested).toEqual([]);
  const { stdout } = await run(process.execPath, ['out/main.js'], { cwd: app, env: { ...process.env, PG_URL, MYSQL_URL } });
  expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}')).toEqual({ pg: [42, 43], my: [42, 43], pgInstance: true, myInstance: true });
}, 120_000);
