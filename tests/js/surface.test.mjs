// The public surface of frontend/uploader.js: what it exports, that every event has its
// callback, the fields of each event (the naming rule of docs/frontend.md), UploadError's
// properties and the completion of options.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import * as uploader from "../../frontend/uploader.js";
import { normalizeOptions } from "../../frontend/options.js";
import { MemoryStorage, fakeApi, fakeSegmented, fakeStorage } from "./fakes.mjs";

const { DEFAULTS, EVENT_CALLBACKS, ResumeStore, Upload, UploadError } = uploader;
const fast = { apiBase: "http://api", token: "t", retryDelay: 1, maxRetryDelay: 5 };
const bytes = new Uint8Array(1000).map((_, i) => i % 251);
const bigFile = new File([bytes], "big.bin", { lastModified: 1700000000000 });

describe("exports", () => {
  it("keeps every name uploader.js has offered", () => {
    for (const name of [
      "DEFAULTS",
      "UploadError",
      "classifyStatus",
      "backoffDelay",
      "isExpired",
      "parseRetryAfter",
      "ProgressMeter",
      "formatBytes",
      "formatDuration",
      "problemDetail",
      "putBlob",
      "callApi",
      "requestUpload",
      "Upload",
      "pendingUploads",
      "discardUpload",
      "uploadFile",
      "uploadFiles",
      "UploadBatch",
      "PartSchedule",
      "PartUrls",
      "ResumeStore",
    ]) {
      assert.ok(name in uploader, name);
    }
  });

  it("adds the API client, the default HTTP stack and the event → callback map", () => {
    assert.equal(typeof uploader.ApiClient, "function");
    assert.deepEqual(Object.keys(uploader.defaultHttpStack).sort(), ["post", "put", "reachable", "request"]);
    assert.equal(typeof EVENT_CALLBACKS, "object");
  });
});

/** Every event of `upload`, and every callback call, in order: [type, detail]. */
function record(options) {
  const events = [];
  const callbacks = [];
  for (const [type, callback] of Object.entries(EVENT_CALLBACKS)) {
    options[callback] = (detail) => callbacks.push([type, detail]);
  }
  const upload = new Upload(options.file, options);
  for (const type of Object.keys(EVENT_CALLBACKS)) {
    upload.addEventListener(type, (event) => events.push([type, event.detail]));
  }
  return { upload, events, callbacks };
}

describe("events and callbacks", () => {
  it("pairs each of the seven events with an on<Event> callback", () => {
    assert.deepEqual(EVENT_CALLBACKS, {
      signed: "onSigned",
      resume: "onResume",
      part: "onPart",
      progress: "onProgress",
      retry: "onRetry",
      done: "onDone",
      error: "onError",
    });
  });

  it("calls each callback with the very detail of its event, in the same order", async () => {
    // A resumed segmented upload with one retry sends every event but "error".
    const storage = new MemoryStorage();
    new ResumeStore(storage).save("http://api", bigFile, {
      upload_id: "u1",
      object_name: "obj",
      download_url: "http://dl",
      part_size: 100,
      part_count: 10,
      upload_headers: {},
      etags: {},
    });
    let failed = false;
    const api = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (_put, n) => (n === 7 && !failed ? ((failed = true), { status: 503 }) : null),
    });
    for (const n of [1, 2, 3, 4, 5]) api.stored.set(n, "x");
    const { upload, events, callbacks } = record({ ...fast, file: bigFile, storage, httpStack: api });
    await upload.start();
    assert.deepEqual(
      new Set(events.map(([type]) => type)),
      new Set(["signed", "resume", "part", "progress", "retry", "done"]),
    );
    assert.equal(callbacks.length, events.length);
    callbacks.forEach(([type, detail], i) => {
      assert.equal(type, events[i][0]);
      assert.equal(detail, events[i][1], `${type} callback got the event's own detail`);
    });

    const failing = record({
      ...fast,
      file: new File(["x"], "x.txt"),
      httpStack: fakeApi({ failures: [403] }),
    });
    await assert.rejects(failing.upload.start(), { kind: "api", status: 403 });
    assert.deepEqual(failing.events.at(-1)[0], "error");
    assert.equal(failing.callbacks.at(-1)[1], failing.events.at(-1)[1]);
    assert.ok(failing.callbacks.at(-1)[1].error instanceof UploadError);
  });

  it("gives each event exactly its documented fields", async () => {
    const storage = fakeStorage([{ status: 503 }, { status: 201, etag: "abc" }]);
    const single = record({
      ...fast,
      file: new File(["hello"], "a.txt"),
      httpStack: { ...fakeApi(), ...storage },
    });
    await single.upload.start();
    const fieldsOf = (events) => {
      const fields = {};
      for (const [type, detail] of events) {
        fields[type] = [...new Set([...(fields[type] ?? []), ...Object.keys(detail)])].sort();
      }
      return fields;
    };
    // snake_case only where a detail carries the API's JSON: signed, resume and done.
    assert.deepEqual(fieldsOf(single.events), {
      signed: ["download_url", "expires_at", "object_name"],
      progress: ["eta", "loaded", "percent", "speed", "total"],
      retry: ["attempt", "delay", "reason", "status"],
      done: ["download_url", "etag", "object_name"],
    });

    const storage2 = new MemoryStorage();
    const first = fakeSegmented({
      size: 1000,
      partSize: 500,
      fail: (_p, n) => (n === 2 ? { status: 403 } : null),
    });
    await assert.rejects(
      uploader.uploadFile(bigFile, { ...fast, parallel: 1, storage: storage2, httpStack: first }),
      { part: 2 },
    );
    let failed = false;
    const second = fakeSegmented({
      size: 1000,
      partSize: 500,
      fail: (_p, n) => (n === 2 && !failed ? ((failed = true), { status: 500 }) : null),
    });
    second.stored.set(1, "x");
    const segmented = record({
      ...fast,
      file: bigFile,
      storage: storage2,
      checksum: false,
      httpStack: second,
    });
    await segmented.upload.start();
    assert.deepEqual(fieldsOf(segmented.events), {
      signed: ["download_url", "expires_at", "object_name"],
      resume: ["missing_parts", "object_name", "stored_parts", "upload_id"],
      progress: ["eta", "loaded", "percent", "speed", "total"],
      retry: ["attempt", "delay", "part", "reason", "status"],
      part: ["checksum", "etag", "number", "stored", "total"],
      done: ["download_url", "etag", "object_name"],
    });
  });
});

