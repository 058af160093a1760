/**
 * retry.js — when to try again: backoff delays, Retry-After, whether a signed URL has expired,
 * and the wait itself (announced as a "retry" event, cut short by a cancel).
 */

import { abortError } from "./errors.js";
import { DEFAULTS } from "./options.js";

/**
 * What a "retry" event tells: the attempt that is coming, after how long, and why.
 * @typedef {object} RetryDetail
 * @property {number} attempt  1 for the first retry of this request (or of this URL refresh)
 * @property {number} delay  ms waited before it; 0 for a fresh URL, which needs no wait
 * @property {"network"|"server"|"stalled"|"api"|"expired"} reason
 * @property {number} status  the HTTP status that failed; 0 when no answer arrived
 * @property {number} [part]  the part of a segmented upload it is about
 */

/**
 * Milliseconds to wait before retry number `attempt` (1, 2, …): "full jitter" exponential
 * backoff, so many browsers that failed together do not come back together. A server's
 * Retry-After (seconds) is honoured when it asks for longer.
 * @param {number} attempt
 * @param {{retryDelay?: number, maxRetryDelay?: number}} [options]  DEFAULTS for what is missing
 * @param {string|number|null} [retryAfter]  the server's Retry-After header
 * @param {() => number} [random]
 * @returns {number}
 */
export function backoffDelay(attempt, options = {}, retryAfter = null, random = Math.random) {
  const retryDelay = options.retryDelay ?? DEFAULTS.retryDelay;
  const maxRetryDelay = options.maxRetryDelay ?? DEFAULTS.maxRetryDelay;
  const ceiling = Math.min(maxRetryDelay, retryDelay * 2 ** (attempt - 1));
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  const asked = parseRetryAfter(retryAfter);
  return Math.round(asked === null ? jittered : Math.max(jittered, Math.min(asked, maxRetryDelay)));
}

/**
 * A Retry-After header (delay-seconds or HTTP date) in ms, or null.
 * @param {string|number|null|undefined} value
 * @param {number} [now]
 * @returns {number|null}
 */
export function parseRetryAfter(value, now = Date.now()) {
  if (value === null || value === undefined || value === "") return null;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/**
 * Whether a signed upload's URL (or form) has expired by this browser's clock: the API's
 * `expires_at`, else the upload form's `expires` field (a Unix time) when there is a form, else
 * the TempURL's own `temp_url_expires`.
 * @param {{upload_url?: string, upload_form?: {fields: Record<string, string>}|null,
 *   expires_at?: string|null}} urls  the API's answer
 * @param {number} [now]
 * @returns {boolean}
 */
export function isExpired(urls, now = Date.now()) {
  let expires = Date.parse(urls.expires_at ?? "");
  if (Number.isNaN(expires)) {
    const seconds = urls.upload_form
      ? urls.upload_form.fields?.expires
      : urls.upload_url && new URL(urls.upload_url).searchParams.get("temp_url_expires");
    expires = seconds && /^\d+$/.test(seconds) ? Number(seconds) * 1000 : Number.NaN;
  }
  return !Number.isNaN(expires) && now >= expires;
}

/**
 * Resolves after `ms`; rejects with the cancel's UploadError as soon as `signal` aborts.
 * @param {number} ms
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
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
}

/**
 * Announces retry number `attempt` through `onRetry`, then waits its backoff delay.
 * @param {number} attempt
 * @param {{reason: RetryDetail["reason"], status: number, retryAfter?: string|null, part?: number}} why
 * @param {{retryDelay?: number, maxRetryDelay?: number}} options
 * @param {((detail: RetryDetail) => void)|undefined} onRetry
 * @param {AbortSignal} [signal]
 * @returns {Promise<void>}
 */
export async function waitToRetry(attempt, { reason, status, retryAfter, part }, options, onRetry, signal) {
  const delay = backoffDelay(attempt, options, retryAfter);
  /** @type {RetryDetail} */
  const detail = { attempt, delay, reason, status };
  if (part !== undefined) detail.part = part;
  onRetry?.(detail);
  await sleep(delay, signal);
}

/**
 * The `reason` of a retry after this storage answer.
 * @param {import("./http.js").PutAnswer} answer
 * @returns {"stalled"|"server"|"network"}
 */
export function retryReason(answer) {
  return answer.stalled ? "stalled" : answer.status ? "server" : "network";
}
