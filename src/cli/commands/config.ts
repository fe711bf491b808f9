import { relative, isAbsolute } from 'node:path';
import { formatDuration, isDbModuleError, planConnection, planView, redactConfig, type ConnectionConfig, type ConnectionPlanView, type DatabaseConfig } from '../../index.js';
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
 * redacted, each connection's plan as a `# resolved:` line, warnings as `# warning:` lines.
 * `--json`: `{ config, plans, sources, warnings }` where `config` is `{ default, connections }`
 * with durations in milliseconds.
 */
export const configCommand: Command = {
  summary:
    'print the resolved configuration, redacted: one line per key with its value and, after #, its source ' +
    '(file, env VARIABLE or default); durations in Go syntax (10s, 1h30m, 500ms). ' +
    '--json: { config, plans, sources, warnings }, durations in milliseconds',
  options: {},
  async run({ values }, io: CliIo) {
    const config = await loadCliConfig(values, io);
    const { default: defaultName, connections } = redactConfig(config);
    if (values.json) {
      const plans = Object.fromEntries(Object.values(config.connections).map((connection) => [connection.name, planOrProblem(connection)]));
      const output = { config: { default: defaultName, connections }, plans, sources: config.sources, warnings: config.warnings };
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
  const resolved = Object.values(config.connections).map(describePlan);
  const assignment = ([path, value]: [string, string]) => `${path} = ${value}`;
  const width = Math.max(0, ...groups.flat().map((entry) => assignment(entry).length).filter((length) => length <= ALIGN_LIMIT));
  const line = (entry: [string, string]) => `${assignment(entry).padEnd(width)}  # ${describeSource(config.sources[entry[0]] ?? 'default', cwd)}`;
  return groups.flatMap((group, index) => [...(index > 0 ? [''] : []), ...group.map(line), ...(index > 0 ? [resolved[index - 1] ?? ''] : [])]);
}

/** The connection's plan, or why it cannot be resolved (a CA file missing, no IAM region...). */
function planOrProblem(connection: ConnectionConfig): ConnectionPlanView | { error: { code: string; message: string } } {
  try {
    return planView(planConnection(connection));
  } catch (error) {
    if (!isDbModuleError(error)) throw error;
    return { error: { code: error.code, message: error.message } };
  }
}

/** `# resolved: logs in as "app" at db:5432, TLS verify-full against ...; IAM token for app@rds:5432 in us-east-1`. */
function describePlan(connection: ConnectionConfig): string {
  const plan = planOrProblem(connection);
  if ('error' in plan) return `# not resolvable: ${plan.error.code}: ${plan.error.message}`;
  if (plan.driver === 'sqlite') return `# resolved: ${plan.endpoint}`;
  const who = plan.user === undefined ? "the driver's default user" : `"${plan.user}"`;
  const iam = plan.iam ? `; IAM token for ${plan.iam.user}@${plan.iam.signingEndpoint} in ${plan.iam.region}` : '';
  return `# resolved: logs in as ${who} at ${plan.endpoint}, ${plan.tls.description}${iam}`;
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
