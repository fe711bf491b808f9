import type { Logger, LogFields } from '../../src/logging.js';

/** A logger that records every line (level, message, fields) so tests can scan them. */
export function captureLogger(): { logger: Logger; lines: string[]; entries: Array<{ level: string; message: string; fields?: LogFields }> } {
  const entries: Array<{ level: string; message: string; fields?: LogFields }> = [];
  const lines: string[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => {
    entries.push({ level, message, ...(fields ? { fields } : {}) });
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines, entries };
}
