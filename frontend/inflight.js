/**
 * inflight.js — every request of one upload, so that a cancel is over before the upload is
 * withdrawn: the cancel aborts them all (each runs under the upload's signal), and the DELETE
 * of the upload waits until the last has ended. A request still going when storage is told to
 * drop what the upload stored could store a part after that, and it would stay.
 */

import { abortError } from "./errors.js";

/**
 * `promise`, or the cancel's UploadError as soon as `signal` aborts (for requests, such as the
 * reachability probe, that a stack may not abort itself).
 * @template T
 * @param {Promise<T>} promise
 * @param {AbortSignal} signal
 * @returns {Promise<T>}
 */
function untilAborted(promise, signal) {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError());
    if (signal.aborted) return onAbort(); // aborted while the request was being made
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/** The requests of one upload in flight, and the HTTP stack that makes them. */
export class InFlight {
  /** @type {Set<Promise<unknown>>} */
  #pending = new Set();

  /**
   * @param {import("./http.js").HttpStack} stack  the stack the requests go through
   * @param {AbortSignal} signal  the upload's: aborts when it is cancelled
   */
  constructor(stack, signal) {
    const track = (/** @type {() => Promise<any>} */ start) => this.#track(start);
    /** @type {Readonly<import("./http.js").HttpStack>} the same requests, each one counted */
    this.stack = Object.freeze({
      put: (url, blob, request) => track(() => stack.put(url, blob, request)),
      post: (url, form, request) => track(() => stack.post(url, form, request)),
      request: (url, init) => track(() => stack.request(url, init)),
      reachable: (url) =>
        track(() =>
          signal.aborted
            ? Promise.reject(abortError())
            : untilAborted(stack.reachable(url, { signal }), signal),
        ),
    });
  }

  /** @returns {number} requests not yet ended */
  get size() {
    return this.#pending.size;
  }

  /**
   * Resolves once no request is in flight, also those that start while it waits.
   * @returns {Promise<void>}
   */
  async settled() {
    while (this.#pending.size) await Promise.allSettled([...this.#pending]);
  }

  /**
   * @template T
   * @param {() => Promise<T>} start
   * @returns {Promise<T>}
   */
  #track(start) {
    /** @type {Promise<T>} */
    const request = new Promise((resolve) => resolve(start()));
    this.#pending.add(request);
    const done = () => this.#pending.delete(request);
    request.then(done, done);
    return request;
  }
}
