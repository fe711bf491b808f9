import type { ConnectionOptions } from 'node:tls';
import { planConnection, type ConnectionPlan } from '../../src/config/plan.js';
import type { ConnectionConfig } from '../../src/config/types.js';
import { formatDsn } from '../../src/dsn/format.js';
import type { ParsedDsn } from '../../src/dsn/types.js';

/**
 * The plan a driver is given for `config` with the DSN `dsn` (written out and resolved by the one
 * resolution step, as `createDatabase` does). `tls` stands in for TLS the resolution step decided
 * beyond the DSN (IAM's), to test that the driver applies the plan's TLS and nothing else.
 */
export function testPlan(config: ConnectionConfig, dsn: ParsedDsn, tls?: ConnectionOptions): ConnectionPlan {
  const plan = planConnection({ ...config, dsn: formatDsn(dsn, { password: true }) });
  return tls ? { ...plan, tls: { ...plan.tls, mode: 'verify-full', options: tls } } : plan;
}
