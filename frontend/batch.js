/**
 * batch.js — many files at once: `UploadBatch` and `uploadFiles`. The files are signed
 * together (signer.js), go up a few at a time, each as one `Upload` (its retries, fresh URLs,
 * segmented parts, cancel and DELETE), and their single uploads are completed together
 * (completer.js). One file's failure is its own: the batch resolves with every file's result.
 */

import { ApiClient } from "./api.js";
import { BatchCompleter } from "./completer.js";
import { EVENT_CALLBACKS, normalizeOptions } from "./options.js";
import { ProgressMeter } from "./progress.js";
import { BatchSigner } from "./signer.js";
import { Slots } from "./slots.js";
import { Upload } from "./uploader.js";

/**
 * The options of a batch: those of `uploadFile` for every file (but its callbacks: per file,
 * give them in `fileOptions`), and these.
 * @typedef {object} BatchSettings
 * @property {number} [concurrency]  files going up at once (default 6: a browser's connections per host)
 * @property {number} [signBatch]  files per POST /uploads (default and most: 100, the API's BATCH_MAX)
 * @property {number} [completeBatch]  ids per POST /uploads/complete (default 20)
 * @property {number} [completeDelay]  ms a stored file waits for others to complete with (default 250)
 * @property {(file: File|Blob, index: number) => Partial<import("./options.js").UploadOptions>} [fileOptions]
 *   one file's own options (filename, contentType, callbacks such as onProgress), over the others
 * @property {(detail: BatchProgress) => void} [onProgress]  the whole batch's progress
 * @property {(detail: FileSettled) => void} [onFile]  a file is done, failed or cancelled
 * @property {(detail: {results: FileResult[]}) => void} [onDone]  every file has ended
 */

/** @typedef {Omit<import("./options.js").UploadSettings, never> & BatchSettings} BatchOptions */

/**
 * The "progress" detail of a batch: bytes of the files not failed nor cancelled, and counts.
 * @typedef {import("./progress.js").Progress & {files: number, done: number, failed: number,
 *   cancelled: number}} BatchProgress
 */

/** @typedef {import("./uploader.js").UploadResult | import("./errors.js").UploadError} FileResult */

/**
 * The "file" detail: one file has ended.
 * @typedef {{index: number, file: File|Blob, upload: Upload, result: import("./uploader.js").UploadResult|null,
 *   error: import("./errors.js").UploadError|null}} FileSettled
 */

const BATCH_CALLBACKS = Object.freeze({ progress: "onProgress", file: "onFile", done: "onDone" });
const OWN = ["concurrency", "signBatch", "completeBatch", "completeDelay", "fileOptions", "signal"];

/**
 * Many files' uploads. An EventTarget; each event also calls its option:
 *  - "progress" {loaded, total, percent, speed, eta, files, done, failed, cancelled}
 *  - "file"     {index, file, upload, result, error}   one file has ended
 *  - "done"     {results}                               every file has ended
 * `uploads[i]` is file i's `Upload`, with its own events and `cancel()`.
 */
export class UploadBatch extends EventTarget {
  #settled = 0;
  #started = false;

