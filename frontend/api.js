/**
 * api.js — the client of upload-signer's API: sign an upload, fetch part URLs, ask what is
 * stored, complete, abort. Every call carries the bearer token and no cookies; failures become
 * UploadErrors that tell a refused token, a CORS refusal and an unreachable API apart.
 */

import { UploadError, abortError, classifyStatus, problemDetail } from "./errors.js";
import { resolveHttpStack } from "./http.js";
import { waitToRetry } from "./retry.js";

/**
 * POST /uploads's answer: one TempURL (and, where storage offers it, the same upload as a
 * form), or a segmented plan (`segmented`, `part_size`, `part_count` and the first `parts`).
 * The API's JSON, as it is.
 * @typedef {object} SignedUpload
 * @property {string} object_name
 * @property {string} [upload_id]  absent from an API without upload sessions
 * @property {boolean} [segmented]
 * @property {string} [upload_url]
 * @property {string} [upload_method]
 * @property {Record<string, string>} upload_headers
 * @property {UploadForm} [upload_form]  a single upload's FormPOST; used instead of the PUT
 * @property {string} download_url
 * @property {string} expires_at
 * @property {number} [part_size]
 * @property {number} [part_count]
 * @property {PartUrl[]} [parts]
 */

/**
 * A single upload as a Swift FormPOST: a `multipart/form-data` POST to `url` of every entry
 * of `fields` first, in this order, then the file as the part named `file` whose filename is
 * `file_name`. Storage refuses a file over `fields.max_file_size` (400, nothing stored) and a
 * form after `fields.expires` (a Unix time); its answer carries no ETag.
 * @typedef {object} UploadForm
 * @property {string} url
 * @property {Record<string, string>} fields  redirect, max_file_size, max_file_count, expires,
 *   signature, and x_delete_after when uploads expire
 * @property {string} file_name
 */

/** @typedef {{number: number, upload_url: string}} PartUrl */

/**
 * GET /uploads/<id>'s answer: what storage holds of a segmented upload.
 * @typedef {object} UploadStatus
 * @property {string} upload_id
 * @property {string} object_name
 * @property {number} part_count
 * @property {number[]} stored_parts
 * @property {number[]} missing_parts
 */

/**
 * POST /uploads/<id>/complete's answer.
 * @typedef {{object_name: string, download_url: string, etag: string, size?: number,
 *   upload_id?: string}} CompletedUpload
 */

/**
 * @typedef {object} ApiCall
 * @property {string} [method]
 * @property {string} path  from the API's base, e.g. "/uploads"
 * @property {unknown} [body]  sent as JSON
 * @property {AbortSignal} [signal]
 * @property {number[]} [expect]  the statuses that are a success (default [200])
 */

/**
 * @typedef {object} ApiClientOptions
 * @property {string} apiBase
 * @property {string} token
 * @property {Partial<import("./http.js").HttpStack>} [httpStack]
 * @property {number} [retries]  further attempts after a transient failure (default 0)
 * @property {number} [retryDelay]
 * @property {number} [maxRetryDelay]
 * @property {(detail: import("./retry.js").RetryDetail) => void} [onRetry]  before each wait
 */

const path = (/** @type {string} */ uploadId) => `/uploads/${encodeURIComponent(uploadId)}`;

/** The API of one base URL and token. */
export class ApiClient {
  /** @param {ApiClientOptions} options */
  constructor({ apiBase, token, httpStack, retries = 0, retryDelay, maxRetryDelay, onRetry }) {
    this.base = String(apiBase || "").replace(/\/+$/, "");
    this.token = token;
    this.http = resolveHttpStack(httpStack);
    this.retries = retries;
    this.backoff = { retryDelay, maxRetryDelay };
    this.onRetry = onRetry;
  }

