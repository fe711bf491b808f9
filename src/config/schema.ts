import { z } from 'zod';
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
  return z
    .unknown()
    .transform((value, ctx): T | undefined => {
      if (value === null || value === undefined) return undefined;
      const result = convert(value);
      if (result.ok) return result.value;
      ctx.addIssue({ code: 'custom', message: result.problem });
      return z.NEVER;
    })
    .optional();
}

const mappingError = {
  error: (issue: { code?: string; input?: unknown }) =>
    issue.code === 'invalid_type' ? `expected a mapping, received ${describeReceived(issue.input)}` : undefined,
};

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
const deprecated = z.unknown().optional();

/** The raw `aws_iam_auth` block (file, object or environment), converted but not cross-checked. */
export const rawIamSchema = z.strictObject(
  {
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
  },
  mappingError,
);

/** One raw connection, converted but not cross-checked (dsn, driver inference, idle vs open). */
export const rawConnectionSchema = z.strictObject(
  {
    driver: leaf(driverResult),
    dsn: leaf(dsnResult),
    max_open_connections: leaf((value) => integerResult(value, { min: 1 })),
    max_idle_connections: leaf((value) => integerResult(value, { min: 0 })),
    connection_max_lifetime: duration,
    connection_max_idle_time: duration,
    connection_timeout: positiveDuration,
    query_timeout: duration,
    aws_iam_auth: z.preprocess((value) => (value === null ? undefined : value), rawIamSchema.optional()),
    token_refresh_interval: deprecated,
    connection_close_grace_period: deprecated,
  },
  mappingError,
);

/** The `database` section: `default` and the `connections` map (each entry checked on its own). */
export const rawSectionSchema = z.strictObject(
  {
    default: leaf(textResult('a connection name')),
    connections: z.preprocess(
      (value) => (value === null ? undefined : value),
      z.record(z.string(), z.unknown(), mappingError).optional(),
    ),
  },
  mappingError,
);

/** A connection as it leaves {@link rawConnectionSchema}. */
export type RawConnection = z.output<typeof rawConnectionSchema>;
/** An `aws_iam_auth` block as it leaves {@link rawIamSchema}. */
export type RawIam = z.output<typeof rawIamSchema>;

/** Keys accepted in a connection, in schema order. */
export const CONNECTION_KEYS: readonly string[] = Object.keys(rawConnectionSchema.shape);
/** Keys accepted under `aws_iam_auth`. */
export const IAM_KEYS: readonly string[] = Object.keys(rawIamSchema.shape);
/** Keys accepted in the `database` section. */
export const SECTION_KEYS: readonly string[] = Object.keys(rawSectionSchema.shape);