  /**
   * @param {Iterable<File|Blob>|ArrayLike<File|Blob>} files
   * @param {BatchOptions & import("./options.js").UploadSettings} options  apiBase and token are required
   */
  constructor(files, options) {
    super();
    /** @type {(File|Blob)[]} */
    this.files = Array.from(files);
    this.options = options;
    const { concurrency = 6, signBatch = 100, completeBatch = 20, completeDelay = 250 } = options;
    const shared = normalizeOptions(withoutBatchOptions(options));
    this.controller = new AbortController();
    const { apiBase, token, httpStack, retries, retryDelay, maxRetryDelay } = shared;
    const api = new ApiClient({ apiBase, token, httpStack, retries, retryDelay, maxRetryDelay });
    this.slots = new Slots(Math.max(1, Math.floor(concurrency) || 1));
    this.completer = new BatchCompleter(api, { size: completeBatch, delay: completeDelay });
    /** @type {(FileResult|undefined)[]} */
    this.results = this.files.map(() => undefined);
    /** @type {Upload[]} */
    this.uploads = this.files.map((file, index) => {
      const own = options.fileOptions?.(file, index) ?? {};
      return new Upload(file, { ...shared, ...own }, this.#hooks(index));
    });
    const entries = this.uploads.map((upload) => {
      const file = /** @type {File} */ (upload.file);
      const { filename, contentType } = upload.options;
      return {
        filename: filename ?? file.name ?? "upload",
        contentType: contentType ?? file.type ?? "",
        size: file.size,
      };
    });
    this.signer = new BatchSigner(api, entries, {
      size: signBatch,
      ahead: this.slots.size,
      signal: this.controller.signal,
    });
    // A file with an unfinished segmented upload resumes it: it signs nothing new.
    this.uploads.forEach((upload, index) => {
      if (upload.resumes.load(shared.apiBase, upload.file)) this.signer.skip(index);
    });
    this.#meter = new ProgressMeter(this.#sizes(), { window: shared.speedWindow });
    this.#loaded = this.files.map(() => 0);
    this.uploads.forEach((upload, index) => this.#watch(upload, index));
    const outer = options.signal;
    if (outer?.aborted) this.cancel();
    else outer?.addEventListener("abort", () => this.cancel(), { once: true });
  }

  /** @type {ProgressMeter} */
  #meter;
  /** @type {number[]} bytes sent per file */
  #loaded;
  /** @type {Set<number>} files that went up and wait for their completion */
  #completing = new Set();
  /** @type {Set<number>} files that have started */
  #launched = new Set();
  /** @type {Map<number, () => void>} gives a started file's slot back (once) */
  #release = new Map();
  /** @type {Promise<FileResult[]>|null} */
  promise = null;

  /**
   * Starts once; later calls return the same promise. Never rejects for one file's failure:
   * resolves with one result per file, in order, a result or an UploadError.
   * @returns {Promise<FileResult[]>}
   */
  start() {
    this.#started = true;
    this.promise ??= this.#run();
    return this.promise;
  }

  /** Cancels every file: each aborts its requests, then DELETEs what was signed for it. */
  cancel() {
    this.controller.abort();
    for (const upload of this.uploads) upload.cancel();
  }

  /** @returns {BatchProgress} the figures of the last "progress" event, made now */
  progress() {
    const states = this.uploads.map((upload) => upload.state);
    const count = (/** @type {string} */ state) => states.filter((s) => s === state).length;
    const figures = this.#meter.update(this.#loaded.reduce((sum, n) => sum + n, 0));
    // All bytes sent is not the end while files still complete.
    const eta = figures.eta === 0 && this.#settled < this.files.length ? null : figures.eta;
    const counts = { done: count("done"), failed: count("failed"), cancelled: count("cancelled") };
    return { ...figures, eta, files: this.files.length, ...counts };
  }

  async #run() {
    const done = new Promise((resolve) => {
      if (!this.files.length) resolve(null);
      this.addEventListener("file", () => this.#settled === this.files.length && resolve(null));
    });
    for (const [index, upload] of this.uploads.entries()) {
      if (this.#launched.has(index)) continue;
      try {
        await this.slots.acquire(upload.controller.signal);
      } catch {
        // Cancelled while it waited: it ends at once (after its DELETE, if it was signed).
        if (!this.#launched.has(index)) this.#launch(index, false);
        continue;
      }
      if (this.#launched.has(index)) this.slots.release();
      else this.#launch(index, true);
    }
    await done;
    const results = /** @type {FileResult[]} */ (this.results);
    this.#emit("done", { results });
    return results;
  }

  /**
   * @param {number} index
   * @param {boolean} slot  it holds one of the batch's slots, released when its bytes are stored
   */
  #launch(index, slot) {
    this.#launched.add(index);
    const upload = this.uploads[index];
    let held = slot;
    this.#release.set(index, () => {
      if (held) this.slots.release();
      held = false;
    });
    upload.start().then(
      (result) => this.#end(index, result, null),
      (error) => this.#end(index, null, error),
    );
  }

  /**
   * @param {number} index
   * @param {import("./uploader.js").UploadResult|null} result
   * @param {any} error
   */
  #end(index, result, error) {
    this.#release.get(index)?.();
    this.#completing.delete(index);
    this.results[index] = result ?? error;
    if (result) this.#loaded[index] = this.files[index].size;
    else this.#loaded[index] = 0;
    this.#settled += 1;
    this.#meter.total = this.#sizes();
    this.#flushIfIdle();
    this.#emit("progress", this.progress());
    this.#emit("file", { index, file: this.files[index], upload: this.uploads[index], result, error });
  }

  /** @returns {import("./uploader.js").UploadHooks} */
  #hooks(index) {
    return {
      signed: () => this.signer.signed(index),
      complete: (uploadId, etags, signal) => {
        this.#release.get(index)?.();
        this.#completing.add(index);
        const completion = this.completer.complete(uploadId, etags, signal);
        this.#flushIfIdle();
        return completion;
      },
    };
  }

  /** Every file not ended waits for its completion: nothing else could join the request. */
  #flushIfIdle() {
    if (this.completer.pending && this.#completing.size === this.files.length - this.#settled) {
      this.completer.flush();
    }
  }

  /** @param {Upload} upload @param {number} index */
  #watch(upload, index) {
    upload.addEventListener("progress", (event) => {
      this.#loaded[index] = /** @type {CustomEvent} */ (event).detail.loaded;
      this.#emit("progress", this.progress());
    });
    upload.controller.signal.addEventListener(
      "abort",
      () => {
        this.signer.drop(index);
        if (!this.#launched.has(index) && this.#started) this.#launch(index, false);
      },
      { once: true },
    );
  }

  /** @returns {number} bytes of the files not failed nor cancelled */
  #sizes() {
    return this.uploads.reduce((sum, upload) => {
      const out = upload.state === "failed" || upload.state === "cancelled";
      return out ? sum : sum + upload.file.size;
    }, 0);
  }

  /**
   * @param {"progress"|"file"|"done"} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
    /** @type {any} */ (this.options)[BATCH_CALLBACKS[type]]?.(detail);
  }
}

/**
 * The options every file's Upload gets: the batch's own and the per-event callbacks left out.
 * @param {object} options
 */
function withoutBatchOptions(options) {
  const drop = new Set([...OWN, ...Object.values(EVENT_CALLBACKS), ...Object.values(BATCH_CALLBACKS)]);
  return Object.fromEntries(Object.entries(options ?? {}).filter(([name]) => !drop.has(name)));
}

/**
 * Uploads many files; see `UploadBatch`. Resolves with one result per file, in order: its
 * `{object_name, download_url, etag}`, or the UploadError it failed (or was cancelled) with.
 * @param {Iterable<File|Blob>|ArrayLike<File|Blob>} files
 * @param {BatchOptions & import("./options.js").UploadSettings} options
 * @returns {Promise<FileResult[]>}
 */
export function uploadFiles(files, options) {
  return new UploadBatch(files, options).start();
}
