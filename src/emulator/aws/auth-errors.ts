import { AwsServiceError } from './service-error.js';
import type { SignatureVerification } from './sigv4-headers.js';

/**
 * The error each service answers a refused signature with, in its own vocabulary: Secrets Manager
 * (awsJson) says `UnrecognizedClientException`, STS (awsQuery) `InvalidClientTokenId` for the same
 * unknown key. The messages are AWS's own; the exact reason goes to the request log only, as AWS
 * does not tell a caller whether a key is unknown, deactivated or paired with another session token.
 */
export function authError(protocol: 'json' | 'query', refusal: Extract<SignatureVerification, { ok: false }>, now: number, service: string): AwsServiceError {
  const error = vocabulary(protocol === 'json', refusal, now, service);
  return new AwsServiceError(error.code, error.message, error.status, refusal.detail);
}

// --- internal ---

function vocabulary(json: boolean, { reason, signedAt }: Extract<SignatureVerification, { ok: false }>, now: number, service: string): AwsServiceError {
  switch (reason) {
    case 'MISSING_AUTHENTICATION':
      return json ? new AwsServiceError('MissingAuthenticationTokenException', 'Missing Authentication Token') : new AwsServiceError('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
    case 'INCOMPLETE_SIGNATURE':
      return new AwsServiceError(json ? 'IncompleteSignatureException' : 'IncompleteSignature', 'The request signature does not conform to AWS standards.');
    case 'UNKNOWN_KEY':
    case 'KEY_REVOKED':
    case 'SESSION_TOKEN_MISSING':
    case 'SESSION_TOKEN_MISMATCH':
    case 'SESSION_TOKEN_UNEXPECTED':
      return json ? new AwsServiceError('UnrecognizedClientException', 'The security token included in the request is invalid.') : new AwsServiceError('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
    case 'CREDENTIALS_EXPIRED':
      return new AwsServiceError(json ? 'ExpiredTokenException' : 'ExpiredToken', 'The security token included in the request is expired');
    case 'WRONG_REGION':
      return signatureError(json, 'Credential should be scoped to a valid region.');
    case 'WRONG_SERVICE':
      return signatureError(json, `Credential should be scoped to correct service: '${service}'.`);
    case 'REQUEST_EXPIRED':
      return signatureError(json, `Signature expired: ${amzDate(signedAt ?? 0)} is now earlier than ${amzDate(now - 300_000)} (${amzDate(now)} - 5 min.)`);
    case 'REQUEST_NOT_YET_VALID':
      return signatureError(json, `Signature not yet current: ${amzDate(signedAt ?? 0)} is still later than ${amzDate(now + 300_000)} (${amzDate(now)} + 5 min.)`);
    case 'SIGNATURE_MISMATCH':
    case 'PAYLOAD_HASH_MISMATCH':
      return signatureError(json, 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.');
  }
}

function signatureError(json: boolean, message: string): AwsServiceError {
  return json ? new AwsServiceError('InvalidSignatureException', message) : new AwsServiceError('SignatureDoesNotMatch', message, 403);
}

function amzDate(millis: number): string {
  return new Date(millis).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