  /**
   * One call. Resolves with the parsed JSON answer (null for a 204) when the status is in
   * `expect`; otherwise rejects with an UploadError: `auth` for 401, `cors`/`network` when no
   * answer arrives, else `api` with `status`, `detail`, `problem` and `retryAfter`.
   * @param {ApiCall} call
   * @returns {Promise<any>}
   */
  async send({ method = "GET", path, body, signal, expect = [200] }) {
    const base = this.base;
    if (!base) throw new UploadError("api", "No API URL is configured.");
    if (!this.token) throw new UploadError("auth", "No API token is set: paste one to upload.");
    /** @type {Record<string, string>} */
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    let text;
    try {
      response = await this.http.request(`${base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // No `cache: "no-store"`: Chromium then skips its preflight cache and sends an OPTIONS
        // before every call. The API answers `Cache-Control: no-store` itself.
        credentials: "omit",
        signal,
      });
      text = await response.text();
    } catch (error) {
      if (signal?.aborted) throw abortError();
      const origin = globalThis.location?.origin ?? "this page";
      if (await this.http.reachable(`${base}/healthz`)) {
        throw new UploadError(
          "cors",
          `The API at ${base} does not accept requests from ${origin}: add this origin to its CORS_ORIGINS.`,
          { cause: error },
        );
      }
      throw new UploadError("network", `Could not reach the API at ${base}.`, { cause: error });
    }
    const status = response.status;
    if (expect.includes(status)) {
      if (status === 204) return null;
      try {
        return JSON.parse(text);
      } catch (error) {
        throw new UploadError("api", `The API at ${base} answered with something else than JSON.`, {
          status,
          cause: error,
        });
      }
    }
    const detail = problemDetail(text);
    const suffix = detail ? `: ${detail}` : ".";
    const known = {
      status,
      detail,
      problem: parseJson(text),
      retryAfter: response.headers.get("Retry-After"),
    };
    if (status === 401) throw new UploadError("auth", `The API refused the token (401)${suffix}`, known);
    throw new UploadError("api", `The API answered ${status}${suffix}`, known);
  }

  /**
   * `send`, tried again (up to `retries` times, with backoff) while the API is unreachable or
   * answers 5xx, 408 or 429; `onRetry` hears of each wait.
   * @param {ApiCall} call
   * @returns {Promise<any>}
   */
  async request(call) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.send(call);
      } catch (/** @type {any} */ error) {
        if (!isTransient(error) || attempt > this.retries) throw error;
        const why = { reason: error.kind, status: error.status, retryAfter: error.retryAfter };
        await waitToRetry(attempt, why, this.backoff, this.onRetry, call.signal);
      }
    }
  }

  /**
   * POST /uploads: fresh TempURLs for a file (or, for a large one, a segmented plan).
   * @param {{filename?: string, contentType?: string, size: number}} file
   * @param {AbortSignal} [signal]
   * @returns {Promise<SignedUpload>}
   */
  sign({ filename, contentType, size }, signal) {
    /** @type {{filename?: string, size: number, content_type?: string}} */
    const body = { filename, size };
    if (contentType) body.content_type = contentType;
    return this.request({ method: "POST", path: "/uploads", body, signal, expect: [201] });
  }

  /**
   * POST /uploads with `{"files": [...]}`: each file signed as `sign` would, in order. All or
   * nothing: one refused file fails the call (its `invalid_params` name it, `files[3].size`).
   * @param {{filename?: string, contentType?: string, size: number}[]} files  1 to BATCH_MAX
   * @param {AbortSignal} [signal]
   * @returns {Promise<SignedUpload[]>}
   */
  async signBatch(files, signal) {
    const body = {
      files: files.map(({ filename, contentType, size }) =>
        contentType ? { filename, size, content_type: contentType } : { filename, size },
      ),
    };
    const answer = await this.request({ method: "POST", path: "/uploads", body, signal, expect: [201] });
    return answer.files;
  }

  /**
   * POST /uploads/complete with `{"upload_ids": [...]}`: per id, in order, its completion or
   * `{upload_id, problem}`. Pins no etag.
   * @param {string[]} uploadIds  1 to BATCH_MAX
   * @param {AbortSignal} [signal]
   * @returns {Promise<(CompletedUpload | {upload_id: string, problem: any})[]>}
   */
  async completeBatch(uploadIds, signal) {
    const body = { upload_ids: uploadIds };
    const answer = await this.request({ method: "POST", path: "/uploads/complete", body, signal });
    return answer.files;
  }

  /**
   * GET /uploads/<id>/parts?from=N: the next batch of part URLs.
   * @param {string} uploadId
   * @param {number} from  the first part of the batch
   * @param {AbortSignal} [signal]
   * @returns {Promise<{parts: PartUrl[], expires_at: string}>}
   */
  parts(uploadId, from, signal) {
    return this.request({ path: `${path(uploadId)}/parts?from=${from}`, signal });
  }

  /**
   * GET /uploads/<id>: which parts storage holds.
   * @param {string} uploadId
   * @param {AbortSignal} [signal]
   * @returns {Promise<UploadStatus>}
   */
  status(uploadId, signal) {
    return this.request({ path: path(uploadId), signal });
  }

  /**
   * POST /uploads/<id>/complete, pinning the etags that are MD5s (the API can check those).
   * @param {string} uploadId
   * @param {Record<number|string, string>} etags  part number → etag
   * @param {AbortSignal} [signal]
   * @returns {Promise<CompletedUpload>}
   */
  complete(uploadId, etags, signal) {
    const parts = Object.entries(etags)
      .filter(([, etag]) => /^[0-9a-f]{32}$/i.test(etag ?? ""))
      .map(([number, etag]) => ({ number: Number(number), etag }));
    const body = parts.length ? { parts } : undefined;
    return this.request({ method: "POST", path: `${path(uploadId)}/complete`, body, signal, expect: [200] });
  }

  /**
   * DELETE /uploads/<id>, once: storage drops what the upload stored. 404 counts as done.
   * @param {string} uploadId
   * @returns {Promise<void>}
   */
  async abort(uploadId) {
    await this.send({ method: "DELETE", path: path(uploadId), expect: [204, 404] });
  }
}

/**
 * Whether another attempt may succeed: no answer, or a 5xx/408/429. A status-less `api` error
 * is a setting (no API URL), which waiting does not fix.
 * @param {UploadError} error
 */
function isTransient(error) {
  if (error.kind === "network") return true;
  return (
    error.kind === "api" &&
    error.status !== 0 &&
    classifyStatus(error.status, { fromStorage: false }) === "retry"
  );
}

function parseJson(/** @type {string} */ text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * One call to the API with the bearer token (see ApiClient#send).
 * @param {string} apiBase
 * @param {string} token
 * @param {ApiCall & {httpStack?: Partial<import("./http.js").HttpStack>}} call
 * @returns {Promise<any>}
 */
export function callApi(apiBase, token, { httpStack, ...call }) {
  return new ApiClient({ apiBase, token, httpStack }).send(call);
}

/**
 * POST /uploads once: a fresh pair of TempURLs for this file (or a segmented plan). `Upload`
 * signs through the same ApiClient#sign, with retries.
 * @param {string} apiBase
 * @param {string} token
 * @param {{filename?: string, contentType?: string, size: number}} file
 * @param {AbortSignal} [signal]
 * @param {{httpStack?: Partial<import("./http.js").HttpStack>}} options  optional
 * @returns {Promise<SignedUpload>}
 */
export function requestUpload(apiBase, token, file, signal, { httpStack } = {}) {
  return new ApiClient({ apiBase, token, httpStack }).sign(file, signal);
}
