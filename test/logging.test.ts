import { describe, expect, it } from 'vitest';
import { createLogfmtLogger, formatLogfmt, parseLogLevel, toLogger } from '../src/logging.js';

describe('logfmt logger', () => {
  it('writes the seed-style line: LEVEL message key=value', () => {
    expect(formatLogfmt('info', 'Extracted RDS endpoint', { endpoint: 'db.example.com:5432' })).toBe('INFO Extracted RDS endpoint endpoint=db.example.com:5432');
  });

  it('quotes values with spaces or equals signs and drops undefined fields', () => {
    expect(formatLogfmt('error', 'Failed', { error: 'no route to host', timeout: '10s', skipped: undefined })).toBe('ERROR Failed error="no route to host" timeout=10s');
    expect(formatLogfmt('warn', 'W', { n: 3, list: ['a', 'b'] })).toBe('WARN W n=3 list="[\\"a\\",\\"b\\"]"');
  });

  it('honours the level threshold', () => {
    const lines: string[] = [];
    const logger = createLogfmtLogger('warn', (line) => lines.push(line));
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines).toEqual(['WARN w', 'ERROR e']);
  });

  it('reads DBMODULE_LOG_LEVEL values case-insensitively and falls back to info', () => {
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel(' silent ')).toBe('silent');
    expect(parseLogLevel('verbose')).toBe('info');
    expect(parseLogLevel(undefined)).toBe('info');
  });
});

describe('toLogger', () => {
  it('calls a pino-style logger with fields first', () => {
    const calls: unknown[][] = [];
    const pinoLike = {
      level: 'info',
      child: () => pinoLike,
      debug: (...args: unknown[]) => calls.push(['debug', ...args]),
      info: (...args: unknown[]) => calls.push(['info', ...args]),
      warn: (...args: unknown[]) => calls.push(['warn', ...args]),
      error: (...args: unknown[]) => calls.push(['error', ...args]),
    };
    toLogger(pinoLike).info('hello', { a: 1 });
    expect(calls).toEqual([['info', { a: 1 }, 'hello']]);
  });

  it('calls a console-style logger with the message first', () => {
    const calls: unknown[][] = [];
    const consoleLike = { info: (...args: unknown[]) => calls.push(args), warn: (...args: unknown[]) => calls.push(args) };
    const logger = toLogger(consoleLike);
    logger.warn('careful', { key: 'v' });
    logger.info('plain');
    logger.debug('falls back to info');
    expect(calls).toEqual([['careful', { key: 'v' }], ['plain'], ['falls back to info']]);
  });
});
