import * as v from 'valibot';
import type { DriverName, InstanceAddressResolver } from './types.js';
import { booleanResult } from './boolean.js';
import { describeReceived, quote } from './describe.js';
import { durationResult } from './duration.js';
import { integerResult } from './integer.js';
import { fail, ok, type Parsed } from './parsed.js';

/** Every accepted driver spelling and the canonical name it stands for. @public */
export const DRIVER_ALIASES: Readonly<Record<string, DriverName>> = Object.freeze({
  postgres: 'postgres',
  postgresql: 'postgres',
  pgx: 'postgres',
  pg: 'postgres',
  mysql: 'mysql',
  mariadb: 'mysql',
  sqlite: 'sqlite',
  sqlite3: 'sqlite',
});

/** Keys the Go module removed; accepted (connection level or under aws_iam_auth) with a warning. */
export const DEPRECATED_KEYS = ['token_refresh_interval', 'connection_close_grace_period'] as const;

const ACCEPTED_DRIVERS = Object.keys(DRIVER_ALIASES).join(', ');

// Every leaf takes anything and converts it with our own parser, so messages are ours and
// numeric strings (environment values) go through the same rules as YAML numbers.
// null (`region:` or `region: ~` in YAML) means "not set", as in the Go module.
function leaf<T>(convert: (value: unknown) => Parsed<T>) {
  return v.optional(
    v.pipe(
      v.unknown(),
      v.rawTransform(({ dataset, addIssue, NEVER }): T | undefined => {
        if (dataset.value === null || dataset.value === undefined) return undefined;
        const result = convert(dataset.value);
        if (result.ok) return result.value;
        addIssue({ message: result.problem });
        return NEVER;
      }),
    ),
  );
}

const expectedMapping = (issue: v.BaseIssue<unknown>) => `expected a mapping, received ${describeReceived(issue.input)}`;

// A block of known keys. Anything but an object, a list included (valibot's strictObject would
// take one), is "expected a mapping"; a key not in `entries` is an issue (see unknownKeys).
function block<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(
    v.custom<Record<string, unknown>>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), expectedMapping),
    v.strictObject(entries),
  );
}

// The `connections` map: an object, not a list, whose constructor (when it has one that is a
// function) is `Object` of any realm, so not a date, a Map or another class instance.
function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const constructor: unknown = value.constructor;
  if (typeof constructor !== 'function') return true;
  const prototype: unknown = constructor.prototype;
  return typeof prototype === 'object' && prototype !== null && !Array.isArray(prototype) && Object.hasOwn(prototype, 'isPrototypeOf');
}

// A nested block (or map): absent or null (`aws_iam_auth:` in YAML) means "not set".
function nested<S extends v.GenericSchema>(schema: S) {
  return v.optional(v.pipe(v.unknown(), v.transform((value) => (value === null ? undefined : value)), v.optional(schema)));
}

function driverResult(value: unknown): Parsed<DriverName> {
  if (typeof value !== 'string') return fail(`expected a driver name (${ACCEPTED_DRIVERS}), received ${describeReceived(value)}`);
  const driver = DRIVER_ALIASES[value.trim().toLowerCase()];
  return driver ? ok(driver) : fail(`unknown driver ${quote(value)}; accepted: ${ACCEPTED_DRIVERS}`);
}

function dsnResult(value: unknown): Parsed<string> {
  if (typeof value !== 'string') return fail(`expected a DSN string, received ${describeReceived(value, true)}`);
  return value.trim() === '' ? fail('must not be empty') : ok(value);
}

/** `secret`: a refused value is described by its type and length only (an external id). */
function textResult(what: string, pattern?: RegExp, hint?: string, secret = false) {
  return (value: unknown): Parsed<string> => {
    if (typeof value !== 'string' || value.trim() === '' || (pattern && !pattern.test(value))) {
      return fail(`expected ${what}, received ${describeReceived(value, secret)}${hint ? ` (${hint})` : ''}`);
    }
    return ok(value);
  };
}

