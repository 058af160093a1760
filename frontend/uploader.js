/**
 * uploader.js — upload one File straight from the browser to Swift / Cloud Files.
 *
 * A drop-in ES module with no dependencies and no build step:
 *
 *   import { uploadFile } from "./uploader.js";
 *   const { object_name, download_url, etag } = await uploadFile(file, {
 *     apiBase: "https://api.example.com", token: "…",
 *     onProgress: ({ percent, speed, eta }) => console.log(percent, speed, eta),
 *   });
 *
 * How it works: POST {apiBase}/uploads (bearer token) returns a short-lived upload form (a Swift
 * FormPOST, where storage offers it) or else a PUT TempURL and the headers to send with it; the
 * File itself is the form's file or the PUT's body, so the browser streams it from disk and the
 * page never holds its bytes in memory. Transient failures (network errors, 5xx, 408, 429, a
 * stalled request) are retried with exponential backoff; an expired URL or form (a 401 from
 * storage, or a failure after its expiry time) is replaced by a fresh one. Other 4xx answers
 * fail at once. Then POST {apiBase}/uploads/<upload_id>/complete publishes it: nothing uploaded
 * is served before.
 *
 * A file larger than the API's threshold gets a segmented plan instead: its parts (Blob.slice)
 * go up in parallel, each with its MD5 as ETag, each retried on its own; part URLs come in
 * batches as needed; completion assembles them into one object. localStorage remembers the
 * upload, so picking the same file again (after a reload, a crash) sends only missing parts.
 *
 * This module is the public entry: `Upload` and `uploadFile`, and everything the other modules
 * offer for reuse. See docs/frontend.md for the full reference and the module layout.
 */

import { ApiClient } from "./api.js";
import { abortError } from "./errors.js";
import { resolveHttpStack } from "./http.js";
import { InFlight } from "./inflight.js";
import { EVENT_CALLBACKS, normalizeOptions } from "./options.js";
import { ResumeStore, defaultStorage } from "./parts.js";
import { newPlan, resumedPlan, uploadSegmented } from "./segmented.js";
import { uploadSingle } from "./single.js";

export { ApiClient, callApi, requestUpload } from "./api.js";
export { UploadBatch, uploadFiles } from "./batch.js";
export { UploadError, classifyStatus, problemDetail } from "./errors.js";
export { defaultHttpStack, putBlob } from "./http.js";
export { DEFAULTS, EVENT_CALLBACKS } from "./options.js";
export { PartSchedule, PartUrls, ResumeStore } from "./parts.js";
export { ProgressMeter, formatBytes, formatDuration } from "./progress.js";
export { backoffDelay, isExpired, parseRetryAfter } from "./retry.js";
export { discardUpload, pendingUploads } from "./segmented.js";

/**
 * What an upload resolves with, and the "done" event's detail: the API's own field names.
 * @typedef {object} UploadResult
 * @property {string} object_name  the object's name in the container
 * @property {string} download_url  a signed URL that downloads it under the file's name
 * @property {string} etag  the MD5 of a single PUT's bytes; a segmented object's own etag
 */

/**
 * The "signed" event's detail: from POST /uploads's answer (or a resumed upload's status).
 * @typedef {{object_name: string, download_url: string, expires_at: string|null}} SignedDetail
 */

/**
 * The "resume" event's detail: from GET /uploads/<id>'s answer.
 * @typedef {{upload_id: string, object_name: string, stored_parts: number[], missing_parts: number[]}} ResumeDetail
 */

/**
 * The "part" event's detail.
 * @typedef {object} PartDetail
 * @property {number} number  the part just stored (1-based)
 * @property {string} etag  its etag: its MD5 when sent with one, else what storage answered
 * @property {boolean} checksum  whether it went with its MD5 (storage checked the bytes)
 * @property {number} stored  parts stored so far
 * @property {number} total  parts in all
 */

/** @typedef {"idle"|"signing"|"uploading"|"completing"|"done"|"failed"|"cancelled"} UploadState */

