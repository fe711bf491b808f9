import type { ConnectionPlan } from '../config/plan.js';
import type { ConnectionConfig, DriverName } from '../config/types.js';
import type { NativePools } from '../drivers/native-pools.js';

/**
 * What an integration takes: a connection, or its `reader()`, narrowed by `driver` so each
 * branch has the driver's own pool type; `config` and `plan` are the connection's.
 * @public
 */
export type PeerSource = {
  [D in DriverName]: { readonly driver: D; readonly pool: NativePools[D]; readonly config: ConnectionConfig; readonly plan: ConnectionPlan };
}[DriverName];
