// Live view of one camera in a <video>: asks the API for a signed stream URL, plays fMP4 over WebSocket through
// Media Source Extensions, and falls back to HLS (hls.js, or the browser's own HLS where there is no MSE) when the
// socket cannot get through. It keeps the picture near the live edge, notices when frames stop coming, reconnects
// with backoff, and reports what it is doing as a small state object (never per frame):
//
//   {state, reason, detail, technique, stream, codec, width, height, retryInMs}
//
//   state:  "connecting" | "playing" | "stalled" | "error" | "stopped"
//   reason: why it is not playing (see REASONS); the console translates it as live.reason.<reason>.
//
// The WebSocket carries a JSON text message {type: "init", mime_codec, codec, width, height, version} before each
// init segment, then binary fMP4 fragments. It closes with 4401 (token invalid or expired), 4403 (token for something
// else), 4408 (this viewer fell too far behind), 4503 (the camera's stream cannot be started), 1000 (stream ended).
import { ApiError } from "../api.js";
import { requestLive } from "./live-tickets.js";
import { openSocket } from "./socket-gate.js";
import { canDecode, mediaSourceClass, MseSink } from "./mse-sink.js";

export const STATES = ["connecting", "playing", "stalled", "error", "stopped"];
export const REASONS = [
  "denied", "notFound", "offline", "unavailable", "noSource", "expired", "session", "network", "server", "tooSlow",
  "ended", "unsupported", "badRequest", "decode", "timeout", "noFrames",
];

const MAX_LATENCY_S = 3.0; // further behind the newest frame than this: jump to the live edge
const LIVE_EDGE_S = 0.4; // where a jump lands, before the newest frame so playback does not starve at once
const KEEP_BEHIND_S = 10; // watched video kept in the buffer
const STALL_AFTER_MS = 4000; // no new frame for this long: "stalled"
const RECONNECT_AFTER_MS = 10000; // stalled (or still connecting) this long: start the stream afresh
const CONNECT_TIMEOUT_MS = 20000;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;
const TICK_MS = 1000;
const SOCKET_FAILURES_BEFORE_HLS = 2;
// Reasons a retry cannot fix: the user must act (log in again, ask for permission) or the camera is not there.
const FINAL = new Set(["denied", "notFound", "session", "badRequest", "unsupported"]);
// Reasons that are a hiccup on the way rather than a fault: shown as "stalled" while the player reconnects.
const TRANSIENT = new Set(["tooSlow", "ended", "network", "decode", "expired", "noFrames"]);

function gbIdOf(camera) {
  return typeof camera === "string" ? camera : camera?.gb_id;
}

/** What went wrong when asking for the stream URL, as one of REASONS. */
export function requestReason(error) {
  if (!(error instanceof ApiError)) return "network";
  if (error.status === 401) return "session";
  if (error.status === 403) return "denied";
  if (error.status === 404) return "notFound";
  if (error.status === 400 || error.status === 422) return "badRequest";
  if (error.status === 503) return /offline|not online/i.test(error.message) ? "offline" : "unavailable";
  if (error.status === 0) return "network";
  return "server";
}

/** Why the media socket closed, as one of REASONS. */
export function closeReason(code, text = "") {
  switch (code) {
    case 4401:
    case 4403:
      return "expired";
    case 4408:
      return "tooSlow";
    case 4503:
      if (/offline|not online/i.test(text)) return "offline";
      if (/no GB\/T 28181 device/i.test(text)) return "noSource";
      return "unavailable";
    case 1000:
      return "ended";
    case 1011:
      return "server";
    default:
      return "network";
  }
}

export class LivePlayer {
  /**
   * @param {HTMLVideoElement} video
   * @param {{camera: string|{gb_id: string}, stream?: "main"|"sub", onState?: (status: object) => void,
   *          transport?: "auto"|"hls"}} options
   */
  constructor(video, { camera, stream = "main", onState = () => {}, transport = "auto" } = {}) {
    this.video = video;
    this.gbId = gbIdOf(camera);
    this.stream = stream === "sub" ? "sub" : "main";
    this.onState = onState;
    this.useHls = transport === "hls" || !mediaSourceClass();
    this.status = { state: "stopped", reason: null, detail: "", technique: null, stream: this.stream, codec: null,
      width: null, height: null, retryInMs: null };
    this.running = false;
    this.attempt = 0; // each connection attempt's number; callbacks of older attempts are ignored
    this.failures = 0; // consecutive attempts that ended without playing
    this.socketFailures = 0; // consecutive sockets that never opened
    this.socket = null;
    this.sink = null;
    this.hls = null;
    this.retryTimer = null;
    this.ticker = null;
    this.ticks = 0;
    this.lastTime = 0;
    this.lastProgressAt = 0;
    this.connectStartedAt = 0;
    this.onVideoError = () => {
      if (this.running && this.status.state !== "error") this.lost("decode", this.video.error?.message || "");
    };
    // The first frames moving say "playing" at once; the once-a-second tick would make a wall wait up to two ticks.
    // Only a change of state is reported, so this costs nothing once the tile plays.
    this.onTimeUpdate = () => {
      const state = this.status.state;
      if (!this.running || this.retryTimer || (state !== "connecting" && state !== "stalled")) return;
      if (this.video.readyState >= 2 && this.video.currentTime > this.lastTime + 0.01) {
        this.lastProgressAt = performance.now();
        this.lastTime = this.video.currentTime;
        this.failures = 0;
        this.report({ state: "playing", reason: null, detail: "", retryInMs: null });
      }
    };
    video.muted = true; // a wall of cameras must not play sixteen soundtracks at once
    video.playsInline = true;
    video.autoplay = true;
  }

