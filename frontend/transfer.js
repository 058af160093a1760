/**
 * transfer.js — one Blob to storage until it is stored, for whole files (single.js) and parts
 * (segmented.js) alike, as a PUT or through an upload form: transient failures retried with
 * backoff, an expired URL (or form) replaced, and the UploadError that names what went wrong
 * once there is no point in trying again.
 */

import { classifyStatus, formTooLarge, storageError } from "./errors.js";
import { storageSend, uploadFormData } from "./http.js";
import { retryReason, waitToRetry } from "./retry.js";

// Fresh URLs refused again and again are not expiring: something else is wrong.
const MAX_REFRESHES = 3;

/**
 * What single.js and segmented.js use of one Upload; the Upload builds it.
 * @typedef {object} Run
 * @property {import("./uploader.js").Upload} upload  its `state`, `uploadId` and `segmented` are kept current
 * @property {File|Blob} file
 * @property {import("./options.js").NormalizedOptions} options
 * @property {AbortSignal} signal  aborts when the upload is cancelled
 * @property {import("./api.js").ApiClient} api  retries per `options`, announcing each wait
 * @property {import("./http.js").HttpStack} http
 * @property {import("./parts.js").ResumeStore} resumes
 * @property {(type: import("./options.js").UploadEventType, detail: object) => void} emit
 * @property {() => Promise<import("./api.js").SignedUpload>} sign  fresh URLs; emits "signed"
 * @property {(etags: Record<number|string, string>) => Promise<UploadResult>} complete
 */

/** @typedef {import("./uploader.js").UploadResult} UploadResult */

/**
 * Where one attempt sends the Blob: a PUT to `url` with exactly `headers`, or, with `form`,
 * a FormPOST to `url` (the form's own) of its fields and the Blob as its file.
 * @typedef {{url: string, headers: Record<string, string>, form?: undefined}
 *   | {url: string, form: import("./api.js").UploadForm, headers?: undefined}} Target
 */

/**
 * Where a Blob goes, asked before each attempt (the URL may have been replaced since).
 * @typedef {object} Destination
 * @property {() => Promise<Target>|Target} target
 * @property {() => boolean} expired  whether the current URL (or form) has expired by this clock
 * @property {() => Promise<void>|void} refresh  replaces the current URL with a fresh one
 */

/**
 * Sends `blob` until storage stores it; resolves with storage's answer, rejects with an
 * UploadError (or the cancel's).
 * @param {Run} run
 * @param {Destination & {blob: Blob, signal: AbortSignal, part?: number,
 *   onProgress?: (loaded: number) => void, onFailure?: () => void}} transfer
 *   `onFailure` runs after each failed attempt, before any wait; without `onProgress` the
 *   request listens to no upload progress (a form then goes without a preflight)
 * @returns {Promise<import("./http.js").PutAnswer>}
 */
export async function sendUntilStored(
  run,
  { blob, signal, part, target, expired, refresh, onProgress, onFailure },
) {
  const { options, http, emit } = run;
  let refreshes = 0;
  let failures = 0;
  let blind = 0; // failures in a row without any answer from storage
  for (;;) {
    const { url, headers, form } = await target();
    // Exactly the headers the API signed the upload for, nothing else; a form has none.
    const body = form ? { form: uploadFormData(form.fields, form.file_name, blob) } : { blob };
    const request = { headers, signal, onProgress, stallTimeout: options.stallTimeout };
    const answer = await storageSend(http, url, body, request);
    let action = classifyStatus(answer.status);
    if (action === "done") return answer;
    onFailure?.();
    // A file over the form's limit is refused (400) without CORS headers: no answer to see,
    // and no point in another attempt.
    if (form && answer.status === 0 && blob.size > Number(form.fields.max_file_size)) {
      throw formTooLarge(blob.size, Number(form.fields.max_file_size), part);
    }
    blind = answer.status === 0 ? blind + 1 : 0;
    // Swift answers an expired TempURL with a 401 that lacks CORS headers, so the browser
    // reports a network error: the URL's expiry time tells the two apart.
    if (answer.status === 0 && expired()) action = "refresh";
    if (action === "refresh" && refreshes < MAX_REFRESHES) {
      // Storage refused the URL before writing anything: a fresh one, at once.
      refreshes += 1;
      const detail = { attempt: refreshes, delay: 0, reason: "expired", status: answer.status };
      emit("retry", part === undefined ? detail : { ...detail, part });
      await refresh();
      continue;
    }
    failures += 1;
    if (action !== "retry" || failures > options.retries) {
      throw await storageError(answer, url, { part, reachable: http.reachable, form: Boolean(form) });
    }
    const why = { reason: retryReason(answer), status: answer.status, retryAfter: answer.retryAfter, part };
    await waitToRetry(failures, why, options, (detail) => emit("retry", detail), signal);
    // The wait may outlast the URL, and a clock running behind hides an expiry: after
    // repeated failures without an answer, a fresh URL costs little.
    if (expired() || blind >= 2) await refresh();
  }
}
