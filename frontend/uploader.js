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
 * How it works: POST {apiBase}/uploads (bearer token) returns a short-lived PUT TempURL and the
 * headers to send with it; the File itself is the XMLHttpRequest body, so the browser streams it
 * from disk and the page never holds its bytes in memory. Transient failures (network errors,
 * 5xx, 408, 429, a stalled request) are retried with exponential backoff; an expired URL (a
 * 401 from storage, or a failure after its expiry time) is replaced by a fresh one. Other 4xx
 * answers fail at once. Then POST {apiBase}/uploads/<upload_id>/complete confirms it.
 *
 * A file larger than the API's threshold gets a segmented plan instead: its parts (Blob.slice)
 * go up in parallel, each with its MD5 as ETag, each retried on its own; part URLs come in
 * batches as needed; completion assembles them into one object. localStorage remembers the
 * upload, so picking the same file again (after a reload, a crash) sends only missing parts.
 *
 * The pure helpers (retry policy, backoff, progress maths) are exported for reuse and tests.
 * See docs/frontend.md for the full reference.
 */

import { md5Available, md5Blob } from "./checksum.js";
import { PartSchedule, PartUrls, ResumeStore, defaultStorage, originSlots } from "./parts.js";

export { PartSchedule, PartUrls, ResumeStore } from "./parts.js";

export const DEFAULTS = Object.freeze({
  retries: 5, // further attempts after the first, for each request
  retryDelay: 1000, // ms before the first retry; doubles each time (with jitter)
  maxRetryDelay: 30_000, // ms, upper bound of one backoff delay
  stallTimeout: 60_000, // ms without any upload progress before the attempt is retried; 0 = never
  speedWindow: 3000, // ms of recent progress the speed (and so the ETA) is averaged over
  parallel: 4, // parts of a segmented upload in flight at once
  // Each part's MD5 as ETag (storage refuses a part that differs): true, false, or "auto" =
  // while hashing keeps ahead of the uploads, none for the rest once parts wait for it.
  checksum: "auto",
  resume: true, // remember segmented uploads in localStorage and resume them
});

// Browsers queue requests beyond 6 per host; ours wait for a slot instead (see parts.js).
const CONNECTIONS_PER_ORIGIN = 6;
// Completion that finds parts missing (storage lost them) sends them again this many times.
const COMPLETE_ROUNDS = 3;
// In "auto" checksum mode, hashing stops after this many parts were ready to go but had to
// wait for their MD5 (hashing, not the network, was then the slowest step).
const HASH_WAITS_TOLERATED = 2;
// ms between two progress events of a segmented upload (parts finishing always report).
const PROGRESS_INTERVAL = 100;

