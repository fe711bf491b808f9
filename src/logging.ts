/** Structured fields of a log line. Never put a secret in one. @public */
export type LogFields = Record<string, unknown>;

/**
 * The logger dbmodule writes to. pino-style (`(fields, message)`) and console-style
 * (`(message, fields)`) loggers are both accepted through {@link toLogger}.
 * @public
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** @public */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
type LogMethod = Exclude<LogLevel, 'silent'>;

/** Parses `DBMODULE_LOG_LEVEL`; unknown values fall back to `info`. */
export function parseLogLevel(value: string | undefined): LogLevel {
  const level = value?.trim().toLowerCase();
  return LEVELS.find((candidate) => candidate === level) ?? 'info';
}

function formatValue(value: unknown): string {
  const text = value instanceof Error ? value.message : typeof value === 'string' ? value : JSON.stringify(value) ?? 'undefined';
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** One logfmt line: `INFO Extracted RDS endpoint endpoint=host:5432`. */
export function formatLogfmt(level: LogMethod, message: string, fields: LogFields = {}): string {
  const pairs = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${formatValue(value)}`);
  return [level.toUpperCase(), message, ...pairs].join(' ');
}

/** The default logger: logfmt lines on stderr at `DBMODULE_LOG_LEVEL` (default `info`). @public */
export function createLogfmtLogger(
  level: LogLevel = parseLogLevel(process.env.DBMODULE_LOG_LEVEL),
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Logger {
  const threshold = LEVELS.indexOf(level);
  const at = (method: LogMethod) => (message: string, fields?: LogFields) => {
    if (LEVELS.indexOf(method) >= threshold) write(formatLogfmt(method, message, fields));
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

type AnyLogMethod = (...args: unknown[]) => void;
/** Anything with debug/info/warn/error methods: pino, winston, bunyan, console. */
export interface LoggerLike {
  debug?: unknown;
  info?: unknown;
  warn?: unknown;
  error?: unknown;
}

function isPinoStyle(logger: LoggerLike): boolean {
  return typeof (logger as { child?: unknown }).child === 'function' && 'level' in logger && (logger as unknown) !== console;
}

/**
 * Adapts a pino-style logger (fields first) or a console-style logger (message first)
 * to {@link Logger}. A {@link Logger} created by dbmodule is returned as is.
 * @public
 */
export function toLogger(logger: LoggerLike | undefined): Logger {
  if (!logger) return createLogfmtLogger();
  const pino = isPinoStyle(logger);
  const method = (name: LogMethod): ((message: string, fields?: LogFields) => void) => {
    const fn = logger[name] ?? logger.info;
    if (typeof fn !== 'function') return () => {};
    const call = fn as AnyLogMethod;
    return pino
      ? (message, fields) => call.call(logger, fields ?? {}, message)
      : (message, fields) => (fields && Object.keys(fields).length > 0 ? call.call(logger, message, fields) : call.call(logger, message));
  };
  return { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') };
}
