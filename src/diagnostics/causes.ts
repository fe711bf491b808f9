import type { ErrorCode } from '../errors.js';

export interface Explanation {
  possibleCauses: string[];
  solutions: string[];
}

/** Generic causes and solutions per code, used where the failing layer gave none. */
const explanations: Partial<Record<ErrorCode | string, Explanation>> = {
  CONNECT_FAILED: {
    possibleCauses: ['The host name does not resolve', 'Nothing listens on the port, or a firewall/security group blocks it', 'The database server is down or restarting'],
    solutions: ['Check the host and port in the DSN', 'Test reachability: nc -zv HOST PORT', 'Check security groups / network ACLs allow this client on the port'],
  },
  CONNECT_TIMEOUT: {
    possibleCauses: ['Packets are dropped (security group, firewall, wrong VPC/subnet)', 'The server is overloaded', 'connection_timeout is too short for this network'],
    solutions: ['Test reachability: nc -zv HOST PORT', 'Raise connection_timeout', 'Check the server load and max_connections'],
  },
  AUTH_FAILED: {
    possibleCauses: ['Wrong user name or password', 'The user may not connect from this host (pg_hba.conf / MySQL host grants)', 'The database does not exist or the user lacks access to it'],
    solutions: ['Check the user and password in the DSN', 'Try the same credentials with psql or mysql', 'Check pg_hba.conf or the MySQL user@host grants'],
  },
  TLS_FAILED: {
    possibleCauses: ['The server certificate is not signed by a trusted CA', 'The host name does not match the certificate', 'The server does not support TLS'],
    solutions: ['Set sslrootcert to the CA bundle that signed the server certificate', 'Connect with the host name in the certificate', 'Use sslmode=require to encrypt without verification (not recommended)'],
  },
  DRIVER_NOT_INSTALLED: {
    possibleCauses: ['The driver package is an optional peer dependency and is not installed'],
    solutions: ['Install it: npm install pg (PostgreSQL), npm install mysql2 (MySQL/MariaDB), npm install better-sqlite3@12 (SQLite)'],
  },
};

export function explain(code: string): Explanation {
  return explanations[code] ?? { possibleCauses: [], solutions: [] };
}
