/**
 * http.js — the requests themselves, behind a small replaceable "HTTP stack" (the idea of
 * tus-js-client's HttpStack): a storage PUT or form POST with upload progress, a
 * fetch-compatible API call, and a reachability probe. The default stack is the browser's:
 * XMLHttpRequest for storage (the only browser API that reports upload progress; it streams a
 * File body from disk), fetch for the rest. On top of any stack, this module adds what every
 * upload request needs: a connection slot per storage origin and a stall watchdog.
 */

import { abortError } from "./errors.js";
import { originSlots } from "./slots.js";

export { Slots, originSlots } from "./slots.js";

/**
 * Storage's answer to one PUT (or form POST).
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
 * @property {(loaded: number) => void} [onProgress]  bytes of the body (of a form: of its file) sent so
 *   far. Absent: the request must not listen to upload progress (an XMLHttpRequest with an
 *   upload listener is never a CORS "simple request": a form POST without one needs no preflight)
 * @property {AbortSignal} [signal]  aborts the request
 */

/**
 * The requests an upload makes. A stack given as the `httpStack` option may define only some
 * of them; the default stack does the rest.
 * @typedef {object} HttpStack
 * @property {(url: string, blob: Blob, request: PutRequest) => Promise<PutAnswer>} put
 *   One PUT of `blob`. Resolves with whatever storage answered (status 0 for no answer);
 *   rejects only when `request.signal` aborts.
 * @property {(url: string, form: FormData, request: PutRequest) => Promise<PutAnswer>} post
 *   One POST of a multipart form (a FormPOST: its fields, then the file as its part `file`),
 *   answered like `put`; `onProgress` counts bytes of the file.
 * @property {(url: string, init: RequestInit) => Promise<Response>} request
 *   One API call, fetch-compatible: resolves with a Response (or anything with `status`,
 *   `headers.get()` and `text()`), rejects when no answer arrives.
 * @property {(url: string, init?: {signal?: AbortSignal}) => Promise<boolean>} reachable
 *   Whether a server answers at `url` at all, whatever its CORS policy.
 */

/** @type {PutAnswer} */
const NO_ANSWER = Object.freeze({ status: 0, etag: "", retryAfter: null, text: "" });

/**
 * One request with XMLHttpRequest, answered as a PutAnswer.
 * @param {"PUT"|"POST"} method
 * @param {string} url
 * @param {Blob|FormData} body  a File/Blob (also inside a form) is streamed from disk by the browser
 * @param {PutRequest} request
 * @param {(event: ProgressEvent) => number} sent  the bytes to report for an upload progress event
 * @returns {Promise<PutAnswer>}
 */
function xhrSend(method, url, body, { headers = {}, onProgress, signal }, sent) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    const onAbort = () => xhr.abort();
    const settle = (/** @type {() => void} */ then) => {
      signal?.removeEventListener("abort", onAbort);
      then();
    };
    xhr.open(method, url);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    // Only with a listener: an upload listener makes the request need a CORS preflight.
    if (onProgress) xhr.upload.onprogress = (event) => onProgress(sent(event));
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
    xhr.send(body);
  });
}

/**
 * One PUT with XMLHttpRequest; the HttpStack `put` of the default stack.
 * @param {string} url
 * @param {Blob} blob  a File/Blob body is streamed from disk by the browser
 * @param {PutRequest} request  optional
 * @returns {Promise<PutAnswer>}
 */
function xhrPut(url, blob, request = {}) {
  return xhrSend("PUT", url, blob, request, (event) => event.loaded);
}

/**
 * One form POST with XMLHttpRequest; the HttpStack `post` of the default stack. Progress is
 * reported in bytes of the form's file: the share of the whole body sent, times the file's size.
 * @param {string} url
 * @param {FormData} form
 * @param {PutRequest} request  optional
 * @returns {Promise<PutAnswer>}
 */
function xhrPost(url, form, request = {}) {
  const size = formFile(form).size;
  return xhrSend("POST", url, form, request, (event) =>
    event.lengthComputable && event.total > 0
      ? Math.min(size, Math.round((event.loaded / event.total) * size))
      : Math.min(size, event.loaded),
  );
}

/**
 * The form of a FormPOST upload: every field first, in the given order, then the file as the
 * part named `file` with `fileName` as its filename (storage stores it under the form's prefix
 * followed by that name). The Blob is referenced, not read.
 * @param {Record<string, string>} fields
 * @param {string} fileName
 * @param {Blob} blob
 * @returns {FormData}
 */
export function uploadFormData(fields, fileName, blob) {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", blob, fileName);
  return form;
}