/**
 * How an UploadBatch (batch.js) runs one of its files: signed with the others, completed with
 * the others. Not part of the public surface.
 * @typedef {object} UploadHooks
 * @property {() => Promise<import("./api.js").SignedUpload|null>} signed  this file's answer of
 *   the batch's POST /uploads; null: the file signs (or resumes) on its own
 * @property {(uploadId: string, etags: Record<number|string, string>, signal: AbortSignal)
 *   => Promise<import("./api.js").CompletedUpload>} complete  completes a single upload
 */

/**
 * One file's upload. An EventTarget whose events (CustomEvents, data in `detail`) each also
 * call the matching `on<Event>` option (EVENT_CALLBACKS) with the same detail:
 *  - "signed"   {object_name, download_url, expires_at}  each time URLs are (re)issued
 *  - "resume"   {upload_id, object_name, stored_parts, missing_parts}  an earlier upload goes on
 *  - "progress" {loaded, total, percent, speed, eta}     while bytes go out (all parts together)
 *  - "part"     {number, etag, checksum, stored, total}   a part of a segmented upload is stored
 *  - "retry"    {attempt, delay, reason, status, part}    before waiting to try again
 *  - "done"     {object_name, download_url, etag}
 *  - "error"    {error}                                   an UploadError, also for a cancel
 */
export class Upload extends EventTarget {
  /** @type {ApiClient} */
  #api;
  /** @type {import("./http.js").HttpStack} */
  #http;
  /** @type {InFlight} every request of this upload, counted: a cancel's DELETE waits for them */
  #requests;
  /** @type {UploadHooks|null} */
  #hooks;