/** Why an upload failed: `kind` is stable for code, `message` is for people. */
export class UploadError extends Error {
  /**
   * @param {"aborted"|"auth"|"cors"|"network"|"api"|"storage"} kind
   * @param {string} message
   * @param {{status?: number, detail?: string, cause?: unknown}} [extra]
   */
  constructor(kind, message, { status = 0, detail = "", cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "UploadError";
    this.kind = kind;
    this.status = status;
    this.detail = detail;
  }
}

// ---------------------------------------------------------------- pure logic

/**
 * What to do after a storage (or API) answer with this HTTP status; 0 means no answer at all
 * (network error, CORS refusal, abort by the stall timer).
 * @returns {"done"|"retry"|"refresh"|"fail"}
 */
export function classifyStatus(status, { fromStorage = true } = {}) {
  if (status >= 200 && status < 300) return "done";
  if (status === 0 || status === 408 || status === 429 || status >= 500) return "retry";
  // Swift answers 401 to a TempURL that expired (or whose signature no longer verifies).
  if (status === 401 && fromStorage) return "refresh";
  return "fail";
}

/**
 * Milliseconds to wait before retry number `attempt` (1, 2, …): "full jitter" exponential
 * backoff, so many browsers that failed together do not come back together. A server's
 * Retry-After (seconds) is honoured when it asks for longer.
 */
export function backoffDelay(attempt, options = {}, retryAfter = null, random = Math.random) {
  const { retryDelay, maxRetryDelay } = { ...DEFAULTS, ...options };
  const ceiling = Math.min(maxRetryDelay, retryDelay * 2 ** (attempt - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  const asked = parseRetryAfter(retryAfter);
  return Math.round(asked === null ? jittered : Math.max(jittered, Math.min(asked, maxRetryDelay)));
}

/**
 * Whether a signed upload's URL has expired by this browser's clock: the API's `expires_at`,
 * else the TempURL's own `temp_url_expires`.
 */
export function isExpired(urls, now = Date.now()) {
  let expires = Date.parse(urls.expires_at ?? "");
  if (Number.isNaN(expires)) {
    const query = new URL(urls.upload_url).searchParams.get("temp_url_expires");
    expires = query && /^\d+$/.test(query) ? Number(query) * 1000 : Number.NaN;
  }
  return !Number.isNaN(expires) && now >= expires;
}

/** A Retry-After header (delay-seconds or HTTP date) in ms, or null. */
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null || value === undefined || value === "") return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * Turns (loaded, time) samples into progress figures. Speed is averaged over the last
 * `window` ms so it reacts to changes but does not jitter; ETA follows from it.
 */
export class ProgressMeter {
  constructor(total, { window = DEFAULTS.speedWindow, now = Date.now(), loaded = 0 } = {}) {
    this.total = total;
    this.window = window;
    this.samples = [{ time: now, loaded }];
  }

  /**
   * Starts measuring again from `loaded` bytes, e.g. when a failed PUT is retried from the
   * beginning, or a resumed upload starts with parts already stored.
   */
  reset(now = Date.now(), loaded = 0) {
    this.samples = [{ time: now, loaded }];
  }

  /**
   * @returns {{loaded: number, total: number, percent: number, speed: number, eta: number|null}}
   *   speed in bytes/s; eta in seconds (null while the speed is unknown).
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

/** "1.5 MB" — decimal units, as browsers and operating systems show file sizes. */
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

/** "1 h 02 min", "3 min 05 s", "12 s", "under 1 s"; "" when unknown. */
export function formatDuration(seconds) {
  if (seconds === null || !Number.isFinite(seconds)) return "";
  if (seconds > 0 && seconds < 1) return "under 1 s";
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  if (h) return `${h} h ${pad(m)} min`;
  if (m) return `${m} min ${pad(s % 60)} s`;
  return `${s} s`;
}

/** The problem+json `detail` of an API error body, if there is one. */
export function problemDetail(text) {
  try {
    const body = JSON.parse(text);
    return typeof body?.detail === "string" ? body.detail : "";
  } catch {
    return "";
  }
}

// ---------------------------------------------------------------- network

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(abortError());
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });

// Fresh URLs refused again and again are not expiring: something else is wrong.
const MAX_REFRESHES = 3;

const abortError = () => new UploadError("aborted", "The upload was cancelled.");

/**
 * One PUT of a Blob with XMLHttpRequest (the only browser API with upload progress). This is
 * the single place that sends file bytes: whole files today, segments of large ones later.
 * Resolves with the answer whatever its status; rejects only when aborted.
 *
 * @returns {Promise<{status: number, etag: string, retryAfter: string|null, text: string,
 *   stalled: boolean}>} status 0 = no answer (network error, CORS refusal or stall).
 */
export function putBlob(url, blob, { headers = {}, onProgress, signal, stallTimeout = 0 } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    let stalled = false;
    let timer = null;
    const arm = () => {
      if (!stallTimeout) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        stalled = true;
        xhr.abort();
      }, stallTimeout);
    };
    const onAbort = () => xhr.abort();
    const finish = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    xhr.open("PUT", url);
    // Exactly the headers the API signed the upload for, nothing else.
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      arm();
      onProgress?.(event.loaded);
    };
    xhr.onload = () => {
      finish();
      resolve({
        status: xhr.status,
        etag: (exposedHeader(xhr, "etag") || "").replace(/^"|"$/g, ""),
        retryAfter: exposedHeader(xhr, "retry-after"),
        text: xhr.responseText,
        stalled: false,
      });
    };
    xhr.onerror = () => {
      finish();
      resolve({ status: 0, etag: "", retryAfter: null, text: "", stalled: false });
    };
    xhr.onabort = () => {
      finish();
      if (stalled) resolve({ status: 0, etag: "", retryAfter: null, text: "", stalled: true });
      else reject(abortError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    arm();
    xhr.send(blob); // a File/Blob body is streamed from disk by the browser
  });
}

