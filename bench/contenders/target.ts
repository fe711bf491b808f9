/** What every query-path contender offers: run one statement, and close. */

export interface QueryTarget {
  readonly name: string;
  readonly label: string;
  run(sql: string, params?: readonly unknown[]): Promise<unknown>;
  close(): Promise<void>;
  /**
   * Checks, once warmed up, that the contender does what its label says (telemetry: spans and
   * measurements exported); fails the run otherwise. Answers a line for the findings.
   */
  verify?(): Promise<string>;
}

/**
 * How a contender reaches the database: straight to the server, or through the local RDS IAM
 * endpoint with TLS (verify-full against the endpoint's CA) and an IAM token per new session.
 */
export type Route =
  | {
      readonly kind: 'direct';
      /** The server, when not the suite's default one (a standby, a private primary). */
      readonly url?: string;
      /** Extra keys of dbmodule's connection (a `cluster` block, `replicas`). */
      readonly connection?: Readonly<Record<string, unknown>>;
    }
  | {
      readonly kind: 'iam';
      /** Where the emulator listens. */
      readonly port: number;
      readonly caFile: string;
      readonly caPem: string;
      /** The RDS name and port tokens are signed for. */
      readonly signingHost: string;
      readonly signingPort: number;
      readonly user: string;
      /** dbmodule's cap on new IAM sessions per second (default 50). */
      readonly maxConnectsPerSecond?: number;
    };

/** The pool size of every query-path contender. */
export const POOL_SIZE = 10;
