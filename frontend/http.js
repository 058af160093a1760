/**
 * http.js — the requests themselves, behind a small replaceable "HTTP stack" (the idea of
 * tus-js-client's HttpStack): a storage PUT with upload progress, a fetch-compatible API call,
 * and a reachability probe. The default stack is the browser's: XMLHttpRequest for PUTs (the
 * only browser API that reports upload progress; it streams a File body from disk), fetch for
 * the rest. On top of any stack, this module adds what every PUT needs: a connection slot per
 * storage origin and a stall watchdog.
 */

import { abortError } from "./errors.js";
import { originSlots } from "./slots.js";

export { Slots, originSlots } from "./slots.js";

/**
 * Storage's answer to one PUT.
 * @typedef {object} PutAnswer
 * @property {number} status  0 = no answer (network error, CORS refusal, stall)
 * @property {string} etag  the ETag response header without quotes; "" if absent or not exposed
 * @property {string|null} retryAfter  the Retry-After response header
 * @property {string} text  the response body
 * @property {boolean} [stalled]  the attempt was aborted for lack of progress (set by the watchdog)
 */

/**
 * @typedef {object} PutRequest
 * @property {Record<string, string>} [headers]  sent as they are, nothing added
 * @property {(loaded: number) => void} [onProgress]  bytes of the body sent so far
 * @property {AbortSignal} [signal]  aborts the PUT
 */

/**
 * The requests an upload makes. A stack given as the `httpStack` option may define only some
 * of them; the default stack does the rest.
 * @typedef {object} HttpStack
 * @property {(url: string, blob: Blob, request: PutRequest) => Promise<PutAnswer>} put
 *   One PUT of `blob`. Resolves with whatever storage answered (status 0 for no answer);
 *   rejects only when `request.signal` aborts.
 * @property {(url: string, init: RequestInit) => Promise<Response>} request
 *   One API call, fetch-compatible: resolves with a Response (or anything with `status`,
 *   `headers.get()` and `text()`), rejects when no answer arrives.
 * @property {(url: string) => Promise<boolean>} reachable
 *   Whether a server answers at `url` at all, whatever its CORS policy.
 */

/** @type {PutAnswer} */
const NO_ANSWER = Object.freeze({ status: 0, etag: "", retryAfter: null, text: "" });

/**
 * One PUT with XMLHttpRequest; the HttpStack `put` of the default stack.
 * @param {string} url
 * @param {Blob} blob  a File/Blob body is streamed from disk by the browser
 * @param {PutRequest} request  optional
 * @returns {Promise<PutAnswer>}
 */
function xhrPut(url, blob, { headers = {}, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    const onAbort = () => xhr.abort();
    const settle = (/** @type {() => void} */ then) => {
      signal?.removeEventListener("abort", onAbort);
      then();
    };
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress?.(event.loaded);
    xhr.onload = () =>
      settle(() =>
        resolve({
          status: xhr.status,
          etag: (exposedHeader(xhr, "etag") || "").replace(/^"|"$/g, ""),
          retryAfter: exposedHeader(xhr, "retry-after"),
          text: xhr.responseText,
        }),
      );
    xhr.onerror = () => settle(() => resolve({ ...NO_ANSWER }));
    xhr.onabort = () => settle(() => reject(abortError()));
    signal?.addEventListener("abort", onAbort, { once: true });
    xhr.send(blob);
  });
}

// getResponseHeader() logs an error for a header CORS does not expose; this does not.
function exposedHeader(/** @type {XMLHttpRequest} */ xhr, /** @type {string} */ name) {
  const line = xhr
    .getAllResponseHeaders()
    .split("\r\n")
    .find((header) => header.toLowerCase().startsWith(`${name}:`));
  return line ? line.slice(name.length + 1).trim() : null;
}

/**
 * Tells a CORS refusal from an unreachable server: a `no-cors` request gets an opaque answer
 * from any server that answers at all, whatever its CORS policy.
 * @param {string} url
 * @returns {Promise<boolean>}
 */
async function fetchReachable(url) {
  try {
    await fetch(url, { mode: "no-cors", cache: "no-store", credentials: "omit" });
    return true;
  } catch {
    return false;
  }
}

/**
 * The browser's own requests. `fetch` and `XMLHttpRequest` are looked up on each call, so a
 * page that wraps them after loading this module is still heard.
 * @type {Readonly<HttpStack>}
 */
export const defaultHttpStack = Object.freeze({
  put: xhrPut,
  request: (url, init) => fetch(url, init),
  reachable: fetchReachable,
});

/**
 * A complete stack: the caller's methods (bound to it, so a class instance works), the
 * default stack's for the rest.
 * @param {Partial<HttpStack>|null|undefined} custom
 * @returns {HttpStack}
 */
export function resolveHttpStack(custom) {
  if (!custom) return defaultHttpStack;
  /** @type {any} */
  const stack = { ...defaultHttpStack };
  for (const name of /** @type {(keyof HttpStack)[]} */ (["put", "request", "reachable"])) {
    const given = custom[name];
    if (typeof given === "function") stack[name] = given.bind(custom);
  }
  return stack;
}

/**
 * A stack's PUT with a stall watchdog: `stallTimeout` ms without upload progress aborts the
 * attempt, which then resolves as unanswered and `stalled` (it is retried like a network
 * error). Resolves with the answer whatever its status; rejects only when `signal` aborts.
 * @param {Pick<HttpStack, "put">} stack
 * @param {string} url
 * @param {Blob} blob
 * @param {PutRequest & {stallTimeout?: number}} request  optional
 * @returns {Promise<PutAnswer>}
 */
export function watchedPut(stack, url, blob, { headers = {}, onProgress, signal, stallTimeout = 0 } = {}) {
  if (signal?.aborted) return Promise.reject(abortError());
  const attempt = new AbortController();
  let stalled = false;
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  let timer;
  const arm = () => {
    if (!stallTimeout) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      attempt.abort();
    }, stallTimeout);
  };
  const onAbort = () => attempt.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  arm();
  const progress = (/** @type {number} */ loaded) => {
    arm();
    onProgress?.(loaded);
  };
  return new Promise((resolve) =>
    resolve(stack.put(url, blob, { headers, onProgress: progress, signal: attempt.signal })),
  )
    .then(
      (answer) => ({ ...answer, stalled: false }),
      (error) => {
        if (stalled) return { ...NO_ANSWER, stalled: true };
        throw attempt.signal.aborted ? abortError() : error;
      },
    )
    .finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    });
}

/**
 * One PUT of a Blob with XMLHttpRequest, with the stall watchdog: the default stack's PUT as
 * an upload makes it.
 * @param {string} url
 * @param {Blob} blob
 * @param {PutRequest & {stallTimeout?: number}} [request]
 * @returns {Promise<PutAnswer>}  status 0 = no answer (network error, CORS refusal or stall)
 */
export function putBlob(url, blob, request = {}) {
  return watchedPut(defaultHttpStack, url, blob, request);
}

/**
 * The one way an upload sends bytes (whole files and parts alike): the stack's PUT, once a
 * connection slot of the storage origin is free, under the stall watchdog.
 * @param {HttpStack} stack
 * @param {string} url
 * @param {Blob} blob
 * @param {PutRequest & {stallTimeout?: number}} request
 * @returns {Promise<PutAnswer>}
 */
export async function storagePut(stack, url, blob, request) {
  const slots = originSlots(url);
  await slots.acquire(request.signal).catch(() => {
    throw abortError();
  });
  try {
    return await watchedPut(stack, url, blob, request);
  } finally {
    slots.release();
  }
}
