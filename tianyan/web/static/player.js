// Tianyan player: live view (fMP4 over WebSocket into Media Source Extensions, native HLS when MSE is missing)
// and recorded playback (fMP4 over HTTP into MSE), with play/pause, speed, frame step and a wall-clock timeline.
//
// Query parameters: camera=<GB ID> (required), mode=live|playback, stream=main|sub, transport=ws|hls,
// from=<ISO time>, to=<ISO time> (playback), fps=<frames per second for frame stepping, default 25>.
"use strict";

(() => {
  const API = "/api/v1";
  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const video = $("video");
  const ui = {
    camera: $("camera-label"), badge: $("mode-badge"), clock: $("wall-clock"), state: $("state"),
    error: $("error"), timeline: $("timeline"), track: $("track"), spans: $("spans"), cursor: $("cursor"),
    tlStart: $("tl-start"), tlEnd: $("tl-end"), play: $("play"), stepBack: $("step-back"), step: $("step"),
    speed: $("speed"), liveEdge: $("live-edge"), info: $("info"),
  };

  // What tests and other pages may read: the player's state, and the errors it has shown.
  const player = {
    mode: params.get("mode") === "playback" ? "playback" : "live",
    camera: params.get("camera") || "",
    stream: params.get("stream") === "sub" ? "sub" : "main",
    transport: params.get("transport") === "hls" ? "hls" : "ws",
    fps: Number(params.get("fps")) || 25,
    header: null,
    technique: null, // "mse-ws", "mse-http", "hls"
    errors: [],
    state: "starting",
  };
  window.tianyanPlayer = player;

  const CLOSE_MESSAGES = {
    4401: "The stream link is invalid or expired",
    4403: "The stream link is not valid for this camera",
    4408: "The connection was too slow for this stream",
    4503: "The camera's stream is unavailable",
    1011: "The server hit an error",
  };
  const LIVE_MAX_LATENCY_S = 3.0;
  const KEEP_BEHIND_S = 20;
  const PLAYBACK_AHEAD_S = 60;

  // --- small helpers ---------------------------------------------------------------------------------------------

  function setState(text) {
    player.state = text;
    ui.state.textContent = text;
  }

  function showError(message) {
    player.errors.push(message);
    ui.error.textContent = message;
    ui.error.hidden = false;
    setState("error");
  }

  function clearError() {
    ui.error.hidden = true;
    ui.error.textContent = "";
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function formatTime(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
      `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }

  async function problemText(response) {
    try {
      const body = await response.json();
      return body.detail || body.title || `HTTP ${response.status}`;
    } catch {
      return `HTTP ${response.status} ${response.statusText}`;
    }
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status === 401) {
      throw new Error(`Not logged in: ${await problemText(response)}`);
    }
    if (!response.ok) {
      throw new Error(await problemText(response));
    }
    return response.json();
  }

  function mseConstructor() {
    return window.MediaSource || window.ManagedMediaSource || null;
  }

  function canPlayHls() {
    return video.canPlayType("application/vnd.apple.mpegurl") !== "";
  }

  function bufferedRange() {
    const ranges = video.buffered;
    if (!ranges.length) return null;
    return { start: ranges.start(0), end: ranges.end(ranges.length - 1) };
  }

  // --- MSE: a SourceBuffer fed through a queue, since appends must wait for the previous one ---------------------

  class MseSink {
    constructor(mode = "segments") {
      const Source = mseConstructor();
      this.mode = mode;
      this.source = new Source();
      this.buffer = null;
      this.mime = null;
      this.pending = [];
      this.failed = null;
      this.url = URL.createObjectURL(this.source);
      this.opened = new Promise((resolve) => this.source.addEventListener("sourceopen", resolve, { once: true }));
      video.disableRemotePlayback = true;
      // A new source must not undo the user's pause (the element's autoplay would start it again).
      video.autoplay = !player.userPaused;
      video.src = this.url;
    }

    configure(mime) {
      const Source = mseConstructor();
      if (!Source.isTypeSupported(mime)) {
        throw new Error(`This browser cannot decode this stream (${mime}).`);
      }
      if (this.buffer === null) {
        this.buffer = this.source.addSourceBuffer(mime);
        // Live uses "sequence": each append follows the last, whatever its timestamps (new runs restart at 0).
        this.buffer.mode = this.mode;
        this.buffer.addEventListener("updateend", () => this.drain());
        this.buffer.addEventListener("error", () => { this.failed = "the browser could not append media"; });
      } else if (mime !== this.mime && typeof this.buffer.changeType === "function") {
        this.buffer.changeType(mime);
      }
      this.mime = mime;
    }

    append(chunk) {
      if (this.failed) return;
      this.pending.push(new Uint8Array(chunk));
      this.drain();
    }

    drain() {
      const buffer = this.buffer;
      if (!buffer || buffer.updating || !this.pending.length || this.source.readyState !== "open") return;
      let data = this.pending[0];
      if (this.pending.length > 1) {
        const size = this.pending.reduce((sum, part) => sum + part.byteLength, 0);
        data = new Uint8Array(size);
        let at = 0;
        for (const part of this.pending) {
          data.set(part, at);
          at += part.byteLength;
        }
      }
      this.pending = [];
      try {
        buffer.appendBuffer(data);
      } catch (error) {
        if (error.name === "QuotaExceededError") {
          // The browser's buffer is full: drop what was already watched and try again.
          this.pending.unshift(data);
          this.trim(2);
        } else {
          this.failed = `${error.name}: ${error.message}`;
        }
      }
    }

    trim(keepBehindS) {
      const buffer = this.buffer;
      const range = bufferedRange();
      if (!buffer || buffer.updating || !range) return;
      const cut = video.currentTime - keepBehindS;
      if (cut > range.start + 1) {
        try {
          buffer.remove(range.start, cut);
        } catch {
          // removing is an optimisation; the next trim tries again
        }
      }
    }

    aheadS() {
      const range = bufferedRange();
      return range ? range.end - video.currentTime : 0;
    }

    close() {
      this.pending = [];
      URL.revokeObjectURL(this.url);
    }
  }

  // --- live view -------------------------------------------------------------------------------------------------

  const live = { socket: null, sink: null, retryMs: 2000, stopped: false, timer: null };

  function startHls(url, why) {
    if (!canPlayHls()) {
      showError(`${why ? why + " " : ""}This browser supports neither Media Source Extensions nor HLS.`);
      return;
    }
    player.technique = "hls";
    ui.info.textContent = "HLS";
    video.src = url;
    video.play().catch(() => {});
    setState("live (HLS)");
  }

  async function startLive() {
    ui.speed.disabled = true;
    ui.stepBack.disabled = true;
    ui.liveEdge.hidden = false;
    clearError();
    setState("asking for the stream…");
    let info;
    try {
      info = await postJson(`${API}/cameras/${encodeURIComponent(player.camera)}/live`, {
        stream: player.stream,
        transport: player.transport,
      });
    } catch (error) {
      showError(`Cannot open the live stream: ${error.message}`);
      if (!String(error.message).startsWith("Not logged in")) scheduleLiveRetry();
      return;
    }
    if (player.transport === "hls" || !mseConstructor()) {
      startHls(info.hls_url, mseConstructor() ? "" : "Media Source Extensions are not available;");
      return;
    }
    openSocket(info);
  }

  function openSocket(info) {
    player.technique = "mse-ws";
    ui.info.textContent = "MSE · WebSocket";
    const socket = new WebSocket(info.ws_url);
    socket.binaryType = "arraybuffer";
    live.socket = socket;
    let sink = null;
    let waiting = [];
    setState("connecting…");

    function newSink() {
      // A new MediaSource for each change of codec or track set: a SourceBuffer cannot gain or lose tracks.
      if (sink) sink.close();
      sink = new MseSink("sequence");
      live.sink = sink;
      const mine = sink;
      mine.opened.then(() => {
        const queued = waiting;
        waiting = [];
        for (const message of queued) handle(message);
      });
      return mine;
    }

    function handleHeader(header) {
      player.header = header;
      if (!sink || (sink.mime && sink.mime !== header.mime_codec)) newSink();
      if (sink.source.readyState !== "open") {
        waiting.push(JSON.stringify(header));
        return false;
      }
      try {
        sink.configure(header.mime_codec);
      } catch (error) {
        socket.close(1000, "unsupported codec");
        live.socket = null;
        live.stopped = true;
        if (canPlayHls()) {
          startHls(info.hls_url, error.message);
        } else {
          const hint = header.codec === "h265" ? " H.265 needs a browser with HEVC support." : "";
          showError(`${error.message}${hint}`);
        }
        return false;
      }
      const size = header.width && header.height ? ` · ${header.width}×${header.height}` : "";
      ui.info.textContent = `MSE · WebSocket · ${header.codec}${size}`;
      clearError();
      setState("live");
      return true;
    }

    function handle(data) {
      if (typeof data === "string") {
        handleHeader(JSON.parse(data));
      } else if (sink && sink.buffer && sink.source.readyState === "open") {
        sink.append(data);
      } else if (sink) {
        waiting.push(data);
      }
    }

    socket.addEventListener("message", (event) => handle(event.data));
    socket.addEventListener("open", () => { live.retryMs = 2000; });
    socket.addEventListener("close", (event) => {
      if (live.socket !== socket || live.stopped) return;
      live.socket = null;
      const reason = event.reason || "";
      if (event.code === 1000) {
        setState(`stream ended${reason ? ": " + reason : ""}`);
      } else {
        const what = CLOSE_MESSAGES[event.code] || `The connection closed (code ${event.code})`;
        showError(`${what}${reason ? ": " + reason : ""}. Reconnecting…`);
      }
      scheduleLiveRetry();
    });
  }

  function scheduleLiveRetry() {
    if (live.stopped) return;
    clearTimeout(live.timer);
    live.timer = setTimeout(() => {
      if (live.sink) live.sink.close();
      startLive();
    }, live.retryMs);
    live.retryMs = Math.min(live.retryMs * 2, 30000);
  }

  function keepLive() {
    // Stay near the newest picture, start at the first buffered one, and forget what was watched.
    if (player.technique !== "mse-ws" || !live.sink) return;
    if (live.sink.failed) {
      const message = live.sink.failed;
      live.sink.failed = null;
      showError(`Playback failed: ${message}. Reconnecting…`);
      if (live.socket) live.socket.close(1000, "player error");
      live.socket = null;
      scheduleLiveRetry();
      return;
    }
    const range = bufferedRange();
    if (!range) return;
    if (video.currentTime < range.start || (!video.paused && range.end - video.currentTime > LIVE_MAX_LATENCY_S)) {
      video.currentTime = Math.max(range.start, range.end - 0.5);
    }
    if (video.paused && !player.userPaused) video.play().catch(() => {});
    live.sink.trim(KEEP_BEHIND_S);
  }

  // --- recorded playback -----------------------------------------------------------------------------------------
  //
  // POST /cameras/{id}/playback {from, to} answers with stream_url, mime_type, `from` (the keyframe the timeline
  // begins with), `timeline` ([{media_s, wall_at}], where each recorded span starts on the media clock) and `gaps`.
  // The stream's time zero sits at X-Media-Start seconds on that media clock; `start=<ISO time>` seeks.

  const playback = { info: null, from: null, to: null, spans: [], mediaStart: 0, abort: null, sink: null };

  function parseTime(text) {
    if (!text) return null;
    const value = new Date(/^\d+$/.test(text) ? Number(text) * 1000 : text);
    return Number.isNaN(value.getTime()) ? null : value;
  }

  function mimeOf(info) {
    if (info.mime_type) return info.mime_type;
    const codec = info.mime_codec || "";
    return codec.includes("/") ? codec : `video/mp4; codecs="${codec}"`;
  }

  async function startPlayback() {
    ui.liveEdge.hidden = true;
    ui.timeline.hidden = false;
    playback.from = parseTime(params.get("from"));
    playback.to = parseTime(params.get("to"));
    if (!playback.from || !playback.to || playback.from >= playback.to) {
      showError("Playback needs from= and to= times (ISO 8601 with an offset), from before to.");
      return;
    }
    if (!mseConstructor()) {
      showError("Recorded playback needs Media Source Extensions, which this browser does not have.");
      return;
    }
    setState("looking up recordings…");
    try {
      playback.info = await postJson(`${API}/cameras/${encodeURIComponent(player.camera)}/playback`, {
        from: playback.from.toISOString(),
        to: playback.to.toISOString(),
      });
    } catch (error) {
      showError(`Cannot play the recording: ${error.message}`);
      return;
    }
    const info = playback.info;
    playback.from = parseTime(info.from) || playback.from;
    playback.to = parseTime(info.to) || playback.to;
    playback.spans = (info.timeline || [])
      .map((span) => ({ media: Number(span.media_s), wall: parseTime(span.wall_at) }))
      .filter((span) => span.wall && Number.isFinite(span.media))
      .sort((a, b) => a.media - b.media);
    ui.tlStart.textContent = formatTime(playback.from);
    ui.tlEnd.textContent = formatTime(playback.to);
    drawTimeline(info.gaps || []);
    await seekPlayback(null);
  }

  function drawTimeline(gaps) {
    // Recorded footage is the bar; gaps (with their cause) are cut out of it.
    ui.spans.textContent = "";
    const total = playback.to - playback.from;
    const recorded = document.createElement("div");
    recorded.style.left = "0";
    recorded.style.width = "100%";
    ui.spans.appendChild(recorded);
    for (const gap of gaps) {
      const start = parseTime(gap.from || gap.start);
      const end = parseTime(gap.to || gap.end);
      if (!start || !end) continue;
      const left = Math.max(0, (start - playback.from) / total);
      const right = Math.min(1, (end - playback.from) / total);
      if (right <= left) continue;
      const bar = document.createElement("div");
      bar.className = "gap";
      bar.style.left = `${left * 100}%`;
      bar.style.width = `${(right - left) * 100}%`;
      bar.title = `no recording ${formatTime(start)} – ${formatTime(end)}${gap.cause ? " (" + gap.cause + ")" : ""}`;
      ui.spans.appendChild(bar);
    }
  }

  function wallAtMedia(mediaS) {
    let chosen = null;
    for (const span of playback.spans) {
      if (span.media <= mediaS + 1e-6) chosen = span;
    }
    if (!chosen) return new Date(playback.from.getTime() + mediaS * 1000);
    return new Date(chosen.wall.getTime() + (mediaS - chosen.media) * 1000);
  }

  async function seekPlayback(at) {
    if (playback.abort) playback.abort.abort();
    if (playback.sink) playback.sink.close();
    const controller = new AbortController();
    playback.abort = controller;
    clearError();
    const sink = new MseSink();
    playback.sink = sink;
    player.technique = "mse-http";
    ui.info.textContent = "MSE · HTTP";
    await sink.opened;
    const mime = mimeOf(playback.info);
    try {
      sink.configure(mime);
    } catch (error) {
      showError(error.message);
      return;
    }
    player.header = { mime_codec: mime };
    const url = new URL(playback.info.stream_url, location.href);
    if (at) url.searchParams.set("start", at.toISOString());
    setState("loading…");
    let response;
    try {
      response = await fetch(url, { credentials: "same-origin", signal: controller.signal });
    } catch (error) {
      if (!controller.signal.aborted) showError(`Cannot load the recording: ${error.message}`);
      return;
    }
    if (!response.ok) {
      showError(`Cannot load the recording: ${await problemText(response)}`);
      return;
    }
    playback.mediaStart = Number(response.headers.get("X-Media-Start")) || 0;
    video.playbackRate = Number(ui.speed.value);
    if (!player.userPaused) video.play().catch(() => {});
    setState("playing");
    const reader = response.body.getReader();
    try {
      for (;;) {
        while (sink.aheadS() > PLAYBACK_AHEAD_S && !controller.signal.aborted) await sleep(250);
        const { done, value } = await reader.read();
        if (done) break;
        sink.append(value);
        if (sink.failed) throw new Error(sink.failed);
      }
      if (!controller.signal.aborted) setState("playing (all loaded)");
    } catch (error) {
      if (!controller.signal.aborted) showError(`The recording stopped loading: ${error.message}`);
    }
  }

  function playbackWallTime() {
    if (!playback.info || !bufferedRange()) return null;
    return wallAtMedia(playback.mediaStart + video.currentTime);
  }

  function keepPlayback() {
    const range = bufferedRange();
    if (range && video.currentTime < range.start) video.currentTime = range.start;
    if (playback.sink) playback.sink.trim(KEEP_BEHIND_S);
    if (range && video.ended === false && !video.paused && player.state.startsWith("playing (all")) {
      if (range.end - video.currentTime < 0.05) setState("end of the recording");
    }
  }

  ui.track.addEventListener("click", (event) => {
    if (player.mode !== "playback" || !playback.info) return;
    const box = ui.track.getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    seekPlayback(new Date(playback.from.getTime() + fraction * (playback.to - playback.from)));
  });

  // --- controls --------------------------------------------------------------------------------------------------

  ui.play.addEventListener("click", () => {
    if (video.paused) {
      player.userPaused = false;
      if (player.mode === "live") {
        const range = bufferedRange();
        if (range) video.currentTime = Math.max(range.start, range.end - 0.5);
      }
      video.play().catch((error) => showError(`Cannot play: ${error.message}`));
    } else {
      player.userPaused = true;
      video.pause();
    }
  });

  function step(frames) {
    player.userPaused = true;
    video.pause();
    const range = bufferedRange();
    let target = video.currentTime + frames / player.fps;
    if (range) target = Math.min(Math.max(target, range.start), range.end);
    video.currentTime = target;
  }

  ui.step.addEventListener("click", () => step(1));
  ui.stepBack.addEventListener("click", () => step(-1));
  ui.speed.addEventListener("change", () => { video.playbackRate = Number(ui.speed.value); });
  ui.liveEdge.addEventListener("click", () => {
    player.userPaused = false;
    const range = bufferedRange();
    if (range) video.currentTime = Math.max(range.start, range.end - 0.5);
    video.play().catch(() => {});
  });

  video.addEventListener("play", () => { ui.play.textContent = "pause"; });
  video.addEventListener("pause", () => { ui.play.textContent = "play"; });
  video.addEventListener("error", () => {
    const error = video.error;
    const codes = { 1: "aborted", 2: "network error", 3: "the picture could not be decoded", 4: "format not supported" };
    const what = error ? codes[error.code] || `error ${error.code}` : "unknown error";
    showError(`The video element failed: ${what}${error && error.message ? " (" + error.message + ")" : ""}.`);
  });

  function tick() {
    if (player.mode === "live") {
      keepLive();
      const range = bufferedRange();
      const lag = range ? Math.max(0, range.end - video.currentTime) : 0;
      ui.clock.textContent = formatTime(new Date(Date.now() - lag * 1000));
    } else {
      keepPlayback();
      const wall = playbackWallTime();
      if (wall) {
        ui.clock.textContent = formatTime(wall);
        const fraction = (wall - playback.from) / (playback.to - playback.from);
        ui.cursor.style.left = `${Math.min(1, Math.max(0, fraction)) * 100}%`;
      }
    }
  }

  // --- start -----------------------------------------------------------------------------------------------------

  ui.camera.textContent = player.camera || "no camera";
  ui.badge.textContent = player.mode === "live" ? "LIVE" : "PLAYBACK";
  if (!/^\d{20}$/.test(player.camera)) {
    showError("Give the camera's 20-digit GB ID as ?camera=… in the address.");
    return;
  }
  setInterval(tick, 250);
  if (player.mode === "live") {
    startLive();
  } else {
    startPlayback();
  }
})();
