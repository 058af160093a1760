/**
 * segmented.js — a large file in parts: `parallel` PUTs at once, each part with its MD5 and its
 * own retries, part URLs fetched in batches as they are needed, completion that sends again what
 * storage lost, and resume of a remembered upload (only the missing parts go up).
 */

import { ApiClient } from "./api.js";
import { PartHasher, md5Available } from "./checksum.js";
import { UploadError, abortError } from "./errors.js";
import { PartSchedule, PartUrls, ResumeStore, defaultStorage } from "./parts.js";
import { ProgressMeter } from "./progress.js";
import { sendUntilStored } from "./transfer.js";

// Completion that finds parts missing (storage lost them) sends them again this many times.
const COMPLETE_ROUNDS = 3;
// ms between two progress events (a part finishing always reports): plenty for a bar.
const PROGRESS_INTERVAL = 100;

/**
 * What a segmented upload needs to go on; also what localStorage remembers of it (the API's
 * plan, with the module's own `etags`). `parts`, `expires_at` and `missing` are not remembered.
 * @typedef {object} SegmentedPlan
 * @property {string} upload_id
 * @property {string} object_name
 * @property {string} download_url
 * @property {number} part_size
 * @property {number} part_count
 * @property {Record<string, string>} upload_headers
 * @property {Record<number|string, string>} etags  part number → etag, for the parts stored
 * @property {import("./api.js").PartUrl[]} [parts]  the first part URLs, from POST /uploads
 * @property {string} [expires_at]  when those expire
 * @property {number[]} [missing]  the parts still to send (all when absent)
 */

/** @typedef {{name: string, size: number, lastModified: number}} FileKey  what identifies a File */

/**
 * A record of `pendingUploads`: a remembered plan and the file it is for.
 * @typedef {import("./parts.js").ResumeRecord & {file: FileKey}} PendingUpload
 */

/**
 * The plan of a segmented upload the API has just signed; remembered for resume.
 * @param {import("./transfer.js").Run} run
 * @param {import("./api.js").SignedUpload} signed
 * @returns {SegmentedPlan}
 */
export function newPlan(run, signed) {
  const plan = {
    upload_id: /** @type {string} */ (signed.upload_id),
    object_name: signed.object_name,
    download_url: signed.download_url,
    part_size: /** @type {number} */ (signed.part_size),
    part_count: /** @type {number} */ (signed.part_count),
    upload_headers: signed.upload_headers ?? {},
    etags: {},
  };
  run.resumes.save(run.options.apiBase, run.file, plan);
  return { ...plan, parts: signed.parts, expires_at: signed.expires_at };
}

/**
 * The remembered upload of this same file, if the API still knows it: what is left. Emits
 * "signed" and "resume" when there is one.
 * @param {import("./transfer.js").Run} run
 * @returns {Promise<SegmentedPlan|null>}
 */
