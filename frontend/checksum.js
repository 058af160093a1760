/**
 * checksum.js — the MD5 of a Blob (a part of a File), read as a stream so only one small chunk
 * is in memory at a time. Swift compares it with the `ETag` request header and refuses a part
 * whose bytes differ (422): a free end-to-end integrity check.
 *
 * The hashing is hash-wasm's MD5 (WebAssembly, about twice as fast as plain JavaScript),
 * vendored under ./vendor/hash-wasm/ (see the README there) and imported statically through
 * its ES module wrapper md5.js, so bundlers include it. Compiling WebAssembly needs
 * `'wasm-unsafe-eval'` in a page's Content-Security-Policy script-src; where it is refused
 * (or WebAssembly is missing) `md5Available()` resolves false and uploads go without checksums.
 *
 * `PartHasher` decides which parts of a segmented upload get an MD5, and hashes them ahead.
 */

import { createMD5 } from "./vendor/hash-wasm/md5.js";

/**
 * hash-wasm's createMD5, imported statically (vendor/hash-wasm/md5.js) so that bundlers include
 * it; the WebAssembly itself is compiled on first use, where the page's CSP allows it.
 * @returns {Promise<() => Promise<any>>}
 */
async function loadCreateMD5() {
  if (typeof createMD5 !== "function") throw new Error("hash-wasm's createMD5 is missing");
  return createMD5;
}

/**
 * Whether MD5 can be computed here (WebAssembly present and allowed by the page's CSP).
 * @returns {Promise<boolean>}
 */
export async function md5Available() {
  try {
    const hasher = await (await loadCreateMD5())();
    hasher.init();
    return true;
  } catch {
    return false;
  }
}

// Bytes read per step. A "bring your own buffer" reader reuses one buffer for a whole part;
// a default reader hands out a new chunk each time, and these pile up as garbage (outside the
// JS heap) faster than the collector frees them: 16 MiB parts left ~85 MiB of ArrayBuffers.
const CHUNK = 1024 * 1024;
/** @type {ArrayBuffer|null} one buffer kept between parts (and uploads) */
let spare = null;

/**
 * Hex MD5 of `blob`, streamed chunk by chunk (`Blob.stream()`): never the whole part in memory.
 * Rejects with the signal's reason if `signal` aborts.
 * @param {Blob} blob
 * @param {{signal?: AbortSignal}} options  optional
 * @returns {Promise<string>}
 */
export async function md5Blob(blob, { signal } = {}) {
  const hasher = await (await loadCreateMD5())();
  hasher.init();
  const stream = blob.stream();
  /** @type {any} a BYOB reader, or a default one */
  let reader;
  let buffer = null;
  try {
    reader = /** @type {any} */ (stream).getReader({ mode: "byob" });
    buffer = spare ?? new ArrayBuffer(CHUNK);
    spare = null;
  } catch {
    reader = stream.getReader(); // a runtime whose Blob streams are not byte streams
  }
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      /** @type {{done: boolean, value?: Uint8Array}} */
      const { done, value } = buffer ? await reader.read(new Uint8Array(buffer)) : await reader.read();
      if (buffer && value) buffer = value.buffer; // the same memory, handed back
      if (done) break;
      hasher.update(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  if (buffer) spare = buffer;
  return hasher.digest("hex");
}

// In "auto" mode, hashing stops after this many parts were ready to go but had to wait for
// their MD5 (hashing, not the network, was then the slowest step).
const HASH_WAITS_TOLERATED = 2;

/**
 * The MD5s of a segmented upload's parts. Parts are hashed one at a time, and ahead: while a
 * part uploads, the next ones are hashed, so a free connection finds its part's MD5 ready. In
 * "auto" mode, parts that keep waiting for their MD5 turn hashing off for the rest.
 */
export class PartHasher {
  /** @type {Map<number, {done: boolean, promise: Promise<string>}>} MD5s computed or under way */
  #parts = new Map();
  #queue = Promise.resolve(); // the hash in progress: the next one starts after it
  #waits = 0;
  #asked = 0;

  /**
   * @param {object} how
   * @param {boolean} how.on  whether to hash at all (see md5Available)
   * @param {boolean} how.auto  stop once parts have to wait for their MD5
   * @param {number} how.ahead  parts hashed ahead of the one asked for (the uploads in flight)
   * @param {(number: number) => Blob} how.blob  a part's bytes
   */
  constructor({ on, auto, ahead, blob }) {
    this.on = on;
    this.auto = auto;
    this.ahead = ahead;
    this.blob = blob;
  }

  /**
   * The part's MD5 (hex), or null when it goes without; starts hashing the next `upcoming`
   * parts. Rejects with the signal's reason if `signal` aborts.
   * @param {number} number
   * @param {number[]} upcoming  the parts that go after it, in order
   * @param {AbortSignal} signal
   * @returns {Promise<string|null>}
   */
  async md5(number, upcoming, signal) {
    const own = this.#hash(number, signal);
    this.#asked += 1;
    for (const next of upcoming.slice(0, this.ahead)) this.#hash(next, signal);
    if (!own) return null;
    // The first parts of the pipeline wait for their MD5 whatever the speed; later ones not.
    if (!own.done && this.auto && this.#asked > this.ahead) {
      this.#waits += 1;
      if (this.#waits >= HASH_WAITS_TOLERATED) this.on = false;
    }
    return own.promise;
  }

  #hash(/** @type {number} */ number, /** @type {AbortSignal} */ signal) {
    if (this.#parts.has(number)) return this.#parts.get(number);
    if (!this.on) return null;
    const blob = this.blob(number);
    const entry = { done: false, promise: this.#queue.then(() => md5Blob(blob, { signal })) };
    entry.promise.then(
      () => {
        entry.done = true;
      },
      () => this.#parts.delete(number), // aborted: nothing to keep
    );
    this.#queue = entry.promise.then(
      () => {},
      () => {},
    );
    this.#parts.set(number, entry);
    return entry;
  }
}
