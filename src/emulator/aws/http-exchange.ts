import type { IncomingMessage, ServerResponse } from 'node:http';

/** What one request is answered with, before the headers every answer carries. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Larger bodies are refused unread: the biggest legitimate one (a 64 KiB secret, JSON-escaped) is far smaller. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The whole body, or undefined when it is larger than {@link MAX_BODY_BYTES}. */
export function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        request.removeAllListeners('data');
        request.resume();
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks)));
    request.once('error', reject);
  });
}

/**
 * Writes an answer with the headers AWS puts on every response: the request id (the SDK reports it
 * in `$metadata.requestId`) and `Date` from the emulator clock, which the SDK reads to correct its
 * clock skew, as it does against AWS.
 */
export function send(response: ServerResponse, answer: HttpAnswer, requestId: string, now: number): void {
  const body = Buffer.from(answer.body, 'utf8');
  response.writeHead(answer.status, {
    ...answer.headers,
    'Content-Type': answer.contentType,
    'Content-Length': String(body.length),
    'x-amzn-RequestId': requestId,
    Date: new Date(now).toUTCString(),
  });
  response.end(body);
}
