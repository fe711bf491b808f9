import type { ConnectionConfig, DatabaseConfig } from './types.js';
import { resolveConnection } from './connection.js';
import { describeReceived, isPlainObject } from './describe.js';
import { readEnvOverlay, type Env, type EnvOverlay } from './env.js';
import { configError, type Problem } from './problems.js';
import { freezeConfig, isResolvedConfig } from './resolved.js';
import { issuePath, NESTED_BLOCKS, parseAll, rawSectionSchema, SECTION_KEYS, sectionEntries, unknownKeys } from './schema.js';
import { suggest } from './suggest.js';
import { resolveTelemetry } from './telemetry.js';

/** Options of {@link validateConfig}. @public */
export interface ValidateConfigOptions {
  /** Where `raw` came from: `file /abs/path`, `object` or `default`; recorded in `sources`. */
  readonly source: string;
  /** When given, `DB_*` variables are laid over `raw` (loadConfig passes the environment). */
  readonly env?: Env;
  /** Warnings found before validation (YAML warnings), kept in the result. */
  readonly warnings?: readonly string[];
}

// `{ database: {...} }` (an application-wide file) or the section itself. With the
// wrapper, sibling keys belong to other parts of the application and are ignored.
function sectionOf(raw: unknown, problems: Problem[]): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    problems.push({ path: '(top level)', message: `expected a mapping with \`connections\`, received ${describeReceived(raw)}` });
    return {};
  }
  if (!('database' in raw) || 'connections' in raw || 'default' in raw) return raw;
  const section = raw.database;
  if (section === undefined || section === null) return {};
  if (!isPlainObject(section)) {
    problems.push({ path: 'database', message: `expected a mapping, received ${describeReceived(section)}` });
    return {};
  }
  return section;
}

function sectionProblems(section: Record<string, unknown>, problems: Problem[]): string | undefined {
  const parsed = parseAll(rawSectionSchema, section);
  if (parsed.success) return parsed.output.default;
  for (const issue of parsed.issues) {
    const unknown = unknownKeys(issue, SECTION_KEYS);
    if (!unknown) {
      problems.push({ path: issuePath(issue).join('.') || '(top level)', message: issue.message });
      continue;
    }
    for (const key of unknown) {
      const value = section[key];
      const guess = suggest(key, SECTION_KEYS);
      const looksLikeConnection = isPlainObject(value) && 'dsn' in value;
      problems.push({
        path: key,
        message: looksLikeConnection
          ? `unknown key; a connection belongs under \`connections\` (connections.${key})`
          : `unknown key${guess ? `; did you mean \`${guess}\`?` : ` (accepted: ${SECTION_KEYS.join(', ')})`}`,
      });
    }
  }
  const fallback = parseAll(sectionEntries.default, section.default);
  return fallback.success ? fallback.output : undefined;
}

function copyConnection(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  const copy: Record<string, unknown> = { ...value };
  for (const block of Object.keys(NESTED_BLOCKS)) if (isPlainObject(value[block])) copy[block] = { ...value[block] };
  return copy;
}

function recordSources(name: string, value: unknown, source: string, sources: Map<string, string>): void {
  sources.set(`connections.${name}`, source);
  if (!isPlainObject(value)) return;
  for (const [key, leaf] of Object.entries(value)) {
    if (key in NESTED_BLOCKS && isPlainObject(leaf)) {
      for (const inner of Object.keys(leaf)) sources.set(`connections.${name}.${key}.${inner}`, source);
    } else {
      sources.set(`connections.${name}.${key}`, source);
    }
  }
}

function applyEnv(overlay: EnvOverlay, tree: Map<string, unknown>, sources: Map<string, string>, problems: Problem[]): void {
  for (const problem of overlay.problems) problems.push(problem);
  for (const assignment of overlay.assignments) {
    let connection = tree.get(assignment.connection);
    if (connection === undefined) {
      connection = {};
      tree.set(assignment.connection, connection);
      sources.set(`connections.${assignment.connection}`, `env ${assignment.variable}`);
    }
    // A file value of the wrong shape is reported by validation; nothing to lay over.
    if (!isPlainObject(connection)) continue;
    const [key, iamKey] = assignment.path;
    if (key === undefined) continue;
    if (iamKey === undefined) {
      connection[key] = assignment.value;
    } else {
      if (connection[key] === undefined || connection[key] === null) connection[key] = {};
      const block = connection[key];
      if (!isPlainObject(block)) continue;
      block[iamKey] = assignment.value;
    }
    sources.set(`connections.${assignment.connection}.${assignment.path.join('.')}`, `env ${assignment.variable}`);
  }
}

function resolveDefault(
  explicit: string | undefined,
  names: readonly string[],
  sources: Map<string, string>,
  problems: Problem[],
): string | undefined {
  const source = sources.get('default');
  const variables = source?.startsWith('env ') ? { variables: [source.slice(4)] } : {};
  const known = names.map((name) => `"${name}"`).join(', ');
  if (explicit !== undefined) {
    if (names.includes(explicit)) return explicit;
    problems.push({ path: 'default', ...variables, message: `names "${explicit}", which is not a defined connection; known connections: ${known || 'none'}` });
    return undefined;
  }
  sources.set('default', 'default');
  if (names.length === 1) return names[0];
  if (names.includes('default')) return 'default';
  if (names.length > 1) {
    problems.push({ path: 'default', message: `is not set and there are several connections (${known}); set \`default\` or DEFAULT_DB_CONNECTION` });
  }
  return undefined;
}

