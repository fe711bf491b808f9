/**
 * Runs the RDS IAM emulator in its own process for a comparison, so the TLS handshakes, token
 * verification and relaying it does are not counted on the contenders' event loop (RDS is
 * another machine too). Driven over IPC by lib/emulator-host.ts.
 */

import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { EmulatorHostRequest, EmulatorProcessOptions } from '../lib/emulator-protocol.js';

let emulator: Emulator | undefined;

function reply(id: number, body: Record<string, unknown>): void {
  process.send?.({ id, ...body });
}

async function handle(request: EmulatorHostRequest): Promise<void> {
  switch (request.type) {
    case 'start': {
      const options: EmulatorProcessOptions = request.options;
      const prefix = options.iamUserPrefix;
      emulator = await startEmulator({
        hostnames: options.hostnames,
        credentials: options.credentials,
        region: options.region,
        iamUsers: (user) => user.startsWith(prefix),
        postgres: options.postgres ?? false,
        mysql: options.mysql ?? false,
        handshakeTimeoutMillis: 30_000,
      });
      reply(request.id, {
        postgresPort: emulator.postgres?.port,
        mysqlPort: emulator.mysql?.port,
        caFile: emulator.caFile,
        caPem: emulator.caPem,
      });
      return;
    }
    case 'setClockOffset':
      emulator?.setClockOffset(request.seconds);
      reply(request.id, {});
      return;
    case 'authCounts': {
      const counts = { allow: 0, deny: 0, passthrough: 0 };
      for (const entry of emulator?.authLog.entries() ?? []) counts[entry.decision] += 1;
      reply(request.id, counts);
      return;
    }
    case 'clearAuthLog':
      emulator?.authLog.clear();
      reply(request.id, {});
      return;
    case 'close':
      await emulator?.close();
      reply(request.id, {});
      process.exit(0);
  }
}

process.on('message', (message: EmulatorHostRequest) => {
  handle(message).catch((error: unknown) => reply(message.id, { error: error instanceof Error ? error.message : String(error) }));
});
// The emulator must not outlive the comparison that started it.
process.on('disconnect', () => process.exit(0));
