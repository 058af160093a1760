// Cancel: every request of the upload is over before `DELETE /uploads/<id>` goes, so nothing
// the upload sent can be stored after storage was told to drop it. A request still sending is
// aborted (storage then stores nothing of it); one whose body went out whole is stored by
// storage whether the browser listens or not, so its answer is awaited; the reachability
// probe is aborted too. The order is read from one log of what the fake stack saw.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Upload } from "../../frontend/uploader.js";
import { fakeApi, fakeSegmented, fileOf } from "./fakes.mjs";

const fast = { apiBase: "http://api", token: "t", retryDelay: 1, maxRetryDelay: 5 };
const bytes = new Uint8Array(1000).map((_, i) => i % 251);
const bigFile = new File([bytes], "big.bin", { lastModified: 1700000000000 });
const NO_ANSWER = { status: 0, etag: "", retryAfter: null, text: "" };

/**
 * A storage request that sends `loaded` bytes at once, then waits: for its signal (it is then
 * aborted, as XMLHttpRequest is) or for `answer()` (storage's 201, whatever the signal did).
 */
function pending(log, name, { signal, onProgress }, loaded) {
  let answer;
  const settled = new Promise((resolve, reject) => {
    signal.addEventListener(
      "abort",
      () => {
        log.push(`abort ${name}`);
        reject(new DOMException("aborted", "AbortError"));
      },
      { once: true },
    );
    answer = () => {
      log.push(`answer ${name}`);
      resolve({ status: 201, etag: "", retryAfter: null, text: "" });
    };
  });
  onProgress(loaded);
  return { settled, answer: () => answer() };
}

/** The API's calls into `log` ("DELETE" for the abort), then to `request`. */
const logged =
  (log, request) =>
  async (url, init = {}) => {
    if (init.method === "DELETE") log.push("DELETE");
    return request(url, init);
  };

describe("cancel", () => {
  it("aborts the parts still sending, awaits the one sent whole, then DELETEs", async () => {
    const log = [];
    const api = fakeSegmented({ size: 1000, partSize: 100, batch: 10 });
    const requests = new Map();
    let upload = null;
    const put = (url, blob, request) => {
      const number = Number(url.match(/\/(\d{6})\?/)[1]);
      // Part 2 has gone out whole (storage is writing it); parts 1, 3 and 4 are half sent.
      const sent = pending(log, `part ${number}`, request, number === 2 ? blob.size : blob.size / 2);
      requests.set(number, sent);
      if (requests.size === 4) {
        setTimeout(() => {
          upload.cancel();
          setTimeout(() => requests.get(2).answer(), 20); // storage answers part 2 later
        }, 5);
      }
      return sent.settled;
    };
    const stack = { reachable: api.reachable, request: logged(log, api.request), put };
    upload = new Upload(bigFile, { ...fast, parallel: 4, checksum: false, httpStack: stack });

    await assert.rejects(upload.start(), { kind: "aborted" });

    assert.equal(upload.state, "cancelled");
    assert.deepEqual(log, ["abort part 1", "abort part 3", "abort part 4", "answer part 2", "DELETE"]);
  });

  it("waits for the answer to a form whose file went out whole, then DELETEs", async () => {
    const log = [];
    const api = fakeApi({ form: true });
    let upload = null;
    const post = (url, form, request) => {
      log.push(`POST ${form.get("signature")}`);
      const sent = pending(log, "form", request, fileOf(form).size);
      setTimeout(() => {
        upload.cancel();
        setTimeout(sent.answer, 20);
      }, 5);
      return sent.settled;
    };
    const stack = { reachable: api.reachable, request: logged(log, api.request), post };
    // With byte progress (smallFileSize 0): the file is known to have gone out whole.
    const options = { ...fast, smallFileSize: 0, httpStack: stack };
    upload = new Upload(new File(["hello world"], "a.txt"), options);

    await assert.rejects(upload.start(), { kind: "aborted" });

    assert.equal(upload.state, "cancelled");
    assert.deepEqual(log, ["POST sig-1", "answer form", "DELETE"]);
    assert.ok(!api.calls.some((call) => call.url.endsWith("/complete")), "not completed");
  });

  it("aborts the reachability probe of storage before the DELETE", async () => {
    const log = [];
    const api = fakeApi({ form: true });
    let upload = null;
    const post = async () => ({ ...NO_ANSWER }); // no answer: is storage there at all?
    const reachable = (url, { signal } = {}) => {
      log.push("probe");
      signal?.addEventListener("abort", () => log.push("abort probe"), { once: true });
      setTimeout(() => upload.cancel(), 1); // the person gives up while storage is probed
      return new Promise((resolve) => setTimeout(() => resolve(true), 30));
    };
    const stack = { reachable, request: logged(log, api.request), post };
    upload = new Upload(new File(["hello world"], "a.txt"), { ...fast, retries: 0, httpStack: stack });

    await assert.rejects(upload.start(), { kind: "aborted" });

    assert.equal(upload.state, "cancelled");
    assert.deepEqual(log, ["probe", "abort probe", "DELETE"]);
  });
});
