import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { parseArgs } from 'node:util';
import { EXIT_OK, UsageError, type CliIo } from '../io.js';
import type { Command } from '../command.js';
import { execEnvironment, MANAGED_VARIABLES } from './exec-env.js';
import { findConnection, loadCliConfig } from './load.js';
import { cliLogger } from './logger.js';

export const EXEC_USAGE = `Usage: dbmodule exec [--connection NAME] [--config FILE] -- COMMAND [ARGS...]

Runs COMMAND with the connection's settings in its environment:
  PostgreSQL  PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGSSLMODE PGSSLROOTCERT
  MySQL       MYSQL_HOST MYSQL_TCP_PORT MYSQL_PWD MYSQL_USER MYSQL_DATABASE
              (IAM: LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN=1)
  all         DATABASE_URL, the password percent-encoded
The MySQL and MariaDB clients (mysql, mariadb, mysqldump, mariadb-dump, mariadb-admin, ...) also
get --defaults-file: a temporary option file (removed on exit) with host and port over TCP
(never the local socket), user, password, database and TLS verification; it is the only option
file they read (~/.my.cnf and /etc/mysql are not), so nothing else can send them elsewhere.
With aws_iam_auth the password is a fresh IAM token (valid 15 minutes for new logins) and TLS is
verify-full against the RDS CA bundle unless the DSN names its own CA; otherwise the DSN's password.
The exit code is COMMAND's. Nothing secret is printed.

  dbmodule exec --connection writer -- psql -c 'select current_user'
  dbmodule exec -- pg_dump -Fc -t orders -f orders.pgc
`;

/**
 * `dbmodule exec -- CMD ARGS...`: runs a tool (psql, mysql, a migration CLI) with the connection's
 * settings and a fresh credential in its environment, and exits with the tool's exit code
 * (127 when it cannot be found, 126 when it cannot be run, 128+N when killed by signal N).
 */
export const execCommand: Command = {
  summary: 'run a command with the connection (and a fresh IAM token) in its environment',
  options: {},
  raw: true,
  async run({ positionals }, io: CliIo) {
    const separator = positionals.indexOf('--');
    const own = separator < 0 ? positionals : positionals.slice(0, separator);
    const { values, positionals: stray } = parseArgs({
      args: own,
      options: { connection: { type: 'string' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout(EXEC_USAGE);
      return EXIT_OK;
    }
    const command = separator < 0 ? [] : positionals.slice(separator + 1);
    if (stray.length > 0 || command.length === 0) {
      throw new UsageError(stray.length > 0 ? `put the command after "--": dbmodule exec [--connection NAME] -- ${stray.join(' ')}` : 'no command given after "--"');
    }
    const logger = cliLogger(io);
    const connection = findConnection(await loadCliConfig(values, io), values.connection);
    const environment = await execEnvironment(connection, io, logger);
    try {
      logger.info('Running a command for a connection', { connection: connection.name, command: command[0], credential: environment.credential });
      const inherited = Object.fromEntries(Object.entries(io.env).filter(([name]) => !MANAGED_VARIABLES.includes(name)));
      const [file, ...args] = environment.argumentsFor(command);
      return await runChild(file as string, args, { ...inherited, ...environment.variables }, io);
    } finally {
      await environment.cleanup();
    }
  },
};

// --- internal ---

function runChild(file: string, args: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  return new Promise((resolvePromise) => {
    const interactive = io.stdio === 'inherit';
    const child = spawn(file, args, { env, cwd: io.cwd, stdio: interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
    child.stdout?.setEncoding('utf8').on('data', (text: string) => io.stdout(text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => io.stderr(text));
    // The terminal sends Ctrl-C to the child too; dbmodule waits for it to finish, as a shell does.
    const ignore = (): void => {};
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    if (interactive) {
      process.on('SIGINT', ignore);
      process.on('SIGTERM', onTerm);
      process.on('SIGHUP', onHup);
    }
    let settled = false;
    const finish = (code: number): void => {
      if (settled) return;
      settled = true;
      if (interactive) {
        process.off('SIGINT', ignore);
        process.off('SIGTERM', onTerm);
        process.off('SIGHUP', onHup);
      }
      resolvePromise(code);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      const notFound = error.code === 'ENOENT';
      io.stderr(`dbmodule exec: cannot run "${file}": ${notFound ? 'not found (check PATH)' : error.message}\n`);
      finish(notFound ? 127 : 126);
    });
    child.once('close', (code, signal) => finish(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}
