import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isDbModuleError } from '../index.js';
import { EXIT_FAILED, EXIT_USAGE, UsageError, type CliIo } from './io.js';

export interface Command {
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** The command parses its own flags: it gets every argument as a positional. */
  raw?: boolean;
  /** Returns the exit code, or undefined for a command that keeps running (emulate). */
  run(args: { values: Record<string, string | boolean | undefined>; positionals: string[] }, io: CliIo): Promise<number | undefined>;
}

const commonOptions = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Subcommands are loaded only when used. */
const commands: Record<string, () => Promise<Command>> = {
  check: async () => (await import('./commands/check.js')).checkCommand,
  config: async () => (await import('./commands/config.js')).configCommand,
  emulate: async () => (await import('./commands/emulate.js')).emulateCommand,
};

const usage = `Usage: dbmodule <command> [options]

Commands:
  check      diagnose every connection phase by phase (or --connection NAME)
  config     print the resolved configuration, redacted, with the source of every value
  emulate    run a local RDS IAM endpoint in front of PostgreSQL / MariaDB

Common options:
  -c, --config FILE   YAML or JSON configuration (default: $DBMODULE_CONFIG, else DB_* variables,
                      else the embedded SQLite default)
      --json          machine-readable output
  -h, --help          this text

Exit codes: 0 success, 1 a check or operation failed, 2 bad usage or configuration.
`;

export async function runCli(argv: string[], io: CliIo): Promise<number | undefined> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? io.stdout : io.stderr)(usage);
    return name ? 0 : EXIT_USAGE;
  }
  const load = commands[name];
  if (!load) {
    io.stderr(`dbmodule: unknown command "${name}"\n\n${usage}`);
    return EXIT_USAGE;
  }
  const command = await load();
  try {
    if (command.raw) return await command.run({ values: {}, positionals: rest }, io);
    const parsed = parseArgs({ args: rest, options: { ...commonOptions, ...command.options }, allowPositionals: true, strict: true });
    if (parsed.values.help) {
      io.stdout(`dbmodule ${name}: ${command.summary}\n\n${usage}`);
      return 0;
    }
    return await command.run(parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] }, io);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      io.stderr(`dbmodule ${name}: ${error.message}\n\n${usage}`);
      return EXIT_USAGE;
    }
    if (isDbModuleError(error)) {
      io.stderr(`dbmodule ${name}: ${error.code}: ${error.message}\n`);
      return error.code === 'CONFIG_INVALID' || error.code === 'DSN_INVALID' || error.code === 'CONNECTION_NOT_FOUND' ? EXIT_USAGE : EXIT_FAILED;
    }
    io.stderr(`dbmodule ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_FAILED;
  }
}
