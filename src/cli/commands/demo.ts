import { createLogfmtLogger } from '../../index.js';
import { Narrator } from '../demo/narrator.js';
import { runDemoScenario } from '../demo/scenario.js';
import { EXIT_FAILED, EXIT_OK, UsageError, type CliIo } from '../io.js';
import type { Command } from '../command.js';

/**
 * `dbmodule demo`: the RDS IAM lifecycle against the embedded emulator, narrated step by step.
 * Exit 0 when every step behaved as expected, 1 otherwise. `--verbose` adds the library's own
 * log lines on stderr; `--json` prints the steps as JSON instead of the narrative.
 */
export const demoCommand: Command = {
  summary: 'the whole RDS IAM lifecycle against an embedded emulator (nothing to install)',
  options: { verbose: { type: 'boolean' } },
  async run({ values, positionals }, io: CliIo) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const narrator = new Narrator(values.json ? undefined : io.stdout);
    narrator.heading('dbmodule demo: RDS IAM authentication, from first token to key rotation, against an embedded emulator');
    const logger = createLogfmtLogger(values.verbose ? 'debug' : 'silent', (line) => io.stderr(`${line}\n`));
    await runDemoScenario(narrator, logger);
    if (values.json) {
      io.stdout(`${JSON.stringify({ ok: narrator.ok, steps: narrator.steps }, null, 2)}\n`);
    } else {
      const failed = narrator.steps.filter((step) => !step.ok).map((step) => step.step);
      io.stdout(narrator.ok ? `\nEvery step behaved as expected.\n` : `\nUnexpected behaviour in step(s) ${failed.join(', ')}.\n`);
    }
    return narrator.ok ? EXIT_OK : EXIT_FAILED;
  },
};