  start() {
    if (this.running) return;
    if (!this.gbId) throw new Error("LivePlayer needs a camera");
    this.running = true;
    this.video.addEventListener("error", this.onVideoError);
    this.video.addEventListener("timeupdate", this.onTimeUpdate);
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.connect();
  }

  /** Switch between the main and the sub stream; the last picture stays up until the new stream has one. */
  switchStream(stream) {
    const wanted = stream === "sub" ? "sub" : "main";
    if (wanted === this.stream) return;
    this.stream = wanted;
    this.failures = 0;
    if (this.running) this.connect();
    else this.report({ stream: wanted });
  }

  /** Try again now (after an error, or to pick up a camera that came back). */
  retry() {
    if (!this.running) return this.start();
    this.failures = 0;
    this.connect();
  }

  stop() {
    this.running = false;
    this.attempt += 1;
    clearInterval(this.ticker);
    clearTimeout(this.retryTimer);
    this.ticker = this.retryTimer = null;
    this.video.removeEventListener("error", this.onVideoError);
    this.video.removeEventListener("timeupdate", this.onTimeUpdate);
    this.teardown({ keepPicture: false });
    this.report({ state: "stopped", reason: null, detail: "", retryInMs: null });
  }

  // --- connecting ------------------------------------------------------------------------------------------------

