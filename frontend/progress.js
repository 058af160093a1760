/**
 * progress.js — progress figures for people: percent, speed and time left from byte counts, and
 * sizes and durations as words.
 */

import { DEFAULTS } from "./options.js";

/**
 * What a "progress" event tells.
 * @typedef {object} Progress
 * @property {number} loaded  bytes sent (for a segmented upload: stored parts plus parts in flight)
 * @property {number} total  the file's size
 * @property {number} percent  0–100
 * @property {number} speed  bytes/s over the last `speedWindow` ms
 * @property {number|null} eta  seconds left; null while the speed is unknown
 */

/**
 * Turns (loaded, time) samples into progress figures. Speed is averaged over the last
 * `window` ms so it reacts to changes but does not jitter; ETA follows from it.
 */
export class ProgressMeter {
  /**
   * @param {number} total  bytes
   * @param {{window?: number, now?: number, loaded?: number}} options  optional; `window` in ms
   */
  constructor(total, { window = DEFAULTS.speedWindow, now = Date.now(), loaded = 0 } = {}) {
    this.total = total;
    this.window = window;
    this.samples = [{ time: now, loaded }];
  }

  /**
   * Starts measuring again from `loaded` bytes, e.g. when a failed PUT is retried from the
   * beginning, or a resumed upload starts with parts already stored.
   * @param {number} [now]
   * @param {number} [loaded]
   */
  reset(now = Date.now(), loaded = 0) {
    this.samples = [{ time: now, loaded }];
  }

  /**
   * @param {number} loaded  bytes sent so far
   * @param {number} [now]
   * @returns {Progress}
   */
  update(loaded, now = Date.now()) {
    const last = this.samples[this.samples.length - 1];
    if (loaded < last.loaded) this.reset(now, loaded);
    this.samples.push({ time: now, loaded });
    while (this.samples.length > 2 && now - this.samples[1].time >= this.window) {
      this.samples.shift();
    }
    const first = this.samples[0];
    const elapsed = (now - first.time) / 1000;
    const speed = elapsed > 0 ? (loaded - first.loaded) / elapsed : 0;
    const remaining = Math.max(0, this.total - loaded);
    return {
      loaded,
      total: this.total,
      percent: this.total > 0 ? Math.min(100, (loaded / this.total) * 100) : 100,
      speed,
      eta: remaining === 0 ? 0 : speed > 0 ? remaining / speed : null,
    };
  }
}

/**
 * "1.5 MB" — decimal units, as browsers and operating systems show file sizes.
 * @param {number} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${units[unit]}`;
}

/**
 * "1 h 02 min", "3 min 05 s", "12 s", "under 1 s"; "" when unknown.
 * @param {number|null} seconds
 * @returns {string}
 */
export function formatDuration(seconds) {
  if (seconds === null || !Number.isFinite(seconds)) return "";
  if (seconds > 0 && seconds < 1) return "under 1 s";
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (/** @type {number} */ n) => String(n).padStart(2, "0");
  if (h) return `${h} h ${pad(m)} min`;
  if (m) return `${m} min ${pad(s % 60)} s`;
  return `${s} s`;
}
