import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import { DbModuleError, messageOf } from '../../errors.js';
import type { Logger } from '../../logging.js';
import type { ShiftableClock } from '../clock.js';
import type { KeyRegistry } from '../key-registry.js';
import { listen, type SocketSet } from '../relay.js';
import { authError } from './auth-errors.js';
import { MAX_BODY_BYTES, readBody, send, type HttpAnswer } from './http-exchange.js';
import { IdentityBook, type Caller } from './identities.js';
import { jsonActionOf, jsonAnswer, jsonError, parseJsonRequest } from './json-protocol.js';
import { parseQueryRequest, queryAnswer, queryError } from './query-protocol.js';
import { AwsRequestLog, type AwsRequestRecord } from './request-log.js';
import { SecretsManagerService, type EmulatedSecretsManager } from './secrets-manager.js';
import { AwsServiceError } from './service-error.js';
import { verifySignedRequest, type AwsDenyReason, type SignedRequest } from './sigv4-headers.js';
import { STS_VERSION, STS_XML_NAMESPACE, StsService, type EmulatedSts } from './sts.js';

/**
 * The local AWS endpoint of the emulator: Secrets Manager and STS on one HTTP port. Give
 * `endpoint` to SDK clients (`new SecretsManagerClient({ region, endpoint, credentials })`).
 * @public
 */
export interface EmulatedAws {
  /** `http://127.0.0.1:<port>`: the `endpoint` for SDK clients, or AWS_ENDPOINT_URL_SECRETS_MANAGER / AWS_ENDPOINT_URL_STS. */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  /** The region requests must be signed for (the emulator's). */
  readonly region: string;
  /** The account secrets and the keys' IAM users belong to. */
  readonly accountId: string;
  readonly secrets: EmulatedSecretsManager;
  readonly sts: EmulatedSts;
  /** Every request to either service, oldest first (the most recent 10000 are kept). */
  requests(): readonly AwsRequestRecord[];
}

export interface AwsEndpointContext {
  readonly listen: string;
  readonly port: number;
  readonly region: string;
  readonly accountId: string;
  /** Shared with the RDS IAM token check: keys STS issues are trusted there too. */
  readonly keys: KeyRegistry;
  readonly clock: ShiftableClock;
  /** The emulator's sockets: closing it destroys the keep-alive connections of SDK clients. */
  readonly sockets: SocketSet;
  readonly logger: Logger;
}

/**
 * Starts the HTTP server and adds it to `servers` (the emulator closes them). Every request is
 * authenticated by its SigV4 `Authorization` header against the shared key registry and clock
 * before either service sees it; a refusal is answered in the service's own error shape.
 */
