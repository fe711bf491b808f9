import * as v from 'valibot';
import type { DriverName } from './types.js';
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

function textResult(what: string, pattern?: RegExp, hint?: string) {
  return (value: unknown): Parsed<string> => {
    if (typeof value !== 'string' || value.trim() === '' || (pattern && !pattern.test(value))) {
      return fail(`expected ${what}, received ${describeReceived(value)}${hint ? ` (${hint})` : ''}`);
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
  token_refresh_interval: deprecated,
  connection_close_grace_period: deprecated,
};

/** The raw `aws_iam_auth` block (file, object or environment), converted but not cross-checked. */
export const rawIamSchema = block(iamEntries);

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
  aws_iam_auth: nested(rawIamSchema),
  token_refresh_interval: deprecated,
  connection_close_grace_period: deprecated,
};

/** One raw connection, converted but not cross-checked (dsn, driver inference, idle vs open). */
export const rawConnectionSchema = block(connectionEntries);

/** The entries of {@link rawSectionSchema}, to parse one key on its own. */
export const sectionEntries = {
  default: leaf(textResult('a connection name')),
  connections: nested(v.custom<Record<string, unknown>>(isMap, expectedMapping)),
};

/** The `database` section: `default` and the `connections` map (each entry checked on its own). */
export const rawSectionSchema = block(sectionEntries);

/** A connection as it leaves {@link rawConnectionSchema}. */
export type RawConnection = v.InferOutput<typeof rawConnectionSchema>;
/** An `aws_iam_auth` block as it leaves {@link rawIamSchema}. */
export type RawIam = v.InferOutput<typeof rawIamSchema>;

/** Keys accepted in a connection, in schema order. */
export const CONNECTION_KEYS: readonly string[] = Object.keys(connectionEntries);
/** Keys accepted under `aws_iam_auth`. */
export const IAM_KEYS: readonly string[] = Object.keys(iamEntries);
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
