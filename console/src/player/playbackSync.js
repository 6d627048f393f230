// Several channels played back on one wall clock. The clock follows the channel that is playing footage at its time
// (so a stall holds everybody back); with none it runs by itself, at the chosen speed. Each channel with footage at
// the clock is kept within DRIFT_MS of it (by a seek); one without footage there waits, paused, and is told
// "no recording", and resumes when the clock reaches its footage. A stretch no channel has footage for is skipped,
// as a single recording's player does.

export const DRIFT_MS = 500;
const LEAD_MS = 1500; // a channel further than this from the clock is not leading it (it just crossed a gap)
const TICK_MS = 200;
const BUSY = ["loading", "error", "ended", "nofootage"]; // states in which a channel is not told to seek or play

export class SyncGroup {
  #timer = null;
  #last = 0;

  /** onTick(wallMs) after every step; onChannel(key, status) when a channel starts or stops having footage at the
   * clock ("ok" / "norecord"); onEnd() when the clock has passed every channel's footage. */
  constructor({ onTick, onChannel, onEnd } = {}) {
    this.channels = new Map();
    this.wall = null;
    this.rate = 1;
    this.playing = true;
    this.onTick = onTick || (() => {});
    this.onChannel = onChannel || (() => {});
    this.onEnd = onEnd || (() => {});
    this.ended = false;
  }

  start() {
    this.#last = performance.now();
    this.#timer = setInterval(() => this.step(), TICK_MS);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = null;
  }

  add(key, player) {
    this.channels.set(key, { player, status: null });
    player.setSpeed(this.rate);
    if (!this.playing) player.pause();
  }

  remove(key) {
    this.channels.delete(key);
  }

  /** Move the clock (a click on the timeline): every channel with footage there goes to it at once; one whose
   * plan ends before it but may have recorded more since (today) is asked to look for newer footage. */
  seek(wall) {
    this.wall = wall;
    this.ended = false;
    for (const channel of this.channels.values()) {
      const player = channel.player;
      if (player.covers(wall) || (player.timeline && wall >= player.timeline.end && wall < player.to)) {
        player.seek(wall);
      }
    }
    this.step(true);
  }

  /** Play on. After the end: where footage may still be growing (today) go on from there, else from the start. */
  play() {
    this.playing = true;
    if (this.ended) {
      this.ended = false;
      const growing = [...this.channels.values()].some((c) => c.player.timeline && c.player.to > Date.now());
      const first = this.#earliest();
      if (growing) this.seek(this.wall);
      else if (first !== null) this.seek(first);
    }
    this.step(true);
  }

  pause() {
    this.playing = false;
    for (const channel of this.channels.values()) channel.player.pause();
    this.step(true);
  }

  setRate(rate) {
    this.rate = rate;
    for (const channel of this.channels.values()) channel.player.setSpeed(rate);
  }

  #earliest() {
    const starts = [...this.channels.values()].map((c) => c.player.timeline?.start).filter((s) => s != null);
    return starts.length ? Math.min(...starts) : null;
  }

  #mark(key, channel, status) {
    if (channel.status === status) return;
    channel.status = status;
    this.onChannel(key, status);
  }

  step(quiet = false) {
    const now = performance.now();
    const dt = quiet ? 0 : now - this.#last;
    this.#last = now;
    const channels = [...this.channels.entries()];
    if (this.wall === null) {
      this.wall = this.#earliest();
      if (this.wall === null) return;
    }
    if (this.playing && !this.ended) this.#advance(channels, dt);
    for (const [key, channel] of channels) {
      const player = channel.player;
      if (!player.covers(this.wall)) {
        // Past its last footage a channel has ended; before or between footage it has none right now.
        if (player.timeline) this.#mark(key, channel, player.nextFootage(this.wall) === null ? "ended" : "norecord");
        if (!player.userPaused && player.state !== "loading") player.pause();
        continue;
      }
      this.#mark(key, channel, "ok");
      if (BUSY.includes(player.state)) continue;
      const at = player.wallTime;
      if (at === null || Math.abs(at - this.wall) > DRIFT_MS) player.seek(this.wall);
      if (this.playing && player.userPaused) player.play();
      if (!this.playing && !player.userPaused) player.pause();
    }
    this.onTick(this.wall);
  }

  #advance(channels, dt) {
    const covering = channels.filter(([, c]) => c.player.covers(this.wall));
    const lead = covering.find(
      ([, c]) => c.player.state === "playing" && Math.abs(c.player.wallTime - this.wall) < LEAD_MS,
    );
    // A channel loading where the clock is, or (when none has footage there) loading at all: opening its plan,
    // or looking for newer footage; the clock waits for it.
    const loading = channels.filter(([, c]) => c.player.state === "loading");
    const waiting = loading.some(([, c]) => c.player.covers(this.wall)) || (!covering.length && loading.length > 0);
    if (lead) this.wall = lead[1].player.wallTime;
    else if (waiting) return;
    else this.wall += dt * this.rate;
    if (channels.some(([, c]) => c.player.covers(this.wall))) return;
    const next = channels.map(([, c]) => c.player.nextFootage(this.wall)).filter((w) => w !== null);
    if (next.length) {
      this.wall = Math.min(...next);
      for (const [, c] of channels) {
        const at = c.player.wallTime;
        if (c.player.covers(this.wall) && (at === null || Math.abs(at - this.wall) > DRIFT_MS)) c.player.seek(this.wall);
      }
    } else if (channels.length && !loading.length) {
      this.ended = true;
      this.playing = false;
      for (const [, c] of channels) c.player.pause();
      this.onEnd();
    }
  }
}
