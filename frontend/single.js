/**
 * single.js — a file that goes up in one request: through the upload form when the API offers
 * one (a FormPOST), else as one PUT; its progress, a fresh URL (or form) when the signed one
 * expires, and completion when the API keeps upload sessions.
 */

import { ProgressMeter } from "./progress.js";
import { isExpired } from "./retry.js";
import { sendUntilStored } from "./transfer.js";

/**
 * Where the signed answer says the file goes: its form if it has one, else its PUT URL.
 * @param {import("./api.js").SignedUpload} signed
 * @returns {import("./transfer.js").Target}
 */
export function singleTarget(signed) {
  const form = signed.upload_form;
  if (form) return { url: form.url, form };
  return { url: /** @type {string} */ (signed.upload_url), headers: signed.upload_headers ?? {} };
}

/**
 * Sends the whole file (the File itself goes as the body, or as the form's file: the browser
 * streams it from disk), then completes the upload.
 * @param {import("./transfer.js").Run} run
 * @param {import("./api.js").SignedUpload} first  POST /uploads's answer
 * @returns {Promise<import("./uploader.js").UploadResult>}
 */
export async function uploadSingle(run, first) {
  const { upload, file, options, signal, emit } = run;
  let signed = first;
  const meter = new ProgressMeter(file.size, { window: options.speedWindow });
  emit("progress", meter.update(0));
  // A small file's form goes without an upload listener, so without a preflight (see
  // DEFAULTS.smallFileSize): its progress goes from nothing to all of it.
  const quiet = Boolean(signed.upload_form) && file.size <= options.smallFileSize;
  const onProgress = quiet
    ? undefined
    : (/** @type {number} */ loaded) => emit("progress", meter.update(loaded));
  const answer = await sendUntilStored(run, {
    blob: file,
    signal,
    target: () => {
      upload.state = "uploading";
      meter.reset(); // each attempt sends the file from its first byte
      return singleTarget(signed);
    },
    expired: () => isExpired(signed),
    // Nothing was stored under the old name: storage refused it before writing.
    refresh: async () => {
      signed = await run.sign();
    },
    onProgress,
  });
  emit("progress", meter.update(file.size));
  // A form's answer has no ETag: completion then pins nothing, and answers the MD5 itself.
  const etag = signed.upload_form ? "" : answer.etag;
  if (!upload.uploadId) {
    // An API without upload sessions: the request is the whole upload.
    return { object_name: signed.object_name, download_url: signed.download_url, etag };
  }
  return run.complete(etag ? { 1: etag } : {});
}
