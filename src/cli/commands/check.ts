import { checkConnections, type CheckPhase, type CheckReport } from '../../index.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliIo } from '../io.js';
import type { Command } from '../command.js';
import { credentialsFromCliEnv } from './credentials.js';
import { loadCliConfig, pointAtYourDatabase, usesEmbeddedDefault } from './load.js';

/** Phases whose failure means the configuration is wrong (exit 2) rather than the database unreachable (exit 1). */
const CONFIGURATION_PHASES: ReadonlySet<string> = new Set(['dsn', 'config']);

export const checkCommand: Command = {
  summary: 'diagnose every connection phase by phase',
  options: { connection: { type: 'string' } },
  async run({ values }, io: CliIo) {
    const started = performance.now();
    const config = await loadCliConfig(values, io);
    const configPhase = {
      durationMs: performance.now() - started,
      detail: `${Object.keys(config.connections).length} connection(s), default "${config.default}"`,
    };
    const credentials = credentialsFromCliEnv(io.env);
    const report = await checkConnections(config, {
      ...(typeof values.connection === 'string' ? { connection: values.connection } : {}),
      ...(credentials ? { credentials } : {}),
    });
    const code = exitCode(report);
    if (values.json) {
      io.stdout(`${JSON.stringify({ ok: report.ok, config: { ...configPhase, warnings: config.warnings }, connections: report.connections }, null, 2)}\n`);
      return code;
    }
    const lines = [`config          ok      ${ms(configPhase.durationMs)}  ${configPhase.detail}`];
    for (const warning of config.warnings) lines.push(`  warning: ${warning}`);
    for (const check of report.connections) {
      lines.push('', `connection "${check.name}" (${check.driver}) ${check.target}`);
      for (const phase of check.phases) lines.push(...formatPhase(phase));
    }
    lines.push('', report.ok ? 'All connections OK.' : 'Some connections FAILED.');
    if (usesEmbeddedDefault(config)) lines.push('', pointAtYourDatabase.trimEnd());
    io.stdout(`${lines.join('\n')}\n`);
    return code;
  },
};

// --- internal ---

function exitCode(report: CheckReport): number {
  if (report.ok) return EXIT_OK;
  const failedAt = report.connections.flatMap((check) => check.phases.filter((phase) => phase.status === 'failed'));
  return failedAt.some((phase) => CONFIGURATION_PHASES.has(phase.phase)) ? EXIT_USAGE : EXIT_FAILED;
}

function formatPhase(phase: CheckPhase): string[] {
  const lines = [`  ${phase.phase.padEnd(16)}${phase.status.padEnd(8)}${ms(phase.durationMs)}  ${phase.detail}`];
  for (const warning of phase.warnings ?? []) lines.push(`    warning: ${warning}`);
  if (phase.status === 'failed') {
    if (phase.code) lines.push(`    code: ${phase.code}`);
    for (const cause of phase.possibleCauses ?? []) lines.push(`    possible cause: ${cause}`);
    for (const solution of phase.solutions ?? []) lines.push(`    try: ${solution}`);
  }
  return lines;
}

function ms(value: number): string {
  return `${Math.round(value)}ms`.padStart(6);
}
