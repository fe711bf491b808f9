/**
 * What a span may say about a statement without guessing: its operation (the first keyword,
 * upper-cased) and, for a simple single-table SELECT, INSERT, REPLACE, UPDATE or DELETE, the
 * table it names, as written (schema prefix kept, quotes removed). A text of several
 * statements has neither; so has anything this small lexer cannot read with certainty
 * (joins, subqueries, set operations, CTEs, table functions, several tables).
 */
export interface StatementSummary {
  readonly operation?: string;
  readonly collection?: string;
}

/** How a dialect writes string literals: MySQL's `'…'` take backslash escapes. */
export interface SummaryDialect {
  readonly backslashEscapes: boolean;
}

const NOTHING: StatementSummary = Object.freeze({});

/** The summary of `sql` (callers cache it: applications run the same few hundred texts over and over). */
export function summarizeStatement(sql: string, dialect: SummaryDialect = { backslashEscapes: false }): StatementSummary {
  return summarize(tokenize(sql, dialect.backslashEscapes));
}

// --- internal ---

type TokenKind = 'word' | 'quoted' | 'literal' | 'punct';

interface Token {
  readonly kind: TokenKind;
  /** Words as written; quoted identifiers unquoted; literals empty; punctuation the character. */
  readonly text: string;
  /** Parenthesis depth the token is at. */
  readonly depth: number;
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_PART = /[A-Za-z0-9_$\u0080-\uffff]/;
const DIGIT = /[0-9]/;

/**
 * Splits `sql` into tokens, dropping comments and whitespace. Strings (`'…'`, PostgreSQL's
 * `E'…'` and `$tag$…$tag$`) become one literal token each, so a keyword or `;` inside one counts
 * for nothing; `"…"` and `` `…` `` are quoted identifiers.
 */
function tokenize(sql: string, backslashEscapes: boolean): Token[] {
  const tokens: Token[] = [];
  let depth = 0;
  let i = 0;
  const push = (kind: TokenKind, text: string) => tokens.push({ kind, text, depth });
  while (i < sql.length) {
    const char = sql[i] as string;
    const next = sql[i + 1];
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r' || char === '\f') {
      i++;
    } else if (char === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end + 1;
    } else if (char === '/' && next === '*') {
      i = skipBlockComment(sql, i);
    } else if (char === "'") {
      i = skipQuoted(sql, i, "'", backslashEscapes);
      push('literal', '');
    } else if ((char === 'E' || char === 'e') && next === "'") {
      i = skipQuoted(sql, i + 1, "'", true);
      push('literal', '');
    } else if (char === '"' || char === '`') {
      const end = skipQuoted(sql, i, char, false);
      push('quoted', sql.slice(i + 1, end - 1).split(char + char).join(char));
      i = end;
    } else if (char === '$' && next !== undefined && !DIGIT.test(next) && (next === '$' || WORD_START.test(next))) {
      const dollar = skipDollarQuoted(sql, i);
      if (dollar === undefined) {
        push('punct', char);
        i++;
      } else {
        push('literal', '');
        i = dollar;
      }
    } else if (WORD_START.test(char)) {
      let end = i + 1;
      while (end < sql.length && WORD_PART.test(sql[end] as string)) end++;
      push('word', sql.slice(i, end));
      i = end;
    } else if (DIGIT.test(char)) {
      let end = i + 1;
      while (end < sql.length && /[0-9A-Za-z_.]/.test(sql[end] as string)) end++;
      push('literal', '');
      i = end;
    } else {
      if (char === ')') depth = Math.max(0, depth - 1);
      push('punct', char);
      if (char === '(') depth++;
      i++;
    }
  }
  return tokens;
}

/** The index after a `/* … *\/` comment (PostgreSQL nests them), or the end of an unclosed one. */
function skipBlockComment(sql: string, start: number): number {
  let nesting = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      nesting++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      nesting--;
      i += 2;
      if (nesting === 0) return i;
    } else {
      i++;
    }
  }
  return sql.length;
}

