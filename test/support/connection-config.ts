import type { ConnectionConfig, DriverName } from '../../src/config/types.js';

/** A resolved connection as the config layer hands it to a driver (durations in ms, IAM off). */
export function connectionConfig(driver: DriverName, defaults: Partial<ConnectionConfig>, overrides: Partial<ConnectionConfig>): ConnectionConfig {
  return {
    name: driver,
    driver,
    dsn: `${driver}://redacted`,
    max_open_connections: 3,
    max_idle_connections: 3,
    connection_max_lifetime: 0,
    connection_max_idle_time: 0,
    connection_timeout: 5_000,
    query_timeout: 0,
    check_idle_sessions: true,
    aws_iam_auth: { enabled: false },
    ...defaults,
    ...overrides,
  };
}
