import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One exchange seen by the tap: what was asked, and the answer's raw body. */
export interface TappedExchange {
  /** `X-Amz-Target` (Secrets Manager) or the form's `Action` (STS). */
  readonly operation: string;
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * A transparent HTTP proxy in front of the emulator's AWS endpoint that keeps every answer's raw
 * bytes, for scans of what the endpoint sends back. Requests go through unchanged (the Host header
 * too, so SigV4 signatures made for the tap's address still verify).
 */
export interface AwsTap {
  readonly endpoint: string;
  exchanges(): readonly TappedExchange[];
  close(): Promise<void>;
}

export async function startAwsTap(target: { host: string; port: number }): Promise<AwsTap> {
  const exchanges: TappedExchange[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      const targetHeader = incoming.headers['x-amz-target'];
      const operation = typeof targetHeader === 'string' ? targetHeader : (new URLSearchParams(body.toString('utf8')).get('Action') ?? '');
      const upstream = httpRequest({ host: target.host, port: target.port, method: incoming.method, path: incoming.url, headers: incoming.headers }, (answer) => {
        const answerChunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => answerChunks.push(chunk));
        answer.on('end', () => {
          const answerBody = Buffer.concat(answerChunks);
          exchanges.push({ operation, status: answer.statusCode ?? 0, headers: answer.headers, body: answerBody.toString('utf8') });
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          outgoing.end(answerBody);
        });
      });
      upstream.on('error', () => outgoing.destroy());
      upstream.end(body);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    exchanges: () => [...exchanges],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
