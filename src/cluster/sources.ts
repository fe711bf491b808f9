import type { DriverName } from '../driver-name.js';
import type { TopologySource } from './types.js';

/** Runs one statement on the writer (or the instance being asked) and gives its rows. */
export type RowsQuery = (sql: string) => Promise<readonly Record<string, unknown>[]>;

/** An instance as a topology query reports it. */
export interface DiscoveredInstance {
  readonly id: string;
  readonly writer: boolean;
  readonly lagMs?: number;
  /** Multi-AZ clusters name each instance's endpoint; Aurora's come from the instance pattern. */
  readonly endpoint?: { readonly host: string; readonly port: number };
}

/** A server-side topology: how to recognise it and how to read it. */
export interface TopologyQuerySource {
  readonly name: Exclude<TopologySource, 'replicas'>;
  read(query: RowsQuery): Promise<DiscoveredInstance[]>;
}

// Aurora keeps a row for instances that left the cluster: rows not updated for 5 minutes are
// dropped unless they are the writer's (the AWS wrapper's rule, and the RDS documentation's).
const AURORA_POSTGRES_TOPOLOGY = `SELECT server_id, CASE WHEN session_id = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END AS is_writer,
  COALESCE(replica_lag_in_msec, 0) AS lag
  FROM pg_catalog.aurora_replica_status()
  WHERE EXTRACT(EPOCH FROM (now() - last_update_timestamp)) <= 300 OR session_id = 'MASTER_SESSION_ID' OR last_update_timestamp IS NULL`;

const AURORA_MYSQL_TOPOLOGY = `SELECT server_id, CASE WHEN session_id = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END AS is_writer,
  replica_lag_in_milliseconds AS lag
  FROM information_schema.replica_host_status
  WHERE time_to_sec(timediff(now(), last_update_timestamp)) <= 300 OR session_id = 'MASTER_SESSION_ID'`;

const auroraPostgres: TopologyQuerySource = {
  name: 'aurora-postgresql',
  read: async (query) => (await query(AURORA_POSTGRES_TOPOLOGY)).map(auroraRow),
};

const auroraMysql: TopologyQuerySource = {
  name: 'aurora-mysql',
  read: async (query) => (await query(AURORA_MYSQL_TOPOLOGY)).map(auroraRow),
};

const multiAzPostgres: TopologyQuerySource = {
  name: 'multi-az-postgresql',
  read: async (query) => {
    const [writer] = await query('SELECT multi_az_db_cluster_source_dbi_resource_id AS id FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id()');
    const writerId = writer?.id == null ? String((await query('SELECT dbi_resource_id AS id FROM rds_tools.dbi_resource_id()'))[0]?.id ?? '') : String(writer.id);
    return multiAzRows(await query("SELECT id, endpoint, port FROM rds_tools.show_topology('dbmodule')"), writerId);
  },
};

const multiAzMysql: TopologyQuerySource = {
  name: 'multi-az-mysql',
  read: async (query) => {
    // on a reader, the writer's server id; on the writer, no row
    const [status] = await query('SHOW REPLICA STATUS');
    const source = status?.Source_Server_Id ?? status?.Master_Server_Id;
    const writerId = source == null || String(source) === '0' ? String((await query('SELECT @@server_id AS id'))[0]?.id ?? '') : String(source);
    return multiAzRows(await query('SELECT id, endpoint, port FROM mysql.rds_topology'), writerId);
  },
};

/**
 * Which topology the server reports, asked in one or two statements that succeed on any server
 * (catalog lookups, never a call that fails where the function is missing). Undefined: none.
 */
export async function detectTopologySource(driver: DriverName, query: RowsQuery): Promise<TopologyQuerySource | undefined> {
  if (driver === 'postgres') {
    const [row] = await query(
      "SELECT to_regproc('pg_catalog.aurora_replica_status') IS NOT NULL AS aurora, " +
        "(SELECT count(*) FROM information_schema.routines WHERE routine_schema = 'rds_tools' AND routine_name = 'multi_az_db_cluster_source_dbi_resource_id') > 0 AS multi_az",
    );
    if (truthy(row?.aurora)) return auroraPostgres;
    return truthy(row?.multi_az) ? multiAzPostgres : undefined;
  }
  if (driver === 'mysql') {
    if ((await query("SHOW VARIABLES LIKE 'aurora_version'")).some((row) => row.Value !== undefined && row.Value !== '')) return auroraMysql;
    const tables = await query("SELECT 1 AS found FROM information_schema.tables WHERE table_schema = 'mysql' AND table_name = 'rds_topology'");
    return tables.length > 0 ? multiAzMysql : undefined;
  }
  return undefined;
}

/** The statement that tells a plain server's role: true on a read-only replica. */
export function readerRoleQuery(driver: DriverName): string {
  return driver === 'postgres' ? 'SELECT pg_is_in_recovery() AS reader' : 'SELECT @@global.read_only AS reader';
}

/** The replication lag a plain replica reports, in milliseconds (0 when it has replayed all it received: after a restart
 * the receiver restarts at a segment boundary, behind what was replayed). */
export async function replicaLagMs(driver: DriverName, query: RowsQuery): Promise<number | undefined> {
  if (driver === 'postgres') {
    const [row] = await query(
      'SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 ' +
        'ELSE EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp())) * 1000 END AS lag_ms',
    );
    return numberOrUndefined(row?.lag_ms);
  }
  const [status] = await query('SHOW REPLICA STATUS');
  const seconds = numberOrUndefined(status?.Seconds_Behind_Master);
  return seconds === undefined ? undefined : seconds * 1000;
}

export function truthy(value: unknown): boolean {
  return value === true || value === 1 || value === '1' || value === 't' || value === 'true' || (typeof value === 'bigint' && value !== 0n);
}

function auroraRow(row: Record<string, unknown>): DiscoveredInstance {
  const writer = truthy(row.is_writer);
  // the writer's row carries no lag of its own (the query coalesces it to 0)
  const lagMs = writer ? undefined : numberOrUndefined(row.lag);
  return { id: String(row.server_id), writer, ...(lagMs === undefined ? {} : { lagMs: Math.max(0, lagMs) }) };
}

function multiAzRows(rows: readonly Record<string, unknown>[], writerId: string): DiscoveredInstance[] {
  return rows.map((row) => {
    const endpoint = String(row.endpoint);
    return {
      id: endpoint.split('.')[0] ?? endpoint,
      writer: String(row.id) === writerId,
      endpoint: { host: endpoint.toLowerCase(), port: Number(row.port) },
    };
  });
}

function numberOrUndefined(value: unknown): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const number = Number(value);
  return Number.isFinite(number) ? number : undefined;
}
