import type { DriverName } from '../driver-name.js';
import { SCHEME, detectFamily } from './detect.js';
import { tokenizeKeyValue } from './keyvalue-tokens.js';
import { percentDecode } from './percent.js';

/** What every redacted value is replaced with. */
export const REDACTED = '****';

/**
 * True for option names whose value is a secret: password, pass, pwd, token, secret,
 * x-amz-signature, x-amz-security-token and their relatives (sslpassword, access_token,
 * client_secret, SQLCipher's key...). Matching is broad on purpose.
 */
export function isSecretParam(name: string): boolean {
  const key = name.trim().toLowerCase();
  return /pass|pwd|token|secret|signature|credential/.test(key) || /^(?:key|hexkey|api[-_]?key)$/.test(key);
}

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  return colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:${REDACTED}`;
}

function maskQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      return eq >= 0 && isSecretParam(percentDecode(pair.slice(0, eq))) ? `${pair.slice(0, eq + 1)}${REDACTED}` : pair;
    })
    .join('&');
}

// A port that is not a number may well be a password that lost its `@host`
// (`postgres://user:secret/db`), so it is hidden rather than shown.
function maskPort(hostPort: string): string {
  const close = hostPort.startsWith('[') ? hostPort.indexOf(']') : -1;
  const colon = hostPort.indexOf(':', close + 1);
  if (colon < 0 || /^\d*$/.test(hostPort.slice(colon + 1))) return hostPort;
  return `${hostPort.slice(0, colon + 1)}${REDACTED}`;
}

/** Host list, path and query of a URL after its credentials. */
function redactUrlTail(tail: string): string {
  const hostEnd = tail.search(/[/?]/);
  const hosts = hostEnd < 0 ? tail : tail.slice(0, hostEnd);
  const after = hostEnd < 0 ? '' : tail.slice(hostEnd);
  return hosts.split(',').map(maskPort).join(',') + redactPathQuery(after);
}

function redactPathQuery(text: string): string {
  const question = text.indexOf('?');
  return question < 0 ? text : `${text.slice(0, question + 1)}${maskQuery(text.slice(question + 1))}`;
}

// Parsing splits at the last `@` followed by a plausible host; redaction splits at the last
// `@` of all, which hides the same password or more (`user:@h?x@@/db` is ambiguous).
function splitAtLastAt(text: string): { credentials: string; rest: string } {
  const at = text.lastIndexOf('@');
  return at < 0 ? { credentials: '', rest: text } : { credentials: `${maskUserinfo(text.slice(0, at))}@`, rest: text.slice(at + 1) };
}

function redactUrl(dsn: string, prefixLength: number): string {
  const { credentials, rest } = splitAtLastAt(dsn.slice(prefixLength));
  return dsn.slice(0, prefixLength) + credentials + redactUrlTail(rest);
}

function redactGo(dsn: string): string {
  const { credentials, rest } = splitAtLastAt(dsn);
  const address = /^([a-z][a-z0-9]*)\(([^()]*)\)/.exec(rest);
  const tail =
    address?.[1]?.startsWith('tcp') === true
      ? `${address[1]}(${maskPort(address[2] ?? '')})${redactPathQuery(rest.slice(address[0].length))}`
      : redactPathQuery(rest);
  return credentials + tail;
}

// Besides secret values, bare words that follow a secret are hidden too: they are most
// likely the rest of an unquoted password with a space in it (`password=my secret`). A value
// whose quote never closes runs to the end, over any password after it, so it is hidden.
function redactKeyValue(dsn: string): string {
  let out = '';
  let copied = 0;
  let afterSecret = false;
  for (const token of tokenizeKeyValue(dsn)) {
    const hide: boolean =
      token.value === undefined ? afterSecret : isSecretParam(token.key) || token.problem === 'unterminated-quote';
    if (token.value !== undefined) afterSecret = hide;
    if (!hide) continue;
    const from = token.value === undefined ? token.start : token.valueStart;
    out += dsn.slice(copied, from) + REDACTED;
    copied = token.end;
  }
  return out + dsn.slice(copied);
}

/**
 * {@link redactDsn} with the driver hint that parsing used, so both agree on where the
 * password is.
 */
export function redactDsnAs(dsn: string, driver?: DriverName): string {
  const text = dsn.trim();
  if (text === '') return text;
  const detected = detectFamily(text, driver);
  const family = detected !== undefined && 'family' in detected ? detected.family : undefined;
  const scheme = SCHEME.exec(text);
  switch (family) {
    case 'postgres-url':
    case 'mysql-url':
      return redactUrl(text, scheme?.[0].length ?? 0);
    case 'mysql-go':
      return redactGo(text);
    case 'postgres-keyvalue':
      return redactKeyValue(text);
    case 'sqlite':
      return redactPathQuery(text);
    default:
      if (scheme !== null) return redactUrl(text, scheme[0].length);
      if (text.includes('@')) return redactGo(text);
      // `user:secret` cut short of its `@host` reads like host:port with a port that is no number
      return text.includes('=') ? redactKeyValue(text) : maskPort(text);
  }
}

/**
 * The same DSN with its password replaced by `****`, and so are the values of `password=`
 * keys and of secret-looking query parameters (password, pass, pwd, token, secret,
 * X-Amz-Signature, X-Amz-Security-Token...). Works on DSNs that do not parse: when unsure,
 * it hides more (a non-numeric port, the words after an unquoted password).
 * @public
 */
export function redactDsn(dsn: string): string {
  return redactDsnAs(dsn);
}
