/**
 * The demo's time: the system clock plus an offset the demo moves forward. The emulator and the
 * database share it, so "16 minutes later" is 16 minutes later for token signing, token expiry and
 * the emulator's verification alike, without waiting.
 */
export class DemoClock {
  #origin = Date.now();
  #offsetMs = 0;

  now(): number {
    return Date.now() + this.#offsetMs;
  }

  /** Makes the current second `T+00:00` (whole seconds, as a token's X-Amz-Date has). */
  resetOrigin(): void {
    this.#origin = Math.floor(this.now() / 1000) * 1000;
  }

  advance(ms: number): void {
    this.#offsetMs += ms;
  }

  /** `T+16:00`: minutes and seconds since the origin, on the demo clock. */
  label(time: number | undefined): string {
    if (time === undefined) return 'T+?';
    const seconds = Math.max(0, Math.floor((time - this.#origin) / 1000));
    return `T+${String(Math.floor(seconds / 60)).padStart(2, '0')}:${String(seconds % 60).padStart(2, '0')}`;
  }
}