// getResponseHeader() logs an error for a header CORS does not expose; this does not.
function exposedHeader(xhr, name) {
  const line = xhr
    .getAllResponseHeaders()
    .split("\r\n")
    .find((header) => header.toLowerCase().startsWith(`${name}:`));
  return line ? line.slice(name.length + 1).trim() : null;
}

/**
 * Tells a CORS refusal from an unreachable server: a `no-cors` request gets an opaque answer
 * from any server that answers at all, whatever its CORS policy.
 */
async function reachable(url) {
  try {
    await fetch(url, { mode: "no-cors", cache: "no-store", credentials: "omit" });
    return true;
  } catch {
    return false;
  }
}

/**
 * One call to the API with the bearer token. Resolves with the parsed JSON answer (null for an
 * empty one) when the status is in `expect`; otherwise rejects with an UploadError: `auth` for
 * 401, `cors`/`network` when no answer arrives, else `api` with `status`, `detail`, the
 * problem+json body as `problem` and `retryAfter`.
 */
export async function callApi(apiBase, token, { method = "GET", path, body, signal, expect = [200] }) {
  const base = String(apiBase || "").replace(/\/+$/, "");
  if (!base) throw new UploadError("api", "No API URL is configured.");
  if (!token) throw new UploadError("auth", "No API token is set: paste one to upload.");
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw abortError();
    const origin = globalThis.location?.origin ?? "this page";
    if (await reachable(`${base}/healthz`)) {
      throw new UploadError(
        "cors",
        `The API at ${base} does not accept requests from ${origin}: add this origin to its CORS_ORIGINS.`,
        { cause: error },
      );
    }
    throw new UploadError("network", `Could not reach the API at ${base}.`, { cause: error });
  }
  const text = await response.text();
  if (expect.includes(response.status)) {
    if (response.status === 204) return null;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new UploadError("api", `The API at ${base} answered with something else than JSON.`, {
        status: response.status,
        cause: error,
      });
    }
  }
  const detail = problemDetail(text);
  const suffix = detail ? `: ${detail}` : ".";
  if (response.status === 401) {
    throw new UploadError("auth", `The API refused the token (401)${suffix}`, {
      status: 401,
      detail,
    });
  }
  const error = new UploadError("api", `The API answered ${response.status}${suffix}`, {
    status: response.status,
    detail,
  });
  error.retryAfter = response.headers.get("Retry-After");
  try {
    error.problem = JSON.parse(text);
  } catch {
    error.problem = null;
  }
  throw error;
}

/**
 * POST /uploads: asks the API for a fresh pair of TempURLs for this file (or, for a large one,
 * a segmented plan: `segmented`, `upload_id`, `part_size`, `part_count`, `parts`).
 * @returns {Promise<{object_name: string, upload_id: string, segmented: boolean,
 *   upload_url?: string, upload_method?: string, upload_headers: Record<string,string>,
 *   download_url: string, expires_at: string}>}
 */
export function requestUpload(apiBase, token, { filename, contentType, size }, signal) {
  const body = { filename, size };
  if (contentType) body.content_type = contentType;
  return callApi(apiBase, token, { method: "POST", path: "/uploads", body, signal, expect: [201] });
}

