// Live URLs for the tiles of a wall: every tile that starts in the same moment (a link with sixteen cameras, a tour
// step, a layout restored) is asked for in one POST /live, so the platform answers one request in one transaction
// rather than sixteen queued one behind the other. A tile starting on its own costs the same single request.
import { api, ApiError } from "../api.js";

const MAX_BATCH = 64; // what the API takes at once

let waiting = []; // {camera, stream, transport, resolve, reject}
let scheduled = false;

/** The live URLs of one camera ({ws_url, hls_url, …}), or an ApiError with the status the platform gave it. */
export function requestLive(camera, stream, transport) {
  return new Promise((resolve, reject) => {
    waiting.push({ camera, stream, transport, resolve, reject });
    if (!scheduled) {
      scheduled = true;
      // After this task: the tiles a single change starts all queue before anything is sent.
      setTimeout(flush, 0);
    }
  });
}

function flush() {
  scheduled = false;
  const queued = waiting;
  waiting = [];
  const groups = new Map();
  for (const ask of queued) {
    const list = groups.get(ask.transport) || [];
    list.push(ask);
    groups.set(ask.transport, list);
  }
  for (const [transport, asks] of groups) {
    for (let start = 0; start < asks.length; start += MAX_BATCH) send(transport, asks.slice(start, start + MAX_BATCH));
  }
}

async function send(transport, asks) {
  let answer;
  try {
    answer = await api.post("/live", {
      transport,
      items: asks.map(({ camera, stream }) => ({ camera, stream })),
    });
  } catch (error) {
    for (const ask of asks) ask.reject(error);
    return;
  }
  asks.forEach((ask, index) => {
    const item = answer?.items?.[index];
    if (item?.live) ask.resolve(item.live);
    else if (item?.error) ask.reject(new ApiError(item.error.status, item.error));
    else ask.reject(new ApiError(0, { detail: "the platform did not answer for this camera" }));
  });
}
