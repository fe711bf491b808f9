import type { DbModuleError, DbModuleErrorOptions, ErrorCode } from '../errors.js';

/**
 * How every driver names the connection an error belongs to: `connection` is set and the
 * message starts with `connection "<name>": `, both from `options.connection`. `Kind` is
 * DbModuleError or a subclass; its own options (QueryError's `driverCode`) are accepted.
 *
 * ```ts
 * throw driverError(ConnectionError, 'CONNECT_FAILED', `connection refused at ${endpoint}`, { connection, retryable: true, cause });
 * ```
 */
export function driverError<O extends DbModuleErrorOptions, E extends DbModuleError>(
  Kind: new (code: ErrorCode, message: string, options?: O) => E,
  code: ErrorCode,
  message: string,
  options: NoInfer<O> & { readonly connection: string },
): E {
  return new Kind(code, `connection "${options.connection}": ${message}`, options);
}