function storageMessage(status, text) {
  const known = {
    401: "storage refused the upload URL (401) even after a fresh one was requested",
    403: "storage forbids this upload (403)",
    408: "storage timed out waiting for the file (408)",
    411: "storage needs the file size (411)",
    413: "the file is larger than storage accepts (413)",
    422: "storage received different bytes than were sent (422)",
    429: "storage is rate-limiting uploads (429)",
    507: "storage is out of space (507)",
  };
  const base = known[status] ?? `storage answered ${status}`;
  const extra = text && text.length < 200 && !/<html/i.test(text) ? `: ${text.trim()}` : "";
  return `Upload failed: ${base}${extra}.`;
}

// ---------------------------------------------------------------- the upload

/**
 * One file's upload. An EventTarget with these events (all CustomEvents, data in `detail`):
 *  - "signed"   {object_name, download_url, expires_at}  each time URLs are (re)issued
 *  - "resume"   {upload_id, object_name, stored_parts, missing_parts}  an earlier upload goes on
 *  - "progress" {loaded, total, percent, speed, eta}     while bytes go out (all parts together)
 *  - "part"     {number, etag, checksum, stored, total}   a part of a segmented upload is stored
 *  - "retry"    {attempt, delay, reason, status, part}    before waiting to try again
 *  - "done"     {object_name, download_url, etag}
 *  - "error"    {error}                                   an UploadError, also for a cancel
 */
export class Upload extends EventTarget {
  /**
   * @param {File|Blob} file
   * @param {object} options  apiBase, token (required); filename, contentType to override the
   *   file's; retries, retryDelay, maxRetryDelay, stallTimeout, speedWindow, parallel,
   *   checksum, resume (see DEFAULTS); storage: where resume records live (default
   *   localStorage); signal: an AbortSignal that cancels; onProgress, onRetry, onSigned: callbacks.
   */
  constructor(file, options) {
    super();
    this.file = file;
    this.options = { ...DEFAULTS, ...options };
    this.controller = new AbortController();
    this.state = "idle"; // idle → signing → uploading → completing → done | failed | cancelled
    this.result = null;
    this.promise = null;
    this.uploadId = null; // known once the API has answered
    this.segmented = false;
    // Only a named File with a modification time can be recognised when picked again: two
    // Blobs of one size would otherwise share a record, and one would resume the other.
    const resumable = this.options.resume && Boolean(file.name) && Number.isFinite(file.lastModified);
    this.resumes = new ResumeStore(resumable ? (this.options.storage ?? defaultStorage()) : null);
    this.batch = null; // the part-URL request in flight, shared by the parts that wait for it
    this.hashing = Promise.resolve(); // parts are hashed one after the other
    const outer = this.options.signal;
    if (outer) {
      if (outer.aborted) this.controller.abort();
      else outer.addEventListener("abort", () => this.cancel(), { once: true });
    }
  }

  /** Starts once; later calls return the same promise of {object_name, download_url, etag}. */
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

  /** Aborts whatever is in flight (signing, the PUTs, or a backoff wait) and what was stored. */
  cancel() {
    this.controller.abort();
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
    const callback = { progress: "onProgress", retry: "onRetry", signed: "onSigned" }[type];
    this.options[callback]?.(detail);
  }

