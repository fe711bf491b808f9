/**
 * An answer carrying an AWS error code (`ResourceNotFoundException`, `AccessDenied`...): thrown by
 * the emulated services' actions and written by their protocol in the shape the SDK parses into
 * the exception of that name. The message is what the caller reads: never a secret value, secret
 * key or session token.
 */
export class AwsServiceError extends Error {
  override name = 'AwsServiceError';

  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    /** The exact cause, for the request log only, when the caller is told less (a refused signature). */
    readonly detail?: string,
  ) {
    super(message);
  }
}
