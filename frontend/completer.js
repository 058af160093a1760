/**
 * completer.js — completes the single uploads of a batch together: `POST /uploads/complete`
 * with the ids of every file whose bytes are stored, sent when enough have gathered, a short
 * while after the first, or when no other file could join. Each file gets its own completion,
 * or its own error; a cancelled file still waiting leaves the batch before it goes.
 */

import { UploadError, abortError, classifyStatus } from "./errors.js";

/**
 * @typedef {object} CompleterOptions
 * @property {number} [size]  ids per request at most; reaching it sends at once (default 20)
 * @property {number} [delay]  ms the first waiting id waits for others (default 250)
 * @property {number} [max]  the API's BATCH_MAX (default 100)
 */

/**
 * @typedef {object} Waiting
 * @property {string} uploadId
 * @property {Record<number|string, string>} etags
 * @property {AbortSignal} signal
 * @property {(answer: import("./api.js").CompletedUpload) => void} resolve
 * @property {(error: unknown) => void} reject
 * @property {() => void} onAbort
 */

const MD5 = /^[0-9a-f]{32}$/i;

/** The completions of one batch of uploads. */
export class BatchCompleter {
  /** @type {Waiting[]} */
  #waiting = [];
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  #timer;

  /**
   * @param {import("./api.js").ApiClient} api  with the batch's retries
   * @param {CompleterOptions} [options]
   */
  constructor(api, { size = 20, delay = 250, max = 100 } = {}) {
    this.api = api;
    this.size = Math.max(1, Math.min(size, max));
    this.delay = delay;
    /** @type {number} requests sent so far */
    this.requests = 0;
  }

  /** @returns {number} ids waiting to be sent */
  get pending() {
    return this.#waiting.length;
  }

  /**
   * Completes one upload with the others. Resolves with its completion; rejects with an
   * UploadError (its problem, or the whole request's failure), or the cancel's error: at once
   * while the id still waits, else once the request it went in has been answered (the API may
   * have completed it: the DELETE after the cancel then removes it).
   * @param {string} uploadId
   * @param {Record<number|string, string>} etags  a PUT's etag: the stored object must have it
   * @param {AbortSignal} signal
   * @returns {Promise<import("./api.js").CompletedUpload>}
   */
  complete(uploadId, etags, signal) {
    if (signal.aborted) return Promise.reject(abortError());
    return new Promise((resolve, reject) => {
      /** @type {Waiting} */
      const waiting = { uploadId, etags, signal, resolve, reject, onAbort: () => {} };
      waiting.onAbort = () => {
        const at = this.#waiting.indexOf(waiting);
        if (at < 0) return; // already sent: settled with its answer
        this.#waiting.splice(at, 1);
        reject(abortError());
      };
      signal.addEventListener("abort", waiting.onAbort, { once: true });
      this.#waiting.push(waiting);
      if (this.#waiting.length >= this.size) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.delay);
    });
  }

  /** Sends every waiting id now (in requests of at most `size`). */
  flush() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#waiting.length) this.#send(this.#waiting.splice(0, this.size));
  }

  /** @param {Waiting[]} batch */
  async #send(batch) {
    for (const waiting of batch) waiting.signal.removeEventListener("abort", waiting.onAbort);
    this.requests += 1;
    /** @type {(import("./api.js").CompletedUpload | {upload_id: string, problem: any})[]} */
    let answers;
    try {
      // Not aborted by a cancel: the API may complete some anyway, and the DELETEs come after.
      answers = await this.api.completeBatch(batch.map((waiting) => waiting.uploadId));
    } catch (/** @type {any} */ error) {
      if (error.kind === "auth" || error.kind === "cors") {
        for (const waiting of batch) waiting.reject(error);
        return;
      }
      // An API without batch completion, or one that keeps failing: each on its own.
      answers = batch.map((waiting) => ({ upload_id: waiting.uploadId, problem: { status: 503 } }));
    }
    batch.forEach((waiting, at) => this.#settle(waiting, answers[at]));
  }

  /**
   * @param {Waiting} waiting
   * @param {any} answer  its completion or {upload_id, problem}
   */
  async #settle({ uploadId, etags, signal, resolve, reject }, answer) {
    try {
      if (signal.aborted) throw abortError();
      let done = answer;
      if (!answer || answer.upload_id !== uploadId) {
        throw new UploadError("api", `The API answered the completion of ${uploadId} out of order.`);
      }
      if (answer.problem) done = await this.#again(uploadId, etags, answer.problem, signal);
      const pinned = etags[1] ?? "";
      // The batch pins no etag: the stored object must still be the one the PUT answered for.
      if (MD5.test(pinned) && done.etag !== pinned) {
        throw new UploadError("storage", "Upload failed: storage holds other bytes than were sent.");
      }
      resolve(done);
    } catch (error) {
      reject(error);
    }
  }

  /**
   * A file the batch could not complete: on its own, with retries, when its problem may pass
   * (5xx, 408, 429); else its problem as the error.
   * @param {string} uploadId
   * @param {Record<number|string, string>} etags
   * @param {{status?: number, detail?: string}} problem
   * @param {AbortSignal} signal
   */
  #again(uploadId, etags, problem, signal) {
    const status = Number(problem.status) || 0;
    if (classifyStatus(status, { fromStorage: false }) === "retry") {
      return this.api.complete(uploadId, etags, signal);
    }
    const detail = problem.detail ?? "";
    const message = `The API answered ${status}${detail ? `: ${detail}` : "."}`;
    throw new UploadError(status === 401 ? "auth" : "api", message, { status, detail, problem });
  }
}
