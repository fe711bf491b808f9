import { type DsnContext, dsnError } from './errors.js';
import { percentDecode } from './percent.js';

/** A host and its explicit port, both optional. */
export interface HostPort {
  readonly host?: string;
  readonly port?: number;
}

/** `port` parsed as a number from 1 to 65535, or a DSN_INVALID error naming `part`. */
export function parsePort(text: string, context: DsnContext, part = 'port'): number {
  if (text === '') throw dsnError(context, `the ${part} is empty (remove the ":" or give a number from 1 to 65535)`);
  // Only digits are ever quoted: anything else might be a password that lost its '@host'.
  if (!/^\d+$/.test(text)) throw dsnError(context, `the ${part} is not a number (expected 1 to 65535)`);
  const port = Number(text);
  if (port < 1 || port > 65535) {
    const shown = text.length <= 12 ? ` ${text}` : '';
    throw dsnError(context, `the ${part}${shown} is out of range (expected 1 to 65535)`);
  }
  return port;
}

/**
 * Checks a decoded host: a host name, an IPv4 or IPv6 address (without brackets) or a
 * Unix socket path (starting with `/`).
 */
export function checkHost(host: string, context: DsnContext, part = 'host'): string {
  if (host.startsWith('/')) return host;
  if (host.includes(',')) {
    throw dsnError(context, `multiple hosts in the ${part} are not supported (give one host; use a proxy or DNS name for failover)`);
  }
  if (host.includes(':') && /^[0-9A-Fa-f:.]+(?:%.+)?$/.test(host)) return host;
  if (!/^[\p{L}\p{N}_.-]+$/u.test(host)) throw dsnError(context, `the ${part} "${host}" contains characters a host name cannot have`);
  return host;
}

/** `host[:port]` or `[ipv6][:port]`, percent-decoded. An empty text gives no host. */
export function parseHostPort(text: string, context: DsnContext): HostPort {
  if (text === '') return {};
  if (text.includes(',')) {
    throw dsnError(context, 'multiple hosts (h1,h2) are not supported (give one host; use a proxy or DNS name for failover)');
  }
  let hostText: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw dsnError(context, 'the host is an IPv6 address without its closing "]"');
    hostText = text.slice(1, close);
    const after = text.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) throw dsnError(context, 'unexpected text after the IPv6 address in the host (expected ":port")');
    portText = after === '' ? undefined : after.slice(1);
  } else {
    const colon = text.indexOf(':');
    if (colon >= 0 && text.indexOf(':', colon + 1) >= 0) {
      throw dsnError(context, 'the host looks like an IPv6 address: write it in brackets, e.g. [::1]:5432');
    }
    hostText = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  const host = percentDecode(hostText);
  if (host === '') throw dsnError(context, 'the host is missing before the port');
  return { host: checkHost(host, context), ...(portText === undefined ? {} : { port: parsePort(portText, context) }) };
}

/** `a=1&b=2`, keys and values percent-decoded (`+` stays `+`); the last of duplicate keys wins. */
export function parseQuery(query: string, context: DsnContext): Record<string, string> {
  const entries: Array<[string, string]> = [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = percentDecode(eq < 0 ? pair : pair.slice(0, eq));
    if (key === '') throw dsnError(context, 'a query parameter has no name (expected name=value)');
    entries.push([key, eq < 0 ? '' : percentDecode(pair.slice(eq + 1))]);
  }
  return Object.fromEntries(entries);
}

/** Removes `key` from `params` and returns its value. */
export function takeParam(params: Record<string, string>, key: string): string | undefined {
  if (!Object.hasOwn(params, key)) return undefined;
  const value = params[key];
  delete params[key];
  return value;
}
