import { CONNECTION_KEYS, DEPRECATED_KEYS, NESTED_BLOCKS } from './schema.js';
import { suggest } from './suggest.js';

/** Environment variables, as in `process.env`. @public */
export type Env = Readonly<Record<string, string | undefined>>;

/** One `DB_<NAME>_<KEY>` value to write into a connection. */
export interface EnvAssignment {
  readonly connection: string;
  /** Key path inside the connection: `['dsn']` or `['aws_iam_auth', 'region']`. */
  readonly path: readonly string[];
  readonly value: string;
  readonly variable: string;
}

/** A problem found while reading the environment, naming the variables at fault. */
export interface EnvProblem {
  readonly variables: readonly string[];
  readonly message: string;
  readonly connection?: string;
}

/** What the environment contributes, before validation. */
export interface EnvOverlay {
  readonly default?: { readonly value: string; readonly variable: string };
  /** `DB_TELEMETRY_ENABLED`, `DB_TELEMETRY_SQLCOMMENTER`, unconverted (validation converts them and names the variable). */
  readonly telemetry?: Partial<Record<TelemetryKey, { readonly value: string; readonly variable: string }>>;
  /** Assignments in a stable order: existing connections first, then new ones by name. */
  readonly assignments: readonly EnvAssignment[];
  readonly problems: readonly EnvProblem[];
  readonly warnings: readonly string[];
}

interface EnvKey {
  readonly suffix: string;
  readonly path: readonly string[];
}

/** Variables that name the default connection, strongest first (the Go module's search order). */
export const DEFAULT_VARIABLES = ['DATABASE_DEFAULT_DB_CONNECTION', 'DEFAULT_DB_CONNECTION'] as const;

const PREFIX = 'DB_';

/** The keys of the `telemetry` block. */
export type TelemetryKey = 'enabled' | 'sqlcommenter';

/**
 * `telemetry.<key>`: `DB_` and the upper-cased key path, like a connection's keys but without
 * a NAME (the block is the section's). No connection key is `ENABLED` or `SQLCOMMENTER` alone, so
 * neither reads as a connection's variable.
 */
export const TELEMETRY_VARIABLES: Readonly<Record<TelemetryKey, string>> = { enabled: 'DB_TELEMETRY_ENABLED', sqlcommenter: 'DB_TELEMETRY_SQLCOMMENTER' };
const TELEMETRY_VARIABLE_NAMES: ReadonlySet<string> = new Set(Object.values(TELEMETRY_VARIABLES));

// KEY = upper-cased key path; `aws_iam_auth.region` -> AWS_IAM_AUTH_REGION. The Go module
// spelled the removed token_refresh_interval as AWS_IAM_AUTH_TOKEN_REFRESH, kept as an alias.
const ENV_KEYS: readonly EnvKey[] = [
  ...CONNECTION_KEYS.filter((key) => !(key in NESTED_BLOCKS) && !isDeprecated(key)).map((key) => ({ suffix: key.toUpperCase(), path: [key] })),
  ...Object.entries(NESTED_BLOCKS).flatMap(([block, keys]) => keys.map((key) => ({ suffix: `${block}_${key}`.toUpperCase(), path: [block, key] }))),
  { suffix: 'AWS_IAM_AUTH_TOKEN_REFRESH', path: ['aws_iam_auth', 'token_refresh_interval'] },
].sort((a, b) => b.suffix.length - a.suffix.length);

function isDeprecated(key: string): boolean {
  return (DEPRECATED_KEYS as readonly string[]).includes(key);
}

