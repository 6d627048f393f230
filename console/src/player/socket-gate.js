// Opens media WebSockets a few at a time. Chromium delays each new WebSocket by a random 1-5 s times
// 2^(pending - 16) (its per-renderer throttle), so a wall that opens sixteen sockets at once waits seconds for the
// last ones; with at most four handshakes in flight the delay stays under a millisecond, and each handshake on its
// own takes a few milliseconds.

const MAX_CONNECTING = 4;

let connecting = 0;
const queue = []; // functions that open a socket, waiting for a free place

/**
 * Open a WebSocket when fewer than MAX_CONNECTING are still shaking hands. `open(url)` is called with the URL and
 * must return the socket; `cancelled()` is asked just before, so a tile that was closed meanwhile opens nothing.
 * Resolves with the socket, or null when cancelled.
 */
export function openSocket(url, cancelled = () => false) {
  return new Promise((resolve) => {
    queue.push({ url, cancelled, resolve });
    next();
  });
}

function next() {
  while (connecting < MAX_CONNECTING && queue.length) {
    const { url, cancelled, resolve } = queue.shift();
    if (cancelled()) {
      resolve(null);
      continue;
    }
    const socket = new WebSocket(url);
    connecting += 1;
    let done = false;
    const settle = () => {
      if (done) return;
      done = true;
      connecting -= 1;
      socket.removeEventListener("open", settle);
      socket.removeEventListener("close", settle);
      socket.removeEventListener("error", settle);
      next();
    };
    socket.addEventListener("open", settle);
    socket.addEventListener("close", settle);
    socket.addEventListener("error", settle);
    resolve(socket);
  }
}
