// Time arithmetic for recorded playback. A playback stream has one continuous media clock with the gaps in the
// footage squeezed out; POST /cameras/{id}/playback describes it as spans: span k starts at media second
// `media_s` showing wall time `wall_at`, and runs on in real time until the next span (the last until `duration_s`).
// Wall times here are epoch milliseconds.

/** The media clock of one playback plan, and the wall clock it shows. */
export class MediaTimeline {
  constructor(spans, durationS) {
    this.duration = Math.max(0, Number(durationS) || 0);
    const parsed = (spans || [])
      .map((span) => ({ media: Number(span.media_s), wall: Date.parse(span.wall_at) }))
      .filter((span) => Number.isFinite(span.media) && Number.isFinite(span.wall))
      .sort((a, b) => a.media - b.media);
    this.spans = parsed.map((span, index) => {
      const mediaEnd = index + 1 < parsed.length ? parsed[index + 1].media : this.duration;
      return { ...span, mediaEnd, wallEnd: span.wall + Math.max(0, mediaEnd - span.media) * 1000 };
    });
  }

  get empty() {
    return this.spans.length === 0;
  }

  /** Wall time of the first and just after the last picture. */
  get start() {
    return this.empty ? null : this.spans[0].wall;
  }

  get end() {
    return this.empty ? null : this.spans[this.spans.length - 1].wallEnd;
  }

  /** The wall time shown at a media second. */
  wallAt(media) {
    if (this.empty) return null;
    let chosen = this.spans[0];
    for (const span of this.spans) {
      if (span.media <= media + 1e-6) chosen = span;
      else break;
    }
    // The last span is left open: a stream of footage still being recorded runs on past the plan it was asked with.
    const last = chosen === this.spans[this.spans.length - 1];
    const offset = Math.max(0, media - chosen.media);
    return chosen.wall + (last ? offset : Math.min(offset, chosen.mediaEnd - chosen.media)) * 1000;
  }

  /** The media second showing `wall`. A wall time in a gap maps to the footage after it (`inGap`); one after the
   * last footage to the end of the media clock (`after`). */
  mediaAt(wall) {
    if (this.empty) return { media: 0, inGap: false, after: true };
    for (const span of this.spans) {
      if (wall < span.wall) return { media: span.media, inGap: true, after: false };
      if (wall < span.wallEnd) return { media: span.media + (wall - span.wall) / 1000, inGap: false, after: false };
    }
    return { media: this.duration, inGap: false, after: true };
  }

  /** Whether there is footage showing `wall`. */
  covers(wall) {
    return this.spans.some((span) => wall >= span.wall && wall < span.wallEnd);
  }

  /** The wall time footage next begins at, at or after `wall`; null when none does. */
  nextFootage(wall) {
    for (const span of this.spans) {
      if (wall < span.wallEnd) return Math.max(wall, span.wall);
    }
    return null;
  }
}

/** Recorded stretches from the recording index's segments ({start_at, end_at}), merged where they touch (a
 * segment rollover leaves a hole of a few frames, which is not a gap anyone should see), in wall milliseconds. */
export function mergeSegments(segments, toleranceMs = 1500) {
  const sorted = (segments || [])
    .map((segment) => ({ from: Date.parse(segment.start_at), to: Date.parse(segment.end_at) }))
    .filter((range) => Number.isFinite(range.from) && Number.isFinite(range.to) && range.to > range.from)
    .sort((a, b) => a.from - b.from);
  const merged = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.from <= last.to + toleranceMs) last.to = Math.max(last.to, range.to);
    else merged.push({ ...range });
  }
  return merged;
}

/** Whether any of `ranges` ({from, to} in ms) holds `wall`. */
export function rangesCover(ranges, wall) {
  return ranges.some((range) => wall >= range.from && wall < range.to);
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** "YYYY-MM-DD" of a local day. */
export function dayKey(date) {
  const value = new Date(date);
  return `${value.getFullYear()}-${pad(value.getMonth() + 1)}-${pad(value.getDate())}`;
}

/** Local midnight starting the day "YYYY-MM-DD", and the next, in ms; null for text that is no date. */
export function dayBounds(key) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key || "");
  if (!match) return null;
  const start = new Date(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  if (dayKey(start) !== key) return null;
  const end = new Date(start.getFullYear(), start.getMonth(), start.getDate() + 1);
  return { from: start.getTime(), to: end.getTime() };
}

/** "HH:MM:SS" (or with milliseconds) of a wall time in the browser's zone. */
export function clockText(ms, { millis = false } = {}) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "--:--:--";
  const value = new Date(ms);
  const text = `${pad(value.getHours())}:${pad(value.getMinutes())}:${pad(value.getSeconds())}`;
  return millis ? `${text}.${pad(value.getMilliseconds(), 3)}` : text;
}

/** "YYYY-MM-DD HH:MM:SS" of a wall time in the browser's zone. */
export function dateTimeText(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  return `${dayKey(ms)} ${clockText(ms)}`;
}

/** ISO 8601 with the browser's own offset (what the API wants: a time with a zone), e.g. 2026-11-22T12:30:00+08:00. */
export function isoWithZone(ms) {
  const value = new Date(ms);
  const offset = -value.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  const millis = value.getMilliseconds() ? `.${pad(value.getMilliseconds(), 3)}` : "";
  return `${dayKey(value)}T${clockText(ms)}${millis}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