const duration = leaf((value) => durationResult(value));
const positiveDuration = leaf((value) => durationResult(value, { positive: true }));
const deprecated = v.optional(v.unknown());

const iamEntries = {
  enabled: leaf(booleanResult),
  region: leaf(textResult('an AWS region name such as us-east-1', /^[a-z]{2,}(-[a-z0-9]+)+$/)),
  db_user: leaf(textResult('a non-empty database user name')),
  signing_host: leaf(
    textResult('a host name', /^(?!.*:\d+$)[^\s/]+$/, 'no scheme, path or port; the port goes in signing_port'),
  ),
  signing_port: leaf((value) => integerResult(value, { min: 1, max: 65535 })),
  max_connects_per_second: leaf((value) => integerResult(value, { min: 1 })),
  // The Go module's place for the connect budget; merged into connection_timeout.
  connection_timeout: positiveDuration,
  // Where the AWS credentials come from (IAM signing and Secrets Manager alike)
  profile: leaf(textResult('a profile name of the shared AWS config files (letters, digits and _.-+@=,)', /^[\w.+@=,-]+$/)),
  role_arn: leaf(textResult('an IAM role ARN such as arn:aws:iam::123456789012:role/app', /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/)),
  role_session_name: leaf(textResult('a role session name: 2 to 64 letters, digits or +=,.@_-', /^[\w+=,.@-]{2,64}$/)),
  external_id: leaf(textResult('an external id: 2 to 1224 letters, digits or +=,.@:/_-', /^[\w+=,.@:/-]{2,1224}$/, undefined, true)),
  duration: positiveDuration,
  token_refresh_interval: deprecated,
  connection_close_grace_period: deprecated,
};

/** The raw `aws_iam_auth` block (file, object or environment), converted but not cross-checked. */
export const rawIamSchema = block(iamEntries);

function endpointUrlResult(value: unknown): Parsed<string> {
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      if ((url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '') return ok(value);
    } catch {
      // reported below
    }
  }
  return fail(`expected an endpoint URL such as https://secretsmanager.us-east-1.amazonaws.com, received ${describeReceived(value)}`);
}

const secretsEntries = {
  secret_id: leaf(textResult('a secret name or ARN')),
  region: leaf(textResult('an AWS region name such as us-east-1', /^[a-z]{2,}(-[a-z0-9]+)+$/)),
  refresh: positiveDuration,
  endpoint: leaf(endpointUrlResult),
};

/** The raw `secrets_manager` block, converted but not cross-checked. */
export const rawSecretsSchema = block(secretsEntries);

function choiceResult<const C extends string>(choices: readonly C[]) {
  return (value: unknown): Parsed<C> => {
    const word = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
    const found = choices.find((choice) => choice === word);
    return found ? ok(found) : fail(`expected one of ${choices.join(', ')}, received ${describeReceived(value)}`);
  };
}

function clusterEnabledResult(value: unknown): Parsed<'auto' | boolean> {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'auto') return ok('auto');
  const flag = booleanResult(value);
  return flag.ok ? flag : fail(`expected auto, true or false, received ${describeReceived(value)}`);
}

const HOST_PORT = /^[A-Za-z0-9_.-]+(:\d{1,5})?$/;

function hostPatternResult(value: unknown): Parsed<string> {
  if (typeof value !== 'string' || !HOST_PORT.test(value.replace('?', 'x')) || value.split('?').length !== 2) {
    return fail(`expected a host name with one ? standing for the instance id (?.abc123.us-east-1.rds.amazonaws.com), received ${describeReceived(value)}`);
  }
  return ok(value);
}

/**
 * `instance_addresses`: a mapping of instance endpoint to the address dialled for it, or (from
 * the environment) the same as `endpoint=address` pairs separated by commas.
 */
