import { redactDsn } from '../dsn/index.js';

const MAX_ECHO = 40;

/**
 * Describes a received value for an error message: its type and, unless `secret`,
 * a truncated rendering of the value. Secret values (DSNs) are never echoed.
 */
export function describeReceived(value: unknown, secret = false): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return secret ? `a string of ${value.length} characters` : `string ${quote(value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return secret ? `a ${typeof value}` : `${typeof value} ${String(value)}`;
    case 'object':
      return value instanceof Date ? 'a date' : 'a mapping';
    default:
      return `a ${typeof value}`;
  }
}

/**
 * JSON-quotes a string, truncated so a long value cannot flood a message. A DSN given where
 * another value belongs (a swapped environment variable) is shown redacted.
 */
export function quote(value: string): string {
  const redacted = redactDsn(value);
  // redactDsn trims: the value is kept as given unless something in it was hidden
  const shown = redacted === value.trim() ? value : redacted;
  return JSON.stringify(shown.length > MAX_ECHO ? `${shown.slice(0, MAX_ECHO)}…` : shown);
}

/** True for `{...}` objects (YAML/JSON mappings), false for arrays, null, class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}