/**
 * Validates a raw `database` section (or `{ database: ... }`) from a file or an object,
 * lays `DB_*` variables over it when `env` is given, applies defaults and returns a frozen,
 * branded config. Every problem is collected into one ConfigError (`CONFIG_INVALID`).
 * A config this module already produced is returned unchanged.
 * @public
 */
export function validateConfig(raw: unknown, options: ValidateConfigOptions): DatabaseConfig {
  if (isResolvedConfig(raw)) return raw;
  const problems: Problem[] = [];
  const warnings = [...(options.warnings ?? [])];
  const sources = new Map<string, string>();

  const section = sectionOf(raw, problems);
  let explicitDefault = sectionProblems(section, problems);
  if (explicitDefault !== undefined) sources.set('default', options.source);
  const tree = new Map<string, unknown>();
  if (isPlainObject(section.connections)) {
    for (const [name, value] of Object.entries(section.connections)) {
      tree.set(name, copyConnection(value));
      recordSources(name, value, options.source, sources);
    }
  }

  let overlay: EnvOverlay | undefined;
  if (options.env) {
    overlay = readEnvOverlay(options.env, [...tree.keys()]);
    applyEnv(overlay, tree, sources, problems);
    warnings.push(...overlay.warnings);
    if (overlay.default) {
      explicitDefault = overlay.default.value;
      sources.set('default', `env ${overlay.default.variable}`);
    }
  }

  if (tree.size === 0 && !problems.some((problem) => problem.path === 'connections')) {
    problems.push({ path: 'connections', message: 'no connections defined; add one under `connections` or set DB_<NAME>_DSN' });
  }

  const connections = new Map<string, ConnectionConfig>();
  const leafSources = new Map<string, string>();
  for (const [name, value] of tree) {
    const resolved = resolveConnection(name, value, sources);
    problems.push(...resolved.problems);
    warnings.push(...resolved.warnings);
    for (const [path, source] of Object.entries(resolved.sources)) leafSources.set(path, source);
    if (resolved.config) connections.set(name, resolved.config);
  }

  const defaultName = resolveDefault(explicitDefault, [...tree.keys()], sources, problems);
  const telemetry = resolveTelemetry(section.telemetry, options.source, overlay?.telemetry, sources, problems);
  if (problems.length > 0 || defaultName === undefined) throw configError(problems, { source: options.source });
  const telemetrySources = [...sources].filter(([path]) => path.startsWith('telemetry.'));
  return freezeConfig({
    default: defaultName,
    connections,
    sources: new Map([['default', sources.get('default') ?? 'default'], ...leafSources, ...telemetrySources]),
    warnings,
    ...(telemetry ? { telemetry } : {}),
  });
}