  /**
   * @param {File|Blob} file
   * @param {import("./options.js").UploadOptions} options  apiBase and token are required
   * @param {UploadHooks|null} [hooks]  for UploadBatch only
   */
  constructor(file, options, hooks = null) {
    super();
    this.#hooks = hooks;
    /** @type {File|Blob} */
    this.file = file;
    /** @type {import("./options.js").NormalizedOptions} the options with every default filled in */
    this.options = normalizeOptions(options);
    this.controller = new AbortController();
    /** @type {UploadState} */
    this.state = "idle"; // idle → signing → uploading → completing → done | failed | cancelled
    /** @type {UploadResult|null} */
    this.result = null;
    /** @type {Promise<UploadResult>|null} */
    this.promise = null;
    /** @type {string|null} known once the API has answered */
    this.uploadId = null;
    this.segmented = false;
    // Only a named File with a modification time can be recognised when picked again: two
    // Blobs of one size would otherwise share a record, and one would resume the other.
    const { resume, storage } = this.options;
    const resumable =
      resume &&
      Boolean(/** @type {File} */ (file).name) &&
      Number.isFinite(/** @type {File} */ (file).lastModified);
    this.resumes = new ResumeStore(resumable ? (storage ?? defaultStorage()) : null);
    this.#requests = new InFlight(resolveHttpStack(this.options.httpStack), this.controller.signal);
    this.#http = this.#requests.stack;
    const { apiBase, token, retries, retryDelay, maxRetryDelay } = this.options;
    this.#api = new ApiClient({
      apiBase,
      token,
      httpStack: this.#http,
      retries,
      retryDelay,
      maxRetryDelay,
      onRetry: (detail) => this.#emit("retry", detail),
    });
    const outer = this.options.signal;
    if (outer) {
      if (outer.aborted) this.controller.abort();
      else outer.addEventListener("abort", () => this.cancel(), { once: true });
    }
  }

  /**
   * Starts once; later calls return the same promise.
   * @returns {Promise<UploadResult>}
   */
  start() {
    this.promise ??= this.#run().then(
      (result) => {
        this.state = "done";
        this.result = result;
        this.#emit("done", result);
        return result;
      },
      async (error) => {
        if (error.kind === "aborted") await this.#abortStored();
        this.state = error.kind === "aborted" ? "cancelled" : "failed";
        this.#emit("error", { error });
        throw error;
      },
    );
    return this.promise;
  }

  /**
   * Aborts whatever is in flight (signing, the uploads, a backoff wait), then, once every
   * request has ended, DELETEs what was stored.
   */
  cancel() {
    this.controller.abort();
  }

  /**
   * @param {import("./options.js").UploadEventType} type
   * @param {object} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
    /** @type {((detail: object) => void)|undefined} */ (this.options[EVENT_CALLBACKS[type]])?.(detail);
  }

  async #run() {
    const hooks = this.#hooks;
    // A batch's file cancelled while signed with the others still learns its id, to DELETE it.
    if (this.controller.signal.aborted && !hooks) throw abortError();
    /** @type {import("./transfer.js").Run} */
    const run = {
      upload: this,
      file: this.file,
      options: this.options,
      signal: this.controller.signal,
      api: this.#api,
      http: this.#http,
      resumes: this.resumes,
      emit: (type, detail) => this.#emit(type, detail),
      sign: () => this.#sign(),
      complete: (etags) => this.#complete(etags),
    };
    const presigned = hooks ? await this.#presigned(hooks) : null;
    const resumed = presigned ? null : await resumedPlan(run);
    if (resumed) return uploadSegmented(run, resumed);
    const signed = presigned ?? (await this.#sign());
    if (!signed.segmented) return uploadSingle(run, signed);
    return uploadSegmented(run, newPlan(run, signed));
  }

  /**
   * This file's answer of its batch's POST /uploads, announced as `#sign` does; null when the
   * file is to sign on its own.
   * @param {UploadHooks} hooks
   */
  async #presigned(hooks) {
    this.state = "signing";
    const signed = await hooks.signed();
    if (signed) {
      this.uploadId = signed.upload_id || null;
      this.#emit("signed", {
        object_name: signed.object_name,
        download_url: signed.download_url,
        expires_at: signed.expires_at,
      });
    }
    if (this.controller.signal.aborted) throw abortError();
    return signed;
  }

  /** POST /uploads for this file, through the same ApiClient#sign as `requestUpload`. */
  async #sign() {
    this.state = "signing";
    const { filename, contentType } = this.options;
    const file = /** @type {File} */ (this.file);
    const signed = await this.#api.sign(
      {
        filename: filename ?? file.name ?? "upload",
        contentType: contentType ?? file.type ?? "",
        size: file.size,
      },
      this.controller.signal,
    );
    this.uploadId = signed.upload_id || null;
    this.#emit("signed", {
      object_name: signed.object_name,
      download_url: signed.download_url,
      expires_at: signed.expires_at,
    });
    return signed;
  }

  /**
   * POST complete, pinning the etags we know; the stored object's final description.
   * @param {Record<number|string, string>} etags
   * @returns {Promise<UploadResult>}
   */
  async #complete(etags) {
    this.state = "completing";
    const id = /** @type {string} */ (this.uploadId);
    const { signal } = this.controller;
    // A batch completes its single uploads together; a segmented one completes on its own.
    const batched = this.#hooks && !this.segmented;
    const answer = batched
      ? await /** @type {UploadHooks} */ (this.#hooks).complete(id, etags, signal)
      : await this.#api.complete(id, etags, signal);
    this.resumes.forget(this.options.apiBase, this.file);
    return { object_name: answer.object_name, download_url: answer.download_url, etag: answer.etag };
  }

  /**
   * After a cancel: DELETE the upload so nothing it stored stays behind; forget it. The cancel
   * has aborted every request of the upload (one whose body had gone out whole is answered
   * first: storage stores it anyway); the DELETE goes once the last has ended, so a request
   * still going cannot store anything after it.
   */
  async #abortStored() {
    await this.#requests.settled();
    if (!this.uploadId) return;
    this.resumes.forget(this.options.apiBase, this.file);
    try {
      await this.#api.abort(this.uploadId);
    } catch {
      // Best effort: `upload-signer gc` removes what an unreachable API could not.
    }
  }
}

/**
 * Uploads one file; see `Upload`.
 * @param {File|Blob} file
 * @param {import("./options.js").UploadOptions} options
 * @returns {Promise<UploadResult>}
 */
export function uploadFile(file, options) {
  return new Upload(file, options).start();
}
