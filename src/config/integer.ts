import { describeReceived } from './describe.js';
import { fail, ok, type Parsed } from './parsed.js';

/** Inclusive bounds of {@link integerResult}. */
export interface IntegerRange {
  readonly min: number;
  readonly max?: number;
}

/**
 * Converts a raw integer: a YAML/JSON integer or a string of digits (environment values,
 * quoted YAML). Fractions, out-of-range values and non-numbers are problems.
 */
export function integerResult(value: unknown, range: IntegerRange): Parsed<number> {
  const expected =
    range.max === undefined ? `an integer >= ${range.min}` : `an integer from ${range.min} to ${range.max}`;
  let number: number | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) number = value;
  else if (typeof value === 'string' && /^[+-]?\d+$/.test(value.trim())) number = Number(value.trim());
  if (number === undefined || !Number.isSafeInteger(number) || number < range.min || (range.max !== undefined && number > range.max)) {
    return fail(`expected ${expected}, received ${describeReceived(value)}`);
  }
  return ok(number);
}
