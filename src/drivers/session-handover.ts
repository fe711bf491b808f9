import { afterPendingIo } from './pending-io.js';

/**
 * What a session pool tells {@link SessionHandover} about its sessions, and does with them.
 * `S` is a pooled session, `W` whoever waits for it (a callback, a checkout request).
 */
export interface HandoverTarget<S, W> {
  /** True for the session's first checkout, and records it: opened for this caller, it has just proved alive. */
  firstCheckout(session: S): boolean;
  /** False once the driver saw the session fail, end or close. */
  isAlive(session: S): boolean;
  /** Gives `session` to `waiter`; `opened`: on its first checkout (it was opened for this caller). */
  deliver(session: S, waiter: W, opened: boolean): void;
  /** Destroys the dead `session` and serves `waiter` another one (taken the same way, so it is checked too). */
  replace(session: S, waiter: W): void;
}

/**
 * The checkout rule of every session pool: a session whose server already hung up is never
 * handed out; it is destroyed and another one taken.
 *
 * A session that sat in the pool may have died unnoticed. One the driver already knows dead is
 * replaced at once. Otherwise a peer's FIN or RST that reached the kernel while the session sat
 * idle, or together with its last answer, is only seen by the driver once the event loop has
 * polled the socket again: the hand-over waits for that (see afterPendingIo) and looks again
 * (test/resilience/dropped-connections.test.ts fails without the wait, even for a session reused
 * at once: its last answer and the FIN arrive in one read).
 *
 * One per pool; a checkout allocates nothing (the wait takes the arguments, not a closure).
 */
export class SessionHandover<S, W> {
  readonly #target: HandoverTarget<S, W>;
  readonly #waitForPoll: boolean;

  /** `waitForPoll` false (`check_idle_sessions: false`): a session not known dead is handed out at once. */
  constructor(target: HandoverTarget<S, W>, waitForPoll = true) {
    this.#target = target;
    this.#waitForPoll = waitForPoll;
  }

  /** Hands `session`, just taken from the pool, to `waiter`, unless it proves dead. */
  handOver(session: S, waiter: W): void {
    const target = this.#target;
    if (target.firstCheckout(session)) return target.deliver(session, waiter, true);
    // known dead already: no need to wait to find out
    if (!target.isAlive(session)) return target.replace(session, waiter);
    if (!this.#waitForPoll) return target.deliver(session, waiter, false);
    afterPendingIo(this.#afterPoll, session, waiter);
  }

  /** After the poll: the session goes to the waiter, unless it turned out dead. */
  readonly #afterPoll = (session: S, waiter: W): void => {
    const target = this.#target;
    if (target.isAlive(session)) target.deliver(session, waiter, false);
    else target.replace(session, waiter);
  };
}
