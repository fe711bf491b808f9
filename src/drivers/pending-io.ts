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
  setImmediate(() => setImmediate(fn));
}

/** {@link afterPendingIo} as a promise. */
export function pendingIoSeen(): Promise<void> {
  return new Promise((resolve) => afterPendingIo(resolve));
}