/** @returns {Blob} the file part of a form */
function formFile(/** @type {FormData} */ form) {
  const file = form.get("file");
  return typeof file === "string" || !file ? new Blob([file ?? ""]) : file;
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
 * @param {{signal?: AbortSignal}} [init]
 * @returns {Promise<boolean>}
 */
async function fetchReachable(url, { signal } = {}) {
  try {
    await fetch(url, { mode: "no-cors", cache: "no-store", credentials: "omit", signal });
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
  post: xhrPost,
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
  for (const name of /** @type {(keyof HttpStack)[]} */ (["put", "post", "request", "reachable"])) {
    const given = custom[name];
    if (typeof given === "function") stack[name] = given.bind(custom);
  }
  return stack;
}

// ms a cancel waits for the answer to a request whose body has gone out whole (see `watched`).
export const CANCEL_GRACE = 10_000;

/**
 * One request of a stack under the stall watchdog: `stallTimeout` ms without upload progress
 * aborts the attempt, which then resolves as unanswered and `stalled` (it is retried like a
 * network error). `signal` aborting (a cancel) aborts the request at once while its body is
 * still going out: storage then stores nothing of it. A body that has gone out whole is
 * stored by storage whether or not the browser still listens, so then the cancel waits for the
 * answer (at most CANCEL_GRACE ms): whatever comes after the cancel (the DELETE of the upload)
 * then finds what it stored. Either way the promise rejects with the cancel's error.
 * @param {(request: PutRequest) => Promise<PutAnswer>} send  one request of the stack
 * @param {number} size  bytes of the body (of a form: of its file)
 * @param {PutRequest & {stallTimeout?: number}} request
 * @returns {Promise<PutAnswer>}
 */
function watched(send, size, { headers = {}, onProgress, signal, stallTimeout = 0 }) {
  if (signal?.aborted) return Promise.reject(abortError());
  const attempt = new AbortController();
  let stalled = false;
  // The body has gone out whole. Without progress events that is unknown, so a cancel then
  // waits for the answer (such a request carries a small file: it comes quickly).
  let sent = size === 0 || !onProgress;
  /** @type {ReturnType<typeof setTimeout>|undefined} */
  let timer;
  const arm = () => {
    if (!stallTimeout || signal?.aborted) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      stalled = true;
      attempt.abort();
    }, stallTimeout);
  };
  const onAbort = () => {
    clearTimeout(timer);
    if (sent) timer = setTimeout(() => attempt.abort(), CANCEL_GRACE);
    else attempt.abort();
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  arm();
  const progress = (/** @type {number} */ loaded) => {
    if (loaded >= size) sent = true;
    arm();
    onProgress?.(loaded);
  };
  const listen = onProgress ? progress : undefined;
  return new Promise((resolve) => resolve(send({ headers, onProgress: listen, signal: attempt.signal })))
    .then(
      (answer) => {
        if (signal?.aborted) throw abortError();
        return { ...answer, stalled: false };
      },
      (error) => {
        if (stalled) return { ...NO_ANSWER, stalled: true };
        throw attempt.signal.aborted || signal?.aborted ? abortError() : error;
      },
    )
    .finally(() => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    });
}

/**
 * A stack's PUT with the stall watchdog (see `watched`). Resolves with the answer whatever its
 * status; rejects only when `signal` aborts.
 * @param {Pick<HttpStack, "put">} stack
 * @param {string} url
 * @param {Blob} blob
 * @param {PutRequest & {stallTimeout?: number}} request  optional
 * @returns {Promise<PutAnswer>}
 */
export function watchedPut(stack, url, blob, request = {}) {
  return watched((attempt) => stack.put(url, blob, attempt), blob.size, request);
}

/**
 * A stack's form POST with the stall watchdog (see `watched`); as `watchedPut`.
 * @param {Pick<HttpStack, "post">} stack
 * @param {string} url
 * @param {FormData} form  as `uploadFormData` builds it
 * @param {PutRequest & {stallTimeout?: number}} request  optional; `headers` are not sent
 * @returns {Promise<PutAnswer>}
 */
export function watchedPost(stack, url, form, request = {}) {
  const send = (/** @type {PutRequest} */ { headers: _, ...attempt }) => stack.post(url, form, attempt);
  return watched(send, formFile(form).size, request);
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
 * The one way an upload sends bytes (whole files and parts alike): the stack's PUT of `blob`,
 * or its POST of `form`, once a connection slot of the storage origin is free, under the
 * stall watchdog.
 * @param {HttpStack} stack
 * @param {string} url
 * @param {{blob: Blob}|{form: FormData}} body
 * @param {PutRequest & {stallTimeout?: number}} request
 * @returns {Promise<PutAnswer>}
 */
export async function storageSend(stack, url, body, request) {
  const slots = originSlots(url);
  await slots.acquire(request.signal).catch(() => {
    throw abortError();
  });
  try {
    return await ("form" in body
      ? watchedPost(stack, url, body.form, request)
      : watchedPut(stack, url, body.blob, request));
  } finally {
    slots.release();
  }
}

/**
 * `storageSend` of a PUT.
 * @param {HttpStack} stack
 * @param {string} url
 * @param {Blob} blob
 * @param {PutRequest & {stallTimeout?: number}} request
 * @returns {Promise<PutAnswer>}
 */
export function storagePut(stack, url, blob, request) {
  return storageSend(stack, url, { blob }, request);
}
