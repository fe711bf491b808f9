import { relative, isAbsolute } from 'node:path';
import { formatDuration, redactConfig, type DatabaseConfig } from '../../index.js';
import type { Command } from '../command.js';
import { EXIT_OK, type CliIo } from '../io.js';
import { loadCliConfig, pointAtYourDatabase, usesEmbeddedDefault } from './load.js';

/** Connection keys whose resolved values are milliseconds: printed as Go durations. */
const DURATION_KEYS: ReadonlySet<string> = new Set(['connection_max_lifetime', 'connection_max_idle_time', 'connection_timeout', 'query_timeout']);

/** Lines longer than this do not push the source comments of the others further right. */
const ALIGN_LIMIT = 56;

type RedactedConnections = ReturnType<typeof redactConfig>['connections'];

/**
 * `dbmodule config`: one line per key, `path = value    # source`, durations in Go syntax, DSNs
 * redacted, warnings as `# warning:` lines. `--json`: `{ config, sources, warnings }` where
 * `config` is `{ default, connections }` with durations in milliseconds.
 */
export const configCommand: Command = {
  summary:
    'print the resolved configuration, redacted: one line per key with its value and, after #, its source ' +
    '(file, env VARIABLE or default); durations in Go syntax (10s, 1h30m, 500ms). ' +
    '--json: { config, sources, warnings }, durations in milliseconds',
  options: {},
  async run({ values }, io: CliIo) {
    const config = await loadCliConfig(values, io);
    const { default: defaultName, connections } = redactConfig(config);
    if (values.json) {
      const output = { config: { default: defaultName, connections }, sources: config.sources, warnings: config.warnings };
      io.stdout(`${JSON.stringify(output, null, 2)}\n`);
      return EXIT_OK;
    }
    const lines = configLines(config, connections, defaultName, io.cwd);
    for (const warning of config.warnings) lines.push(`# warning: ${warning}`);
    if (usesEmbeddedDefault(config)) lines.push('', pointAtYourDatabase.trimEnd());
    io.stdout(`${lines.join('\n')}\n`);
    return EXIT_OK;
  },
};

/** `default`, then each connection's keys, a blank line between connections; `# source` aligned. */
function configLines(config: DatabaseConfig, connections: RedactedConnections, defaultName: string, cwd: string): string[] {
  const groups: [string, string][][] = [[['default', JSON.stringify(defaultName)]]];
  for (const [name, connection] of Object.entries(connections)) {
    // `name` is the key the connection is filed under, not a key of its own.
    const { name: _name, ...keys } = connection;
    groups.push([...leaves(keys)].map(([key, value]) => [`connections.${name}.${key}`, formatValue(key, value)]));
  }
  const assignment = ([path, value]: [string, string]) => `${path} = ${value}`;
  const width = Math.max(0, ...groups.flat().map((entry) => assignment(entry).length).filter((length) => length <= ALIGN_LIMIT));
  const line = (entry: [string, string]) => `${assignment(entry).padEnd(width)}  # ${describeSource(config.sources[entry[0]] ?? 'default', cwd)}`;
  return groups.flatMap((group, index) => [...(index > 0 ? [''] : []), ...group.map(line)]);
}

function* leaves(value: Record<string, unknown>, prefix = ''): Generator<[string, unknown]> {
  for (const [key, child] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child !== null && typeof child === 'object' && !Array.isArray(child)) yield* leaves(child as Record<string, unknown>, path);
    else yield [path, child];
  }
}

function formatValue(key: string, value: unknown): string {
  if (typeof value === 'number' && DURATION_KEYS.has(key.split('.').at(-1) ?? key)) return formatDuration(value);
  return JSON.stringify(value) ?? String(value);
}

/** `file /abs/dir/config.yaml` as `file config.yaml` when the file is under the working directory. */
function describeSource(source: string, cwd: string): string {
  if (!source.startsWith('file ')) return source;
  const path = source.slice('file '.length);
  const shown = relative(cwd, path);
  return shown && !shown.startsWith('..') && !isAbsolute(shown) ? `file ${shown}` : source;
}
