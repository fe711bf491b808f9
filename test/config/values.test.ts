// Durations, booleans and "did you mean": the value parsers on their own.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBoolean, parseDuration } from '../../src/config/index.js';
import { levenshtein, suggest } from '../../src/config/suggest.js';
import { ConfigError } from '../../src/errors.js';
import { rejectionOf } from '../support/rejection.js';

describe('parseDuration', () => {
  it.each([
    ['1h30m', 5_400_000],
    ['500ms', 500],
    ['1.5h', 5_400_000],
    ['2h45m30s', 9_930_000],
    ['300us', 0.3],
    ['300µs', 0.3],
    ['1500000ns', 1.5],
    ['0', 0],
    ['-0', 0],
    ['+5s', 5000],
    ['.5s', 500],
    ['1m1m', 120_000],
    ['300', 300_000],
    ['1.5', 1500],
    [' 10s ', 10_000],
    [300, 300_000],
    [0.25, 250],
  ] as const)('%j is %d ms', (written, ms) => {
    expect(parseDuration(written, 'k')).toBeCloseTo(ms, 9);
  });

  it.each([
    ['-5s', 'negative duration "-5s"'],
    ['-300', 'negative duration'],
    [-1, 'negative duration -1'],
    ['1d', 'unknown unit "d"'],
    ['10 s', 'unknown unit " s"'],
    ['', 'received an empty string'],
    ['soon', 'invalid duration "soon"'],
    ['1h30', 'missing unit after 30'],
    ['.s', 'invalid duration ".s"'],
    ['3000000h', 'out of range'],
    [Number.POSITIVE_INFINITY, 'received Infinity'],
  ] as const)('%j is rejected', async (written, says) => {
    const error = await rejectionOf(() => parseDuration(written, 'connections.w.query_timeout'), ConfigError);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('connections.w.query_timeout: ');
    expect(error.message).toContain(says);
  });

  it('adds up hours, minutes and seconds like Go', () => {
    fc.assert(
      fc.property(fc.nat(10_000), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, milli) => {
        expect(parseDuration(`${h}h${m}m${s}s${milli}ms`, 'k')).toBe(((h * 60 + m) * 60 + s) * 1000 + milli);
      }),
    );
  });

  it('reads a bare number as seconds', () => {
    fc.assert(
      fc.property(fc.nat(1_000_000), (seconds) => {
        expect(parseDuration(String(seconds), 'k')).toBe(seconds * 1000);
        expect(parseDuration(seconds, 'k')).toBe(seconds * 1000);
      }),
    );
  });
});

describe('parseBoolean', () => {
  it.each([
    ['true', true], ['TRUE', true], ['Yes', true], ['1', true], [true, true], [1, true],
    ['false', false], ['False', false], ['NO', false], ['0', false], [false, false], [0, false],
  ] as const)('%j is %s', (written, value) => {
    expect(parseBoolean(written, 'k')).toBe(value);
  });

  it.each(['maybe', 'on', 't', '', 2, null])('%j is rejected, naming the key', async (written) => {
    const error = await rejectionOf(() => parseBoolean(written, 'DB_W_AWS_IAM_AUTH_ENABLED'), ConfigError);
    expect(error.message).toMatch(/^DB_W_AWS_IAM_AUTH_ENABLED: expected a boolean/);
  });
});

describe('suggest', () => {
  it('measures edits', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });

  it('finds plausible typos, camelCase and Go names, and nothing for unrelated words', () => {
    const keys = ['driver', 'dsn', 'max_open_connections', 'max_idle_connections', 'query_timeout'];
    expect(suggest('max_open_conns', keys)).toBe('max_open_connections');
    expect(suggest('maxIdleConnections', keys)).toBe('max_idle_connections');
    expect(suggest('drvier', keys)).toBe('driver');
    expect(suggest('password', keys)).toBeUndefined();
    expect(suggest('host', keys)).toBeUndefined();
  });
});
