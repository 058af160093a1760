// Many files through uploadFiles / UploadBatch: signed in batches, sent a few at a time,
// completed in batches, one file's failure its own, cancel, progress. Storage and API are the
// fakes of tests/js/fakes.mjs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { UploadBatch, UploadError, uploadFiles } from "../../frontend/uploader.js";
import { fakeBatchApi, fakeStorage } from "./fakes.mjs";

const fast = { apiBase: "http://api", token: "t", retryDelay: 1, maxRetryDelay: 5, resume: false };
const filesOf = (count, size = 10) =>
  Array.from({ length: count }, (_, i) => new File(["x".repeat(size)], `f${i + 1}.txt`, { type: "text/plain" }));

/** Storage that counts the requests in flight at once. */
function countingStorage(answers = () => ({ status: 201, delay: 2 })) {
  const storage = fakeStorage(answers);
  const counts = { now: 0, max: 0 };
  const post = storage.post;
  storage.post = async (...args) => {
    counts.now += 1;
    counts.max = Math.max(counts.max, counts.now);
    try {
      return await post(...args);
    } finally {
      counts.now -= 1;
    }
  };
  return { ...storage, counts };
}

const stack = (api, storage) => ({ request: api.request, reachable: api.reachable, post: storage.post, put: storage.put });
const posts = (api, path) => api.calls.filter((call) => call.method === "POST" && call.path === path);

