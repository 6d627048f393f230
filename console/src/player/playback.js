// Recorded playback of one camera in a <video>: POST /cameras/{id}/playback plans the range and hands back a signed
// stream URL and the timeline; the stream (fragmented MP4 over HTTP) is read with fetch and appended to a Media
// Source Extensions buffer as fast as the picture needs it, and what was watched long ago is dropped again.
//
// The stream's timestamps start at zero at the keyframe it begins with, which sits at `X-Media-Start` on the plan's
// media clock; the SourceBuffer's timestampOffset puts it there, so video.currentTime always reads media seconds
// and a seek within what is buffered is just a change of currentTime. A seek outside it restarts the stream.
import { ApiError, api } from "../api.js";
import { MediaTimeline, isoWithZone } from "./playbackTimeline.js";

export const SPEEDS = [0.5, 1, 2, 4];
export const STATES = ["loading", "playing", "paused", "ended", "error", "nofootage"];
// What each error reason's `code` can be (the page words them; `detail` carries the server's or browser's words).
export const ERROR_CODES = ["forbidden", "notFound", "noMse", "codec", "network", "decode", "server"];

const AHEAD_S = 20; // media buffered ahead of the play position (times the speed) before reading waits
const KEEP_BEHIND_S = 20; // media kept behind it, for a quick step back
const EVICT_SLICE_S = 10; // drop old media in slices, not after every chunk
const JOIN_AHEAD_S = 3; // a seek this little past what is buffered waits for the running stream instead
const END_SLACK_S = 0.3;
const TICK_MS = 200;
const EXTEND_EVERY_MS = 15000; // how often an ended player asks whether footage still being recorded has grown
const MAX_RANGE_MS = 24 * 3600 * 1000; // the API's longest playback range

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function mediaSourceClass() {
  return window.MediaSource || window.ManagedMediaSource || null;
}

async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = { title: response.statusText };
  }
  return new ApiError(response.status, body);
}

function reasonOf(error) {
  if (error instanceof ApiError) {
    const code = { 401: "forbidden", 403: "forbidden", 404: "notFound" }[error.status] || "server";
    return { code, detail: error.message, status: error.status };
  }
  if (error?.name === "TypeError") return { code: "network", detail: error.message };
  return { code: "server", detail: String(error?.message || error) };
}

export class PlaybackPlayer {
  #gen = 0;
  #controller = null;
  #source = null;
  #buffer = null;
  #objectUrl = null;
  #timer = null;
  #streamDone = false;
  #ended = false;
  #destroyed = false;
  #pendingSeek = null;
  #extendAt = 0;
  #extending = false;
  #restarting = Promise.resolve();
  #listeners = [];

  /**
   * @param {HTMLVideoElement} video
   * @param {{camera: string, from: number|Date, to: number|Date, onState?: Function, onTime?: Function}} options
   *   onState(state, reason) with state one of STATES and reason {code, detail} for "error";
   *   onTime(wallMs, mediaS) several times a second while there is a picture.
   */
  constructor(video, { camera, from, to, onState, onTime } = {}) {
    this.video = video;
    this.camera = camera;
    this.from = Number(new Date(from));
    this.to = Math.min(Number(new Date(to)), this.from + MAX_RANGE_MS);
    this.onState = onState || (() => {});
    this.onTime = onTime || (() => {});
    this.state = "loading";
    this.reason = null;
    this.info = null;
    this.timeline = null;
    this.speed = 1;
    this.userPaused = false;
  }

