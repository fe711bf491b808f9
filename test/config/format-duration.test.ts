import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/config/duration.js';

describe('formatDuration', () => {
  // [milliseconds, Go text], the text written by hand from the value.
  const cases: [number, string][] = [
    [0, '0s'],
    [1, '1ms'],
    [500, '500ms'],
    [999, '999ms'],
    [1.5, '1.5ms'],
    [0.3, '300µs'],
    [0.0005, '500ns'],
    [1000, '1s'],
    [1500, '1.5s'],
    [10_000, '10s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [90_061, '1m30.061s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_600_001, '1h0.001s'],
    [1500.5, '1.5005s'],
    [200 * 86_400_000, '4800h'],
  ];

  it.each(cases)('%s ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each(cases)('%s ms: the text parses back to the same value', (ms, text) => {
    expect(parseDuration(text, 'test')).toBeCloseTo(ms, 9);
  });
});
