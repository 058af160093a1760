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
 * answers fail at once.
 *
 * The pure helpers (retry policy, backoff, progress maths) are exported for reuse and tests.
 * See docs/frontend.md for the full reference.
 */

export const DEFAULTS = Object.freeze({
  retries: 5, // further attempts after the first, for each request
  retryDelay: 1000, // ms before the first retry; doubles each time (with jitter)
  maxRetryDelay: 30_000, // ms, upper bound of one backoff delay
  stallTimeout: 60_000, // ms without any upload progress before the attempt is retried; 0 = never
  speedWindow: 3000, // ms of recent progress the speed (and so the ETA) is averaged over
});

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
  constructor(total, { window = DEFAULTS.speedWindow, now = Date.now() } = {}) {
    this.total = total;
    this.window = window;
    this.samples = [{ time: now, loaded: 0 }];
  }

  /** Starts over from 0 bytes, e.g. when a failed PUT is retried from the beginning. */
  reset(now = Date.now()) {
    this.samples = [{ time: now, loaded: 0 }];
  }

  /**
   * @returns {{loaded: number, total: number, percent: number, speed: number, eta: number|null}}
   *   speed in bytes/s; eta in seconds (null while the speed is unknown).
   */
  update(loaded, now = Date.now()) {
    const last = this.samples[this.samples.length - 1];
    if (loaded < last.loaded) this.reset(now);
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
 * POST /uploads: asks the API for a fresh pair of TempURLs for this file.
 * @returns {Promise<{object_name: string, upload_url: string, upload_method: string,
 *   upload_headers: Record<string,string>, download_url: string, expires_at: string}>}
 */
export async function requestUpload(apiBase, token, { filename, contentType, size }, signal) {
  const base = String(apiBase || "").replace(/\/+$/, "");
  if (!base) throw new UploadError("api", "No API URL is configured.");
  if (!token) throw new UploadError("auth", "No API token is set: paste one to upload.");
  const body = { filename, size };
  if (contentType) body.content_type = contentType;
  let response;
  try {
    response = await fetch(`${base}/uploads`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
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
  if (response.status === 201) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new UploadError("api", `The API at ${base} answered with something else than JSON.`, {
        status: 201,
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
  throw error;
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
 *  - "progress" {loaded, total, percent, speed, eta}     while bytes go out
 *  - "retry"    {attempt, delay, reason, status}          before waiting to try again
 *  - "done"     {object_name, download_url, etag}
 *  - "error"    {error}                                   an UploadError, also for a cancel
 */
export class Upload extends EventTarget {
  /**
   * @param {File|Blob} file
   * @param {object} options  apiBase, token (required); filename, contentType to override the
   *   file's; retries, retryDelay, maxRetryDelay, stallTimeout, speedWindow (see DEFAULTS);
   *   signal: an AbortSignal that cancels; onProgress, onRetry, onSigned: callbacks.
   */
  constructor(file, options) {
    super();
    this.file = file;
    this.options = { ...DEFAULTS, ...options };
    this.controller = new AbortController();
    this.state = "idle"; // idle → signing → uploading → done | failed | cancelled
    this.result = null;
    this.promise = null;
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
      (error) => {
        this.state = error.kind === "aborted" ? "cancelled" : "failed";
        this.#emit("error", { error });
        throw error;
      },
    );
    return this.promise;
  }

  /** Aborts whatever is in flight (signing, the PUT, or a backoff wait). */
  cancel() {
    this.controller.abort();
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
    const callback = { progress: "onProgress", retry: "onRetry", signed: "onSigned" }[type];
    this.options[callback]?.(detail);
  }

  async #sign() {
    const { apiBase, token, filename, contentType } = this.options;
    const signal = this.controller.signal;
    this.state = "signing";
    const request = {
      filename: filename ?? this.file.name ?? "upload",
      contentType: contentType ?? this.file.type ?? "",
      size: this.file.size,
    };
    for (let attempt = 1; ; attempt += 1) {
      try {
        const urls = await requestUpload(apiBase, token, request, signal);
        this.#emit("signed", {
          object_name: urls.object_name,
          download_url: urls.download_url,
          expires_at: urls.expires_at,
        });
        return urls;
      } catch (error) {
        const transient =
          error.kind === "network" ||
          (error.kind === "api" && classifyStatus(error.status, { fromStorage: false }) === "retry");
        if (!transient || attempt > this.options.retries) throw error;
        await this.#backoff(attempt, error.kind, error.status, error.retryAfter);
      }
    }
  }

  async #backoff(attempt, reason, status, retryAfter) {
    const delay = backoffDelay(attempt, this.options, retryAfter);
    this.#emit("retry", { attempt, delay, reason, status });
    await sleep(delay, this.controller.signal);
  }

  async #run() {
    const signal = this.controller.signal;
    if (signal.aborted) throw abortError();
    let urls = await this.#sign();
    const meter = new ProgressMeter(this.file.size, { window: this.options.speedWindow });
    let refreshes = 0;
    let failures = 0;
    let blind = 0; // failures in a row without any answer from storage
    this.#emit("progress", meter.update(0));
    for (;;) {
      this.state = "uploading";
      meter.reset();
      const answer = await putBlob(urls.upload_url, this.file, {
        headers: urls.upload_headers,
        signal,
        stallTimeout: this.options.stallTimeout,
        onProgress: (loaded) => this.#emit("progress", meter.update(loaded)),
      });
      let action = classifyStatus(answer.status);
      if (action === "done") {
        this.#emit("progress", meter.update(this.file.size));
        return { object_name: urls.object_name, download_url: urls.download_url, etag: answer.etag };
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
      const reason = answer.stalled ? "stalled" : answer.status ? "server" : "network";
      await this.#backoff(failures, reason, answer.status, answer.retryAfter);
      // The wait may outlast the URL, and a clock running behind hides an expiry: after
      // repeated failures without an answer, a fresh URL costs little.
      if (isExpired(urls) || blind >= 2) urls = await this.#sign();
    }
  }

  async #storageError(answer, url) {
    if (answer.status !== 0) {
      return new UploadError("storage", storageMessage(answer.status, answer.text), {
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

/** Uploads one file; resolves with {object_name, download_url, etag}. See `Upload`. */
export function uploadFile(file, options) {
  return new Upload(file, options).start();
}