/** The index after the quoted run starting at `start` (`quote` doubled inside stands for itself). */
function skipQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const char = sql[i];
    if (backslashEscapes && char === '\\') {
      i += 2;
    } else if (char === quote) {
      if (sql[i + 1] !== quote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return sql.length;
}

/** The index after `$tag$…$tag$` starting at `start`, or undefined when `start` opens no tag. */
function skipDollarQuoted(sql: string, start: number): number | undefined {
  let i = start + 1;
  while (i < sql.length && WORD_PART.test(sql[i] as string) && sql[i] !== '$') i++;
  if (sql[i] !== '$') return undefined;
  const tag = sql.slice(start, i + 1);
  const end = sql.indexOf(tag, i + 1);
  return end === -1 ? sql.length : end + tag.length;
}

/** Keywords that make a statement more than one plain table's business. */
const COMPLEX = new Set(['JOIN', 'UNION', 'INTERSECT', 'EXCEPT', 'WITH', 'LATERAL']);

/** Words that are never a table or an alias where one is expected. */
const RESERVED = new Set([
  'ALL', 'AS', 'CROSS', 'DEFAULT', 'DISTINCT', 'FETCH', 'FOR', 'FROM', 'FULL', 'GROUP', 'HAVING', 'IGNORE', 'INNER', 'INTO', 'JOIN', 'LEFT',
  'LIMIT', 'LOCK', 'NATURAL', 'OFFSET', 'ON', 'ONLY', 'ORDER', 'OUTER', 'OVERRIDING', 'PARTITION', 'RETURNING', 'RIGHT', 'SELECT', 'SET',
  'STRAIGHT_JOIN', 'TABLE', 'TABLESAMPLE', 'USE', 'USING', 'VALUE', 'VALUES', 'WHERE', 'WINDOW',
]);

/** What may follow the one table (and its alias) of a SELECT. */
const SELECT_TAIL = new Set(['WHERE', 'GROUP', 'ORDER', 'LIMIT', 'OFFSET', 'HAVING', 'FOR', 'WINDOW', 'FETCH', 'LOCK']);
/** What may follow the table of an INSERT or REPLACE. */
const INSERT_TAIL = new Set(['(', 'VALUES', 'VALUE', 'DEFAULT', 'SET', 'OVERRIDING', 'AS']);
/** What may follow the table (and its alias) of a DELETE. */
const DELETE_TAIL = new Set(['WHERE', 'RETURNING', 'ORDER', 'LIMIT']);

function summarize(tokens: readonly Token[]): StatementSummary {
  // one statement: nothing but `;` after the first `;`
  const semicolon = tokens.findIndex((token) => token.kind === 'punct' && token.text === ';');
  if (semicolon !== -1 && tokens.slice(semicolon).some((token) => !(token.kind === 'punct' && token.text === ';'))) return NOTHING;
  const statement = semicolon === -1 ? tokens : tokens.slice(0, semicolon);

  let start = 0;
  while (statement[start]?.kind === 'punct' && statement[start]?.text === '(') start++;
  const first = statement[start];
  if (first?.kind !== 'word') return NOTHING;
  const operation = first.text.toUpperCase();
  const collection = start === 0 ? collectionOf(operation, statement) : undefined;
  return collection === undefined ? { operation } : { operation, collection };
}

function collectionOf(operation: string, tokens: readonly Token[]): string | undefined {
  let selects = 0;
  let topLevelFroms = 0;
  for (const token of tokens) {
    if (token.kind !== 'word') continue;
    const word = token.text.toUpperCase();
    if (COMPLEX.has(word)) return undefined;
    if (word === 'SELECT') selects++;
    if (word === 'FROM' && token.depth === 0) topLevelFroms++;
  }
  switch (operation) {
    case 'SELECT': {
      if (selects !== 1 || topLevelFroms !== 1) return undefined;
      const from = tokens.findIndex((token) => token.kind === 'word' && token.depth === 0 && token.text.toUpperCase() === 'FROM');
      return tableFollowedBy(tokens, from + 1, SELECT_TAIL, true);
    }
    case 'INSERT':
    case 'REPLACE': {
      if (selects !== 0 || topLevelFroms !== 0) return undefined;
      let at = 1;
      if (isWord(tokens[at], 'IGNORE')) at++;
      if (!isWord(tokens[at], 'INTO')) return undefined;
      return tableFollowedBy(tokens, at + 1, INSERT_TAIL, false);
    }
    case 'UPDATE':
      if (selects !== 0 || topLevelFroms !== 0) return undefined;
      return tableFollowedBy(tokens, 1, new Set(['SET']), true, true);
    case 'DELETE':
      if (selects !== 0 || topLevelFroms !== 1 || !isWord(tokens[1], 'FROM')) return undefined;
      return tableFollowedBy(tokens, 2, DELETE_TAIL, true);
    default:
      return undefined;
  }
}

/**
 * The table named at `at` when what follows it (after an alias, where `alias` allows one) is
 * in `tail`, or is the end unless `tailRequired`.
 */
function tableFollowedBy(tokens: readonly Token[], at: number, tail: ReadonlySet<string>, alias: boolean, tailRequired = false): string | undefined {
  const parts: string[] = [];
  let i = at;
  for (;;) {
    const part = identifier(tokens[i]);
    if (part === undefined) return undefined;
    parts.push(part);
    i++;
    if (!(tokens[i]?.kind === 'punct' && tokens[i]?.text === '.')) break;
    i++;
  }
  if (parts.length > 3) return undefined;
  if (alias) {
    if (isWord(tokens[i], 'AS')) {
      if (identifier(tokens[i + 1]) === undefined) return undefined;
      i += 2;
    } else if (identifier(tokens[i]) !== undefined && !tail.has((tokens[i]?.text ?? '').toUpperCase())) {
      i++;
    }
  }
  const next = tokens[i];
  if (next === undefined) return tailRequired ? undefined : parts.join('.');
  const key = next.kind === 'word' ? next.text.toUpperCase() : next.kind === 'punct' ? next.text : undefined;
  return key !== undefined && tail.has(key) ? parts.join('.') : undefined;
}

/** A name: a word that is not a keyword in that place, or a quoted identifier. */
function identifier(token: Token | undefined): string | undefined {
  if (token?.kind === 'quoted') return token.text === '' ? undefined : token.text;
  if (token?.kind === 'word' && !RESERVED.has(token.text.toUpperCase()) && !SELECT_TAIL.has(token.text.toUpperCase())) return token.text;
  return undefined;
}

function isWord(token: Token | undefined, word: string): boolean {
  return token?.kind === 'word' && token.text.toUpperCase() === word;
}
