/**
 * Runs `fn(a, b)` once the event loop has polled sockets twice, so that a FIN or RST the kernel
 * already holds for a pooled session has reached the driver before the session is handed over.
 *
 * Why two turns: a peer that answered and then closed (a server restarting, a proxy dropping
 * connections) leaves the answer and the FIN in the socket together. libuv stops reading after
 * a short read, so the answer is processed in one poll phase and the end of the stream only in
 * the next; one turn would let the caller that gets the session next write to a dead socket.
 *
 * The arguments are passed rather than captured: a busy pool hands over a session per query,
 * and a closure each was measurable (allocation, scavenges).
 */
export function afterPendingIo<A, B>(fn: (a: A, b: B) => void, a: A, b: B): void {
  if (batch) {
    batch.push(fn as Handover, a, b);
    return;
  }
  const started: unknown[] = [fn, a, b];
  batch = started;
  setImmediate(() => {
    // later requests need their own two turns: they start a new batch
    batch = undefined;
    setImmediate(runAll, started);
  });
}

type Handover = (a: unknown, b: unknown) => void;

/**
 * Requests made before the first turn's check phase share its two turns, as flat
 * `fn, a, b` triples: a busy pool hands over many sessions per turn, and a pair of immediates
 * each was measurable (queued callbacks, GC).
 */
let batch: unknown[] | undefined;

function runAll(entries: unknown[]): void {
  for (let i = 0; i < entries.length; i += 3) {
    try {
      (entries[i] as Handover)(entries[i + 1], entries[i + 2]);
    } catch (error) {
      // as uncaught as it would have been alone, without starving the rest of the batch
      process.nextTick(() => {
        throw error;
      });
    }
  }
}
