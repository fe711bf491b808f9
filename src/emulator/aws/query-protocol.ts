import type { IncomingHttpHeaders } from 'node:http';
import type { HttpAnswer } from './http-exchange.js';
import { AwsServiceError } from './service-error.js';

/**
 * The awsQuery protocol STS speaks: `POST /` with a form-encoded body
 * (`Action=AssumeRole&Version=2011-06-15&RoleArn=...`; a GET with the same query also works);
 * answers are `<{Action}Response><{Action}Result>...</{Action}Result><ResponseMetadata>` XML, errors
 * `<ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>`.
 */

/** An element's content: text, or child elements in order (`undefined` children are left out). */
export type XmlContent = string | number | { readonly [name: string]: XmlContent | undefined };

export interface QueryRequest {
  readonly action: string;
  readonly version: string;
  readonly params: URLSearchParams;
}

/** The parameters of the query string and, for a form POST, of the body. */
export function parseQueryRequest(url: string, headers: IncomingHttpHeaders, body: Buffer): QueryRequest {
  const at = url.indexOf('?');
  const params = new URLSearchParams(at === -1 ? '' : url.slice(at + 1));
  const contentType = headers['content-type'] ?? '';
  if (body.length > 0) {
    if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded')) throw new AwsServiceError('InvalidAction', 'the request body is not application/x-www-form-urlencoded');
    for (const [key, value] of new URLSearchParams(body.toString('utf8'))) params.append(key, value);
  }
  return { action: params.get('Action') ?? '', version: params.get('Version') ?? '', params };
}

export function queryAnswer(action: string, result: XmlContent, xmlNamespace: string, requestId: string): HttpAnswer {
  const body = `<${action}Response xmlns="${xmlNamespace}">${element(`${action}Result`, result)}${element('ResponseMetadata', { RequestId: requestId })}</${action}Response>`;
  return { status: 200, contentType: 'text/xml', body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

export function queryError(error: AwsServiceError, xmlNamespace: string, requestId: string): HttpAnswer {
  const type = error.status >= 500 ? 'Receiver' : 'Sender';
  const body = `<ErrorResponse xmlns="${xmlNamespace}">${element('Error', { Type: type, Code: error.code, Message: error.message })}${element('RequestId', requestId)}</ErrorResponse>`;
  return { status: error.status, contentType: 'text/xml', body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

// --- internal ---

function element(name: string, content: XmlContent): string {
  if (typeof content !== 'object') return `<${name}>${escapeXml(String(content))}</${name}>`;
  const children = Object.entries(content)
    .filter((entry): entry is [string, XmlContent] => entry[1] !== undefined)
    .map(([child, value]) => element(child, value))
    .join('');
  return `<${name}>${children}</${name}>`;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}
