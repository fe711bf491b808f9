/**
 * Why the server refused a login:
 * - `credentials_rejected`: the password/token was refused (PostgreSQL 28000 "PAM authentication
 *   failed" and 28P01, MySQL 1045 / ER_ACCESS_DENIED_ERROR);
 * - `rate_limited`: RDS IAM or RDS Proxy throttled new IAM logins;
 * - `proxy_iam`: RDS Proxy refused the IAM login;
 * - `hba_rejected`: PostgreSQL pg_hba.conf has no rule for this login (typically IAM without TLS);
 * - `tls_required`: the server or proxy requires TLS for this login;
 * - `cleartext_disabled`: mysql2 refused to send the token with mysql_clear_password.
 * @public
 */
export type AuthFailureKind = 'credentials_rejected' | 'rate_limited' | 'proxy_iam' | 'hba_rejected' | 'tls_required' | 'cleartext_disabled';

interface ErrorFields {
  code: unknown;
  errno: unknown;
  sqlState: unknown;
  message: string;
}

function fieldsOf(value: object): ErrorFields {
  const record = value as Record<string, unknown>;
  const message = typeof record.message === 'string' ? record.message : '';
  return { code: record.code, errno: record.errno, sqlState: record.sqlState ?? record.sqlstate, message };
}

// Checked in order: a specific diagnosis (TLS, throttling) beats the generic SQLSTATE 28000.
function classifyOne({ code, errno, sqlState, message }: ErrorFields): AuthFailureKind | undefined {
  if (code === 'MYSQL_CLEAR_PASSWORD_NOT_ENABLED') return 'cleartext_disabled';
  if (/too many competing requests|IAM authentication rate limit exceeded/i.test(message)) return 'rate_limited';
  if (errno === 3159 || /allowed only with SSL|requires? (SSL|TLS)|secure transport/i.test(message)) return 'tls_required';
  if (/pg_hba\.conf rejects connection|no pg_hba\.conf entry/i.test(message)) return 'hba_rejected';
  if (/IAM authentication failed/i.test(message)) return 'proxy_iam';
  if (code === '28000' || code === '28P01' || sqlState === '28P01') return 'credentials_rejected';
  if (errno === 1045 || code === 'ER_ACCESS_DENIED_ERROR') return 'credentials_rejected';
  // mysql2 reports SQLSTATE 28000 with 1045 only; a bare 28000 from another MySQL client means the same.
  if (sqlState === '28000' && errno !== 1044) return 'credentials_rejected';
  if (/PAM authentication failed|password authentication failed for user/i.test(message)) return 'credentials_rejected';
  return undefined;
}

/**
 * Classifies a login failure by the error's `code`, `errno` and `sqlState` (pg, mysql2, wrapped
 * DbModuleErrors), walking the `cause` chain and AggregateError members, with message text as a
 * fallback. `undefined` when it is not an authentication failure.
 * @public
 */
export function classifyAuthFailure(error: unknown): AuthFailureKind | undefined {
  const seen = new Set<object>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 16) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const kind = classifyOne(fieldsOf(current));
    if (kind) return kind;
    const { cause, errors } = current as { cause?: unknown; errors?: unknown };
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...(errors as unknown[]));
  }
  return undefined;
}

/**
 * True when a login failed in a way a fresh token (and fresh credentials) may fix: rejected
 * credentials, RDS Proxy IAM errors, IAM throttling. Such a failure invalidates the token and is
 * retried with backoff. TLS, pg_hba and cleartext-plugin refusals are false: re-signing cannot help.
 * @public
 */
export function isIamAuthFailure(error: unknown): boolean {
  const kind = classifyAuthFailure(error);
  return kind === 'credentials_rejected' || kind === 'rate_limited' || kind === 'proxy_iam';
}
