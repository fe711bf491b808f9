import { createLogfmtLogger, type Logger, type LogLevel } from '../../index.js';
import type { CliIo } from '../io.js';

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];

/**
 * Library log lines of a command, logfmt on the command's stderr. Default level `warn`: stdout
 * carries the command's answer (a token, a report) and stays clean; DBMODULE_LOG_LEVEL overrides.
 */
export function cliLogger(io: CliIo, fallback: LogLevel = 'warn'): Logger {
  const wanted = io.env.DBMODULE_LOG_LEVEL?.trim().toLowerCase();
  const level = LEVELS.find((candidate) => candidate === wanted) ?? fallback;
  return createLogfmtLogger(level, (line) => io.stderr(`${line}\n`));
}
