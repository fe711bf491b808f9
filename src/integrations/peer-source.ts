import type { DriverName } from '../config/types.js';
import type { NativePools } from '../drivers/native-pools.js';

/**
 * What an integration takes: a connection, or its `reader()`, narrowed by `driver` so each
 * branch has the driver's own pool type.
 * @public
 */
export type PeerSource = { [D in DriverName]: { readonly driver: D; readonly pool: NativePools[D] } }[DriverName];