  /** Plan the range and start showing it at `startWall` (default: its first footage). */
  async open(startWall = null) {
    this.#setState("loading");
    let info;
    try {
      info = await this.#ask();
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.body?.title === "No recorded footage") {
        this.#setState("nofootage");
      } else {
        this.#fail(reasonOf(error));
      }
      return;
    }
    if (this.#destroyed) return;
    this.#adopt(info);
    if (!(await this.#attach())) return;
    this.#timer = setInterval(() => this.#tick(), TICK_MS);
    const start = this.#pendingSeek ?? startWall ?? this.timeline.start;
    this.#pendingSeek = null;
    this.seek(start);
  }

  /** The wall time on screen (ms), or null before there is any. */
  get wallTime() {
    if (!this.timeline || this.timeline.empty) return null;
    return this.timeline.wallAt(this.video.currentTime);
  }

  covers(wall) {
    return Boolean(this.timeline?.covers(wall));
  }

  nextFootage(wall) {
    return this.timeline ? this.timeline.nextFootage(wall) : null;
  }

  /** Show the picture at `wall`: at once when it is buffered, else by restarting the stream from the keyframe
   * before it. A time in a gap shows the footage after the gap. */
  seek(wall) {
    if (this.#destroyed || this.state === "nofootage") return;
    if (!this.timeline || !this.#buffer) {
      this.#pendingSeek = wall;
      return;
    }
    const { media, after } = this.timeline.mediaAt(wall);
    if (after) {
      this.#extend(wall, true);
      return;
    }
    this.#ended = false;
    if (this.#reachable(media)) {
      this.video.currentTime = media;
      this.#tick();
      return;
    }
    this.#restart(wall);
  }

  play() {
    this.userPaused = false;
    if (this.#ended && this.timeline) {
      this.seek(this.timeline.start);
      return;
    }
    this.video.play().catch(() => {});
    this.#tick();
  }

  pause() {
    this.userPaused = true;
    this.video.pause();
    this.#tick();
  }

  setSpeed(rate) {
    this.speed = SPEEDS.includes(Number(rate)) ? Number(rate) : 1;
    this.video.defaultPlaybackRate = this.speed;
    this.video.playbackRate = this.speed;
  }

  destroy() {
    this.#destroyed = true;
    this.#gen += 1;
    this.#controller?.abort();
    clearInterval(this.#timer);
    for (const [target, type, handler] of this.#listeners) target.removeEventListener(type, handler);
    this.#listeners = [];
    this.video.pause();
    this.video.removeAttribute("src");
    this.video.load();
    if (this.#objectUrl) URL.revokeObjectURL(this.#objectUrl);
  }

  // --- planning ------------------------------------------------------------------------------------------------

  #ask() {
    return api.post(`/cameras/${encodeURIComponent(this.camera)}/playback`, {
      from: isoWithZone(this.from),
      to: isoWithZone(this.to),
    });
  }

  #adopt(info) {
    this.info = info;
    this.timeline = new MediaTimeline(info.timeline, info.duration_s);
    if (this.#source?.readyState === "open" && !this.#buffer?.updating) {
      const wanted = Number(info.duration_s) || 0;
      if (!(this.#source.duration >= wanted)) this.#source.duration = wanted;
    }
  }

  async #attach() {
    const Source = mediaSourceClass();
    if (!Source) {
      this.#fail({ code: "noMse", detail: "" });
      return false;
    }
    const mime = this.info.mime_type || `video/mp4; codecs="${this.info.mime_codec}"`;
    if (!Source.isTypeSupported(mime)) {
      this.#fail({ code: "codec", detail: mime });
      return false;
    }
    const source = new Source();
    this.#source = source;
    this.#objectUrl = URL.createObjectURL(source);
    this.video.disableRemotePlayback = true; // ManagedMediaSource (Safari) plays only with this set
    this.video.muted = true; // recorded audio is not played on the wall; muted video may start without a gesture
    this.video.src = this.#objectUrl;
    await new Promise((resolve) => source.addEventListener("sourceopen", resolve, { once: true }));
    if (this.#destroyed) return false;
    try {
      this.#buffer = source.addSourceBuffer(mime);
      this.#buffer.mode = "segments";
      source.duration = Number(this.info.duration_s) || 0;
    } catch (error) {
      this.#fail({ code: "codec", detail: `${mime}: ${error.message}` });
      return false;
    }
    this.#listen(this.video, "error", () => {
      const error = this.video.error;
      if (!error || error.code === 1) return; // 1: aborted, which a restart does on purpose
      this.#fail({ code: "decode", detail: error.message || `MediaError ${error.code}` });
    });
    this.#listen(this.video, "playing", () => this.#tick());
    this.#listen(this.video, "pause", () => this.#tick());
    this.#listen(this.video, "waiting", () => this.#tick());
    this.setSpeed(this.speed);
    return true;
  }

  #listen(target, type, handler) {
    target.addEventListener(type, handler);
    this.#listeners.push([target, type, handler]);
  }

  /** Past the planned footage. Footage still being recorded may have grown since the plan was made: ask again
   * (now and then while ended), and go on where the old plan stopped. */
  async #extend(wall, force = false) {
    if (this.#extending) return;
    const now = Date.now();
    const growing = this.to > now - 60000 && this.timeline.end > now - 10 * 60000;
    if (!growing) {
      this.#finish();
      return;
    }
    if (!force && now - this.#extendAt < EXTEND_EVERY_MS) {
      if (!this.#ended) this.#finish();
      return;
    }
    this.#extending = true;
    this.#extendAt = now;
    const before = this.timeline.end;
    try {
      this.#adopt(await this.#ask());
    } catch {
      // no newer footage, or the question failed: stay at the end
    } finally {
      this.#extending = false;
    }
    if (this.#destroyed) return;
    if (this.timeline.end > before + 1000) this.#restart(this.timeline.mediaAt(wall).after ? before : wall);
    else if (!this.#ended) this.#finish();
  }

  #finish() {
    this.#ended = true;
    this.video.pause();
    this.#setState("ended");
  }

  // --- streaming -----------------------------------------------------------------------------------------------

  /** Whether `media` is buffered, or so little past the end of a stream still coming that waiting beats restarting. */
  #reachable(media) {
    const ranges = this.video.buffered;
    for (let i = 0; i < ranges.length; i += 1) {
      const start = ranges.start(i);
      const end = ranges.end(i);
      if (media >= start && media < end - 0.1) return true;
      if (!this.#streamDone && i === ranges.length - 1 && media >= start && media <= end + JOIN_AHEAD_S) return true;
    }
    return false;
  }

  #aheadS() {
    const ranges = this.video.buffered;
    const now = this.video.currentTime;
    for (let i = 0; i < ranges.length; i += 1) {
      if (now >= ranges.start(i) - 0.1 && now <= ranges.end(i)) return ranges.end(i) - now;
    }
    return 0;
  }

  async #restart(wall) {
    const gen = ++this.#gen;
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    this.#streamDone = false;
    this.#ended = false;
    this.#setState("loading");
    // Quick seeks (dragging the cursor) queue here; all but the last give up as soon as their turn comes.
    const previous = this.#restarting;
    let release;
    this.#restarting = new Promise((resolve) => (release = resolve));
    try {
      await previous;
      if (gen !== this.#gen) return;
      await this.#emptyBuffer();
      if (gen !== this.#gen) return;
      this.#source.duration = Math.max(1, Number(this.info.duration_s) || 0);
      let response = await this.#openStream(wall, controller.signal);
      if (response.status === 401 && gen === this.#gen) {
        // The stream URL is short-lived: a restart after it expired asks for a fresh plan and URL.
        this.#adopt(await this.#ask());
        response = await this.#openStream(wall, controller.signal);
      }
      if (!response.ok) throw await problemOf(response);
      if (gen !== this.#gen) {
        controller.abort();
        return;
      }
      this.#buffer.timestampOffset = Number(response.headers.get("X-Media-Start")) || 0;
      this.video.currentTime = this.timeline.mediaAt(wall).media;
      await this.#pump(response.body.getReader(), gen);
      if (gen === this.#gen) this.#streamDone = true;
    } catch (error) {
      if (gen === this.#gen && !controller.signal.aborted && !this.#destroyed) this.#fail(reasonOf(error));
    } finally {
      release();
    }
  }

  #openStream(wall, signal) {
    const url = new URL(this.info.stream_url, window.location.href);
    url.searchParams.set("start", this.timeline.mediaAt(wall).media.toFixed(3));
    return fetch(url, { credentials: "same-origin", signal });
  }

  async #pump(reader, gen) {
    try {
      for (;;) {
        while (this.#aheadS() > AHEAD_S * Math.max(1, this.speed)) {
          await sleep(250);
          if (gen !== this.#gen) return;
        }
        const { done, value } = await reader.read();
        if (gen !== this.#gen || done) return;
        await this.#append(value, gen);
        if (gen !== this.#gen) return;
        await this.#evict(KEEP_BEHIND_S, EVICT_SLICE_S);
      }
    } finally {
      if (gen !== this.#gen) reader.cancel().catch(() => {});
    }
  }

  #updated() {
    const buffer = this.#buffer;
    return new Promise((resolve, reject) => {
      const done = (event) => {
        buffer.removeEventListener("updateend", done);
        buffer.removeEventListener("error", done);
        if (event.type === "error") reject(new Error("the browser could not append this media"));
        else resolve();
      };
      buffer.addEventListener("updateend", done);
      buffer.addEventListener("error", done);
    });
  }

  async #append(data, gen) {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const updated = this.#updated();
        this.#buffer.appendBuffer(data);
        await updated;
        return;
      } catch (error) {
        if (gen !== this.#gen) return;
        if (error.name !== "QuotaExceededError" || attempt >= 3) throw error;
        // The browser's buffer is full: drop more of what was watched and try again.
        await this.#evict(2, 0);
      }
    }
  }

  async #evict(keepBehindS, sliceS) {
    const ranges = this.video.buffered;
    if (!ranges.length || this.#buffer.updating) return;
    const cut = this.video.currentTime - keepBehindS;
    if (cut - ranges.start(0) <= sliceS || cut <= ranges.start(0)) return;
    const updated = this.#updated();
    this.#buffer.remove(ranges.start(0), cut);
    await updated.catch(() => {});
  }

  async #emptyBuffer() {
    const buffer = this.#buffer;
    if (buffer.updating) {
      try {
        buffer.abort(); // an append in flight: drop it
      } catch {
        await this.#updated().catch(() => {}); // a removal in flight cannot be aborted: let it finish
      }
    }
    if (this.#source.readyState === "open") buffer.abort(); // reset the parser: the next stream begins anew
    if (this.video.buffered.length) {
      const updated = this.#updated();
      buffer.remove(0, Infinity);
      await updated.catch(() => {});
    }
  }

  // --- state ---------------------------------------------------------------------------------------------------

  #tick() {
    if (this.#destroyed || this.state === "error" || this.state === "nofootage" || !this.timeline) return;
    const video = this.video;
    const wall = this.wallTime;
    if (wall !== null && video.readyState >= 1) this.onTime(wall, video.currentTime);
    if (this.#extending) {
      this.#setState("loading");
      return;
    }
    const ranges = video.buffered;
    const atEnd = this.#streamDone && ranges.length > 0 && video.currentTime >= ranges.end(ranges.length - 1) - END_SLACK_S;
    if (atEnd && !this.#ended) {
      this.#extend(wall ?? this.timeline.end);
      return;
    }
    if (this.#ended) {
      if (!this.userPaused) this.#extend(this.timeline.end);
      this.#setState("ended");
      return;
    }
    if (this.speed !== video.playbackRate) video.playbackRate = this.speed;
    if (this.userPaused) {
      if (!video.paused) video.pause();
      this.#setState(video.readyState >= 2 ? "paused" : "loading");
      return;
    }
    if (video.paused && video.readyState >= 2) {
      video.play().catch((error) => {
        // Autoplay refused (no user gesture yet): wait for the play button.
        if (error.name === "NotAllowedError") {
          this.userPaused = true;
          this.#setState("paused");
        }
      });
    }
    this.#setState(video.readyState >= 3 && !video.paused ? "playing" : "loading");
  }

  #setState(state, reason = null) {
    if (this.state === state && reason === this.reason) return;
    this.state = state;
    this.reason = reason;
    this.onState(state, reason);
  }

  #fail(reason) {
    this.#gen += 1;
    this.#controller?.abort();
    this.video.pause();
    this.#setState("error", reason);
  }
}
