/**
 * errors.js — why an upload failed: `UploadError` (a stable `kind` for code, a `message` for
 * people), which HTTP statuses are worth another attempt, and the words for storage's refusals.
 */

/** @typedef {"aborted"|"auth"|"cors"|"network"|"api"|"storage"} UploadErrorKind */

/**
 * What an UploadError knows besides its kind and message; each defaults to "nothing known".
 * @typedef {object} UploadErrorInit
 * @property {number} [status]  HTTP status of the answer that failed; 0 when none arrived
 * @property {string} [detail]  the API's problem+json `detail`, or storage's answer body
 * @property {object|null} [problem]  the API's whole problem+json body (e.g. `missing_parts`)
 * @property {string|null} [retryAfter]  the answer's Retry-After header, as sent
 * @property {number|null} [part]  the part of a segmented upload storage failed on
 * @property {unknown} [cause]  the error underneath (a fetch TypeError, a JSON SyntaxError)
 */

/** Why an upload failed: `kind` is stable for code, `message` is for people. */
export class UploadError extends Error {
  /**
   * @param {UploadErrorKind} kind
   * @param {string} message
   * @param {UploadErrorInit} init  optional
   */
  constructor(
    kind,
    message,
    { status = 0, detail = "", problem = null, retryAfter = null, part = null, cause } = {},
  ) {
    // Error sets `cause` only when there is one, as an own non-enumerable property.
    super(message, cause === undefined ? undefined : { cause });
    /** @type {"UploadError"} */
    this.name = "UploadError";
    /** @type {UploadErrorKind} */
    this.kind = kind;
    /** @type {number} HTTP status of the failed answer; 0 = no answer (or no request). */
    this.status = status;
    /** @type {string} the API's problem `detail`, or the body storage answered ("" if none). */
    this.detail = detail;
    /** @type {object|null} the API's problem+json body, for fields beyond `detail`. */
    this.problem = problem;
    /** @type {string|null} the Retry-After header of the API's answer. */
    this.retryAfter = retryAfter;
    /** @type {number|null} the part of a segmented upload that failed. */
    this.part = part;
  }
}

/** The error of a cancelled upload (cancel(), the caller's signal). */
export const abortError = () => new UploadError("aborted", "The upload was cancelled.");

/**
 * What to do after a storage (or API) answer with this HTTP status; 0 means no answer at all
 * (network error, CORS refusal, abort by the stall timer).
 * @param {number} status
 * @param {{fromStorage?: boolean}} where  optional; `fromStorage` false for the API, whose 401 is a bad token
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
 * The problem+json `detail` of an API error body, if there is one.
 * @param {string} text
 * @returns {string}
 */
export function problemDetail(text) {
  try {
    const body = JSON.parse(text);
    return typeof body?.detail === "string" ? body.detail : "";
  } catch {
    return "";
  }
}

/** @type {Record<number, string>} */
const STORAGE_REFUSALS = {
  401: "storage refused the upload URL (401) even after a fresh one was requested",
  403: "storage forbids this upload (403)",
  408: "storage timed out waiting for the file (408)",
  411: "storage needs the file size (411)",
  413: "the file is larger than storage accepts (413)",
  422: "storage received different bytes than were sent (422)",
  429: "storage is rate-limiting uploads (429)",
  507: "storage is out of space (507)",
};

/** @type {Record<number, string>} what Swift's FormPOST means by its refusals */
const FORM_REFUSALS = {
  400: "storage refused the upload form (400)",
  401: "storage refused the upload form (401) even after a fresh one was requested",
};

/**
 * The message for storage's refusal, with its body when that is short text (not an HTML page).
 * @param {number} status
 * @param {string} text
 * @param {boolean} [form]  the refusal of a FormPOST, not of a PUT
 * @returns {string}
 */
export function storageMessage(status, text, form = false) {
  const known = (form && FORM_REFUSALS[status]) || STORAGE_REFUSALS[status];
  const base = known ?? `storage answered ${status}`;
  const extra = text && text.length < 200 && !/<html/i.test(text) ? `: ${text.trim()}` : "";
  return `Upload failed: ${base}${extra}.`;
}

/**
 * The UploadError for a PUT (or form POST) that storage refused or never answered. No answer is
 * a CORS refusal when storage still answers a `no-cors` probe, else storage is unreachable.
 * @param {import("./http.js").PutAnswer} answer
 * @param {string} url  the URL that was PUT (or POSTed) to
 * @param {{part?: number, reachable: (url: string) => Promise<boolean>, form?: boolean}} how
 * @returns {Promise<UploadError>}
 */
export async function storageError(answer, url, { part, reachable, form = false }) {
  const which = part === undefined ? "" : ` (part ${part})`;
  const known = { part: part ?? null };
  if (answer.status !== 0) {
    const message = storageMessage(answer.status, answer.text, form);
    return new UploadError("storage", which ? message.replace(/\.$/, `${which}.`) : message, {
      ...known,
      status: answer.status,
      detail: answer.text,
    });
  }
  const origin = new URL(url).origin;
  if (!answer.stalled && (await reachable(origin))) {
    return new UploadError(
      "cors",
      `Storage at ${origin} refused this page's origin (CORS): the API's CORS_ORIGINS must list ${globalThis.location?.origin ?? "it"}.`,
      known,
    );
  }
  return new UploadError(
    "network",
    answer.stalled ? "The upload stalled and did not recover." : `Could not reach storage at ${origin}.`,
    known,
  );
}

/**
 * The UploadError for a file that an upload form's `max_file_size` does not admit: storage
 * refuses it with a 400 that carries no CORS headers, so the page sees no answer at all.
 * @param {number} size  the file's, in bytes
 * @param {number} limit  the form's `max_file_size`
 * @param {number} [part]
 * @returns {UploadError}
 */
export function formTooLarge(size, limit, part) {
  return new UploadError(
    "storage",
    `Upload failed: the file (${size} bytes) is larger than the upload form allows (${limit} bytes).`,
    { part: part ?? null },
  );
}
