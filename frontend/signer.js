/**
 * signer.js — signs the files of a batch together: `POST /uploads` with `{"files": [...]}`,
 * up to BATCH_MAX files a request, a request ahead of the uploads (not the whole list at once:
 * URLs would wait and expire). A refused batch (an API without batches, one file it will not
 * take) lets each of its files sign on its own, so each gets its own answer or error.
 */

import { abortError } from "./errors.js";

/**
 * @typedef {object} SignEntry
 * @property {{filename?: string, contentType?: string, size: number}} file  what POST /uploads is told
 * @property {"queued"|"sent"|"settled"} state
 * @property {boolean} [asked]  an upload waits for this answer
 * @property {Promise<import("./api.js").SignedUpload|null>} promise  null: sign on its own
 * @property {(signed: import("./api.js").SignedUpload|null) => void} resolve
 * @property {(error: unknown) => void} reject
 */

/** The signing of one batch's files, in their order. */
export class BatchSigner {
  /** @type {SignEntry[]} */
  #entries;
  /** @type {SignEntry[]} */
  #queue;
  #sending = false;
  #unused = 0; // signed answers no upload has taken yet

  /**
   * @param {import("./api.js").ApiClient} api  with the batch's retries
   * @param {{filename?: string, contentType?: string, size: number}[]} files
   * @param {{size?: number, ahead?: number, signal: AbortSignal}} options  `size`: files per
   *   request (at most BATCH_MAX, 100); `ahead`: the next request goes once fewer answers wait
   */
  constructor(api, files, { size = 100, ahead = 6, signal }) {
    this.api = api;
    this.size = Math.max(1, Math.min(100, size));
    this.ahead = ahead;
    this.signal = signal;
    /** @type {number} requests sent so far */
    this.requests = 0;
    this.#entries = files.map((file) => {
      /** @type {any} */
      const entry = { file, state: "queued" };
      entry.promise = new Promise((resolve, reject) => Object.assign(entry, { resolve, reject }));
      entry.promise.catch(() => {}); // a cancelled file's answer may never be asked for
      return /** @type {SignEntry} */ (entry);
    });
    this.#queue = [...this.#entries];
    signal.addEventListener("abort", () => this.#dropAll(), { once: true });
  }

  /**
   * File `index`'s answer, once its batch is signed (asking for it sends its batch if need be).
   * @param {number} index
   * @returns {Promise<import("./api.js").SignedUpload|null>}
   */
  signed(index) {
    const entry = this.#entries[index];
    entry.asked = true;
    this.#pump();
    return entry.promise.then((signed) => {
      if (signed) this.#unused -= 1;
      this.#pump();
      return signed;
    });
  }

  /**
   * File `index` is not to be signed: if it still waits for its batch, it leaves it and its
   * answer is the cancel's error; one already sent gets its answer (to be DELETEd).
   * @param {number} index
   */
  drop(index) {
    const entry = this.#entries[index];
    if (entry.state !== "queued") return;
    this.#queue.splice(this.#queue.indexOf(entry), 1);
    entry.state = "settled";
    entry.reject(abortError());
  }

  /**
   * File `index` signs on its own (e.g. it resumes an earlier upload): its answer is null.
   * @param {number} index
   */
  skip(index) {
    const entry = this.#entries[index];
    if (entry.state !== "queued") return;
    this.#queue.splice(this.#queue.indexOf(entry), 1);
    entry.state = "settled";
    entry.resolve(null);
  }

  /** Sends the next batch when an upload waits for a file of it, or few answers are left. */
  #pump() {
    if (this.#sending || !this.#queue.length) return;
    if (this.#unused >= this.ahead && !this.#queue.some((entry) => entry.asked)) return;
    this.#send(this.#queue.splice(0, this.size));
  }

  /** @param {SignEntry[]} batch */
  async #send(batch) {
    this.#sending = true;
    this.requests += 1;
    for (const entry of batch) entry.state = "sent";
    try {
      const answers = await this.api.signBatch(
        batch.map((entry) => entry.file),
        this.signal,
      );
      this.#unused += batch.length;
      batch.forEach((entry, at) => entry.resolve(answers[at] ?? null));
    } catch (/** @type {any} */ error) {
      if (this.signal.aborted) for (const entry of batch) entry.reject(abortError());
      else if (error.kind === "auth" || error.kind === "cors") for (const entry of batch) entry.reject(error);
      else for (const entry of batch) entry.resolve(null); // each on its own: its own answer
    } finally {
      for (const entry of batch) entry.state = "settled";
      this.#sending = false;
    }
    this.#pump();
  }

  #dropAll() {
    for (const entry of this.#queue) {
      entry.state = "settled";
      entry.reject(abortError());
    }
    this.#queue = [];
  }
}