  async connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const attempt = ++this.attempt;
    this.teardown({ keepPicture: true });
    this.connectStartedAt = performance.now();
    this.lastProgressAt = 0;
    this.lastTime = this.video.currentTime;
    this.report({ state: "connecting", reason: null, detail: "", retryInMs: null, stream: this.stream });
    let info;
    try {
      info = await requestLive(this.gbId, this.stream, this.useHls ? "hls" : "ws");
    } catch (error) {
      if (attempt === this.attempt) this.lost(requestReason(error), error.message || String(error));
      return;
    }
    if (attempt !== this.attempt) return;
    if (this.useHls) this.openHls(info, attempt);
    else this.openSocket(info, attempt);
  }

  async openSocket(info, attempt) {
    // Through the gate: a wall's sixteen sockets opened at once would be held back by the browser's throttle.
    const socket = await openSocket(info.ws_url, () => attempt !== this.attempt || !this.running);
    if (!socket) return;
    if (attempt !== this.attempt || !this.running) {
      socket.close(1000);
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.report({ technique: "mse-ws" });
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.socketFailures = 0;
    };
    socket.onmessage = (event) => {
      if (attempt !== this.attempt) return;
      if (typeof event.data === "string") this.onHeader(event.data, info, attempt);
      else if (this.sink) this.sink.append(event.data);
    };
    socket.onclose = (event) => {
      if (attempt !== this.attempt || !this.running) return;
      this.socket = null;
      if (!opened && event.code === 1006) {
        // Never got through (a proxy that does not pass WebSockets?): after a couple of tries, use HLS over HTTP.
        this.socketFailures += 1;
        if (this.socketFailures >= SOCKET_FAILURES_BEFORE_HLS) this.useHls = true;
      }
      this.lost(closeReason(event.code, event.reason), event.reason || `WebSocket closed (${event.code})`);
    };
  }

  onHeader(text, info, attempt) {
    let header;
    try {
      header = JSON.parse(text);
    } catch {
      return; // not a header; nothing else comes as text
    }
    if (!header.mime_codec) return;
    if (!canDecode(header.mime_codec)) {
      // MSE cannot decode this codec (H.265 in most browsers); the browser's own HLS player may.
      if (this.video.canPlayType("application/vnd.apple.mpegurl")) {
        this.closeSocket();
        this.useHls = true;
        this.openHls(info, attempt);
      } else {
        this.lost("unsupported", `${header.codec || header.mime_codec}`);
      }
      return;
    }
    if (!this.sink || !this.sink.configure(header.mime_codec)) {
      // A SourceBuffer cannot change codec here: start a new MediaSource for the new stream.
      if (this.sink) this.sink.close();
      this.sink = new MseSink(this.video, (message) => {
        if (attempt === this.attempt) this.lost("decode", message);
      });
      this.sink.configure(header.mime_codec);
    }
    this.report({ codec: header.codec || null, width: header.width || null, height: header.height || null });
    this.video.play().catch(() => {});
  }

  async openHls(info, attempt) {
    this.report({ technique: "hls" });
    const video = this.video;
    if (!mediaSourceClass() && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = info.hls_url;
      video.play().catch(() => {});
      return;
    }
    let Hls;
    try {
      ({ default: Hls } = await import("hls.js"));
    } catch (error) {
      if (attempt === this.attempt) this.lost("network", error.message);
      return;
    }
    if (attempt !== this.attempt) return;
    if (!Hls.isSupported()) {
      this.lost("unsupported", "HLS");
      return;
    }
    const hls = new Hls({
      liveSyncDurationCount: 2,
      liveMaxLatencyDurationCount: 4,
      maxLiveSyncPlaybackRate: 1.5,
      maxBufferLength: 8,
      backBufferLength: KEEP_BEHIND_S,
      manifestLoadingMaxRetry: 1,
    });
    this.hls = hls;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || attempt !== this.attempt) return;
      const code = data.response?.code;
      let reason = "network";
      if (code === 401 || code === 403) reason = "expired";
      else if (code === 404) reason = "ended";
      else if (code === 503) reason = "unavailable";
      else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) reason = "decode";
      this.lost(reason, data.details || "");
    });
    hls.loadSource(info.hls_url);
    hls.attachMedia(video);
    video.play().catch(() => {});
  }

  // --- keeping it live -------------------------------------------------------------------------------------------

  tick() {
    if (!this.running) return;
    this.ticks += 1;
    const video = this.video;
    const now = performance.now();
    const state = this.status.state;
    if (this.retryTimer || (state !== "connecting" && state !== "playing" && state !== "stalled")) return;
    if (video.currentTime > this.lastTime + 0.01 && video.readyState >= 2) {
      this.lastProgressAt = now;
      if (state !== "playing") {
        this.failures = 0;
        this.report({ state: "playing", reason: null, detail: "", retryInMs: null });
      }
    } else if (state === "playing" && now - this.lastProgressAt > STALL_AFTER_MS) {
      this.report({ state: "stalled", reason: "noFrames", detail: "" });
    }
    this.lastTime = video.currentTime;
    const since = this.lastProgressAt || this.connectStartedAt;
    if (state === "connecting" && !this.lastProgressAt && now - this.connectStartedAt > CONNECT_TIMEOUT_MS) {
      this.lost("timeout", "");
      return;
    }
    if (this.status.state === "stalled" && now - since > RECONNECT_AFTER_MS) {
      this.lost("noFrames", "");
      return;
    }
    if (this.sink) this.keepNearLiveEdge();
    if (video.paused && video.readyState >= 2) video.play().catch(() => {});
  }

  keepNearLiveEdge() {
    const video = this.video;
    const ranges = video.buffered;
    if (!ranges.length) return;
    const last = ranges.length - 1;
    const end = ranges.end(last);
    let inside = false;
    for (let i = 0; i < ranges.length; i += 1) {
      if (video.currentTime >= ranges.start(i) && video.currentTime <= ranges.end(i)) inside = true;
    }
    if (!inside || end - video.currentTime > MAX_LATENCY_S) {
      video.currentTime = Math.max(ranges.start(last), end - LIVE_EDGE_S);
      this.lastTime = video.currentTime;
    }
    if (this.ticks % 10 === 0) this.sink.trim(KEEP_BEHIND_S);
  }

  // --- failures and clean-up -------------------------------------------------------------------------------------

  lost(reason, detail) {
    if (!this.running) return;
    this.attempt += 1;
    this.teardown({ keepPicture: true });
    if (FINAL.has(reason)) {
      this.report({ state: "error", reason, detail, retryInMs: null });
      return;
    }
    this.failures += 1;
    const delay = Math.min(RETRY_MIN_MS * 2 ** (this.failures - 1), RETRY_MAX_MS);
    // A hiccup shows as "stalled" until it repeats; a camera that cannot stream shows why at once.
    const state = TRANSIENT.has(reason) && this.failures <= 2 ? "stalled" : "error";
    this.report({ state, reason, detail, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      if (this.running) this.connect();
    }, delay);
  }

  closeSocket() {
    const socket = this.socket;
    this.socket = null;
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) socket.close(1000);
  }

  teardown({ keepPicture }) {
    const video = this.video;
    if (keepPicture) this.holdLastPicture();
    else video.removeAttribute("poster");
    this.closeSocket();
    if (this.sink) {
      this.sink.close();
      this.sink = null;
    }
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    if (video.getAttribute("src")) {
      video.removeAttribute("src");
      video.load();
    }
  }

  /** Keep the last frame on screen (as the poster) while the stream restarts, rather than a black box. */
  holdLastPicture() {
    const video = this.video;
    if (video.readyState < 2 || !video.videoWidth) return;
    try {
      const canvas = document.createElement("canvas");
      const scale = Math.min(1, 640 / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
      video.poster = canvas.toDataURL("image/jpeg", 0.7);
    } catch {
      // a picture we may not read (should not happen for our own streams): no poster then
    }
  }

  report(change) {
    const next = { ...this.status, ...change };
    const keys = Object.keys(next);
    if (keys.every((key) => next[key] === this.status[key])) return;
    this.status = next;
    this.onState({ ...next });
  }
}
