/**
 * Runs `fn` once the event loop has polled sockets twice, so that a FIN or RST the kernel
 * already holds for a pooled session has reached the driver before the session is handed over.
 *
 * Why two turns: a peer that answered and then closed (a server restarting, a proxy dropping
 * connections) leaves the answer and the FIN in the socket together. libuv stops reading after
 * a short read, so the answer is processed in one poll phase and the end of the stream only in
 * the next; one turn would let the caller that gets the session next write to a dead socket.
 */
export function afterPendingIo(fn: () => void): void {
  if (batch) {
    batch.push(fn);
    return;
  }
  const started = [fn];
  batch = started;
  setImmediate(() => {
    // later requests need their own two turns: they start a new batch
    batch = undefined;
    setImmediate(runAll, started);
  });
}

/**
 * Requests made before the first turn's check phase share its two turns: a busy pool hands over
 * many sessions per turn, and a pair of immediates each was measurable (queued callbacks, GC).
 */
let batch: Array<() => void> | undefined;

function runAll(fns: Array<() => void>): void {
  for (const fn of fns) {
    try {
      fn();
    } catch (error) {
      // as uncaught as it would have been alone, without starving the rest of the batch
      process.nextTick(() => {
        throw error;
      });
    }
  }
}

