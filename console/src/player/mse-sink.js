// One MediaSource on a <video>, fed fMP4 through a queue (a SourceBuffer takes one append at a time). Used by the
// live player; it knows nothing about sockets or the API.

const MAX_PENDING_BYTES = 16 * 1024 * 1024;

export function mediaSourceClass() {
  return window.MediaSource || window.ManagedMediaSource || null;
}

export function canDecode(mime) {
  const Source = mediaSourceClass();
  return Boolean(Source && Source.isTypeSupported(mime));
}

export class MseSink {
  /**
   * @param {HTMLVideoElement} video
   * @param {(message: string) => void} onFailure called once when appending fails for good
   */
  constructor(video, onFailure) {
    const Source = mediaSourceClass();
    this.video = video;
    this.onFailure = onFailure;
    this.source = new Source();
    this.buffer = null;
    this.mime = null;
    this.wantedMime = null;
    this.pending = [];
    this.pendingBytes = 0;
    this.closed = false;
    this.failed = false;
    this.url = URL.createObjectURL(this.source);
    this.onOpen = () => this.setUp();
    this.onUpdateEnd = () => this.drain();
    this.source.addEventListener("sourceopen", this.onOpen, { once: true });
    // ManagedMediaSource (Safari) plays only with remote playback off.
    video.disableRemotePlayback = true;
    video.src = this.url;
  }

  /** The MIME type with codecs of what follows; returns false when this sink cannot take it (make a new one). */
  configure(mime) {
    if (this.mime === null || this.mime === mime) {
      this.wantedMime = mime;
      this.setUp();
      return true;
    }
    if (this.buffer && typeof this.buffer.changeType === "function") {
      try {
        this.buffer.changeType(mime);
        this.mime = this.wantedMime = mime;
        return true;
      } catch {
        return false;
      }
    }
    return false;
  }

  setUp() {
    if (this.closed || this.buffer || !this.wantedMime || this.source.readyState !== "open") return;
    try {
      this.buffer = this.source.addSourceBuffer(this.wantedMime);
    } catch (error) {
      this.fail(`${error.name}: ${error.message}`);
      return;
    }
    this.mime = this.wantedMime;
    // "sequence": each fragment follows the last whatever its timestamps, so a restarted feed still plays on.
    this.buffer.mode = "sequence";
    this.buffer.addEventListener("updateend", this.onUpdateEnd);
    this.drain();
  }

  append(chunk) {
    if (this.closed || this.failed) return;
    const bytes = new Uint8Array(chunk);
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
    if (this.pendingBytes > MAX_PENDING_BYTES) {
      // The decoder has not taken anything for a long while; holding more only delays the failure.
      this.fail("the browser stopped taking video data");
      return;
    }
    this.drain();
  }

  drain() {
    const buffer = this.buffer;
    if (this.closed || !buffer || buffer.updating || !this.pending.length || this.source.readyState !== "open") return;
    let data = this.pending[0];
    if (this.pending.length > 1) {
      data = new Uint8Array(this.pendingBytes);
      let at = 0;
      for (const part of this.pending) {
        data.set(part, at);
        at += part.byteLength;
      }
    }
    this.pending = [];
    this.pendingBytes = 0;
    try {
      buffer.appendBuffer(data);
    } catch (error) {
      if (error.name === "QuotaExceededError") {
        this.pending = [data];
        this.pendingBytes = data.byteLength;
        this.trim(2);
      } else {
        this.fail(`${error.name}: ${error.message}`);
      }
    }
  }

  /** Forget what was watched more than `keepBehindS` seconds ago; a live view never seeks back that far. */
  trim(keepBehindS) {
    const buffer = this.buffer;
    const ranges = this.video.buffered;
    if (this.closed || !buffer || buffer.updating || !ranges.length) return;
    const cut = this.video.currentTime - keepBehindS;
    if (cut > ranges.start(0) + 1) {
      try {
        buffer.remove(ranges.start(0), cut);
      } catch {
        // an optimisation only: the next trim tries again
      }
    }
  }

  fail(message) {
    if (this.failed || this.closed) return;
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.onFailure(message);
  }

  /** Let go of the MediaSource and the decoder it holds. */
  close() {
    if (this.closed) return;
    this.closed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.source.removeEventListener("sourceopen", this.onOpen);
    if (this.buffer) this.buffer.removeEventListener("updateend", this.onUpdateEnd);
    URL.revokeObjectURL(this.url);
    if (this.video.src === this.url) {
      this.video.removeAttribute("src");
      this.video.load();
    }
  }
}
