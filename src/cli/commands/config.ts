import { redactConfig } from '../../index.js';
import { EXIT_OK, type CliIo } from '../io.js';
import type { Command } from '../run.js';
import { loadCliConfig, pointAtYourDatabase, usesEmbeddedDefault } from './load.js';

export const configCommand: Command = {
  summary: 'print the resolved configuration, redacted, with the source of every value',
  options: {},
  async run({ values }, io: CliIo) {
    const config = await loadCliConfig(values, io);
    const redacted = redactConfig(config);
    if (values.json) {
      io.stdout(`${JSON.stringify({ config: redacted, sources: config.sources, warnings: config.warnings }, null, 2)}\n`);
      return EXIT_OK;
    }
    const lines: string[] = [];
    for (const [path, value] of flatten(redacted)) {
      lines.push(`${path} = ${JSON.stringify(value)}    # ${config.sources[path] ?? 'default'}`);
    }
    for (const warning of config.warnings) lines.push(`# warning: ${warning}`);
    if (usesEmbeddedDefault(config)) lines.push('', pointAtYourDatabase.trimEnd());
    io.stdout(`${lines.join('\n')}\n`);
    return EXIT_OK;
  },
};

function* flatten(value: unknown, prefix = ''): Generator<[string, unknown]> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) yield* flatten(child, prefix ? `${prefix}.${key}` : key);
  } else {
    yield [prefix, value];
  }
}
