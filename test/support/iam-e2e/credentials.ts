import type { Emulator } from '../../../src/emulator/index.js';
import type { AwsCredentialProvider } from '../../../src/iam/types.js';
import { fakeClock, type FakeClock } from '../fake-clock.js';
import { newCredentials, trust, type TestCredentials } from './rds.js';

/** A test clock starting now (sub-second part kept, so X-Amz-Date truncation is exercised). */
export function clockFromNow(): FakeClock {
  return fakeClock(Math.floor(Date.now() / 1000) * 1000 + 250);
}

/** A credentials provider function the test controls, standing in for STS or a profile. */
export interface CredentialsSource {
  readonly provider: AwsCredentialProvider;
  /** Every set handed out, oldest first. */
  readonly issued: readonly TestCredentials[];
  /** Calls of the provider so far. */
  readonly calls: number;
  /** What the next call returns (manual mode). */
  readonly current: TestCredentials;
  /** Manual mode: the next calls return new credentials, trusted by the emulator. The old ones stay trusted. */
  rotate(): TestCredentials;
  /** Calls made from now on wait until the returned function is called (a slow STS). */
  hold(): () => void;
}

export interface CredentialsSourceOptions {
  /** Temporary credentials valid this long from the clock's now; absent: long-term keys. */
  readonly lifetimeMs?: number;
  /** `per-call`: every call mints new credentials (like STS); `manual`: the same until `rotate()`. */
  readonly mode?: 'per-call' | 'manual';
}

/**
 * Credentials minted on demand and registered with the emulator, expiring on the shared clock.
 * `issued` lets tests check what signed a token without asking the code under test.
 */
export function credentialsSource(emulator: Emulator, clock: { now(): number }, options: CredentialsSourceOptions = {}): CredentialsSource {
  const issued: TestCredentials[] = [];
  const mint = (): TestCredentials => {
    const credentials = newCredentials(options.lifetimeMs === undefined ? undefined : clock.now() + options.lifetimeMs);
    trust(emulator, credentials);
    issued.push(credentials);
    return credentials;
  };
  let current = mint();
  let calls = 0;
  let gate: Promise<void> | undefined;
  return {
    provider: async () => {
      calls += 1;
      if (gate) await gate;
      // The first call hands out what was minted at creation, so `current` is known up front.
      if (options.mode === 'per-call' && calls > 1) current = mint();
      return current;
    },
    get issued() {
      return issued;
    },
    get calls() {
      return calls;
    },
    get current() {
      return current;
    },
    rotate() {
      current = mint();
      return current;
    },
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}
