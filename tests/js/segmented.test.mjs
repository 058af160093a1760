// Segmented uploads through Upload with fake storage and API (tests/js/fakes.mjs, given as the
// HTTP stack): parts in parallel with their MD5, lazy URL batches, per-part retries,
// completion, resume, cancel.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";

import { ResumeStore } from "../../frontend/parts.js";
import { Upload, pendingUploads, uploadFile } from "../../frontend/uploader.js";
import { MemoryStorage, fakeSegmented, fakeStorage, json } from "./fakes.mjs";

const bytes = new Uint8Array(1000).map((_, i) => (i * 7) % 251);
const bigFile = new File([bytes], "big.bin", { lastModified: 1700000000000 });
const md5 = (data) => createHash("md5").update(data).digest("hex");
const partMd5 = (n, size = 100) => md5(bytes.subarray((n - 1) * size, n * size));
const fast = { apiBase: "http://api", token: "t", retryDelay: 1, maxRetryDelay: 5 };
/** Options that send through the fake API and storage `api` (a stack of its own). */
const over = (api, options = {}) => ({ ...fast, ...options, httpStack: api });

const count = (puts) => {
  const counts = {};
  for (const put of puts) counts[put.number] = (counts[put.number] ?? 0) + 1;
  return counts;
};

describe("segmented upload", () => {
  it("PUTs each slice with its MD5, fetches URLs lazily, completes with pinned etags", async () => {
    const api = fakeSegmented({ size: 1000, partSize: 100, batch: 3 });
    let inFlight = 0;
    let most = 0;
    const watch = api.puts;
    const storage = new MemoryStorage();
    const upload = new Upload(bigFile, over(api, { parallel: 3, storage, checksum: true }));
    const progress = [];
    const parts = [];
    upload.addEventListener("progress", (e) => {
      progress.push(e.detail.loaded);
      inFlight = watch.filter((put) => !put.settled).length;
      most = Math.max(most, inFlight);
    });
    const remembered = [];
    upload.addEventListener("part", (e) => {
      parts.push(e.detail.number);
      remembered.push(new ResumeStore(storage).load("http://api", bigFile)?.upload_id);
    });

    const result = await upload.start();

    assert.deepEqual(result, {
      object_name: "obj",
      download_url: "http://storage/v1/AUTH_a/c/obj?filename=big.bin&fresh",
      etag: "slo-etag",
    });
    assert.equal(api.puts.length, 10);
    for (const put of api.puts) {
      const n = put.number;
      assert.equal(put.body.size, 100);
      assert.equal(put.headers.ETag, partMd5(n), `part ${n}`);
      assert.equal(put.headers["X-Delete-After"], "86400");
      assert.equal(md5(new Uint8Array(await put.body.arrayBuffer())), partMd5(n));
    }
    assert.ok(most <= 3, `at most 3 parts in flight, saw ${most}`);
    // Batches of 3 URLs: the plan carried 1-3, the rest came as needed.
    assert.deepEqual(
      api.calls.filter((c) => c.includes("/parts")),
      ["GET /uploads/u1/parts?from=4", "GET /uploads/u1/parts?from=7", "GET /uploads/u1/parts?from=10"],
    );
    assert.deepEqual(
      api.completeBody.parts,
      Array.from({ length: 10 }, (_, i) => ({ number: i + 1, etag: partMd5(i + 1) })),
    );
    assert.deepEqual(
      [...parts].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.equal(progress.at(-1), 1000);
    assert.equal(upload.state, "done");
    assert.deepEqual(new Set(remembered), new Set(["u1"])); // remembered while in progress
    assert.equal(new ResumeStore(storage).load("http://api", bigFile), null); // forgotten when done
  });

  it("retries a failing part alone, with backoff, and the upload succeeds", async () => {
    let failed = false;
    const api = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (_put, n) => {
        if (n !== 2 || failed) return null;
        failed = true;
        return { status: 503 };
      },
    });
    const retries = [];
    const upload = new Upload(bigFile, over(api, { parallel: 4 }));
    upload.addEventListener("retry", (e) => retries.push(e.detail));
    await upload.start();
    assert.deepEqual(count(api.puts), { 1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1, 10: 1 });
    assert.equal(retries.length, 1);
    assert.deepEqual(
      { ...retries[0], delay: 0 },
      { attempt: 1, delay: 0, reason: "server", status: 503, part: 2 },
    );
  });

  it("fails on a refused part (422) and stops the others", async () => {
    const api = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (_put, n) => (n === 3 ? { status: 422 } : { status: 201, etag: "x", delay: 30 }),
    });
    await assert.rejects(uploadFile(bigFile, over(api, { parallel: 4 })), {
      kind: "storage",
      status: 422,
      part: 3,
      message: /different bytes.*\(part 3\)/,
    });
    assert.ok(api.puts.length < 10, "parts after the failure were not started");
    assert.ok(!api.calls.includes("POST /uploads/u1/complete"));
  });

  it("refreshes only the expired part's URLs and goes on", async () => {
    let first = true;
    const api = fakeSegmented({
      size: 300,
      partSize: 100,
      batch: 3,
      fail: (_put, n) => {
        if (n !== 2 || !first) return null;
        first = false;
        api.expiresIn = 900_000; // later batches are fresh
        return "network";
      },
    });
    api.expiresIn = 20; // the plan's URLs expire 20 ms after it is issued
    const small = new File([bytes.subarray(0, 300)], "small.bin");
    // Part 1 goes out before the expiry, part 2 after it.
    const put = api.put;
    api.put = (url, blob, request) =>
      new Promise((go) => setTimeout(go, 30)).then(() => put(url, blob, request));
    const upload = new Upload(small, over(api, { parallel: 1, checksum: false }));
    const reasons = [];
    upload.addEventListener("retry", (e) => reasons.push(e.detail.reason));
    await upload.start();
    assert.ok(reasons.includes("expired"), reasons.join());
    assert.ok(api.calls.includes("GET /uploads/u1/parts?from=2"), api.calls.join());
    assert.equal(api.puts.filter((p) => p.number === 2).length, 2);
    assert.equal(api.puts.filter((p) => p.number === 1).length, 1);
  });

  it("uses a fresh batch even when this browser's clock calls it expired", async () => {
    const api = fakeSegmented({ size: 300, partSize: 100, batch: 1 });
    api.expiresIn = -60_000; // the browser's clock is a minute ahead of the server's
    const small = new File([bytes.subarray(0, 300)], "small.bin");
    const result = await uploadFile(small, over(api, { checksum: false }));
    assert.equal(result.object_name, "obj");
    assert.deepEqual(count(api.puts), { 1: 1, 2: 1, 3: 1 });
  });

  it("resumes the same file: asks what is stored and sends only the missing parts", async () => {
    const storage = new MemoryStorage();
    // First try: part 6 is refused, so the upload fails with parts 1-5 (and maybe more) stored.
    const first = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (_put, n) => (n === 6 ? { status: 403 } : null),
    });
    await assert.rejects(uploadFile(bigFile, over(first, { parallel: 1, storage })), { status: 403 });
    const remembered = new ResumeStore(storage).load("http://api", bigFile);
    assert.deepEqual(Object.keys(remembered.etags).map(Number), [1, 2, 3, 4, 5]);
    assert.deepEqual(
      pendingUploads("http://api", storage).map((r) => r.file.name),
      ["big.bin"],
    );

    // The page reloads, the same file is picked again: the API still has parts 1-5.
    const second = fakeSegmented({ size: 1000, partSize: 100, batch: 2 });
    for (const n of [1, 2, 3, 4, 5]) second.stored.set(n, partMd5(n));
    const upload = new Upload(bigFile, over(second, { parallel: 2, storage }));
    const resumed = [];
    const progress = [];
    upload.addEventListener("resume", (e) => resumed.push(e.detail));
    upload.addEventListener("progress", (e) => progress.push(e.detail.loaded));
    const result = await upload.start();

    assert.equal(result.object_name, "obj");
    assert.deepEqual(resumed[0].missing_parts, [6, 7, 8, 9, 10]);
    assert.deepEqual(count(second.puts), { 6: 1, 7: 1, 8: 1, 9: 1, 10: 1 });
    assert.ok(!second.calls.includes("POST /uploads"), "no new upload was started");
    assert.equal(second.calls[0], "GET /uploads/u1");
    assert.equal(progress[0], 500); // progress starts where the stored parts end
    // Completion pins all ten etags: five remembered, five just sent.
    assert.deepEqual(
      second.completeBody.parts.map((p) => p.number),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    assert.deepEqual(pendingUploads("http://api", storage), []);
  });

  it("remembers nothing for a Blob, which cannot be recognised when picked again", async () => {
    const storage = new MemoryStorage();
    const api = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (_p, n) => (n === 2 ? { status: 403 } : null),
    });
    await assert.rejects(uploadFile(new Blob([bytes]), over(api, { parallel: 1, storage })), { status: 403 });
    assert.equal(storage.length, 0);
  });

  it("starts over when the remembered upload is gone (404)", async () => {
    const storage = new MemoryStorage();
    new ResumeStore(storage).save("http://api", bigFile, {
      upload_id: "gone",
      object_name: "old",
      part_size: 100,
      part_count: 10,
      upload_headers: {},
      etags: { 1: "x" },
    });
    const api = fakeSegmented({ size: 1000, partSize: 100, batch: 10 });
    await uploadFile(bigFile, over(api, { storage }));
    assert.deepEqual(api.calls.slice(0, 2), ["GET /uploads/gone", "POST /uploads"]);
    assert.equal(api.puts.length, 10);
  });

  it("sends again the parts completion finds missing, then completes", async () => {
    const api = fakeSegmented({ size: 1000, partSize: 100, batch: 10 });
    const request = api.request;
    let lost = false;
    api.request = async (url, init) => {
      if (!lost && url.endsWith("/complete")) {
        lost = true;
        api.stored.delete(4); // storage lost part 4 before completion
      }
      return request(url, init);
    };
    await uploadFile(bigFile, over(api, { parallel: 4 }));
    assert.equal(count(api.puts)[4], 2);
    assert.equal(api.calls.filter((c) => c.endsWith("/complete")).length, 2);
  });

  it("hashes in auto mode (the default) while hashing keeps ahead of the uploads", async () => {
    const api = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (put) => ({ status: 201, etag: put.headers.ETag, delay: 20 }), // slow network
    });
    const parts = [];
    const upload = new Upload(bigFile, over(api, { parallel: 2 }));
    upload.addEventListener("part", (e) => parts.push(e.detail.checksum));
    await upload.start();
    assert.equal(upload.options.checksum, "auto");
    assert.deepEqual(parts, Array(10).fill(true));
    for (const put of api.puts) assert.equal(put.headers.ETag, partMd5(put.number));
  });

  it("sends no ETag when checksums are off", async () => {
    const api = fakeSegmented({ size: 1000, partSize: 100, batch: 10 });
    await uploadFile(bigFile, over(api, { checksum: false }));
    assert.ok(api.puts.every((put) => !("ETag" in put.headers)));
    // The etags storage answered are still pinned on completion.
    assert.equal(api.completeBody.parts[0].etag, "1".padStart(32, "0"));
  });

  it("cancel aborts the parts in flight, DELETEs the upload and forgets it", async () => {
    const storage = new MemoryStorage();
    let upload = null;
    const api = fakeSegmented({
      size: 1000,
      partSize: 100,
      batch: 10,
      fail: (_put, n) => {
        if (n === 4) setTimeout(() => upload.cancel(), 5); // all four parts are in flight
        return "hang";
      },
    });
    upload = new Upload(bigFile, over(api, { parallel: 4, storage }));
    await assert.rejects(upload.start(), { kind: "aborted" });
    assert.equal(upload.state, "cancelled");
    assert.equal(api.puts.length, 4);
    assert.ok(
      api.puts.every((put) => put.settled),
      "every PUT in flight was aborted",
    );
    assert.equal(api.calls.at(-1), "DELETE /uploads/u1");
    assert.deepEqual(pendingUploads("http://api", storage), []);
  });
});

describe("single PUT with an upload session", () => {
  it("calls complete with the stored etag and returns its answer", async () => {
    const calls = [];
    const request = async (url, init = {}) => {
      calls.push({ url, method: init.method, body: init.body });
      if (url.endsWith("/complete")) {
        return json(200, { object_name: "o", etag: "abc", download_url: "http://dl/fresh" });
      }
      return json(201, {
        upload_id: "s1",
        segmented: false,
        object_name: "o",
        upload_url: "http://storage/v1/AUTH_a/c/o?temp_url_sig=s&temp_url_expires=9999999999",
        upload_headers: {},
        download_url: "http://dl/first",
        expires_at: new Date(Date.now() + 60_000).toISOString(),
      });
    };
    const { put } = fakeStorage([{ status: 201, etag: "abc" }]);
    const result = await uploadFile(new File(["hi"], "a.txt"), { ...fast, httpStack: { request, put } });
    assert.deepEqual(result, { object_name: "o", download_url: "http://dl/fresh", etag: "abc" });
    assert.equal(calls[1].url, "http://api/uploads/s1/complete");
    assert.equal(calls[1].method, "POST");
  });
});
