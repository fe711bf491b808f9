// The statements a local server gets in place of Aurora's topology queries, run on the real
// servers: the rewritten SQL must parse there and answer as Aurora does.
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rewriteTopologySql, type TopologyView } from '../../src/emulator/topology-sql.js';
import { mysqlStatementRewriter, postgresStatementRewriter } from '../../src/emulator/statement-rewriter.js';
import { MYSQL_URL, PG_URL } from '../support/databases.js';

const VIEW: TopologyView = {
  rows: [
    { id: 'db-1', writer: true, lagMs: 0, silentSeconds: 0 },
    { id: 'db-2', writer: false, lagMs: 12.5, silentSeconds: 0 },
    { id: 'db-9', writer: false, lagMs: 3, silentSeconds: 600 },
  ],
  self: { id: 'db-2', writer: false },
};

let client: pg.Client;
let connection: mysql.Connection;

beforeAll(async () => {
  client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  connection = await mysql.createConnection(MYSQL_URL);
});

afterAll(async () => {
  await client?.end();
  await connection?.end();
});

const onPostgres = async (sql: string) => (await client.query(rewriteTopologySql('postgres', sql, () => VIEW))).rows;
const onMysql = async (sql: string) => (await connection.query<mysql.RowDataPacket[]>(rewriteTopologySql('mysql', sql, () => VIEW)))[0];

describe('Aurora PostgreSQL on a real PostgreSQL', () => {
  it("the AWS wrapper's topology query, writer by MASTER_SESSION_ID and the 5-minute rule", async () => {
    const rows = await onPostgres(
      "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, CPU, COALESCE(REPLICA_LAG_IN_MSEC, 0), LAST_UPDATE_TIMESTAMP " +
        "FROM aurora_replica_status() WHERE EXTRACT(EPOCH FROM(NOW() - LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' OR LAST_UPDATE_TIMESTAMP IS NULL",
    );
    expect(rows.map((row) => [row.server_id, row.case, Number(row.coalesce)])).toEqual([
      ['db-1', true, 0],
      ['db-2', false, 12.5],
    ]);
  });

  it('keeps an alias given to the function, and a keyword after it is not one', async () => {
    expect(await onPostgres('SELECT s.server_id FROM pg_catalog.aurora_replica_status() AS s ORDER BY 1')).toEqual([{ server_id: 'db-1' }, { server_id: 'db-2' }, { server_id: 'db-9' }]);
    expect(await onPostgres('SELECT r.server_id FROM aurora_replica_status() r WHERE r.server_id = $$db-2$$')).toEqual([{ server_id: 'db-2' }]);
    expect(await onPostgres("SELECT count(*)::int AS n FROM aurora_replica_status() WHERE session_id <> 'MASTER_SESSION_ID'")).toEqual([{ n: 2 }]);
  });

  it('aurora_db_instance_identifier() keeps its column name; detection by to_regproc and by rds.extensions', async () => {
    expect(await onPostgres('SELECT aurora_db_instance_identifier()')).toEqual([{ aurora_db_instance_identifier: 'db-2' }]);
    expect(await onPostgres("SELECT to_regproc('pg_catalog.aurora_replica_status') IS NOT NULL AS aurora")).toEqual([{ aurora: true }]);
    expect(await onPostgres("SELECT (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils FROM pg_settings WHERE name = 'rds.extensions'")).toEqual([{ aurora_stat_utils: true }]);
    expect(await onPostgres("SELECT current_setting('rds.extensions') LIKE '%aurora_stat_utils%' AS found")).toEqual([{ found: true }]);
  });

  it('leaves every other statement as it is', () => {
    for (const sql of ['SELECT 1', "SELECT * FROM pg_settings WHERE name = 'work_mem'", 'SELECT pg_is_in_recovery()']) {
      expect(rewriteTopologySql('postgres', sql, () => VIEW)).toBe(sql);
    }
  });
});

describe('Aurora MySQL on a real MariaDB', () => {
  it("the AWS wrapper's topology query from information_schema.replica_host_status", async () => {
    const rows = await onMysql(
      "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END as IS_WRITER, CPU, REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP " +
        "FROM information_schema.replica_host_status WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID'",
    );
    expect(rows.map((row) => [row.SERVER_ID, Number(row.IS_WRITER), Number(row.REPLICA_LAG_IN_MILLISECONDS)])).toEqual([
      ['db-1', 1, 0],
      ['db-2', 0, 12.5],
    ]);
  });

  it('@@aurora_server_id, @@innodb_read_only and SHOW VARIABLES LIKE aurora_version answer for the session\'s instance', async () => {
    expect(await onMysql('SELECT @@aurora_server_id AS id, @@innodb_read_only AS ro')).toEqual([{ id: 'db-2', ro: 1 }]);
    expect(await onMysql("SHOW VARIABLES LIKE 'aurora_version'")).toMatchObject([{ Variable_name: 'aurora_version' }]);
    expect(await onMysql('SELECT h.SERVER_ID FROM information_schema.replica_host_status AS h ORDER BY h.SERVER_ID LIMIT 1')).toEqual([{ SERVER_ID: 'db-1' }]);
  });
});

describe('the statement rewriters cut the stream into messages', () => {
  const rewrite = (sql: string) => sql.replace('before', 'after, longer');
  const collect = async (stream: NodeJS.ReadWriteStream, chunks: Buffer[]) => {
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    const ended = new Promise((resolve) => stream.on('end', resolve));
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
    await ended;
    return Buffer.concat(out);
  };
  const pgQuery = (sql: string) => {
    const body = Buffer.from(`${sql}\0`);
    const header = Buffer.alloc(5);
    header[0] = 0x51;
    header.writeUInt32BE(body.length + 4, 1);
    return Buffer.concat([header, body]);
  };
  const byteByByte = (buffer: Buffer) => [...buffer].map((byte) => Buffer.from([byte]));

  it('PostgreSQL: a Query split across chunks is rewritten with its new length; a Sync passes untouched', async () => {
    const sync = Buffer.from([0x53, 0, 0, 0, 4]);
    const out = await collect(postgresStatementRewriter(rewrite), byteByByte(Buffer.concat([pgQuery('SELECT before'), sync])));
    expect(out).toEqual(Buffer.concat([pgQuery('SELECT after, longer'), sync]));
  });

  it('MySQL: COM_QUERY is rewritten with its new length and the same sequence id; COM_PING passes', async () => {
    const packet = (seq: number, payload: Buffer) => Buffer.concat([Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq]), payload]);
    const query = (sql: string) => packet(0, Buffer.concat([Buffer.from([0x03]), Buffer.from(sql)]));
    const ping = packet(0, Buffer.from([0x0e]));
    const out = await collect(mysqlStatementRewriter(rewrite), byteByByte(Buffer.concat([query('SELECT before'), ping])));
    expect(out).toEqual(Buffer.concat([query('SELECT after, longer'), ping]));
  });
});
