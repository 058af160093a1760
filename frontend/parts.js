/**
 * parts.js — the bookkeeping of a segmented upload, with no network and no DOM, so Node's test
 * runner covers it: which part goes next, combined progress, part URLs and when they expire,
 * and what localStorage remembers for resume. segmented.js drives it; see docs/frontend.md.
 */

/**
 * Offset and length of the 1-based part `number`, as the API's plan cuts the file.
 * @param {number} size  the file's
 * @param {number} partSize
 * @param {number} number
 * @returns {{offset: number, length: number}}
 */
export function partRange(size, partSize, number) {
  const offset = (number - 1) * partSize;
  return { offset, length: Math.max(0, Math.min(partSize, size - offset)) };
}

/**
 * Which parts are left, which are in flight, and how many bytes are up in all. Parts go out
 * lowest number first; a part whose attempt failed stays in flight (its bytes count from 0
 * again) while its own retry waits, and the others keep going.
 */
export class PartSchedule {
  /**
   * @param {{size: number, partSize: number, partCount: number}} plan  sizes in bytes
   * @param {number[]} missing  parts still to upload (all of them for a new upload)
   */
  constructor({ size, partSize, partCount }, missing) {
    this.size = size;
    this.partSize = partSize;
    this.partCount = partCount;
    this.pending = [...new Set(missing)].filter((n) => n >= 1 && n <= partCount);
    this.pending.sort((a, b) => a - b);
    const left = new Set(this.pending);
    /** @type {Set<number>} */
    this.stored = new Set();
    for (let n = 1; n <= partCount; n += 1) if (!left.has(n)) this.stored.add(n);
    /** @type {Map<number, number>} number → bytes sent so far in the current attempt */
    this.inFlight = new Map();
    this.storedBytes = [...this.stored].reduce((sum, n) => sum + this.length(n), 0);
  }

  /**
   * @param {number} number
   * @returns {number} the part's length in bytes
   */
  length(number) {
    return partRange(this.size, this.partSize, number).length;
  }

  /**
   * @param {number} number
   * @returns {{offset: number, length: number}}
   */
  range(number) {
    return partRange(this.size, this.partSize, number);
  }

  /**
   * The next part to send (now in flight), or null when none is waiting.
   * @returns {number|null}
   */
  next() {
    const number = this.pending.shift();
    if (number === undefined) return null;
    this.inFlight.set(number, 0);
    return number;
  }

  /**
   * Bytes of the part's current attempt that went out.
   * @param {number} number
   * @param {number} loaded
   */
  progress(number, loaded) {
    if (this.inFlight.has(number)) this.inFlight.set(number, Math.min(loaded, this.length(number)));
  }

  /** @param {number} number  a part in flight that storage has stored */
  done(number) {
    if (!this.inFlight.delete(number) || this.stored.has(number)) return;
    this.stored.add(number);
    this.storedBytes += this.length(number);
  }

  /**
   * Parts to send again (e.g. storage lost them before completion).
   * @param {number[]} numbers
   */
  redo(numbers) {
    for (const number of numbers) {
      if (!this.stored.delete(number)) continue;
      this.storedBytes -= this.length(number);
      this.pending.push(number);
    }
    this.pending.sort((a, b) => a - b);
  }

  /**
   * Bytes stored plus bytes of the attempts in flight: the one progress figure.
   * @returns {number}
   */
  get loaded() {
    let sum = this.storedBytes;
    for (const bytes of this.inFlight.values()) sum += bytes;
    return sum;
  }

  /** @returns {boolean} every part is stored */
  get finished() {
    return this.stored.size === this.partCount;
  }

  /** @returns {number[]} the parts not stored, in order */
  get missing() {
    const stored = this.stored;
    return Array.from({ length: this.partCount }, (_, i) => i + 1).filter((n) => !stored.has(n));
  }
}

/**
 * Part URLs as the API hands them out in batches (`parts` of POST /uploads, then
 * GET /uploads/<id>/parts?from=N), each batch with its own expiry.
 */
export class PartUrls {
  constructor() {
    /** @type {Map<number, {upload_url: string, expires: number, received: number}>} */
    this.urls = new Map();
  }

  /**
   * Keeps a batch; `expiresAt` is the ISO time of the answer that carried it.
   * @param {{number: number, upload_url: string}[]} parts  the API's
   * @param {string|null} [expiresAt]
   * @param {number} [now]
   */
  add(parts, expiresAt, now = Date.now()) {
    const parsed = Date.parse(expiresAt ?? "");
    for (const part of parts) {
      let expires = parsed;
      if (Number.isNaN(expires)) {
        const query = new URL(part.upload_url).searchParams.get("temp_url_expires");
        expires = query && /^\d+$/.test(query) ? Number(query) * 1000 : Number.POSITIVE_INFINITY;
      }
      this.urls.set(part.number, { upload_url: part.upload_url, expires, received: now });
    }
  }

  /**
   * A usable URL for the part (with `margin` ms to spare), or null: fetch a batch from it.
   * @param {number} number
   * @param {number} [now]
   * @param {number} [margin]
   * @returns {string|null}
   */
  get(number, now = Date.now(), margin = 0) {
    const url = this.urls.get(number);
    return url && now + margin < url.expires ? url.upload_url : null;
  }

  /**
   * The part's URL if it arrived at or after `time`, expired or not (see segmented.js).
   * @param {number} number
   * @param {number} time
   * @returns {string|null}
   */
  since(number, time) {
    const url = this.urls.get(number);
    return url && url.received >= time ? url.upload_url : null;
  }