function instanceAddressesResult(value: unknown): Parsed<Readonly<Record<string, string>> | InstanceAddressResolver> {
  if (typeof value === 'function') return ok(value as InstanceAddressResolver);
  let entries: [string, unknown][];
  if (typeof value === 'string') {
    entries = [];
    for (const pair of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const at = pair.indexOf('=');
      if (at <= 0) return fail(`expected endpoint=address pairs separated by commas, received ${quote(pair)}`);
      entries.push([pair.slice(0, at).trim(), pair.slice(at + 1).trim()]);
    }
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    entries = Object.entries(value);
  } else {
    return fail(`expected a mapping of instance endpoint to address (or, in code, a function), received ${describeReceived(value)}`);
  }
  const addresses: Record<string, string> = {};
  for (const [endpoint, address] of entries) {
    if (!HOST_PORT.test(endpoint)) return fail(`${quote(endpoint)} is not an endpoint (host or host:port)`);
    if (typeof address !== 'string' || !HOST_PORT.test(address)) return fail(`the address of ${endpoint} must be host or host:port, received ${describeReceived(address)}`);
    addresses[endpoint.toLowerCase()] = address;
  }
  return ok(Object.freeze(addresses));
}

const clusterEntries = {
  enabled: leaf(clusterEnabledResult),
  instance_host_pattern: leaf(hostPatternResult),
  topology_refresh: positiveDuration,
  failover_refresh: positiveDuration,
  failover_timeout: positiveDuration,
  read_from: leaf(choiceResult(['readers', 'readers-or-writer', 'writer'] as const)),
  reader_selection: leaf(choiceResult(['random', 'least-connections', 'lowest-lag'] as const)),
  max_replica_lag: duration,
  instance_addresses: leaf(instanceAddressesResult),
};

/** The raw `cluster` block, converted but not cross-checked. */
export const rawClusterSchema = block(clusterEntries);

/** A table name, optionally schema-qualified: what `migrations.table` accepts, and all it quotes. */
export const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

const migrationsEntries = {
  directory: leaf(textResult('a directory path')),
  table: leaf(textResult('a table name (letters, digits, _; optionally schema.table)', TABLE_NAME)),
  lock_timeout: duration,
  allow_out_of_order: leaf(booleanResult),
  run_on_start: leaf(booleanResult),
};

/** The raw `migrations` block, converted but not cross-checked. */
export const rawMigrationsSchema = block(migrationsEntries);

/**
 * `replicas`: a list of DSNs, or (from the environment) a JSON array, or DSNs separated by
 * commas or newlines (a separator counts only before a `scheme://`, so a comma in a password stays).
 */
function replicasResult(value: unknown): Parsed<readonly string[]> {
  let list: unknown = value;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        list = JSON.parse(text);
      } catch {
        return fail('expected a JSON array of DSNs; the value starts with [ but is not valid JSON');
      }
    } else {
      list = text.split(/\s*[,\n]\s*(?=[a-z][a-z0-9+.-]*:\/\/)/i);
    }
  }
  if (!Array.isArray(list)) return fail(`expected a list of replica DSNs, received ${describeReceived(value, true)}`);
  const dsns: string[] = [];
  for (const [index, item] of list.entries()) {
    const dsn = dsnResult(item);
    if (!dsn.ok) return fail(`item ${index}: ${dsn.problem}`);
    dsns.push(dsn.value);
  }
  return ok(Object.freeze(dsns));
}

/** The entries of {@link rawConnectionSchema}, to parse one key on its own. */
export const connectionEntries = {
  driver: leaf(driverResult),
  dsn: leaf(dsnResult),
  max_open_connections: leaf((value) => integerResult(value, { min: 1 })),
  max_idle_connections: leaf((value) => integerResult(value, { min: 0 })),
  connection_max_lifetime: duration,
  connection_max_idle_time: duration,
  connection_timeout: positiveDuration,
  query_timeout: duration,
  check_idle_sessions: leaf(booleanResult),
  aws_iam_auth: nested(rawIamSchema),
  secrets_manager: nested(rawSecretsSchema),
  cluster: nested(rawClusterSchema),
  replicas: leaf(replicasResult),
  migrations: nested(rawMigrationsSchema),
  token_refresh_interval: deprecated,
  connection_close_grace_period: deprecated,
};

/** One raw connection, converted but not cross-checked (dsn, driver inference, idle vs open). */
export const rawConnectionSchema = block(connectionEntries);