/** The `<NAME>` of a connection's variables: upper-cased, non-alphanumerics as `_`. @public */
export function envName(connection: string): string {
  return connection.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/** The variable that sets `path` of `connection`: `envVariable('writer', ['dsn'])` is `DB_WRITER_DSN`. @public */
export function envVariable(connection: string, path: readonly string[]): string {
  return `${PREFIX}${envName(connection)}_${path.join('_').toUpperCase()}`;
}

/** True when some non-empty `DB_<NAME>_DSN` defines a connection. */
export function envDefinesConnection(env: Env): boolean {
  return Object.entries(env).some(([variable, value]) => present(value) && split(variable, new Set())?.key.suffix === 'DSN');
}

// Empty values count as unset, as in the Go module: a variable exported as "" by a
// template must not blank out a file value or define a connection.
function present(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}

// Longest key first, but a split whose NAME is an existing connection wins, so
// DB_X_AWS_IAM_AUTH_CONNECTION_TIMEOUT is x's IAM timeout even if `x_aws_iam_auth` exists too.
function split(variable: string, known: ReadonlySet<string>): { name: string; key: EnvKey } | undefined {
  if (!variable.startsWith(PREFIX)) return undefined;
  const rest = variable.slice(PREFIX.length);
  const candidates = ENV_KEYS.filter((key) => rest.length > key.suffix.length + 1 && rest.endsWith(`_${key.suffix}`)).map(
    (key) => ({ name: rest.slice(0, rest.length - key.suffix.length - 1), key }),
  );
  return candidates.find((candidate) => known.has(envName(candidate.name))) ?? candidates[0];
}

/**
 * Reads `DB_<NAME>_<KEY>` and the default-connection variables. `existing` are the
 * connections already defined (file, object or embedded default); a variable whose NAME
 * is one of theirs overrides it, any other `DB_<NAME>_DSN` defines connection `<name>`
 * (lower-cased). Variables that do not end in a known key are not ours and are ignored.
 */
export function readEnvOverlay(env: Env, existing: readonly string[]): EnvOverlay {
  const byName = new Map<string, string[]>();
  for (const name of existing) byName.set(envName(name), [...(byName.get(envName(name)) ?? []), name]);
  const known = new Set(byName.keys());
  const problems: EnvProblem[] = [];
  const warnings: string[] = [];
  const groups = new Map<string, { name: string; key: EnvKey; variable: string; value: string }[]>();

  for (const [variable, value] of Object.entries(env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!present(value) || TELEMETRY_VARIABLE_NAMES.has(variable)) continue;
    const parsed = split(variable, known);
    if (!parsed) continue;
    const group = envName(parsed.name);
    groups.set(group, [...(groups.get(group) ?? []), { ...parsed, variable, value }]);
  }

  const assignments: EnvAssignment[] = [];
  const ordered = [...groups.entries()].sort(([a], [b]) => Number(!known.has(a)) - Number(!known.has(b)) || (a < b ? -1 : 1));
  for (const [group, entries] of ordered) {
    const variables = entries.map((entry) => entry.variable);
    const owners = byName.get(group) ?? [];
    let connection: string;
    if (owners.length > 1) {
      problems.push({ variables, message: `ambiguous: connections ${owners.map((o) => `"${o}"`).join(' and ')} share the prefix ${PREFIX}${group}_; rename one of them` });
      continue;
    }
    if (owners[0] !== undefined) {
      connection = owners[0];
    } else {
      const dsn = entries.find((entry) => entry.key.suffix === 'DSN');
      if (!dsn) {
        problems.push({
          variables,
          message: `${variables.length > 1 ? 'are' : 'is'} set but ${PREFIX}${group}_DSN is missing: a connection defined only by environment variables needs its DSN`,
        });
        continue;
      }
      connection = dsn.name.toLowerCase();
    }
    const seen = new Map<string, { variable: string; value: string }>();
    for (const entry of entries) {
      const key = entry.key.path.join('.');
      const earlier = seen.get(key);
      if (earlier && earlier.value !== entry.value) {
        problems.push({ variables: [earlier.variable, entry.variable], connection, message: `both set ${key} of connection "${connection}" to different values; keep one` });
        continue;
      }
      seen.set(key, entry);
      assignments.push({ connection, path: entry.key.path, value: entry.value, variable: entry.variable });
    }
  }

  warnings.push(...typoWarnings(env, new Set([...known, ...groups.keys()])));
  const defaults = DEFAULT_VARIABLES.filter((variable) => present(env[variable]));
  const [strongest, weaker] = defaults;
  if (strongest && weaker && env[strongest] !== env[weaker]) {
    warnings.push(`${strongest} (${env[strongest]}) overrides ${weaker} (${env[weaker]})`);
  }
  const value = strongest === undefined ? undefined : env[strongest];
  const telemetry: Partial<Record<TelemetryKey, { value: string; variable: string }>> = {};
  for (const [key, variable] of Object.entries(TELEMETRY_VARIABLES) as Array<[TelemetryKey, string]>) {
    const set = env[variable];
    if (present(set)) telemetry[key] = { value: set, variable };
  }
  return {
    ...(strongest !== undefined && value !== undefined ? { default: { value, variable: strongest } } : {}),
    ...(Object.keys(telemetry).length > 0 ? { telemetry } : {}),
    assignments,
    problems,
    warnings,
  };
}

// A variable under a known connection's prefix whose key is a near miss
// (DB_WRITER_MAX_OPEN_CONNS) is probably ours: say so rather than silently ignoring it.
function typoWarnings(env: Env, names: ReadonlySet<string>): string[] {
  const warnings: string[] = [];
  for (const [variable, value] of Object.entries(env)) {
    if (!present(value) || TELEMETRY_VARIABLE_NAMES.has(variable) || split(variable, names)) continue;
    for (const name of names) {
      const prefix = `${PREFIX}${name}_`;
      if (!variable.startsWith(prefix)) continue;
      const guess = suggest(variable.slice(prefix.length), ENV_KEYS.map((key) => key.suffix));
      if (guess) warnings.push(`${variable} is not a dbmodule setting and is ignored; did you mean ${prefix}${guess}?`);
    }
  }
  return warnings;
}
