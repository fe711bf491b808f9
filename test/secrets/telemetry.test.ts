// The secret.fetch span (issue 16's "INTERNAL spans for ... secret fetches"): one per fetch, with
// the secret's id, region, why it was fetched and the version it brought; a fetch after a refused
// login is the child of the statement that waited for it; never a value from the secret.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDatabase } from '../../src/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { uniqueName } from '../support/databases.js';
import { KEY } from '../support/emulator.js';
import { captureLogger } from '../support/logger.js';
import { sharedMariadbLogins, type LoginServer } from '../support/secrets/login-servers.js';
import { parentOf, startTestTelemetry, type TestTelemetry } from '../telemetry/sdk.js';

let server: LoginServer;
let emulator: Emulator;
let telemetry: TestTelemetry;

beforeAll(async () => {
  server = await sharedMariadbLogins();
  emulator = await startEmulator({ aws: true, credentials: [KEY] });
  telemetry = startTestTelemetry();
});

afterAll(async () => {
  await emulator?.close();
  await server?.close();
  await telemetry?.stop();
});

it('each fetch is a secret.fetch span: initial at open, rejected under the statement whose login was refused', async () => {
  const password = `first-${Math.random().toString(36).slice(2)}`;
  const user = await server.createUser('sm_span', password);
  const secret = uniqueName('app/span');
  const secrets = emulator.aws!.secrets;
  const first = secrets.create(secret, { username: user, password });
  await using db = await createDatabase(
    {
      connections: {
        app: { driver: 'mysql', dsn: server.dsn('placeholder', 'x'), max_idle_connections: 0, secrets_manager: { secret_id: secret, region: 'us-east-1', endpoint: emulator.aws!.endpoint } },
      },
    },
    { credentials: KEY, logger: captureLogger().logger, telemetry: { tracerProvider: telemetry.tracerProvider, meterProvider: telemetry.meterProvider } },
  );
  const fetches = () => telemetry.spans().filter((span) => span.name === 'secret.fetch');
  expect(fetches()).toHaveLength(1);
  const [initial] = fetches();
  expect(initial!.kind).toBe(SpanKind.INTERNAL);
  expect(initial!.attributes).toEqual({
    'dbmodule.connection.name': 'app',
    'dbmodule.secret.id': secret,
    'cloud.region': 'us-east-1',
    'dbmodule.secret.fetch_reason': 'initial',
    'dbmodule.background': false,
    'dbmodule.secret.version_id': first.versionId,
  });

  // a rotation: the next session's login is refused, the secret fetched again under that statement
  const next = `second-${Math.random().toString(36).slice(2)}`;
  await server.setPassword(user, next);
  const second = secrets.put(secret, { username: user, password: next });
  telemetry.reset();
  const connection = db.connection();
  // every idle session held: the statement opens one
  const idle = connection.stats().idle;
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const holders = Array.from({ length: idle }, () => connection.transaction(() => held));
  await connection.query('SELECT 1 AS after_rotation');
  release();
  await Promise.all(holders);
  const [rejected] = fetches();
  expect(rejected!.attributes).toMatchObject({ 'dbmodule.secret.fetch_reason': 'rejected', 'dbmodule.secret.version_id': second });
  const statement = telemetry.spans().find((span) => span.attributes['db.query.text'] === 'SELECT 1 AS after_rotation')!;
  // under the statement: through the pool's opening (the refused login's span sits between them)
  const ancestors = new Set<string>();
  for (let id = parentOf(rejected!); id !== undefined; id = parentOf(telemetry.spans().find((span) => span.spanContext().spanId === id)!)) ancestors.add(id);
  expect(ancestors.has(statement.spanContext().spanId)).toBe(true);

  const all = JSON.stringify(telemetry.spans().map((span) => ({ name: span.name, attributes: span.attributes, events: span.events, status: span.status })));
  expect(all).not.toContain(password);
  expect(all).not.toContain(next);
  expect(fetches().map((span) => span.status.code)).toEqual([SpanStatusCode.UNSET]);
});
