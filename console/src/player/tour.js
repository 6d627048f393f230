// 轮巡 (a tour): a named group of cameras shown on the wall a page at a time, the next page every interval.
// Groups are kept per user in this browser's localStorage; they hold only what the wall needs to open a camera.

export const MIN_INTERVAL_S = 10;
export const DEFAULT_INTERVAL_S = 30;
const KEEP = ["gb_id", "name", "online", "ptz", "kind", "ptz_type", "cls", "class", "network"];

function storageKey(username) {
  return `tianyan.live.tours.${username || "-"}`;
}

/** The fields of a camera worth keeping in a group. */
export function tourCamera(camera) {
  return Object.fromEntries(KEEP.filter((key) => camera[key] !== undefined).map((key) => [key, camera[key]]));
}

export function clampInterval(seconds) {
  const value = Math.round(Number(seconds));
  return Number.isFinite(value) ? Math.max(MIN_INTERVAL_S, value) : DEFAULT_INTERVAL_S;
}

/** The user's saved groups: [{name, intervalS, cameras: [{gb_id, name, ...}]}]; a damaged entry reads as none. */
export function loadGroups(username) {
  try {
    const groups = JSON.parse(localStorage.getItem(storageKey(username)) || "[]");
    if (!Array.isArray(groups)) return [];
    return groups
      .filter((group) => group && typeof group.name === "string" && Array.isArray(group.cameras))
      .map((group) => ({
        name: group.name,
        intervalS: clampInterval(group.intervalS),
        cameras: group.cameras.filter((camera) => camera && typeof camera.gb_id === "string"),
      }));
  } catch {
    return [];
  }
}

export function saveGroups(username, groups) {
  localStorage.setItem(storageKey(username), JSON.stringify(groups));
}

/** Cycles through `cameras` a page of `pageSize()` at a time, calling `show(pageCameras, pageIndex, pageCount)`. */
export class Tour {
  constructor({ cameras, intervalS, pageSize, show }) {
    this.cameras = cameras.slice();
    this.intervalS = clampInterval(intervalS);
    this.pageSize = pageSize;
    this.show = show;
    this.offset = 0;
    this.timer = null;
  }

  get pageCount() {
    return Math.max(1, Math.ceil(this.cameras.length / this.pageSize()));
  }

  get pageIndex() {
    return Math.floor(this.offset / this.pageSize());
  }

  start() {
    this.stop();
    this.offset = 0;
    this.showCurrent();
    this.timer = setInterval(() => this.next(), this.intervalS * 1000);
  }

  next() {
    const size = this.pageSize();
    // The page size follows the wall's layout, which may change while the tour runs.
    this.offset = this.offset + size >= this.cameras.length ? 0 : this.offset + size;
    this.showCurrent();
  }

  showCurrent() {
    const size = this.pageSize();
    this.show(this.cameras.slice(this.offset, this.offset + size), this.pageIndex, this.pageCount);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }

  get running() {
    return this.timer !== null;
  }
}
