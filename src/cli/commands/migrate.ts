import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDatabase, migrationSettings, selectConnection, type MigrationRun, type MigrationStatus } from '../../index.js';
import type { Command } from '../command.js';
import { EXIT_OK, UsageError, type CliIo } from '../io.js';
import { credentialsFromCliEnv } from './credentials.js';
import { loadCliConfig } from './load.js';

const ACTIONS = ['up', 'down', 'status', 'verify', 'force', 'create'] as const;
type Action = (typeof ACTIONS)[number];

export const migrateCommand: Command = {
  summary: `run migrations: ${ACTIONS.join(' | ')} (--connection NAME, up --to VERSION, down --steps N, --dry-run; force VERSION; create NAME)`,
  options: { connection: { type: 'string' }, to: { type: 'string' }, steps: { type: 'string' }, 'dry-run': { type: 'boolean' } },
  async run({ values, positionals }, io: CliIo) {
    const [action, argument, ...extra] = positionals;
    if (!isAction(action)) throw new UsageError(`expected one of ${ACTIONS.join(', ')}${action ? `, received "${action}"` : ''}`);
    if (extra.length > 0 || ((action === 'force' || action === 'create') !== (argument !== undefined))) {
      throw new UsageError(action === 'force' ? 'force takes one VERSION' : action === 'create' ? 'create takes one NAME' : `${action} takes no argument`);
    }
    const config = selectConnection(await loadCliConfig(values, io), typeof values.connection === 'string' ? values.connection : undefined);
    if (action === 'create') return create(migrationSettings(config).directory, argument!, values, io);

    const credentials = credentialsFromCliEnv(io.env);
    const db = await createDatabase(config, credentials ? { credentials } : {});
    try {
      const dryRun = values['dry-run'] === true;
      switch (action) {
        case 'up':
          return report(await db.migrate(undefined, { ...(typeof values.to === 'string' ? { to: values.to } : {}), dryRun }), values, io);
        case 'down':
          return report(await db.rollback(undefined, { steps: stepsOf(values.steps), dryRun }), values, io);
        case 'status':
          return status(await db.migrationStatus(), values, io);
        case 'verify':
          return status(await db.verifyMigrations(), values, io);
        case 'force':
          return status(await db.forceMigrationVersion(argument!), values, io);
      }
    } finally {
      await db.close();
    }
  },
};

// --- internal ---

function isAction(value: string | undefined): value is Action {
  return ACTIONS.includes(value as Action);
}

function stepsOf(value: string | boolean | undefined): number {
  if (value === undefined) return 1;
  const steps = Number(value);
  if (!Number.isInteger(steps) || steps < 1) throw new UsageError(`--steps: expected a positive integer, received "${String(value)}"`);
  return steps;
}

function report(run: MigrationRun, values: Record<string, unknown>, io: CliIo): number {
  if (values.json) {
    io.stdout(`${JSON.stringify(run, null, 2)}\n`);
    return EXIT_OK;
  }
  const verb = run.direction === 'up' ? (run.dryRun ? 'would apply' : 'applied') : run.dryRun ? 'would revert' : 'reverted';
  const lines = run.migrations.map((step) => `${verb} ${step.version}_${step.name}${run.dryRun ? '' : ` (${Math.round(step.durationMs)} ms)`}`);
  lines.push(run.migrations.length === 0 ? `connection "${run.connection}": nothing to ${run.direction === 'up' ? 'apply' : 'revert'}` : `connection "${run.connection}": ${run.migrations.length} migration(s) ${verb}`);
  io.stdout(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

function status(result: MigrationStatus, values: Record<string, unknown>, io: CliIo): number {
  if (values.json) {
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return EXIT_OK;
  }
  const lines = [`connection "${result.connection}": ${result.directory}, table ${result.table}`];
  for (const entry of result.entries) {
    const notes = [entry.changed ? 'CHANGED since applied' : undefined, entry.outOfOrder ? 'below the last applied version' : undefined, entry.appliedAt ? `at ${entry.appliedAt.toISOString()}` : undefined].filter(Boolean);
    lines.push(`  ${entry.state.padEnd(8)} ${entry.version}_${entry.name}${notes.length > 0 ? `  (${notes.join(', ')})` : ''}`);
  }
  lines.push(`current ${result.current ?? 'none'}, ${result.pending} pending${result.dirty ? `, DIRTY at ${result.dirty}` : ''}`);
  io.stdout(`${lines.join('\n')}\n`);
  return EXIT_OK;
}

/**
 * Writes `<version>_<name>.up.sql` and `.down.sql`: the next number when the directory numbers
 * its migrations 1, 2, 3 (padded as they are), else a UTC timestamp (YYYYMMDDHHMMSS), as golang-migrate does.
 */
async function create(directory: string, name: string, values: Record<string, unknown>, io: CliIo): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) throw new UsageError(`create: a migration name is letters, digits, _ and -, received "${name}"`);
  await mkdir(directory, { recursive: true });
  const versions = (await readdir(directory)).flatMap((file) => /^(\d+)_/.exec(file)?.[1] ?? []);
  const sequential = versions.length > 0 && versions.every((digits) => digits.length < 10);
  const version = sequential ? String(Math.max(...versions.map(Number)) + 1).padStart(Math.max(...versions.map((digits) => digits.length)), '0') : new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const files = ['up', 'down'].map((direction) => join(directory, `${version}_${name}.${direction}.sql`));
  for (const file of files) await writeFile(file, '', { flag: 'wx' });
  if (values.json) io.stdout(`${JSON.stringify({ version, files }, null, 2)}\n`);
  else io.stdout(`${files.map((file) => `created ${file}`).join('\n')}\n`);
  return EXIT_OK;
}
