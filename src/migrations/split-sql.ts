import type { DriverName } from '../driver-name.js';

/**
 * Splits a migration file into its statements at the `;` that end them, for the dialect of
 * `driver`. What a `;` inside does not end: strings ('...', with '' and, on MySQL and in
 * PostgreSQL's E'...', backslash escapes), quoted identifiers ("...", MySQL's `...`), comments
 * (-- and /* *\/, nested on PostgreSQL; MySQL's #), PostgreSQL's dollar quotes ($$...$$,
 * $tag$...$tag$), and the BEGIN ... END body of a CREATE PROCEDURE / FUNCTION / TRIGGER / EVENT
 * (MySQL and SQLite bodies, PostgreSQL's BEGIN ATOMIC), written without DELIMITER. Statements
 * that are only comments and whitespace are dropped; each statement keeps its text as written.
 */
export function splitSql(sql: string, driver: DriverName): string[] {
  const mysql = driver === 'mysql';
  const postgres = driver === 'postgres';
  const statements: string[] = [];
  let start = 0;
  let code = false;
  /** Words of the current statement outside strings and comments, for the compound-body rule. */
  let words: string[] = [];
  let depth = 0;
  let i = 0;
  const end = (at: number): void => {
    if (code) statements.push(sql.slice(start, at).trim());
    start = at + 1;
    code = false;
    words = [];
    depth = 0;
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      i = lineEnd(sql, i);
    } else if (c === '#' && mysql) {
      i = lineEnd(sql, i);
    } else if (c === '/' && next === '*') {
      i = blockCommentEnd(sql, i, postgres);
    } else if (c === "'") {
      const backslashes = mysql || (postgres && /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? ''));
      i = quotedEnd(sql, i, "'", backslashes);
      code = true;
    } else if (c === '"' || (c === '`' && mysql)) {
      i = quotedEnd(sql, i, c, mysql && c === '"');
      code = true;
    } else if (c === '$' && postgres && !/[\w$]/.test(sql[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))?.[0];
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        i = close < 0 ? sql.length : close + tag.length;
      } else {
        i++;
      }
      code = true;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[\w$]/.test(sql[j]!)) j++;
      const word = sql.slice(i, j).toUpperCase();
      depth += blockChange(words, word);
      words.push(word);
      code = true;
      i = j;
    } else if (c === ';' && depth <= 0) {
      end(i);
      i++;
    } else {
      if (!/\s/.test(c)) code = true;
      i++;
    }
  }
  end(sql.length);
  return statements;
}

// --- internal ---

const ROUTINES = new Set(['PROCEDURE', 'FUNCTION', 'TRIGGER', 'EVENT']);
/** Words after END that close an IF or a loop, which opened no block. */
const END_OF_CONSTRUCT = new Set(['IF', 'LOOP', 'WHILE', 'REPEAT']);

/**
 * How `word` changes the block depth of a statement whose earlier words are `words`: inside a
 * CREATE of a routine, BEGIN and CASE open a block and END closes one (END IF, END LOOP,
 * END WHILE and END REPEAT close constructs that opened none; END CASE closes its CASE).
 */
function blockChange(words: readonly string[], word: string): number {
  if (words[0] !== 'CREATE' || !words.slice(1, 6).some((earlier) => ROUTINES.has(earlier))) return 0;
  if (words.at(-1) === 'END') {
    // END counted as closing a block: after IF / LOOP / WHILE / REPEAT it closed none; after CASE, its CASE
    if (END_OF_CONSTRUCT.has(word)) return 1;
    if (word === 'CASE') return 0;
  }
  if (word === 'BEGIN' || word === 'CASE') return 1;
  if (word === 'END') return -1;
  return 0;
}

function lineEnd(sql: string, from: number): number {
  const at = sql.indexOf('\n', from);
  return at < 0 ? sql.length : at + 1;
}

function blockCommentEnd(sql: string, from: number, nested: boolean): number {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
      if (!nested && depth > 1) depth = 1;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return sql.length;
}

/** The index after the closing `quote` (a doubled quote is one character; so is a backslash escape when `backslashes`). */
function quotedEnd(sql: string, from: number, quote: string, backslashes: boolean): number {
  let i = from + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashes && c === '\\') {
      i += 2;
    } else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else {
      i++;
    }
  }
  return sql.length;
}