describe("uploadFiles", () => {
  it("signs in batches of 100 in order, sends at most 6 files at once, completes in batches", async () => {
    const api = fakeBatchApi();
    const storage = countingStorage();
    const files = filesOf(250);
    const results = await uploadFiles(files, { ...fast, httpStack: stack(api, storage) });

    const signs = posts(api, "/uploads");
    assert.deepEqual(
      signs.map((call) => call.body.files.length),
      [100, 100, 50],
    );
    assert.deepEqual(
      signs.flatMap((call) => call.body.files.map((file) => file.filename)),
      files.map((file) => file.name),
      "in the files' order",
    );
    assert.deepEqual(signs[0].body.files[0], { filename: "f1.txt", size: 10, content_type: "text/plain" });
    assert.equal(storage.puts.length, 250);
    assert.ok(storage.puts.every((request) => request.method === "POST"), "through the forms");
    assert.ok(storage.counts.max <= 6, `at most 6 at once, saw ${storage.counts.max}`);
    assert.ok(storage.counts.max >= 2, "but several");

    const completes = posts(api, "/uploads/complete");
    assert.ok(completes.every((call) => call.body.upload_ids.length <= 20));
    assert.equal(
      completes.reduce((sum, call) => sum + call.body.upload_ids.length, 0),
      250,
      "each completed once",
    );
    assert.ok(completes.length <= 30, `${completes.length} completion requests`);
    assert.equal(api.calls.filter((call) => /\/uploads\/u-\d+\/complete$/.test(call.path)).length, 0);

    assert.equal(results.length, 250);
    results.forEach((result, i) => {
      assert.equal(result.object_name, `obj-${i + 1}`, "results in the files' order");
      assert.equal(result.etag, `md5-${i + 1}`);
    });
  });

  it("fails one file whose completion the batch refuses, retries one that failed for now", async () => {
    const problems = { "u-2": { status: 409, detail: "The upload is not complete." }, "u-4": { status: 503 } };
    const api = fakeBatchApi({ problem: (id) => problems[id] ?? null });
    const results = await uploadFiles(filesOf(5), { ...fast, httpStack: stack(api, fakeStorage(() => null)) });

    assert.ok(results[1] instanceof UploadError);
    assert.equal(results[1].kind, "api");
    assert.equal(results[1].status, 409);
    assert.match(results[1].message, /409: The upload is not complete\./);
    assert.equal(results[3].object_name, "obj-4", "a 503 is retried on its own");
    assert.ok(api.calls.some((call) => call.path === "/uploads/u-4/complete"));
    for (const i of [0, 2, 4]) assert.equal(results[i].object_name, `obj-${i + 1}`);
  });

  it("lets each file sign on its own when the API refuses the batch", async () => {
    const api = fakeBatchApi({ signStatus: 400 });
    const results = await uploadFiles(filesOf(3), { ...fast, httpStack: stack(api, fakeStorage(() => null)) });
    assert.deepEqual(
      posts(api, "/uploads").map((call) => (call.body.files ? "batch" : call.body.filename)),
      ["batch", "f1.txt", "f2.txt", "f3.txt"],
    );
    assert.ok(results.every((result) => result.download_url));
  });

  it("counts files and bytes in its progress, and ends at every byte of every file", async () => {
    const api = fakeBatchApi();
    const seen = [];
    const files = filesOf(7, 100);
    const ended = [];
    await uploadFiles(files, {
      ...fast,
      httpStack: stack(api, fakeStorage(() => null)),
      onProgress: (p) => seen.push(p),
      onFile: ({ index, result }) => ended.push([index, Boolean(result)]),
    });
    const last = seen.at(-1);
    assert.equal(last.files, 7);
    assert.equal(last.done, 7);
    assert.equal(last.total, 700);
    assert.equal(last.loaded, 700);
    assert.equal(last.percent, 100);
    assert.equal(last.eta, 0);
    assert.ok(seen.every((p, i) => i === 0 || p.done >= seen[i - 1].done), "files done only grows");
    assert.ok(seen.some((p) => p.loaded === 700 && p.done < 7 && p.eta === null), "no 0 s left while completing");
    assert.equal(ended.length, 7);
  });

  it("cancels every file: requests aborted, then what was signed DELETEd; nothing more sent", async () => {
    const api = fakeBatchApi();
    // The first 3 files are stored; the others hang until the cancel aborts them.
    const storage = fakeStorage((request) => (Number(request.url.match(/obj-(\d+)/)[1]) <= 3 ? null : "hang"));
    const batch = new UploadBatch(filesOf(20), { ...fast, httpStack: stack(api, storage), completeDelay: 1 });
    const started = batch.start();
    await new Promise((resolve) => {
      const check = () => (storage.puts.length >= 6 ? resolve() : setTimeout(check, 1));
      check();
    });
    const sentBefore = storage.puts.length;
    batch.cancel();
    const results = await started;

    assert.equal(storage.puts.length, sentBefore, "no storage request after the cancel");
    assert.ok(storage.puts.every((request) => request.settled), "every request ended");
    const cancelled = results.filter((result) => result instanceof UploadError && result.kind === "aborted");
    const done = results.filter((result) => !(result instanceof UploadError));
    assert.equal(cancelled.length + done.length, 20);
    assert.ok(cancelled.length >= 17);
    assert.ok(batch.uploads.every((upload) => ["done", "cancelled"].includes(upload.state)));
    // Every signed file not completed is DELETEd, after its requests ended.
    for (let n = 1; n <= 20; n += 1) {
      const id = `u-${n}`;
      assert.ok(api.completed.has(id) || api.deleted.has(id), `${id} completed or deleted`);
    }
  });

  it("cancels one file alone, even before it starts", async () => {
    const api = fakeBatchApi();
    const batch = new UploadBatch(filesOf(10), { ...fast, httpStack: stack(api, fakeStorage(() => null)) });
    batch.uploads[8].cancel();
    const results = await batch.start();
    assert.equal(results[8].kind, "aborted");
    assert.equal(batch.uploads[8].state, "cancelled");
    assert.equal(results.filter((result) => result.download_url).length, 9);
    assert.deepEqual(
      posts(api, "/uploads")[0].body.files.map((file) => file.filename),
      ["f1.txt", "f2.txt", "f3.txt", "f4.txt", "f5.txt", "f6.txt", "f7.txt", "f8.txt", "f10.txt"],
      "not signed",
    );
  });

  it("resolves at once with no files", async () => {
    assert.deepEqual(await uploadFiles([], { ...fast, httpStack: fakeBatchApi() }), []);
  });
});
