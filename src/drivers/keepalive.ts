/**
 * Idle time before TCP keepalive probes start on a session socket. The OS default (two hours
 * on Linux) would let a session whose peer vanished (failover, NAT or firewall state dropped)
 * sit in the idle list for hours; 30 s keeps probes cheap and finds such sessions early, also
 * keeping the flow alive in NAT gateways and load balancers that drop idle flows (AWS: 350 s).
 * A DSN parameter (pg `keepalives_idle`, mysql2 `keepAliveInitialDelay`) overrides it.
 */
export const KEEPALIVE_IDLE_MS = 30_000;
