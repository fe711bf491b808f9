// db.operation.name and db.collection.name from the statement text: the first keyword, and the
// table of a simple single-table statement; nothing at all where reading it would be a guess.
import { describe, expect, it } from 'vitest';
import { summarizeStatement } from '../../src/telemetry/statement-summary.js';

const named: ReadonlyArray<readonly [sql: string, operation: string, collection: string]> = [
  ['SELECT * FROM users', 'SELECT', 'users'],
  ['select id, name from users where id = $1', 'SELECT', 'users'],
  ['SELECT count(*) FROM orders WHERE status = ? GROUP BY region ORDER BY 1 LIMIT 10', 'SELECT', 'orders'],
  ['SELECT * FROM public.users u WHERE u.id = $1', 'SELECT', 'public.users'],
  ['SELECT * FROM users AS u ORDER BY u.id', 'SELECT', 'users'],
  ['SELECT * FROM "Order Items" WHERE id = 1', 'SELECT', 'Order Items'],
  ['SELECT * FROM `app`.`users`', 'SELECT', 'app.users'],
  ['SELECT extract(year FROM created) FROM events', 'SELECT', 'events'],
  ['SELECT * FROM jobs WHERE id = $1 FOR UPDATE SKIP LOCKED', 'SELECT', 'jobs'],
  ['  -- a comment\n  /* another /* nested */ one */ SELECT a FROM t;', 'SELECT', 't'],
  ["SELECT * FROM t WHERE note = 'a ; JOIN x; SELECT' AND id = 1", 'SELECT', 't'],
  ['SELECT * FROM t WHERE body = $tag$ UNION SELECT 1; $tag$', 'SELECT', 't'],
  ["SELECT * FROM t WHERE a = E'it\\'s ; JOIN'", 'SELECT', 't'],
  ['INSERT INTO users (id, name) VALUES ($1, $2)', 'INSERT', 'users'],
  ['insert into audit.events values (?, ?)', 'INSERT', 'audit.events'],
  ['INSERT IGNORE INTO users SET id = ?', 'INSERT', 'users'],
  ['INSERT INTO users (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING id', 'INSERT', 'users'],
  ['INSERT INTO t DEFAULT VALUES', 'INSERT', 't'],
  ['REPLACE INTO kv (k, v) VALUES (?, ?)', 'REPLACE', 'kv'],
  ['UPDATE users SET name = $1 WHERE id = $2', 'UPDATE', 'users'],
  ['UPDATE users u SET name = ? WHERE u.id = ?', 'UPDATE', 'users'],
  ['DELETE FROM sessions WHERE expires < now()', 'DELETE', 'sessions'],
  ['DELETE FROM sessions', 'DELETE', 'sessions'],
  ['DELETE FROM logs WHERE id < ? ORDER BY id LIMIT 100', 'DELETE', 'logs'],
];

const operationOnly: ReadonlyArray<readonly [sql: string, operation: string]> = [
  ['SELECT 1', 'SELECT'],
  ['SELECT 1/0', 'SELECT'],
  ['SELECT VERSION() AS version', 'SELECT'],
  ['SELECT * FROM a JOIN b ON a.id = b.a_id', 'SELECT'],
  ['SELECT * FROM a, b WHERE a.id = b.id', 'SELECT'],
  ['SELECT * FROM a x, b y', 'SELECT'],
  ['SELECT * FROM a WHERE id IN (SELECT a_id FROM b)', 'SELECT'],
  ['SELECT * FROM a UNION SELECT * FROM b', 'SELECT'],
  ['SELECT * FROM generate_series(1, 10)', 'SELECT'],
  ['SELECT * FROM ONLY parent', 'SELECT'],
  ['SELECT * FROM t TABLESAMPLE SYSTEM (10)', 'SELECT'],
  ['SELECT * FROM t USE INDEX (i)', 'SELECT'],
  ['SELECT * FROM a NATURAL JOIN b', 'SELECT'],
  ['SELECT * FROM t, LATERAL f(t.x)', 'SELECT'],
  ['WITH recent AS (SELECT * FROM orders) SELECT * FROM recent', 'WITH'],
  ['INSERT INTO archive SELECT * FROM orders', 'INSERT'],
  ['INSERT INTO t (a) VALUES ((SELECT max(a) FROM u))', 'INSERT'],
  ['UPDATE a SET x = b.x FROM b WHERE a.id = b.id', 'UPDATE'],
  ['UPDATE a, b SET a.x = b.x WHERE a.id = b.id', 'UPDATE'],
  ['UPDATE t SET x = (SELECT 1)', 'UPDATE'],
  ['DELETE FROM a USING b WHERE a.id = b.id', 'DELETE'],
  ['DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id', 'DELETE'],
  ['DELETE FROM t WHERE id IN (SELECT id FROM u)', 'DELETE'],
  ['BEGIN', 'BEGIN'],
  ['START TRANSACTION', 'START'],
  ['COMMIT;', 'COMMIT'],
  ['SAVEPOINT dbmodule_sp_1_1', 'SAVEPOINT'],
  ['RELEASE SAVEPOINT dbmodule_sp_1_1', 'RELEASE'],
  ['ROLLBACK TO SAVEPOINT dbmodule_sp_1_1', 'ROLLBACK'],
  ['CREATE TABLE t (id INTEGER PRIMARY KEY)', 'CREATE'],
  ['(SELECT 1) UNION (SELECT 2)', 'SELECT'],
  ['explain analyze SELECT * FROM t', 'EXPLAIN'],
];

const nothing: readonly string[] = [
  '',
  '   ',
  '-- only a comment',
  'SELECT 1; SELECT 2',
  'INSERT INTO a VALUES (1); DELETE FROM b',
  "'just a string'",
  '$1',
];

describe('summarizeStatement', () => {
  it.each(named)('%s: operation %s on %s', (sql, operation, collection) => {
    expect(summarizeStatement(sql)).toEqual({ operation, collection });
  });

  it.each(operationOnly)('%s: operation %s, no table (not a simple single-table statement)', (sql, operation) => {
    expect(summarizeStatement(sql)).toEqual({ operation });
  });

  it.each(nothing)('%j: nothing', (sql) => {
    expect(summarizeStatement(sql)).toEqual({});
  });

  it("reads MySQL's backslash escapes only for MySQL", () => {
    const sql = "SELECT * FROM t WHERE a = 'x\\' JOIN u'";
    // MySQL: the string is `x' JOIN u`, so one table
    expect(summarizeStatement(sql, { backslashEscapes: true })).toEqual({ operation: 'SELECT', collection: 't' });
    // PostgreSQL (standard strings): `'x\'` ends the string and JOIN is a keyword: no table
    expect(summarizeStatement(sql, { backslashEscapes: false })).toEqual({ operation: 'SELECT' });
  });

  it('semicolons only at the end still make one statement', () => {
    expect(summarizeStatement('DELETE FROM t;;  ')).toEqual({ operation: 'DELETE', collection: 't' });
  });

  it('summarises very long texts without caching them', () => {
    const rows = Array.from({ length: 2_000 }, (_, i) => `(${i}, 'row ${i}')`).join(', ');
    expect(summarizeStatement(`INSERT INTO bulk (id, label) VALUES ${rows}`)).toEqual({ operation: 'INSERT', collection: 'bulk' });
  });
});
