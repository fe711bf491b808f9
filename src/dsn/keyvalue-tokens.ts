/** One `key=value` of a libpq key/value DSN, with where it sits in the text. */
export interface KeyValueToken {
  readonly key: string;
  /** Undefined when the key is not followed by `=`. */
  readonly value: string | undefined;
  /** Start of the key. */
  readonly start: number;
  /** Start of the value as written (at its opening quote, if quoted); the key's end when there is no `=`. */
  readonly valueStart: number;
  /** End of the token (past the closing quote, or the end of the text when the quote is never closed). */
  readonly end: number;
  readonly problem?: 'missing-equals' | 'unterminated-quote';
}

const isSpace = (char: string | undefined): boolean => char !== undefined && /\s/.test(char);

/**
 * Splits a key/value DSN exactly as libpq's conninfo_parse does: whitespace around `=` is
 * allowed; after `=` blanks are skipped and the next word is the value (so `password= x`
 * gives `x`); a value is either unquoted (ends at whitespace) or single-quoted; a backslash
 * escapes the next character in both. Never throws: problems are reported on the token,
 * so redaction can still find every value.
 */
export function tokenizeKeyValue(text: string): KeyValueToken[] {
  const tokens: KeyValueToken[] = [];
  let i = 0;
  const skipSpaces = (): void => {
    while (isSpace(text[i])) i += 1;
  };
  for (skipSpaces(); i < text.length; skipSpaces()) {
    const start = i;
    while (i < text.length && text[i] !== '=' && !isSpace(text[i])) i += 1;
    const key = text.slice(start, i);
    const keyEnd = i;
    skipSpaces();
    if (text[i] !== '=') {
      tokens.push({ key, value: undefined, start, valueStart: keyEnd, end: keyEnd, problem: 'missing-equals' });
      i = keyEnd;
      continue;
    }
    i += 1;
    skipSpaces();
    const valueStart = i;
    const quoted = text[i] === "'";
    if (quoted) i += 1;
    let value = '';
    let closed = !quoted;
    while (i < text.length) {
      const char = text[i] ?? '';
      if (quoted && char === "'") {
        i += 1;
        closed = true;
        break;
      }
      if (!quoted && isSpace(char)) break;
      if (char === '\\') {
        // libpq drops a trailing backslash
        if (i + 1 < text.length) value += text[i + 1];
        i = Math.min(i + 2, text.length);
      } else {
        value += char;
        i += 1;
      }
    }
    tokens.push({ key, value, start, valueStart, end: i, ...(closed ? {} : { problem: 'unterminated-quote' as const }) });
  }
  return tokens;
}
