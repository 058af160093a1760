/**
 * single.js — a file that goes up as one PUT: its progress, a fresh URL when the signed one
 * expires, and completion when the API keeps upload sessions.
 */

import { ProgressMeter } from "./progress.js";
import { isExpired } from "./retry.js";
import { putUntilStored } from "./transfer.js";

/**
 * PUTs the whole file to the signed URL (the File itself is the body: the browser streams it
 * from disk), then completes the upload.
 * @param {import("./transfer.js").Run} run
 * @param {import("./api.js").SignedUpload} first  POST /uploads's answer
 * @returns {Promise<import("./uploader.js").UploadResult>}
 */
export async function uploadSingle(run, first) {
  const { upload, file, options, signal, emit } = run;
  let signed = first;
  const meter = new ProgressMeter(file.size, { window: options.speedWindow });
  emit("progress", meter.update(0));
  const answer = await putUntilStored(run, {
    blob: file,
    signal,
    target: () => {
      upload.state = "uploading";
      meter.reset(); // each attempt sends the file from its first byte
      return { url: /** @type {string} */ (signed.upload_url), headers: signed.upload_headers };
    },
    expired: () => isExpired(/** @type {{upload_url: string}} */ (signed)),
    // Nothing was stored under the old name: storage refused it before writing.
    refresh: async () => {
      signed = await run.sign();
    },
    onProgress: (loaded) => emit("progress", meter.update(loaded)),
  });
  emit("progress", meter.update(file.size));
  if (!upload.uploadId) {
    // An API without upload sessions: the PUT is the whole upload.
    return { object_name: signed.object_name, download_url: signed.download_url, etag: answer.etag };
  }
  return run.complete(answer.etag ? { 1: answer.etag } : {});
}
