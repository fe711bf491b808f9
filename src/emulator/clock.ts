import { ConfigError } from '../errors.js';

/** The emulator's notion of now: a base clock shifted by an offset tests can change. */
export class ShiftableClock {
  #offsetMillis = 0;

  constructor(private readonly base: { now(): number }) {}

  now(): number {
    return this.base.now() + this.#offsetMillis;
  }

  /** Shifts the clock by `seconds` (absolute, not cumulative); negative values go back. */
  setOffset(seconds: number): void {
    if (!Number.isFinite(seconds)) throw new ConfigError('CONFIG_INVALID', `setClockOffset: ${String(seconds)} is not a finite number of seconds`);
    this.#offsetMillis = seconds * 1000;
  }
}
