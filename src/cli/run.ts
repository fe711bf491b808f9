import { parseArgs } from 'node:util';
import { ConfigError, isDbModuleError } from '../index.js';
import type { Command, CommandArgs } from './command.js';
import { EXIT_FAILED, EXIT_USAGE, UsageError, type CliIo } from './io.js';

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
  token: async () => (await import('./commands/token.js')).tokenCommand,
  exec: async () => (await import('./commands/exec.js')).execCommand,
  demo: async () => (await import('./commands/demo.js')).demoCommand,
  migrate: async () => (await import('./commands/migrate.js')).migrateCommand,
};

/** Codes that mean the configuration (or a flag) is wrong: exit 2, like bad usage (so does any ConfigError). */
const CONFIGURATION_CODES: ReadonlySet<string> = new Set([
  'CONFIG_INVALID',
  'DSN_INVALID',
  'CONNECTION_NOT_FOUND',
  'IAM_ENDPOINT_INVALID',
  'IAM_USERNAME_MISSING',
  'IAM_REGION_MISSING',
]);

const usage = `Usage: dbmodule <command> [options]

Commands:
  check      diagnose every connection phase by phase (or --connection NAME): config, credentials,
             token, DNS, TCP, TLS, authentication, ping; each with its time, causes and solutions
  config     print the resolved configuration, redacted, with the source of every value
             (durations in Go syntax; --json: in milliseconds)
  token      print an RDS IAM auth token, like aws rds generate-db-auth-token:
             --hostname HOST --port PORT --username USER [--region REGION], or --connection NAME
  exec       run a tool with the connection in its environment and a fresh IAM token as password:
             dbmodule exec [--connection NAME] -- psql ...   (see dbmodule exec --help)
  migrate    run the connection's migrations (--connection NAME): up [--to VERSION] [--dry-run],
             down [--steps N], status, verify (fails when an applied file changed), force VERSION,
             create NAME; one process at a time across machines
  demo       the whole RDS IAM lifecycle against an embedded emulator; nothing to install
             (--verbose: the library's log lines on stderr)
  emulate    run a local RDS IAM endpoint in front of PostgreSQL / MariaDB

Common options:
  -c, --config FILE   YAML or JSON configuration (default: $DBMODULE_CONFIG, else DB_* variables,
                      else the embedded SQLite default)
      --json          machine-readable output
  -h, --help          this text

AWS credentials come from the AWS SDK default chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, SSO, web
identity, ECS, EC2). Library log lines go to stderr (DBMODULE_LOG_LEVEL, default warn).
Exit codes: 0 success, 1 a check or operation failed, 2 bad usage or configuration
(exec: the command's own exit code).
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
    return await command.run(parsed as CommandArgs, io);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
      io.stderr(`dbmodule ${name}: ${error.message}${didYouMean(error.message, Object.keys({ ...commonOptions, ...command.options }))}\n\n${usage}`);
      return EXIT_USAGE;
    }
    if (isDbModuleError(error)) {
      const lines = [`dbmodule ${name}: ${error.code}: ${error.message}`];
      for (const cause of error.possibleCauses) lines.push(`  possible cause: ${cause}`);
      for (const solution of error.solutions) lines.push(`  try: ${solution}`);
      io.stderr(`${lines.join('\n')}\n`);
      return error instanceof ConfigError || CONFIGURATION_CODES.has(error.code) ? EXIT_USAGE : EXIT_FAILED;
    }
    io.stderr(`dbmodule ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT_FAILED;
  }
}

/** ` (did you mean --hostname?)` for an unknown flag that starts a known one (`--host`, `--user`). */
function didYouMean(message: string, known: readonly string[]): string {
  const flag = /Unknown option '--([^'=]+)'/.exec(message)?.[1];
  const match = flag === undefined ? undefined : known.find((option) => option.startsWith(flag));
  return match === undefined ? '' : ` (did you mean --${match}?)`;
}
