/**
 * slots.js — connections per storage origin. Browsers open at most 6 HTTP/1.1 connections per
 * host and queue the rest silently; a request queued there shows no progress and would trip
 * the stall timer, so every storage request (http.js `storageSend`) takes a slot first.
 */

/** A counting semaphore: one slot per storage request in flight. */
export class Slots {
  /** @param {number} size */
  constructor(size) {
    this.size = size;
    this.used = 0;
    /** @type {{resolve: () => void, signal?: AbortSignal, onAbort: () => void}[]} */
    this.waiting = [];
  }

  /**
   * Resolves when a slot is free; rejects if `signal` aborts first.
   * @param {AbortSignal} [signal]
   * @returns {Promise<void>}
   */
  acquire(signal) {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.used < this.size) {
      this.used += 1;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(signal?.reason);
      };
      const waiter = { resolve, signal, onAbort };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  release() {
    const waiter = this.waiting.shift();
    if (!waiter) {
      this.used = Math.max(0, this.used - 1);
      return;
    }
    waiter.signal?.removeEventListener("abort", waiter.onAbort);
    waiter.resolve(); // the slot passes straight on
  }
}

// A browser's limit of connections per host.
const CONNECTIONS_PER_ORIGIN = 6;
/** @type {Map<string, Slots>} */
const slotsByOrigin = new Map();

/**
 * The shared slots of one storage origin, across all uploads of the page.
 * @param {string} url
 * @param {number} [size]
 * @returns {Slots}
 */
export function originSlots(url, size = CONNECTIONS_PER_ORIGIN) {
  const origin = new URL(url).origin;
  if (!slotsByOrigin.has(origin)) slotsByOrigin.set(origin, new Slots(size));
  return /** @type {Slots} */ (slotsByOrigin.get(origin));
}