describe("UploadError", () => {
  it("declares every property, each 'nothing known' by default", () => {
    const error = new UploadError("network", "Could not reach storage.");
    assert.ok(error instanceof Error);
    assert.deepEqual(
      { name: error.name, kind: error.kind, message: error.message },
      { name: "UploadError", kind: "network", message: "Could not reach storage." },
    );
    assert.deepEqual(
      {
        status: error.status,
        detail: error.detail,
        problem: error.problem,
        retryAfter: error.retryAfter,
        part: error.part,
      },
      { status: 0, detail: "", problem: null, retryAfter: null, part: null },
    );
    assert.equal("cause" in error, false);
  });

  it("keeps what it is given", () => {
    const cause = new TypeError("Failed to fetch");
    const problem = { detail: "d", missing_parts: [3] };
    const error = new UploadError("api", "m", {
      status: 409,
      detail: "d",
      problem,
      retryAfter: "5",
      part: 3,
      cause,
    });
    assert.deepEqual(
      [error.status, error.detail, error.problem, error.retryAfter, error.part, error.cause],
      [409, "d", problem, "5", 3, cause],
    );
  });

  it("names the part storage refused", async () => {
    const api = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (_p, n) => (n === 2 ? { status: 403 } : null),
    });
    await assert.rejects(
      uploader.uploadFile(bigFile, { ...fast, parallel: 1, resume: false, httpStack: api }),
      {
        kind: "storage",
        status: 403,
        part: 2,
        message: /forbids this upload \(403\) \(part 2\)\.$/,
      },
    );
  });
});

describe("options", () => {
  it("fills in DEFAULTS, also for an option given as undefined", () => {
    const options = normalizeOptions({ apiBase: "a", retries: undefined, parallel: 2.7, checksum: false });
    assert.equal(options.retries, DEFAULTS.retries);
    assert.equal(options.parallel, 2);
    assert.equal(options.checksum, false);
    assert.equal(options.apiBase, "a");
    assert.equal(normalizeOptions({ parallel: 0 }).parallel, 1);
    assert.deepEqual(normalizeOptions(), { ...DEFAULTS });
  });

  it("are the Upload's, completed", () => {
    const onDone = () => {};
    const upload = new Upload(new Blob(["x"]), { ...fast, onDone });
    assert.equal(upload.options.stallTimeout, DEFAULTS.stallTimeout);
    assert.equal(upload.options.onDone, onDone);
  });
});
