// Pure logic of frontend/uploader.js, and its retry policy driven through a fake HTTP stack.
// Run: node --test tests/js/   (the browser tests cover the real network path)
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  ProgressMeter,
  Upload,
  backoffDelay,
  classifyStatus,
  formatBytes,
  formatDuration,
  isExpired,
  parseRetryAfter,
  uploadFile,
} from "../../frontend/uploader.js";
import { fakeApi, fakeStorage } from "./fakes.mjs";

describe("classifyStatus", () => {
  it("treats 2xx as done", () => {
    for (const status of [200, 201, 204]) assert.equal(classifyStatus(status), "done");
  });
  it("retries network errors, 408, 429 and 5xx", () => {
    for (const status of [0, 408, 429, 500, 502, 503, 504]) {
      assert.equal(classifyStatus(status), "retry", String(status));
    }
  });
  it("refreshes the URL on a 401 from storage, but not from the API", () => {
    assert.equal(classifyStatus(401), "refresh");
    assert.equal(classifyStatus(401, { fromStorage: false }), "fail");
  });
  it("fails at once on other 4xx", () => {
    for (const status of [400, 403, 404, 411, 413, 422]) {
      assert.equal(classifyStatus(status), "fail", String(status));
    }
  });
});

describe("backoffDelay", () => {
  const options = { retryDelay: 1000, maxRetryDelay: 10_000 };
  it("doubles per attempt, jittered between half and all of the ceiling", () => {
    assert.equal(
      backoffDelay(1, options, null, () => 0),
      500,
    );
    assert.equal(
      backoffDelay(1, options, null, () => 1),
      1000,
    );
    assert.equal(
      backoffDelay(3, options, null, () => 1),
      4000,
    );
  });
  it("never waits longer than maxRetryDelay", () => {
    assert.equal(
      backoffDelay(20, options, null, () => 1),
      10_000,
    );
    assert.equal(
      backoffDelay(2, options, "3600", () => 0),
      10_000,
    );
  });
  it("honours a longer Retry-After", () => {
    assert.equal(
      backoffDelay(1, options, "5", () => 0),
      5000,
    );
    assert.equal(
      backoffDelay(4, options, "1", () => 1),
      8000,
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates", () => {
    assert.equal(parseRetryAfter("7"), 7000);
    const now = Date.parse("2030-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("Tue, 01 Jan 2030 00:00:03 GMT", now), 3000);
    assert.equal(parseRetryAfter("Mon, 31 Dec 2029 00:00:00 GMT", now), 0);
  });
  it("ignores what it cannot read", () => {
    for (const value of [null, undefined, "", "soon"]) assert.equal(parseRetryAfter(value), null);
  });
});

describe("ProgressMeter", () => {
  it("computes percent, speed over the window, and ETA", () => {
    const meter = new ProgressMeter(1000, { window: 2000, now: 0 });
    assert.deepEqual(meter.update(100, 1000), {
      loaded: 100,
      total: 1000,
      percent: 10,
      speed: 100,
      eta: 9,
    });
    meter.update(300, 2000);
    // Samples older than the window drop out: speed is (700 - 100) B / 2 s, not the average.
    const latest = meter.update(700, 3000);
    assert.equal(latest.speed, 300);
    assert.equal(latest.eta, 1);
    assert.equal(meter.update(1000, 3500).eta, 0);
  });
  it("starts over when a retry sends the file again", () => {
    const meter = new ProgressMeter(1000, { window: 5000, now: 0 });
    meter.update(800, 1000);
    const again = meter.update(100, 2000);
    assert.equal(again.percent, 10);
    assert.equal(again.speed, 0);
    assert.equal(again.eta, null);
  });
  it("calls an empty file complete", () => {
    assert.equal(new ProgressMeter(0, { now: 0 }).update(0, 10).percent, 100);
  });
});

describe("isExpired", () => {
  const url = "http://s/v1/AUTH_a/c/o?temp_url_sig=x&temp_url_expires=2000000000";
  it("uses the API's expires_at", () => {
    const urls = { upload_url: url, expires_at: "2030-01-01T00:00:00Z" };
    assert.equal(isExpired(urls, Date.parse("2029-12-31T23:59:59Z")), false);
    assert.equal(isExpired(urls, Date.parse("2030-01-01T00:00:00Z")), true);
  });
  it("falls back to the TempURL's temp_url_expires", () => {
    assert.equal(isExpired({ upload_url: url }, 1_999_999_999_000), false);
    assert.equal(isExpired({ upload_url: url }, 2_000_000_000_000), true);
  });
});

describe("formatting", () => {
  it("formats sizes and durations for people", () => {
    assert.equal(formatBytes(999), "999 B");
    assert.equal(formatBytes(1500), "1.5 kB");
    assert.equal(formatBytes(256 * 1024 * 1024), "268 MB");
    assert.equal(formatDuration(4.2), "5 s");
    assert.equal(formatDuration(0.3), "under 1 s");
    assert.equal(formatDuration(0), "0 s");
    assert.equal(formatDuration(185), "3 min 05 s");
    assert.equal(formatDuration(3720), "1 h 02 min");
    assert.equal(formatDuration(null), "");
  });
});

// ---------------------------------------------------------------- the Upload, with fakes

const file = new File(["hello world"], "a.txt", { type: "text/plain" });
const fast = { apiBase: "http://api/", token: "t", retryDelay: 1, maxRetryDelay: 5 };
/** Options with a stack made of the fake API and the fake storage. */
const over = (api, storage, options = fast) => ({ ...options, httpStack: { ...api, ...storage } });

describe("Upload", () => {
  it("signs, PUTs the File itself with exactly the signed headers, returns the result", async () => {
    const api = fakeApi();
    const { calls } = api;
    const storage = fakeStorage([{ status: 201, etag: "abc" }]);
    const { puts } = storage;
    const progress = [];
    const result = await uploadFile(file, { ...over(api, storage), onProgress: (p) => progress.push(p) });
    assert.deepEqual(result, {
      object_name: "obj-1",
      download_url: "http://storage/v1/AUTH_a/c/obj-1?filename=a.txt",
      etag: "abc",
    });
    assert.equal(calls[0].url, "http://api/uploads");
    assert.equal(calls[0].init.headers.Authorization, "Bearer t");
    assert.equal(calls[0].init.credentials, "omit"); // no cookies go to the API
    assert.deepEqual(JSON.parse(calls[0].init.body), {
      filename: "a.txt",
      size: 11,
      content_type: "text/plain",
    });
    assert.equal(puts.length, 1);
    assert.equal(puts[0].body, file);
    assert.deepEqual(puts[0].headers, { "Content-Type": "text/plain" });
    assert.equal(progress.at(-1).percent, 100);
  });

  it("retries 503 and network errors on the same URL, then succeeds", async () => {
    const storage = fakeStorage([{ status: 503 }, "network", { status: 201 }]);
    const { puts } = storage;
    const upload = new Upload(file, over(fakeApi(), storage));
    const retries = [];
    upload.addEventListener("retry", (event) => retries.push(event.detail.reason));
    await upload.start();
    assert.deepEqual(retries, ["server", "network"]);
    assert.equal(puts.length, 3);
    assert.equal(new Set(puts.map((put) => put.url)).size, 1);
    assert.equal(upload.state, "done");
  });

  it("fails at once on a 413 with a clear message", async () => {
    const storage = fakeStorage([{ status: 413 }]);
    await assert.rejects(uploadFile(file, over(fakeApi(), storage)), {
      kind: "storage",
      status: 413,
      message: /larger than storage accepts \(413\)/,
    });
    assert.equal(storage.puts.length, 1);
  });

  it("gives up after the configured number of retries", async () => {
    const storage = fakeStorage([{ status: 500 }, { status: 500 }, { status: 500 }]);
    await assert.rejects(uploadFile(file, over(fakeApi(), storage, { ...fast, retries: 2 })), {
      kind: "storage",
    });
    assert.equal(storage.puts.length, 3);
  });

  it("replaces a URL storage refuses with 401 by a fresh one", async () => {
    const api = fakeApi();
    const storage = fakeStorage([{ status: 401 }, { status: 201 }]);
    const result = await uploadFile(file, over(api, storage));
    assert.equal(api.calls.length, 2);
    assert.equal(result.object_name, "obj-2");
    assert.match(storage.puts[1].url, /obj-2/);
  });

  it("replaces an expired URL whose refusal the browser hides as a network error", async () => {
    const api = fakeApi({ expiresIn: -1000 });
    const result = await uploadFile(file, over(api, fakeStorage(["network", { status: 201 }])));
    assert.equal(api.calls.length, 2);
    assert.equal(result.object_name, "obj-2");
  });

  it("says 401 for a bad token and does not retry it", async () => {
    const api = fakeApi({ failures: [401] });
    await assert.rejects(uploadFile(file, over(api, fakeStorage([]))), {
      kind: "auth",
      message: "The API refused the token (401): no (401)",
    });
    assert.equal(api.calls.length, 1);
  });

  it("retries the API while storage is not ready (503)", async () => {
    const api = fakeApi({ failures: [503, 503] });
    await uploadFile(file, over(api, fakeStorage([])));
    assert.equal(api.calls.length, 3);
  });

  it("tells a CORS refusal of the API from an unreachable API", async () => {
    await assert.rejects(uploadFile(file, over(fakeApi({ failures: ["network"] }), {})), {
      kind: "cors",
      message: /CORS_ORIGINS/,
    });
    const down = fakeApi({ failures: ["network", "network"], reachable: false });
    await assert.rejects(uploadFile(file, over(down, {}, { ...fast, retries: 1 })), {
      kind: "network",
      message: "Could not reach the API at http://api.",
    });
  });

  it("names a CORS refusal by storage once retries are spent, with fresh URLs on the way", async () => {
    const api = fakeApi();
    const storage = fakeStorage(["network", "network", "network", "network"]);
    await assert.rejects(uploadFile(file, over(api, storage, { ...fast, retries: 3 })), {
      kind: "cors",
      message: /Storage at http:\/\/storage refused this page's origin \(CORS\)/,
    });
    assert.equal(storage.puts.length, 4);
    // After two failures without an answer, each retry uses a freshly signed URL.
    assert.equal(api.calls.length, 3);
  });

  it("names unreachable storage when it does not answer a no-cors probe either", async () => {
    const api = fakeApi({ reachable: false });
    const storage = fakeStorage(["network", "network"]);
    await assert.rejects(uploadFile(file, over(api, storage, { ...fast, retries: 1 })), {
      kind: "network",
      message: "Could not reach storage at http://storage.",
    });
  });

  it("cancels an upload in flight", async () => {
    const upload = new Upload(file, over(fakeApi(), fakeStorage(["hang"])));
    upload.addEventListener("progress", () => upload.cancel(), { once: true });
    await assert.rejects(upload.start(), { kind: "aborted" });
    assert.equal(upload.state, "cancelled");
  });

  it("retries a stalled upload", async () => {
    const storage = fakeStorage(["hang", { status: 201 }]);
    const reasons = [];
    await uploadFile(file, {
      ...over(fakeApi(), storage, { ...fast, stallTimeout: 20 }),
      onRetry: (detail) => reasons.push(detail.reason),
    });
    assert.equal(storage.puts.length, 2);
    assert.ok(storage.puts[0].settled, "the stalled PUT was aborted");
    assert.deepEqual(reasons, ["stalled"]);
  });

  it("is cancelled by an AbortSignal", async () => {
    const controller = new AbortController();
    const promise = uploadFile(file, {
      ...over(fakeApi(), fakeStorage(["hang"])),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 5);
    await assert.rejects(promise, { kind: "aborted" });
  });
});
