import type { ConnectionOptions } from 'node:tls';
import { planConnection, type ConnectionPlan } from '../../src/config/plan.js';
import type { ConnectionConfig } from '../../src/config/types.js';
import { formatDsn } from '../../src/dsn/format.js';
import type { ParsedDsn } from '../../src/dsn/types.js';
import type { Clock, DriverPoolOptions } from '../../src/drivers/types.js';
import { silentLogger, type Logger } from '../../src/logging.js';

/**
 * The plan a driver is given for `config` with the DSN `dsn` (written out and resolved by the one
 * resolution step, as `createDatabase` does). `tls` stands in for TLS the resolution step decided
 * beyond the DSN (IAM's), to test that the driver applies the plan's TLS and nothing else.
 */
export function testPlan(config: ConnectionConfig, dsn: ParsedDsn, tls?: ConnectionOptions): ConnectionPlan {
  const plan = planConnection({ ...config, dsn: formatDsn(dsn, { password: true }) });
  return tls ? { ...plan, tls: { ...plan.tls, mode: 'verify-full', options: tls } } : plan;
}

/** What a driver test may set beside the config and the DSN. */
export interface DriverTestOptions {
  readonly password?: () => Promise<string>;
  readonly onAuthFailure?: DriverPoolOptions['onAuthFailure'];
  /** TLS the plan carries beyond the DSN (see {@link testPlan}). */
  readonly tls?: ConnectionOptions;
  readonly logger?: Logger;
  readonly clock?: Clock;
}

/** The options a driver's pool is created with: {@link testPlan}, a silent logger and the system clock unless given. */
export function driverPoolOptions(config: ConnectionConfig, dsn: ParsedDsn, extra: DriverTestOptions = {}): DriverPoolOptions {
  return {
    plan: testPlan(config, dsn, extra.tls),
    logger: extra.logger ?? silentLogger,
    clock: extra.clock ?? { now: () => Date.now() },
    ...(extra.password ? { password: extra.password } : {}),
    ...(extra.onAuthFailure ? { onAuthFailure: extra.onAuthFailure } : {}),
  };
}