export async function startAwsEndpoint(context: AwsEndpointContext, servers: Server[]): Promise<EmulatedAws> {
  const identities = new IdentityBook(context.accountId);
  const secrets = new SecretsManagerService(context.region, context.accountId, context.clock);
  const sts = new StsService(context.keys, identities, context.clock);
  const log = new AwsRequestLog();
  const server = createServer();
  servers.push(server);
  server.on('connection', (socket) => context.sockets.track(socket));
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    // Only reading the body can fail here (the client went away): there is no one to answer.
    void exchange(request, response).catch(() => response.destroy());
  });

  const exchange = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    const json = request.headers['x-amz-target'] !== undefined;
    const service = json ? 'secretsmanager' : 'sts';
    const body = await readBody(request);
    const signed: SignedRequest = { method: request.method ?? 'GET', url: request.url ?? '/', headers: request.headers, body: body ?? Buffer.alloc(0) };
    const action = json ? jsonActionOf(request.headers, 'secretsmanager') : queryAction(signed);
    const now = context.clock.now();
    let answer: HttpAnswer;
    let accessKeyId: string | undefined;
    let reason: AwsDenyReason | undefined;
    let failure: AwsServiceError | undefined;
    try {
      if (body === undefined) throw new AwsServiceError(json ? 'RequestEntityTooLargeException' : 'RequestEntityTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`, 413);
      const verification = verifySignedRequest(signed, { service, region: context.region, now, keys: context.keys });
      if (!verification.ok) {
        accessKeyId = verification.accessKeyId;
        reason = verification.reason;
        // The caller reads AWS's message; the request log says which check refused it.
        throw authError(json ? 'json' : 'query', verification, now, service);
      }
      accessKeyId = verification.key.accessKeyId;
      const caller: Caller = { accessKeyId, identity: identities.of(accessKeyId) };
      answer = json ? answerJson(signed, caller) : answerQuery(signed, caller, requestId);
    } catch (error) {
      // A fault of the emulator itself is answered as AWS answers its own: 500 InternalFailure,
      // which the SDK retries; what went wrong goes to the log, not to the caller.
      if (!(error instanceof AwsServiceError)) context.logger.error('emulator: an AWS request failed', { service, action, reason: messageOf(error) });
      failure = error instanceof AwsServiceError ? error : new AwsServiceError('InternalFailure', 'We encountered an internal error. Please try again.', 500);
      answer = json ? jsonError(failure) : queryError(failure, STS_XML_NAMESPACE, requestId);
    }
    if (json) secrets.record(action, bestEffortJson(signed.body), accessKeyId, failure?.code);
    log.record({
      time: new Date(now),
      service,
      action,
      accessKeyId,
      ok: failure === undefined,
      status: answer.status,
      errorCode: failure?.code,
      reason,
      detail: failure === undefined ? undefined : (failure.detail ?? failure.message),
    });
    if (failure) context.logger.debug('emulator: AWS request refused', { service, action, code: failure.code, reason });
    send(response, answer, requestId, now);
  };

  const answerJson = (request: SignedRequest, caller: Caller): HttpAnswer => {
    if (request.method !== 'POST') throw new AwsServiceError('UnknownOperationException', 'Secrets Manager operations are POST requests.');
    const { action, input } = parseJsonRequest(request.headers, request.body, 'secretsmanager');
    return jsonAnswer(secrets.handle(action, input, caller));
  };

  const answerQuery = (request: SignedRequest, caller: Caller, requestId: string): HttpAnswer => {
    const { action, version, params } = parseQueryRequest(request.url, request.headers, request.body);
    if (version !== STS_VERSION) throw new AwsServiceError('InvalidAction', `Could not find operation ${action.slice(0, 64)} for version ${version.slice(0, 16)}`);
    return queryAnswer(action, sts.handle(action, params, caller), STS_XML_NAMESPACE, requestId);
  };

  let port: number;
  try {
    port = await listen(server, context.port, context.listen);
  } catch (error) {
    throw new DbModuleError('CONNECT_FAILED', `emulator: the AWS endpoint cannot listen on ${context.listen}:${context.port}: ${messageOf(error)}`, {
      cause: error,
      solutions: ['Choose another aws.port (0 picks a free one) or listen address.'],
    });
  }
  const host = dialHost(context.listen);
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    host: context.listen,
    port,
    region: context.region,
    accountId: context.accountId,
    secrets: secrets.controls,
    sts: sts.controls,
    requests: () => log.entries(),
  };
}

// --- internal ---

/** Where a client on this machine dials a server listening on `listen` (a wildcard address is dialled on loopback). */
function dialHost(listen: string): string {
  if (listen === '0.0.0.0') return '127.0.0.1';
  if (listen === '::' || listen === '[::]') return '::1';
  return listen.replace(/^\[(.*)\]$/, '$1');
}

function queryAction(request: SignedRequest): string {
  try {
    return parseQueryRequest(request.url, request.headers, request.body).action.slice(0, 64);
  } catch {
    return '';
  }
}

/** The JSON input for the request log (names and labels only are read from it), or undefined. */
function bestEffortJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
