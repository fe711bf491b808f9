/** Messages between a comparison and its emulator process (processes/emulator.ts). */

import type { EmulatorCredentials, EmulatorEndpointOptions } from '../../src/emulator/index.js';

export interface EmulatorProcessOptions {
  readonly hostnames: readonly string[];
  readonly credentials: readonly EmulatorCredentials[];
  readonly region: string;
  /** Users starting with this authenticate with IAM; others pass through with their own password. */
  readonly iamUserPrefix: string;
  readonly postgres?: EmulatorEndpointOptions;
  readonly mysql?: EmulatorEndpointOptions;
}

export type EmulatorHostRequest =
  | { readonly id: number; readonly type: 'start'; readonly options: EmulatorProcessOptions }
  | { readonly id: number; readonly type: 'setClockOffset'; readonly seconds: number }
  | { readonly id: number; readonly type: 'authCounts' }
  | { readonly id: number; readonly type: 'clearAuthLog' }
  | { readonly id: number; readonly type: 'close' };

/** A request before the host numbers it. */
export type EmulatorHostCall = EmulatorHostRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export interface AuthCounts {
  readonly allow: number;
  readonly deny: number;
  readonly passthrough: number;
}