const telemetryEntries = {
  enabled: leaf(booleanResult),
  sqlcommenter: leaf(booleanResult),
};

/** The raw `telemetry` block, converted. */
export const rawTelemetrySchema = block(telemetryEntries);

/** The entries of {@link rawSectionSchema}, to parse one key on its own. */
export const sectionEntries = {
  default: leaf(textResult('a connection name')),
  connections: nested(v.custom<Record<string, unknown>>(isMap, expectedMapping)),
  // checked on its own (config/telemetry.ts), so its problems name its keys
  telemetry: v.optional(v.unknown()),
};

/** The `database` section: `default` and the `connections` map (each entry checked on its own). */
export const rawSectionSchema = block(sectionEntries);

/** A connection as it leaves {@link rawConnectionSchema}. */
export type RawConnection = v.InferOutput<typeof rawConnectionSchema>;
/** An `aws_iam_auth` block as it leaves {@link rawIamSchema}. */
export type RawIam = v.InferOutput<typeof rawIamSchema>;
/** A `secrets_manager` block as it leaves {@link rawSecretsSchema}. */
export type RawSecrets = v.InferOutput<typeof rawSecretsSchema>;
/** A `cluster` block as it leaves {@link rawClusterSchema}. */
export type RawCluster = v.InferOutput<typeof rawClusterSchema>;
/** A `migrations` block as it leaves {@link rawMigrationsSchema}. */
export type RawMigrations = v.InferOutput<typeof rawMigrationsSchema>;

/** Keys accepted in a connection, in schema order. */
export const CONNECTION_KEYS: readonly string[] = Object.keys(connectionEntries);
/** Keys accepted under `aws_iam_auth`. */
export const IAM_KEYS: readonly string[] = Object.keys(iamEntries);
/** Keys accepted under `secrets_manager`. */
export const SECRETS_KEYS: readonly string[] = Object.keys(secretsEntries);
/** Keys accepted under `cluster`. */
export const CLUSTER_KEYS: readonly string[] = Object.keys(clusterEntries);
/** Keys accepted under `migrations`. */
export const MIGRATIONS_KEYS: readonly string[] = Object.keys(migrationsEntries);
/** The connection keys that are blocks of their own, and the keys each accepts. */
export const NESTED_BLOCKS: Readonly<Record<string, readonly string[]>> = { aws_iam_auth: IAM_KEYS, secrets_manager: SECRETS_KEYS, cluster: CLUSTER_KEYS, migrations: MIGRATIONS_KEYS };
/** Keys accepted under `telemetry`. */
export const TELEMETRY_KEYS: readonly string[] = Object.keys(telemetryEntries);
/** Keys accepted in the `database` section. */
export const SECTION_KEYS: readonly string[] = Object.keys(sectionEntries);

/**
 * Parses with every problem collected in one pass, whatever an application that uses valibot
 * too set with `v.setGlobalConfig` (`abortEarly` would stop at the first problem).
 */
export function parseAll<S extends v.GenericSchema>(schema: S, input: unknown): v.SafeParseResult<S> {
  return v.safeParse(schema, input, { abortEarly: false });
}

/** The path of an issue, one key per item (`['aws_iam_auth', 'region']`); empty at the top. */
export function issuePath(issue: v.BaseIssue<unknown>): string[] {
  return issue.path?.map((item) => String(item.key)) ?? [];
}

/**
 * When `issue` reports an unknown key, every unknown key of that block, in input order;
 * otherwise undefined. valibot's strictObject reports only a block's first unknown key (the
 * last item of the issue's path); `accepted` are the block's keys.
 */
export function unknownKeys(issue: v.BaseIssue<unknown>, accepted: readonly string[]): string[] | undefined {
  const item = issue.path?.at(-1);
  if (issue.type !== 'strict_object' || issue.expected !== 'never' || item === undefined) return undefined;
  const keys: string[] = [];
  for (const key in item.input as object) if (!accepted.includes(key)) keys.push(key);
  return keys;
}
