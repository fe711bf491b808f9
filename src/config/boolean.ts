import { ConfigError } from '../errors.js';
import { describeReceived } from './describe.js';
import { fail, ok, type Parsed } from './parsed.js';

const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

/**
 * Converts a raw boolean: YAML/JSON booleans, the numbers 1 and 0, or the strings
 * true/false/1/0/yes/no in any case. Anything else is a problem, never a silent false.
 */
export function booleanResult(value: unknown): Parsed<boolean> {
  if (typeof value === 'boolean') return ok(value);
  if (value === 1 || value === 0) return ok(value === 1);
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE.has(word)) return ok(true);
    if (FALSE.has(word)) return ok(false);
  }
  return fail(`expected a boolean (true/false, yes/no or 1/0), received ${describeReceived(value)}`);
}

/**
 * Parses a boolean written as true/false/1/0/yes/no (any case).
 * @throws ConfigError `CONFIG_INVALID` naming `keyPath`.
 * @public
 */
export function parseBoolean(value: unknown, keyPath: string): boolean {
  const result = booleanResult(value);
  if (!result.ok) throw new ConfigError('CONFIG_INVALID', `${keyPath}: ${result.problem}`);
  return result.value;
}
