/**
 * What makes a local PostgreSQL or MariaDB answer as an Aurora instance: the statements a
 * client sends are rewritten on their way to the server so that Aurora's topology functions,
 * tables and variables read the emulated cluster's state. Every other statement is untouched.
 */

/** One instance as the cluster's topology reports it. */
export interface TopologyRow {
  readonly id: string;
  readonly writer: boolean;
  readonly lagMs: number;
  /** Seconds since the instance last reported (a stopped instance's row goes stale). */
  readonly silentSeconds: number;
}

/** The cluster as the instance a session is on sees it. */
export interface TopologyView {
  readonly rows: readonly TopologyRow[];
  /** The instance the session is on. */
  readonly self: { readonly id: string; readonly writer: boolean };
}

/** Aurora PostgreSQL's `rds.extensions` (peers detect Aurora by `aurora_stat_utils` in it). */
export const AURORA_POSTGRES_EXTENSIONS = 'apg_plan_mgmt,aurora_stat_utils,aws_commons,aws_lambda,aws_s3,pg_stat_statements';
/** `@@aurora_version` of the emulated Aurora MySQL. */
export const AURORA_MYSQL_VERSION = '3.08.0';

const POSTGRES_TRIGGER = /aurora_|rds\.extensions/i;
const MYSQL_TRIGGER = /aurora_|replica_host_status|innodb_read_only/i;

/** Words that end a FROM item rather than name its alias. */
const NOT_ALIAS = new Set(
  'where order group limit offset fetch having window union except intersect join inner left right full cross natural on using for returning lock procedure into'.split(' '),
);

/** `sql` as the instance of `view` would answer it: the same text unless it names Aurora's topology. */
export function rewriteTopologySql(engine: 'postgres' | 'mysql', sql: string, view: () => TopologyView): string {
  if (engine === 'postgres') return POSTGRES_TRIGGER.test(sql) ? rewritePostgres(sql, view()) : sql;
  return MYSQL_TRIGGER.test(sql) ? rewriteMysql(sql, view()) : sql;
}

// --- PostgreSQL ---

function rewritePostgres(sql: string, view: TopologyView): string {
  const withStatus = replaceFromItem(
    sql,
    /(?:pg_catalog\.)?aurora_replica_status\s*\(\s*\)/,
    (alias) => `(${postgresStatusRows(view.rows)}) AS ${alias ?? 'aurora_replica_status'}(server_id, session_id, replica_lag_in_msec, last_update_timestamp, cpu)`,
  );
  const rewritten = withStatus
    // a scalar subquery keeps the column name the function gives
    .replace(/(?:pg_catalog\.)?aurora_db_instance_identifier\s*\(\s*\)/gi, `(SELECT ${pgText(view.self.id)} AS aurora_db_instance_identifier)`)
    .replace(/to_regproc\s*\(\s*'(?:pg_catalog\.)?aurora_(?:replica_status|db_instance_identifier)'\s*\)/gi, "to_regproc('pg_catalog.now')")
    .replace(/current_setting\s*\(\s*'rds\.extensions'\s*(?:,\s*\w+\s*)?\)/gi, `(SELECT ${pgText(AURORA_POSTGRES_EXTENSIONS)} AS current_setting)`)
    .replace(/^\s*show\s+rds\.extensions\s*;?\s*$/i, `SELECT ${pgText(AURORA_POSTGRES_EXTENSIONS)} AS "rds.extensions"`);
  if (!/rds\.extensions/i.test(sql)) return rewritten;
  // pg_settings with the row Aurora has (a real server cannot be given it)
  const extra = `'${JSON.stringify({ name: 'rds.extensions', setting: AURORA_POSTGRES_EXTENSIONS, context: 'postmaster', vartype: 'string', source: 'configuration file' }).replace(/'/g, "''")}'::json`;
  return replaceFromItem(
    rewritten,
    /(?<![.\w])(?:pg_catalog\.)?pg_settings\b/,
    (alias) => `(SELECT * FROM pg_catalog.pg_settings UNION ALL SELECT * FROM json_populate_record(NULL::pg_catalog.pg_settings, ${extra})) AS ${alias ?? 'pg_settings'}`,
  );
}

function postgresStatusRows(rows: readonly TopologyRow[]): string {
  const values = rows.map(
    (row) =>
      `(${pgText(row.id)}, ${pgText(sessionId(row))}, ${row.writer ? 'NULL::float8' : `${row.lagMs}::float8`}, now() - make_interval(secs => ${row.silentSeconds}), 1.0::float8)`,
  );
  return values.length > 0 ? `VALUES ${values.join(', ')}` : "SELECT ''::text, ''::text, 0::float8, now(), 0::float8 WHERE false";
}

function pgText(value: string): string {
  return `'${value.replace(/'/g, "''")}'::text`;
}

// --- MySQL ---

function rewriteMysql(sql: string, view: TopologyView): string {
  return replaceFromItem(sql, /information_schema\.replica_host_status\b/, (alias) => `(${mysqlStatusRows(view.rows)}) AS ${alias ?? 'replica_host_status'}`)
    .replace(/@@(?:global\.)?aurora_server_id\b/gi, mysqlText(view.self.id))
    .replace(/@@(?:global\.)?aurora_version\b/gi, mysqlText(AURORA_MYSQL_VERSION))
    .replace(/@@(?:global\.)?innodb_read_only\b/gi, view.self.writer ? '0' : '1')
    .replace(/^\s*show\s+(?:global\s+|session\s+)?variables\s+like\s+'aurora_version'\s*;?\s*$/i, `SELECT 'aurora_version' AS Variable_name, ${mysqlText(AURORA_MYSQL_VERSION)} AS Value`);
}

function mysqlStatusRows(rows: readonly TopologyRow[]): string {
  const selects = rows.map(
    (row) =>
      `SELECT ${mysqlText(row.id)} AS SERVER_ID, ${mysqlText(sessionId(row))} AS SESSION_ID, NOW(6) - INTERVAL ${row.silentSeconds} SECOND AS LAST_UPDATE_TIMESTAMP, ` +
      `${row.writer ? 0 : row.lagMs} AS REPLICA_LAG_IN_MILLISECONDS, 1.0 AS CPU`,
  );
  return selects.length > 0 ? selects.join(' UNION ALL ') : "SELECT '' AS SERVER_ID, '' AS SESSION_ID, NOW(6) AS LAST_UPDATE_TIMESTAMP, 0 AS REPLICA_LAG_IN_MILLISECONDS, 0.0 AS CPU FROM DUAL WHERE FALSE";
}

function mysqlText(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

// --- shared ---

/** Aurora names the writer's session MASTER_SESSION_ID; a reader's is a UUID-like id. */
function sessionId(row: TopologyRow): string {
  return row.writer ? 'MASTER_SESSION_ID' : `${row.id}-session`;
}

/**
 * Replaces a table reference and the alias after it, if any (`FROM name r WHERE`, `name AS r`):
 * the replacement is a derived table, which needs an alias, so a given one is kept and `build`
 * gets undefined otherwise. A keyword after the name is not an alias and stays.
 */
function replaceFromItem(sql: string, name: RegExp, build: (alias: string | undefined) => string): string {
  const pattern = new RegExp(`${name.source}(\\s+(?:as\\s+)?([A-Za-z_][A-Za-z0-9_]*))?`, 'gi');
  return sql.replace(pattern, (_match, tail: string | undefined, alias: string | undefined) =>
    alias === undefined || !NOT_ALIAS.has(alias.toLowerCase()) ? build(alias) : `${build(undefined)}${tail}`,
  );
}
