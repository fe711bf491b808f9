import { percentDecode } from './percent.js';

/**
 * Where the credentials of a URL-like DSN end. Passwords may hold any character, `@`
 * included, so the split is made at the LAST `@` that is followed by something that
 * looks like the rest of a DSN (a host for URLs, a network for the Go MySQL form).
 */
export interface CredentialSplit {
  /** The raw (still encoded) `user[:password]`, or undefined when the DSN has no `@`. */
  readonly userinfo: string | undefined;
  /** Everything after the credentials' `@`, or the whole text when there are none. */
  readonly rest: string;
}

// Lenient on purpose: the port is checked later (so `host:abc` is reported as a bad port
// rather than swallowed into the password), `%XX` allows encoded socket paths, and comma
// lists let multiple hosts reach a clear "not supported" error.
const LABEL = String.raw`[\p{L}\p{N}_%-]+`;
const HOSTNAME = `${LABEL}(?:\\.${LABEL})*\\.?`;
const IPV6 = String.raw`\[[0-9A-Fa-f:.]+(?:%[^\]\s/?@]*)?\]`;
const HOST_PORT = `(?:${HOSTNAME}|${IPV6})(?::[^/?@,\\[\\]\\s]*)?`;
const URL_HOST = new RegExp(`^${HOST_PORT}(?:,${HOST_PORT})*(?:$|[/?])`, 'u');

// `tcp(addr)/`, `unix(/path)/`, a bare network `tcp/`, or no network at all: `/db`.
const GO_NET = /^(?:[a-z][a-z0-9]*\([^()]*\)(?:\/|$)|[a-z][a-z0-9]*\/|\/)/;

/** True when `tail` starts with `host[:port][,host[:port]...]` followed by the end, `/` or `?`. */
export function isPlausibleUrlHost(tail: string): boolean {
  return URL_HOST.test(tail);
}

/** True when `tail` starts like the part of a Go MySQL DSN that follows the credentials. */
export function isPlausibleGoNet(tail: string): boolean {
  return GO_NET.test(tail);
}

/**
 * Splits `text` (a DSN without its `scheme://`) at the last `@` whose tail satisfies
 * `plausible`; failing that, at the last `@` of all, so credentials never end up in a
 * host, port or path that a message might quote.
 */
export function splitCredentials(text: string, plausible: (tail: string) => boolean): CredentialSplit {
  for (let at = text.lastIndexOf('@'); at >= 0; at = at === 0 ? -1 : text.lastIndexOf('@', at - 1)) {
    if (plausible(text.slice(at + 1))) return { userinfo: text.slice(0, at), rest: text.slice(at + 1) };
  }
  const last = text.lastIndexOf('@');
  return last < 0 ? { userinfo: undefined, rest: text } : { userinfo: text.slice(0, last), rest: text.slice(last + 1) };
}

/** The raw user and password of a userinfo: the user ends at the FIRST `:`, the password is the rest. */
function splitUserinfo(userinfo: string): { user: string; password: string | undefined } {
  const colon = userinfo.indexOf(':');
  return colon < 0 ? { user: userinfo, password: undefined } : { user: userinfo.slice(0, colon), password: userinfo.slice(colon + 1) };
}

/** Decoded user and password; empty values count as absent. */
export function decodeUserinfo(userinfo: string | undefined): { user?: string; password?: string } {
  if (userinfo === undefined) return {};
  const { user, password } = splitUserinfo(userinfo);
  const decodedUser = percentDecode(user);
  const decodedPassword = password === undefined ? '' : percentDecode(password);
  return {
    ...(decodedUser === '' ? {} : { user: decodedUser }),
    ...(decodedPassword === '' ? {} : { password: decodedPassword }),
  };
}
