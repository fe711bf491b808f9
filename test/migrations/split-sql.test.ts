import { describe, expect, it } from 'vitest';
import { splitSql } from '../../src/migrations/split-sql.js';

describe('splitSql', () => {
  it('splits at semicolons, keeps each statement as written, drops empty and comment-only ones', () => {
    expect(splitSql('CREATE TABLE a (id int);\n\n  INSERT INTO a VALUES (1) ;;\n-- the end;\n', 'postgres')).toEqual(['CREATE TABLE a (id int)', 'INSERT INTO a VALUES (1)']);
  });

  it('does not split inside strings, quoted identifiers and comments', () => {
    const sql = `INSERT INTO "we;ird" VALUES ('a;b', 'it''s; fine'); /* c; d */ SELECT 1; -- e; f\nSELECT 2`;
    expect(splitSql(sql, 'postgres')).toEqual([`INSERT INTO "we;ird" VALUES ('a;b', 'it''s; fine')`, '/* c; d */ SELECT 1', '-- e; f\nSELECT 2']);
  });

  it('PostgreSQL: dollar quotes, tagged or not, nested block comments, E-strings with backslash escapes', () => {
    const fn = `CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RAISE NOTICE 'x;'; RETURN 1; END $body$`;
    const sql = `${fn};\nDO $$ BEGIN PERFORM 1; END $$;\n/* outer /* inner; */ still; */ SELECT E'a\\';b';\nSELECT 'a\\'; SELECT 3`;
    expect(splitSql(sql, 'postgres')).toEqual([fn, 'DO $$ BEGIN PERFORM 1; END $$', "/* outer /* inner; */ still; */ SELECT E'a\\';b'", "SELECT 'a\\'", 'SELECT 3']);
  });

  it('PostgreSQL: a BEGIN ATOMIC function body is one statement', () => {
    const fn = 'CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a + b; END';
    expect(splitSql(`${fn};\nSELECT add(1, 2);`, 'postgres')).toEqual([fn, 'SELECT add(1, 2)']);
  });

  it('MySQL: backslash escapes, backticks, # comments, and routine bodies without DELIMITER', () => {
    const trigger = 'CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN IF NEW.a IS NULL THEN SET NEW.a = 1; END IF; SET NEW.b = CASE WHEN NEW.a > 1 THEN 2 ELSE 3 END; END';
    const procedure = 'CREATE DEFINER=`root`@`%` PROCEDURE p() label: BEGIN DECLARE i INT DEFAULT 0; WHILE i < 3 DO SET i = i + 1; END WHILE; CASE i WHEN 3 THEN SELECT 1; ELSE BEGIN SELECT 2; END; END CASE; END label';
    const sql = `${trigger};\n${procedure};\nSELECT 'it\\'s; ok', \`a;b\`; # c;\nSELECT 2`;
    expect(splitSql(sql, 'mysql')).toEqual([trigger, procedure, "SELECT 'it\\'s; ok', `a;b`", '# c;\nSELECT 2']);
  });

  it('SQLite: a trigger body is one statement', () => {
    const trigger = 'CREATE TRIGGER log AFTER INSERT ON a BEGIN INSERT INTO b VALUES (new.id); UPDATE c SET n = n + 1; END';
    expect(splitSql(`${trigger}; SELECT 1`, 'sqlite')).toEqual([trigger, 'SELECT 1']);
  });

  it('a CREATE TABLE that merely has a column named event is split as usual', () => {
    expect(splitSql('CREATE TABLE logs (id int, event text); INSERT INTO logs VALUES (1, $$x$$);', 'postgres')).toEqual(['CREATE TABLE logs (id int, event text)', 'INSERT INTO logs VALUES (1, $$x$$)']);
  });
});
