import { runEmulateCommand } from '../../emulator/cli.js';
import type { CliIo } from '../io.js';
import type { Command } from '../command.js';

export const emulateCommand: Command = {
  summary: 'run a local RDS IAM endpoint (see dbmodule emulate --help)',
  options: {},
  raw: true,
  async run({ positionals }, io: CliIo) {
    const emulator = await runEmulateCommand(positionals, io);
    const stop = () => void emulator.close().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return undefined;
  },
};
