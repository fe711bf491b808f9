import type { DriverName } from '../driver-name.js';
import { ConfigError } from '../errors.js';
import { redactDsnAs } from './redact.js';

/** What a DSN error needs to say where it happened, without ever showing a secret. */
export interface DsnContext {
  /** The DSN as given (it is redacted before it reaches a message). */
  readonly dsn: string;
  readonly connection?: string | undefined;
  readonly driver?: DriverName | undefined;
}

/** Optional details of a {@link dsnError}. */
export interface DsnErrorDetails {
  readonly solutions?: readonly string[];
  readonly cause?: unknown;
}

/**
 * A `DSN_INVALID` ConfigError: `Invalid DSN for connection "w": <problem>. DSN: <redacted>`.
 * `problem` names the part at fault and must not quote anything from the credentials.
 */
export function dsnError(context: DsnContext, problem: string, details: DsnErrorDetails = {}): ConfigError {
  const where = context.connection === undefined ? 'Invalid DSN' : `Invalid DSN for connection "${context.connection}"`;
  const redacted = redactDsnAs(context.dsn, context.driver);
  const shown = redacted === '' ? '' : `. DSN: ${redacted}`;
  return new ConfigError('DSN_INVALID', `${where}: ${problem}${shown}`, {
    ...(context.connection === undefined ? {} : { connection: context.connection }),
    ...(details.solutions === undefined ? {} : { solutions: details.solutions }),
    ...(details.cause === undefined ? {} : { cause: details.cause }),
  });
}
