import type { IncomingHttpHeaders } from 'node:http';
import type { HttpAnswer } from './http-exchange.js';
import { AwsServiceError } from './service-error.js';

/**
 * The awsJson1_1 protocol Secrets Manager speaks: `POST /`, `X-Amz-Target: secretsmanager.<Action>`,
 * a JSON body; answers are JSON, errors `{"__type": code, "message": ...}`.
 */

export const JSON_CONTENT_TYPE = 'application/x-amz-json-1.1';

export interface JsonRequest {
  readonly action: string;
  readonly input: Record<string, unknown>;
}

/** The action named by `X-Amz-Target` (`<prefix>.<Action>`) and the JSON input; throws when either is unreadable. */
export function parseJsonRequest(headers: IncomingHttpHeaders, body: Buffer, targetPrefix: string): JsonRequest {
  const target = typeof headers['x-amz-target'] === 'string' ? headers['x-amz-target'] : '';
  const action = target.startsWith(`${targetPrefix}.`) ? target.slice(targetPrefix.length + 1) : '';
  if (!/^[A-Za-z]+$/.test(action)) throw new AwsServiceError('UnknownOperationException', `the target "${target.slice(0, 80)}" is not an operation of ${targetPrefix}`);
  let input: unknown;
  try {
    input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
  } catch {
    throw new AwsServiceError('SerializationException', 'the request body is not JSON');
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new AwsServiceError('SerializationException', 'the request body is not a JSON object');
  return { action, input: input as Record<string, unknown> };
}

/** The best-effort action name of a request refused before it could be parsed (for the request log). */
export function jsonActionOf(headers: IncomingHttpHeaders, targetPrefix: string): string {
  const target = typeof headers['x-amz-target'] === 'string' ? headers['x-amz-target'] : '';
  return target.startsWith(`${targetPrefix}.`) ? target.slice(targetPrefix.length + 1) : '';
}

export function jsonAnswer(output: object): HttpAnswer {
  return { status: 200, contentType: JSON_CONTENT_TYPE, body: JSON.stringify(output) };
}

export function jsonError(error: AwsServiceError): HttpAnswer {
  return {
    status: error.status,
    contentType: JSON_CONTENT_TYPE,
    body: JSON.stringify({ __type: error.code, message: error.message }),
    headers: { 'x-amzn-ErrorType': error.code },
  };
}