  /** An API call, retried like a PUT while the API is unreachable or answers 5xx/429. */
  async #api(method, path, { body, expect, signal = this.controller.signal } = {}) {
    const { apiBase, token } = this.options;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await callApi(apiBase, token, { method, path, body, expect, signal });
      } catch (error) {
        const transient =
          error.kind === "network" ||
          (error.kind === "api" && classifyStatus(error.status, { fromStorage: false }) === "retry");
        if (!transient || attempt > this.options.retries) throw error;
        await this.#backoff(attempt, error.kind, error.status, error.retryAfter, { signal });
      }
    }
  }

  async #sign() {
    const { filename, contentType } = this.options;
    this.state = "signing";
    const body = {
      filename: filename ?? this.file.name ?? "upload",
      size: this.file.size,
    };
    const type = contentType ?? this.file.type ?? "";
    if (type) body.content_type = type;
    const urls = await this.#api("POST", "/uploads", { body, expect: [201] });
    this.uploadId = urls.upload_id || null;
    this.#emit("signed", {
      object_name: urls.object_name,
      download_url: urls.download_url,
      expires_at: urls.expires_at,
    });
    return urls;
  }

  async #backoff(attempt, reason, status, retryAfter, { signal = this.controller.signal, part } = {}) {
    const delay = backoffDelay(attempt, this.options, retryAfter);
    const detail = { attempt, delay, reason, status };
    if (part !== undefined) detail.part = part;
    this.#emit("retry", detail);
    await sleep(delay, signal);
  }

  async #run() {
    if (this.controller.signal.aborted) throw abortError();
    const resumed = await this.#resume();
    if (resumed) return this.#segmented(resumed);
    const urls = await this.#sign();
    if (!urls.segmented) return this.#single(urls);
    const plan = {
      upload_id: urls.upload_id,
      object_name: urls.object_name,
      download_url: urls.download_url,
      part_size: urls.part_size,
      part_count: urls.part_count,
      upload_headers: urls.upload_headers ?? {},
      etags: {},
    };
    this.resumes.save(this.options.apiBase, this.file, plan);
    return this.#segmented({ ...plan, parts: urls.parts, expires_at: urls.expires_at });
  }

  // ------------------------------------------------------------ one PUT

  async #single(first) {
    const signal = this.controller.signal;
    let urls = first;
    const meter = new ProgressMeter(this.file.size, { window: this.options.speedWindow });
    let refreshes = 0;
    let failures = 0;
    let blind = 0; // failures in a row without any answer from storage
    this.#emit("progress", meter.update(0));
    for (;;) {
      this.state = "uploading";
      meter.reset();
      const answer = await this.#put(urls.upload_url, this.file, {
        headers: urls.upload_headers,
        signal,
        onProgress: (loaded) => this.#emit("progress", meter.update(loaded)),
      });
      let action = classifyStatus(answer.status);
      if (action === "done") {
        this.#emit("progress", meter.update(this.file.size));
        const stored = { object_name: urls.object_name, download_url: urls.download_url, etag: answer.etag };
        if (!this.uploadId) return stored; // an API without upload sessions
        const pinned = answer.etag ? { 1: answer.etag } : {};
        return this.#complete(pinned);
      }
      blind = answer.status === 0 ? blind + 1 : 0;
      // Swift answers an expired TempURL with a 401 that lacks CORS headers, so the browser
      // reports a network error: the URL's expiry time tells the two apart.
      if (answer.status === 0 && isExpired(urls)) action = "refresh";
      if (action === "refresh" && refreshes < MAX_REFRESHES) {
        // Expired (the tab slept, the PUT waited…): ask for a fresh URL and start over.
        // Nothing was stored under the old name: storage refused it before writing.
        refreshes += 1;
        this.#emit("retry", { attempt: refreshes, delay: 0, reason: "expired", status: answer.status });
        urls = await this.#sign();
        continue;
      }
      failures += 1;
      if (action !== "retry" || failures > this.options.retries) {
        throw await this.#storageError(answer, urls.upload_url);
      }
      await this.#backoff(failures, retryReason(answer), answer.status, answer.retryAfter);
      // The wait may outlast the URL, and a clock running behind hides an expiry: after
      // repeated failures without an answer, a fresh URL costs little.
      if (isExpired(urls) || blind >= 2) urls = await this.#sign();
    }
  }

  /** putBlob once a connection slot of the storage origin is free. */
  async #put(url, blob, { headers, signal, onProgress }) {
    const slots = originSlots(url, CONNECTIONS_PER_ORIGIN);
    await slots.acquire(signal).catch(() => {
      throw abortError();
    });
    try {
      return await putBlob(url, blob, {
        headers,
        signal,
        onProgress,
        stallTimeout: this.options.stallTimeout,
      });
    } finally {
      slots.release();
    }
  }

  // ------------------------------------------------------------ segmented

  /** The remembered upload of this same file, if the API still knows it: what is left. */
  async #resume() {
    const { apiBase } = this.options;
    const record = this.resumes.load(apiBase, this.file);
    if (!record) return null;
    this.uploadId = record.upload_id; // a cancel from here on aborts it
    let status;
    try {
      status = await this.#api("GET", `/uploads/${encodeURIComponent(record.upload_id)}`);
    } catch (error) {
      // Expired (404), aborted (404), another caller's (403): start over.
      if (error.kind !== "api" || ![403, 404, 409, 410].includes(error.status)) throw error;
      this.resumes.forget(apiBase, this.file);
      this.uploadId = null;
      return null;
    }
    if (status.part_count !== record.part_count) {
      this.resumes.forget(apiBase, this.file);
      this.uploadId = null;
      return null;
    }
    this.#emit("signed", {
      object_name: status.object_name,
      download_url: record.download_url,
      expires_at: null,
    });
    this.#emit("resume", {
      upload_id: record.upload_id,
      object_name: status.object_name,
      stored_parts: status.stored_parts,
      missing_parts: status.missing_parts,
    });
    // Etags remembered for parts the API no longer has are stale.
    const stored = new Set(status.stored_parts);
    const etags = Object.fromEntries(
      Object.entries(record.etags ?? {}).filter(([number]) => stored.has(Number(number))),
    );
    return { ...record, etags, missing: status.missing_parts };
  }

  async #segmented(plan) {
    this.segmented = true;
    this.state = "uploading";
    const size = this.file.size;
    const schedule = new PartSchedule(
      { size, partSize: plan.part_size, partCount: plan.part_count },
      plan.missing ?? Array.from({ length: plan.part_count }, (_, i) => i + 1),
    );
    const urls = new PartUrls();
    if (plan.parts) urls.add(plan.parts, plan.expires_at);
    const etags = new Map(Object.entries(plan.etags ?? {}).map(([n, etag]) => [Number(n), etag]));
    const mode = this.options.checksum;
    const hashing = {
      on: Boolean(mode) && (await md5Available()),
      auto: mode === "auto",
      parts: new Map(), // number → {promise, done}: MD5s computed or under way
      waits: 0,
      started: 0,
    };
    const meter = new ProgressMeter(size, { window: this.options.speedWindow, loaded: schedule.loaded });
    const job = { plan, schedule, urls, etags, hashing, meter, progressAt: 0 };
    this.#emit("progress", meter.update(schedule.loaded));
    for (let round = 1; ; round += 1) {
      await this.#sendParts(job);
      this.state = "completing";
      try {
        return await this.#complete(Object.fromEntries(etags));
      } catch (error) {
        const missing = error.problem?.missing_parts;
        if (error.status !== 409 || !Array.isArray(missing) || round >= COMPLETE_ROUNDS) throw error;
        // Storage lost or never kept these: send them again, then complete again.
        for (const number of missing) etags.delete(number);
        schedule.redo(missing);
        this.state = "uploading";
      }
    }
  }

  /** Every pending part, `parallel` at a time; the first real failure stops the others. */
  async #sendParts(job) {
    const run = new AbortController();
    const stop = () => run.abort();
    this.controller.signal.addEventListener("abort", stop, { once: true });
    if (this.controller.signal.aborted) run.abort();
    let failure = null;
    const worker = async () => {
      for (let number = job.schedule.next(); number !== null; number = job.schedule.next()) {
        await this.#sendPart(job, number, run.signal);
      }
    };
    const workers = Math.max(1, Math.floor(this.options.parallel) || 1);
    await Promise.all(
      Array.from({ length: workers }, () =>
        worker().catch((error) => {
          if (failure === null || failure.kind === "aborted") failure = error;
          run.abort();
        }),
      ),
    );
    this.controller.signal.removeEventListener("abort", stop);
    if (this.controller.signal.aborted) throw abortError();
    if (failure) throw failure;
  }

  async #sendPart(job, number, signal) {
    const { plan, schedule, urls, etags, meter } = job;
    const { offset, length } = schedule.range(number);
    const blob = this.file.slice(offset, offset + length);
    const md5 = await this.#partMd5(job, number, signal);
    const headers = { ...plan.upload_headers };
    if (md5) headers.ETag = md5;
    let refreshes = 0;
    let failures = 0;
    let blind = 0;
    for (;;) {
      const url = await this.#partUrl(urls, number, signal);
      const answer = await this.#put(url, blob, {
        headers,
        signal,
        onProgress: (loaded) => {
          schedule.progress(number, loaded);
          // Several parts report progress: one event per PROGRESS_INTERVAL is plenty for a bar.
          const now = Date.now();
          if (now - job.progressAt < PROGRESS_INTERVAL) return;
          job.progressAt = now;
          this.#emit("progress", meter.update(schedule.loaded, now));
        },
      });
      let action = classifyStatus(answer.status);
      if (action === "done") {
        schedule.done(number);
        const etag = md5 ?? answer.etag;
        if (etag) etags.set(number, etag);
        this.resumes.partDone(this.options.apiBase, this.file, number, etag);
        this.#emit("progress", meter.update(schedule.loaded));
        this.#emit("part", {
          number,
          etag,
          checksum: Boolean(md5),
          stored: schedule.stored.size,
          total: schedule.partCount,
        });
        return;
      }
      schedule.progress(number, 0);
      blind = answer.status === 0 ? blind + 1 : 0;
      // Swift's 401 for an expired TempURL has no CORS headers: the browser sees status 0.
      if (answer.status === 0 && urls.isExpired(number)) action = "refresh";
      if (action === "refresh" && refreshes < MAX_REFRESHES) {
        refreshes += 1;
        urls.drop(number);
        this.#emit("retry", {
          attempt: refreshes,
          delay: 0,
          reason: "expired",
          status: answer.status,
          part: number,
        });
        continue;
      }
      failures += 1;
      if (action !== "retry" || failures > this.options.retries) {
        throw await this.#storageError(answer, url, number);
      }
      await this.#backoff(failures, retryReason(answer), answer.status, answer.retryAfter, {
        signal,
        part: number,
      });
      if (blind >= 2) urls.drop(number); // a clock running behind hides an expiry
    }
  }

  /**
   * The part's MD5, or null when checksums are off. Parts are hashed one at a time, and ahead:
   * while this part uploads, the next ones are hashed, so a free connection finds its part's
   * MD5 ready. In "auto" mode, parts that keep waiting for their MD5 turn hashing off.
   */
  async #partMd5(job, number, signal) {
    const { hashing, schedule } = job;
    const own = this.#hashPart(job, number, signal);
    hashing.started += 1;
    for (const next of schedule.pending.slice(0, this.options.parallel)) {
      this.#hashPart(job, next, signal);
    }
    if (!own) return null;
    // The first parts of the pipeline wait for their MD5 whatever the speed; later ones not.
    if (!own.done && hashing.auto && hashing.started > this.options.parallel) {
      hashing.waits += 1;
      if (hashing.waits >= HASH_WAITS_TOLERATED) hashing.on = false;
    }
    try {
      return await own.promise;
    } catch (error) {
      throw signal.aborted ? abortError() : error;
    }
  }

  #hashPart({ hashing, schedule }, number, signal) {
    if (hashing.parts.has(number)) return hashing.parts.get(number);
    if (!hashing.on) return null;
    const { offset, length } = schedule.range(number);
    const blob = this.file.slice(offset, offset + length);
    const entry = { done: false, promise: null };
    entry.promise = this.hashing.then(() => md5Blob(blob, { signal }));
    entry.promise.then(
      () => (entry.done = true),
      () => hashing.parts.delete(number), // aborted: nothing to keep
    );
    this.hashing = entry.promise.catch(() => {});
    hashing.parts.set(number, entry);
    return entry;
  }

  /**
   * A URL for the part: from the batches so far while unexpired, else from a new batch that
   * starts at it. A batch that has just arrived is used even when this browser's clock calls it
   * expired: with a clock ahead of the server's, or an API slower than its TEMPURL_TTL, no URL
   * would ever do; storage is the judge (an expired URL then fails and is refreshed).
   */
  async #partUrl(urls, number, signal) {
    const since = Date.now();
    for (let asked = false; ;) {
      const url = urls.get(number) ?? urls.since(number, since);
      if (url) return url;
      if (this.batch) {
        await this.batch.catch(() => {});
        continue;
      }
      if (asked) {
        throw new UploadError("api", `The API gave no upload URL for part ${number}.`);
      }
      asked = true;
      const path = `/uploads/${encodeURIComponent(this.uploadId)}/parts?from=${number}`;
      this.batch = this.#api("GET", path, { signal }).then((answer) =>
        urls.add(answer?.parts ?? [], answer?.expires_at),
      );
      try {
        await this.batch;
      } finally {
        this.batch = null;
      }
    }
  }

  // ------------------------------------------------------------ completion and abort

  /** POST complete, pinning the etags we know; the stored object's final description. */
  async #complete(etags) {
    this.state = "completing";
    const parts = Object.entries(etags)
      .filter(([, etag]) => /^[0-9a-f]{32}$/i.test(etag ?? ""))
      .map(([number, etag]) => ({ number: Number(number), etag }));
    const path = `/uploads/${encodeURIComponent(this.uploadId)}/complete`;
    const body = parts.length ? { parts } : undefined;
    const answer = await this.#api("POST", path, { body, expect: [200] });
    this.resumes.forget(this.options.apiBase, this.file);
    return { object_name: answer.object_name, download_url: answer.download_url, etag: answer.etag };
  }

  /** After a cancel: DELETE the upload so nothing it stored stays behind; forget it. */
  async #abortStored() {
    if (!this.uploadId) return;
    const { apiBase, token } = this.options;
    this.resumes.forget(apiBase, this.file);
    try {
      await callApi(apiBase, token, {
        method: "DELETE",
        path: `/uploads/${encodeURIComponent(this.uploadId)}`,
        expect: [204, 404],
      });
    } catch {
      // Best effort: `upload-signer gc` removes what an unreachable API could not.
    }
  }

  async #storageError(answer, url, part) {
    const which = part === undefined ? "" : ` (part ${part})`;
    if (answer.status !== 0) {
      const message = storageMessage(answer.status, answer.text);
      return new UploadError("storage", which ? message.replace(/\.$/, `${which}.`) : message, {
        status: answer.status,
        detail: answer.text,
      });
    }
    const origin = new URL(url).origin;
    if (!answer.stalled && (await reachable(origin))) {
      return new UploadError(
        "cors",
        `Storage at ${origin} refused this page's origin (CORS): the API's CORS_ORIGINS must list ${globalThis.location?.origin ?? "it"}.`,
      );
    }
    return new UploadError(
      "network",
      answer.stalled ? "The upload stalled and did not recover." : `Could not reach storage at ${origin}.`,
    );
  }
}

function retryReason(answer) {
  return answer.stalled ? "stalled" : answer.status ? "server" : "network";
}

/** Unfinished segmented uploads remembered for this API: [{file: {name, size, lastModified},
 * upload_id, object_name, part_count, etags, saved}], newest first — for a page to offer resuming. */
export function pendingUploads(apiBase, storage = defaultStorage()) {
  return new ResumeStore(storage).list(apiBase);
}

/** Gives up a remembered upload: DELETE it (best effort) and forget it. */
export async function discardUpload(record, { apiBase, token, storage = defaultStorage() }) {
  new ResumeStore(storage).forget(apiBase, record.file);
  try {
    await callApi(apiBase, token, {
      method: "DELETE",
      path: `/uploads/${encodeURIComponent(record.upload_id)}`,
      expect: [204, 404],
    });
  } catch {
    // gc removes it later
  }
}

/** Uploads one file; resolves with {object_name, download_url, etag}. See `Upload`. */
export function uploadFile(file, options) {
  return new Upload(file, options).start();
}
