import { checkConnections, type CheckPhase } from '../../index.js';
import { EXIT_FAILED, EXIT_OK, type CliIo } from '../io.js';
import type { Command } from '../run.js';
import { loadCliConfig, pointAtYourDatabase, usesEmbeddedDefault } from './load.js';

export const checkCommand: Command = {
  summary: 'diagnose every connection phase by phase',
  options: { connection: { type: 'string' } },
  async run({ values }, io: CliIo) {
    const started = performance.now();
    const config = await loadCliConfig(values, io);
    const configPhase: CheckPhase = {
      phase: 'dsn',
      status: 'ok',
      durationMs: performance.now() - started,
      detail: `${Object.keys(config.connections).length} connection(s), default "${config.default}"`,
    };
    const report = await checkConnections(config, typeof values.connection === 'string' ? { connection: values.connection } : {});
    if (values.json) {
      io.stdout(`${JSON.stringify({ ok: report.ok, config: { durationMs: configPhase.durationMs, detail: configPhase.detail, warnings: config.warnings }, connections: report.connections }, null, 2)}\n`);
      return report.ok ? EXIT_OK : EXIT_FAILED;
    }
    const lines = [`config          ok      ${ms(configPhase.durationMs)}  ${configPhase.detail}`];
    for (const warning of config.warnings) lines.push(`  warning: ${warning}`);
    for (const check of report.connections) {
      lines.push('', `connection "${check.name}" (${check.driver}) ${check.target}`);
      for (const phase of check.phases) {
        lines.push(`  ${phase.phase.padEnd(14)}${phase.status.padEnd(8)}${ms(phase.durationMs)}  ${phase.detail}`);
        if (phase.status === 'failed') {
          if (phase.code) lines.push(`    code: ${phase.code}`);
          for (const cause of phase.possibleCauses ?? []) lines.push(`    possible cause: ${cause}`);
          for (const solution of phase.solutions ?? []) lines.push(`    try: ${solution}`);
        }
      }
    }
    lines.push('', report.ok ? 'All connections OK.' : 'Some connections FAILED.');
    if (usesEmbeddedDefault(config)) lines.push('', pointAtYourDatabase.trimEnd());
    io.stdout(`${lines.join('\n')}\n`);
    return report.ok ? EXIT_OK : EXIT_FAILED;
  },
};

function ms(value: number): string {
  return `${Math.round(value)}ms`.padStart(6);
}