  /**
   * @param {number} number
   * @param {number} [now]
   * @returns {boolean} the part has no URL, or its URL has expired by this clock
   */
  isExpired(number, now = Date.now()) {
    const url = this.urls.get(number);
    return !url || now >= url.expires;
  }

  /**
   * Forgets the part's URL (it was refused): the next `get` asks for a fresh batch.
   * @param {number} number
   */
  drop(number) {
    this.urls.delete(number);
  }
}

// Connection slots serve every storage request, single or part: they are slots.js's. Exported here
// too, for code that imports them with the rest of the part bookkeeping.
export { Slots, originSlots } from "./slots.js";

// ---------------------------------------------------------------- resume bookkeeping

const PREFIX = "upload-signer.resume:";
// The API forgets an upload_id after UPLOAD_SESSION_TTL (a day by default); older records
// can only answer 404, so they are dropped without asking.
export const RESUME_MAX_AGE = 7 * 86_400_000;

/**
 * A remembered upload: the API's plan (its field names), the etags of the parts known to be
 * stored, and when it was saved (ms since the epoch).
 * @typedef {object} ResumeRecord
 * @property {string} upload_id
 * @property {string} object_name
 * @property {string} download_url
 * @property {number} part_size
 * @property {number} part_count
 * @property {Record<string, string>} upload_headers
 * @property {Record<number|string, string>} etags  part number → etag
 * @property {number} saved
 */

/**
 * In-progress segmented uploads, in `localStorage` (or any Storage), keyed by API, file name,
 * size and last modification: picking the same file again finds its upload. A record holds the
 * upload_id, the plan and the etags of the parts known to be stored — never file bytes, never
 * the token.
 */
export class ResumeStore {
  /** @param {Storage|null|undefined} storage  null: remember nothing */
  constructor(storage) {
    this.storage = storage ?? null;
  }

  /**
   * @param {string} apiBase
   * @param {{name?: string, size: number, lastModified?: number}} file
   * @returns {string} the record's key in the Storage
   */
  static key(apiBase, file) {
    const base = String(apiBase || "").replace(/\/+$/, "");
    return PREFIX + JSON.stringify([base, file.name ?? "", file.size, file.lastModified ?? 0]);
  }

  /**
   * The file's record, or null (none, unreadable, or too old: then it is dropped).
   * @param {string} apiBase
   * @param {{name?: string, size: number, lastModified?: number}} file
   * @param {number} [now]
   * @returns {ResumeRecord|null}
   */
  load(apiBase, file, now = Date.now()) {
    const key = ResumeStore.key(apiBase, file);
    const record = this.#read(key);
    if (record && now - (record.saved ?? 0) > RESUME_MAX_AGE) {
      this.#remove(key);
      return null;
    }
    return record;
  }

  /**
   * @param {string} apiBase
   * @param {{name?: string, size: number, lastModified?: number}} file
   * @param {Omit<ResumeRecord, "saved">} record
   * @param {number} [now]
   */
  save(apiBase, file, record, now = Date.now()) {
    const key = ResumeStore.key(apiBase, file);
    try {
      this.storage?.setItem(key, JSON.stringify({ ...record, saved: now }));
    } catch {
      // Full or forbidden storage only costs the ability to resume.
    }
  }

  /**
   * Records that a part is stored, with its etag.
   * @param {string} apiBase
   * @param {{name?: string, size: number, lastModified?: number}} file
   * @param {number} number
   * @param {string} etag
   * @param {number} [now]
   */
  partDone(apiBase, file, number, etag, now = Date.now()) {
    const record = this.load(apiBase, file, now);
    if (!record) return;
    record.etags = { ...record.etags, [number]: etag };
    this.save(apiBase, file, record, now);
  }

  /**
   * @param {string} apiBase
   * @param {{name?: string, size: number, lastModified?: number}} file
   */
  forget(apiBase, file) {
    this.#remove(ResumeStore.key(apiBase, file));
  }

  /**
   * Every unexpired record of this API, newest first, for a page to offer resuming.
   * @param {string} apiBase
   * @param {number} [now]
   * @returns {(ResumeRecord & {file: {name: string, size: number, lastModified: number}})[]}
   */
  list(apiBase, now = Date.now()) {
    const base = String(apiBase || "").replace(/\/+$/, "");
    /** @type {(ResumeRecord & {file: {name: string, size: number, lastModified: number}})[]} */
    const found = [];
    if (!this.storage) return found;
    const keys = [];
    for (let i = 0; i < this.storage.length; i += 1) keys.push(this.storage.key(i));
    for (const key of keys) {
      if (!key?.startsWith(PREFIX)) continue;
      let parts;
      try {
        parts = JSON.parse(key.slice(PREFIX.length));
      } catch {
        continue;
      }
      const [api, name, size, lastModified] = parts;
      const record = this.#read(key);
      if (!record) continue;
      if (now - (record.saved ?? 0) > RESUME_MAX_AGE) {
        this.#remove(key);
      } else if (api === base) {
        found.push({ ...record, file: { name, size, lastModified } });
      }
    }
    return found.sort((a, b) => b.saved - a.saved);
  }

  #read(/** @type {string} */ key) {
    try {
      const record = JSON.parse(this.storage?.getItem(key) ?? "null");
      return record && typeof record.upload_id === "string" ? record : null;
    } catch {
      return null;
    }
  }

  #remove(/** @type {string} */ key) {
    try {
      this.storage?.removeItem(key);
    } catch {
      // nothing to do
    }
  }
}

/**
 * localStorage when the page may use it (private modes and sandboxes may forbid it).
 * @returns {Storage|null}
 */
export function defaultStorage() {
  try {
    const storage = globalThis.localStorage;
    return storage && typeof storage.getItem === "function" ? storage : null;
  } catch {
    return null;
  }
}