export async function resumedPlan(run) {
  const { upload, file, resumes, emit } = run;
  const { apiBase } = run.options;
  const record = resumes.load(apiBase, file);
  if (!record) return null;
  upload.uploadId = record.upload_id; // a cancel from here on aborts it
  const startOver = () => {
    resumes.forget(apiBase, file);
    upload.uploadId = null;
    return null;
  };
  let status;
  try {
    status = await run.api.status(record.upload_id, run.signal);
  } catch (/** @type {any} */ error) {
    // Expired (404), aborted (404), another caller's (403): start over.
    if (error.kind !== "api" || ![403, 404, 409, 410].includes(error.status)) throw error;
    return startOver();
  }
  if (status.part_count !== record.part_count) return startOver();
  emit("signed", { object_name: status.object_name, download_url: record.download_url, expires_at: null });
  emit("resume", {
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

/**
 * Sends the plan's missing parts, then completes; resolves with the stored object.
 * @param {import("./transfer.js").Run} run
 * @param {SegmentedPlan} plan
 * @returns {Promise<import("./uploader.js").UploadResult>}
 */
export async function uploadSegmented(run, plan) {
  const { upload, file, options } = run;
  upload.segmented = true;
  upload.state = "uploading";
  const schedule = new PartSchedule(
    { size: file.size, partSize: plan.part_size, partCount: plan.part_count },
    plan.missing ?? Array.from({ length: plan.part_count }, (_, i) => i + 1),
  );
  const urls = new PartUrls();
  if (plan.parts) urls.add(plan.parts, plan.expires_at);
  const etags = new Map(Object.entries(plan.etags ?? {}).map(([n, etag]) => [Number(n), etag]));
  const slice = (/** @type {number} */ number) => {
    const { offset, length } = schedule.range(number);
    return file.slice(offset, offset + length); // a reference into the file: nothing is read
  };
  const hasher = new PartHasher({
    on: Boolean(options.checksum) && (await md5Available()),
    auto: options.checksum === "auto",
    ahead: options.parallel,
    blob: slice,
  });
  const meter = new ProgressMeter(file.size, { window: options.speedWindow, loaded: schedule.loaded });
  /** @type {Job} */
  const job = { run, plan, schedule, urls, etags, hasher, meter, slice, progressAt: 0, batch: null };
  run.emit("progress", meter.update(schedule.loaded));
  for (let round = 1; ; round += 1) {
    await sendParts(job);
    upload.state = "completing";
    try {
      return await run.complete(Object.fromEntries(etags));
    } catch (/** @type {any} */ error) {
      const missing = error.problem?.missing_parts;
      if (error.status !== 409 || !Array.isArray(missing) || round >= COMPLETE_ROUNDS) throw error;
      // Storage lost or never kept these: send them again, then complete again.
      for (const number of missing) etags.delete(number);
      schedule.redo(missing);
      upload.state = "uploading";
    }
  }
}

/**
 * @typedef {object} Job
 * @property {import("./transfer.js").Run} run
 * @property {SegmentedPlan} plan
 * @property {PartSchedule} schedule
 * @property {PartUrls} urls
 * @property {Map<number, string>} etags
 * @property {PartHasher} hasher
 * @property {ProgressMeter} meter
 * @property {(number: number) => Blob} slice
 * @property {number} progressAt  when the last progress event went out
 * @property {Promise<void>|null} batch  the part-URL request in flight, shared by the parts that wait for it
 */

/**
 * Every pending part, `parallel` at a time; the first real failure stops the others.
 * @param {Job} job
 */
async function sendParts(job) {
  const cancelled = job.run.signal;
  const stopping = new AbortController();
  const stop = () => stopping.abort();
  cancelled.addEventListener("abort", stop, { once: true });
  if (cancelled.aborted) stopping.abort();
  /** @type {any} the first failure, an UploadError unless something unforeseen threw */
  let failure = null;
  const worker = async () => {
    for (let number = job.schedule.next(); number !== null; number = job.schedule.next()) {
      await sendPart(job, number, stopping.signal);
    }
  };
  await Promise.all(
    Array.from({ length: job.run.options.parallel }, () =>
      worker().catch((error) => {
        if (failure === null || failure.kind === "aborted") failure = error;
        stopping.abort();
      }),
    ),
  );
  cancelled.removeEventListener("abort", stop);
  if (cancelled.aborted) throw abortError();
  if (failure) throw failure;
}

/**
 * @param {Job} job
 * @param {number} number
 * @param {AbortSignal} signal
 */
async function sendPart(job, number, signal) {
  const { run, plan, schedule, urls, etags, meter } = job;
  let md5;
  try {
    md5 = await job.hasher.md5(number, schedule.pending, signal);
  } catch (error) {
    throw signal.aborted ? abortError() : error;
  }
  const headers = { ...plan.upload_headers };
  if (md5) headers.ETag = md5;
  const answer = await sendUntilStored(run, {
    blob: job.slice(number),
    signal,
    part: number,
    target: async () => ({ url: await partUrl(job, number, signal), headers }),
    expired: () => urls.isExpired(number),
    refresh: () => urls.drop(number),
    onProgress: (loaded) => {
      schedule.progress(number, loaded);
      const now = Date.now();
      if (now - job.progressAt < PROGRESS_INTERVAL) return;
      job.progressAt = now;
      run.emit("progress", meter.update(schedule.loaded, now));
    },
    onFailure: () => schedule.progress(number, 0), // the next attempt sends it from its start
  });
  schedule.done(number);
  const etag = md5 ?? answer.etag;
  if (etag) etags.set(number, etag);
  run.resumes.partDone(run.options.apiBase, run.file, number, etag);
  run.emit("progress", meter.update(schedule.loaded));
  run.emit("part", {
    number,
    etag,
    checksum: Boolean(md5),
    stored: schedule.stored.size,
    total: schedule.partCount,
  });
}

/**
 * A URL for the part: from the batches so far while unexpired, else from a new batch that
 * starts at it. A batch that has just arrived is used even when this browser's clock calls it
 * expired: with a clock ahead of the server's, or an API slower than its TEMPURL_TTL, no URL
 * would ever do; storage is the judge (an expired URL then fails and is refreshed).
 * @param {Job} job
 * @param {number} number
 * @param {AbortSignal} signal
 * @returns {Promise<string>}
 */
async function partUrl(job, number, signal) {
  const { run, urls } = job;
  const since = Date.now();
  for (let asked = false; ;) {
    const url = urls.get(number) ?? urls.since(number, since);
    if (url) return url;
    if (job.batch) {
      await job.batch.catch(() => {});
      continue;
    }
    if (asked) throw new UploadError("api", `The API gave no upload URL for part ${number}.`);
    asked = true;
    job.batch = run.api
      .parts(/** @type {string} */ (run.upload.uploadId), number, signal)
      .then((answer) => urls.add(answer?.parts ?? [], answer?.expires_at));
    try {
      await job.batch;
    } finally {
      job.batch = null;
    }
  }
}

// ---------------------------------------------------------------- remembered uploads

/**
 * Unfinished segmented uploads remembered for this API, newest first — for a page to offer
 * resuming (picking the same file again resumes it).
 * @param {string} apiBase
 * @param {Storage|null} [storage]
 * @returns {PendingUpload[]}
 */
export function pendingUploads(apiBase, storage = defaultStorage()) {
  return new ResumeStore(storage).list(apiBase);
}

/**
 * Gives up a remembered upload: DELETE it (best effort) and forget it.
 * @param {{file: FileKey, upload_id: string}} record
 *   one of `pendingUploads`
 * @param {{apiBase: string, token: string, storage?: Storage|null,
 *   httpStack?: Partial<import("./http.js").HttpStack>}} options
 * @returns {Promise<void>}
 */
export async function discardUpload(record, { apiBase, token, storage = defaultStorage(), httpStack }) {
  new ResumeStore(storage).forget(apiBase, record.file);
  try {
    await new ApiClient({ apiBase, token, httpStack }).abort(record.upload_id);
  } catch {
    // `upload-signer gc` removes what an unreachable API could not.
  }
}
