/**
 * options.js — the options of an upload: their defaults, the callback that goes with each event,
 * and how the options a caller gives are completed.
 */

/**
 * The tunable options and their defaults; `Upload` fills in whatever a caller leaves out.
 * @type {Readonly<{retries: number, retryDelay: number, maxRetryDelay: number, stallTimeout: number,
 *   speedWindow: number, parallel: number, checksum: boolean|"auto", resume: boolean,
 *   smallFileSize: number}>}
 */
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
  // Bytes up to which a file with an upload form goes up without byte progress, as a CORS
  // "simple request" (no upload listener, no custom header), which needs no preflight. 1 MiB
  // takes 0.1 s at 80 Mbit/s, 1 s at 8 Mbit/s: byte progress would show little more than one
  // jump, while its preflight costs a whole round trip per file. 0 = always byte progress.
  smallFileSize: 1024 * 1024,
});

/**
 * The callback option called with each event's detail, right after the event is dispatched.
 * @type {Readonly<Record<UploadEventType, keyof UploadCallbacks>>}
 */
export const EVENT_CALLBACKS = Object.freeze({
  signed: "onSigned",
  resume: "onResume",
  part: "onPart",
  progress: "onProgress",
  retry: "onRetry",
  done: "onDone",
  error: "onError",
});

/** @typedef {"signed"|"resume"|"part"|"progress"|"retry"|"done"|"error"} UploadEventType */

/**
 * @typedef {object} UploadCallbacks
 * @property {(detail: import("./uploader.js").SignedDetail) => void} [onSigned]
 * @property {(detail: import("./uploader.js").ResumeDetail) => void} [onResume]
 * @property {(detail: import("./uploader.js").PartDetail) => void} [onPart]
 * @property {(detail: import("./progress.js").Progress) => void} [onProgress]
 * @property {(detail: import("./retry.js").RetryDetail) => void} [onRetry]
 * @property {(detail: import("./uploader.js").UploadResult) => void} [onDone]
 * @property {(detail: {error: import("./errors.js").UploadError}) => void} [onError]
 */

/**
 * @typedef {object} UploadSettings
 * @property {string} apiBase  the API's base URL, e.g. "https://api.example.com"
 * @property {string} token  a bearer token the API accepts
 * @property {string} [filename]  the name the download carries (default: the File's name)
 * @property {string} [contentType]  media type stored with the object (default: the File's type)
 * @property {AbortSignal} [signal]  aborting it cancels the upload
 * @property {number} [retries]  further attempts after a transient failure, per request
 * @property {number} [retryDelay]  ms before the first retry; doubles each time, with jitter
 * @property {number} [maxRetryDelay]  ms, cap of one wait (also of a server's Retry-After)
 * @property {number} [stallTimeout]  ms without upload progress before a PUT is retried; 0 = never
 * @property {number} [speedWindow]  ms of recent progress that speed and ETA are averaged over
 * @property {number} [parallel]  parts of a segmented upload in flight at once
 * @property {boolean|"auto"} [checksum]  each part's MD5 as ETag: always, never, or while it keeps up
 * @property {boolean} [resume]  remember segmented uploads and resume them
 * @property {number} [smallFileSize]  bytes up to which a form upload reports no byte progress
 *   and so needs no CORS preflight (default 1 MiB; 0 = always byte progress)
 * @property {Storage|null} [storage]  where resume records live (default: localStorage)
 * @property {Partial<import("./http.js").HttpStack>} [httpStack]  replaces some or all requests
 */

/** @typedef {UploadSettings & UploadCallbacks} UploadOptions */

/**
 * The options an upload runs with: every default filled in, `parallel` a whole number ≥ 1.
 * @typedef {UploadOptions & typeof DEFAULTS} NormalizedOptions
 */

/**
 * Completes the caller's options with DEFAULTS. An option given as `undefined` counts as not
 * given: `{retries: undefined}` would otherwise retry forever.
 * @param {Partial<UploadOptions>} [options]
 * @returns {NormalizedOptions}
 */
export function normalizeOptions(options = {}) {
  const given = Object.fromEntries(Object.entries(options ?? {}).filter(([, value]) => value !== undefined));
  const merged = { ...DEFAULTS, ...given };
  merged.parallel = Math.max(1, Math.floor(Number(merged.parallel)) || 1);
  return /** @type {NormalizedOptions} */ (merged);
}
