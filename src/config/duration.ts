import { ConfigError } from '../errors.js';
import { describeReceived, quote } from './describe.js';
import { fail, ok, type Parsed } from './parsed.js';

// Nanoseconds per unit, as Go's time.ParseDuration accepts them (both micro signs included).
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
// Go durations are int64 nanoseconds; larger values are rejected there too.
const MAX_NS = 9_223_372_036_854_775_807;
const SECONDS = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)$/;
const EXPECTED = 'a duration such as "30s", "1h30m", "500ms" or a number of seconds';

/** Options of {@link durationResult}. */
export interface DurationOptions {
  /** Reject 0 (for budgets such as connection_timeout). */
  readonly positive?: boolean;
}

/**
 * Converts a raw duration to milliseconds: Go syntax (`1h30m`, `1.5h`, `300us`, `0`) or a
 * bare number of seconds (a number or a numeric string). Negative values, unknown units,
 * empty strings and anything else are problems. The result may be fractional (`300us` = 0.3).
 */
export function durationResult(value: unknown, options: DurationOptions = {}): Parsed<number> {
  let result: Parsed<number>;
  if (typeof value === 'number') result = fromSeconds(value, String(value));
  else if (typeof value === 'string') result = fromText(value);
  else return fail(`expected ${EXPECTED}, received ${describeReceived(value)}`);
  if (result.ok && options.positive && result.value === 0) {
    return fail(`must be greater than 0, received ${describeReceived(value)}`);
  }
  return result;
}

/**
 * Parses a duration (Go syntax or a number of seconds) to milliseconds.
 * @throws ConfigError `CONFIG_INVALID` naming `keyPath` (a key path or an environment variable).
 * @public
 */
export function parseDuration(value: string | number, keyPath: string): number {
  const result = durationResult(value);
  if (!result.ok) throw new ConfigError('CONFIG_INVALID', `${keyPath}: ${result.problem}`);
  return result.value;
}

function fromSeconds(seconds: number, written: string): Parsed<number> {
  if (!Number.isFinite(seconds)) return fail(`expected ${EXPECTED}, received ${written}`);
  if (seconds < 0) return fail(`negative duration ${written} is not allowed`);
  if (seconds * 1e9 > MAX_NS) return fail(`duration ${written} is out of range`);
  return ok(seconds === 0 ? 0 : seconds * 1000);
}

function fromText(raw: string): Parsed<number> {
  const text = raw.trim();
  if (text === '') return fail(`expected ${EXPECTED}, received an empty string`);
  if (SECONDS.test(text)) return fromSeconds(Number(text), quote(raw));
  const negative = text.startsWith('-');
  const nanoseconds = goDuration(text.replace(/^[-+]/, ''), raw);
  if (!nanoseconds.ok) return nanoseconds;
  if (negative && nanoseconds.value !== 0) return fail(`negative duration ${quote(raw)} is not allowed`);
  if (nanoseconds.value > MAX_NS) return fail(`duration ${quote(raw)} is out of range`);
  return ok(nanoseconds.value / 1e6);
}

// Go's grammar without the sign: ([0-9]*(\.[0-9]*)?unit)+, or the lone "0".
function goDuration(text: string, raw: string): Parsed<number> {
  if (text === '0') return ok(0);
  let rest = text;
  let total = 0;
  while (rest !== '') {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = number?.[1] ?? '';
    const fraction = number?.[2] ?? '';
    if (whole === '' && fraction === '') return fail(`invalid duration ${quote(raw)}: expected ${EXPECTED}`);
    rest = rest.slice(number?.[0].length ?? 0);
    const unit = /^[^\d.]+/.exec(rest)?.[0];
    if (unit === undefined) return fail(`invalid duration ${quote(raw)}: missing unit after ${whole}${fraction ? `.${fraction}` : ''} (units: ns, us, ms, s, m, h)`);
    const scale = UNIT_NS[unit];
    if (scale === undefined) return fail(`invalid duration ${quote(raw)}: unknown unit ${quote(unit)} (units: ns, us, ms, s, m, h)`);
    total += Number(whole || '0') * scale + (fraction ? (Number(fraction) * scale) / 10 ** fraction.length : 0);
    rest = rest.slice(unit.length);
  }
  return ok(total);
}

/**
 * Milliseconds back to Go's duration text, as the seed's logs show it and as a config file may
 * hold it: 10000 -> "10s", 5400000 -> "1h30m", 500 -> "500ms", 1.5 -> "1.5ms", 0.3 -> "300µs",
 * 0 -> "0s". Like Go's `Duration.String()` but without its zero trailing units ("1h30m", not
 * "1h30m0s"); exact to the nanosecond, and the text parses back to the same value.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  // Whole milliseconds and the nanoseconds beyond them, so values past 2^53 ns stay exact.
  const whole = Math.floor(ms);
  const ns = BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
  if (ns === 0n) return '0s';
  if (ns < 1_000n) return `${ns}ns`;
  if (ns < 1_000_000n) return `${decimal(ns, 1_000n)}µs`;
  if (ns < 1_000_000_000n) return `${decimal(ns, 1_000_000n)}ms`;
  const hours = ns / 3_600_000_000_000n;
  const minutes = (ns / 60_000_000_000n) % 60n;
  const seconds = ns % 60_000_000_000n;
  return `${hours > 0n ? `${hours}h` : ''}${minutes > 0n ? `${minutes}m` : ''}${seconds > 0n ? `${decimal(seconds, 1_000_000_000n)}s` : ''}`;
}

// value / unit as a decimal without trailing zeros: (1500000n, 1000000n) -> "1.5".
function decimal(value: bigint, unit: bigint): string {
  const fraction = (value % unit).toString().padStart(unit.toString().length - 1, '0').replace(/0+$/, '');
  return `${value / unit}${fraction ? `.${fraction}` : ''}`;
}
