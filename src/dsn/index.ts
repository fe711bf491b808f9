export type { DsnFamily, ParsedDsn } from './types.js';
export { defaultPort, parseDsn, type ParseDsnOptions } from './parse.js';
export { isSecretParam, REDACTED, redactDsn } from './redact.js';
export { describeDsn, formatDsn, type FormatDsnOptions } from './format.js';
