// Pure bookkeeping of segmented uploads (frontend/parts.js): scheduling, URLs, resume.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { PartSchedule, PartUrls, RESUME_MAX_AGE, ResumeStore, partRange } from "../../frontend/parts.js";
import { MemoryStorage } from "./fakes.mjs";

const MiB = 1024 * 1024;

describe("partRange", () => {
  it("cuts like the API's plan: full parts, then the rest", () => {
    assert.deepEqual(partRange(10 * MiB + 5, 4 * MiB, 1), { offset: 0, length: 4 * MiB });
    assert.deepEqual(partRange(10 * MiB + 5, 4 * MiB, 3), { offset: 8 * MiB, length: 2 * MiB + 5 });
    assert.deepEqual(partRange(8 * MiB, 4 * MiB, 2), { offset: 4 * MiB, length: 4 * MiB });
  });
});

describe("PartSchedule", () => {
  const plan = { size: 10, partSize: 4, partCount: 3 }; // parts of 4, 4 and 2 bytes

  it("hands out parts lowest first, each once", () => {
    const schedule = new PartSchedule(plan, [3, 1, 2, 2]);
    assert.deepEqual([schedule.next(), schedule.next(), schedule.next(), schedule.next()], [1, 2, 3, null]);
    assert.equal(schedule.finished, false);
    for (const n of [2, 3, 1]) schedule.done(n);
    assert.equal(schedule.finished, true);
    assert.equal(schedule.loaded, 10);
  });

  it("adds stored parts and in-flight bytes into one progress figure", () => {
    const schedule = new PartSchedule(plan, [2, 3]); // part 1 stored earlier (resume)
    assert.equal(schedule.loaded, 4);
    assert.deepEqual(schedule.missing, [2, 3]);
    schedule.next();
    schedule.next();
    schedule.progress(2, 3);
    schedule.progress(3, 99); // never more than the part's length
    assert.equal(schedule.loaded, 4 + 3 + 2);
    schedule.progress(2, 0); // its attempt failed: its bytes count from 0 again
    assert.equal(schedule.loaded, 6);
    schedule.done(3);
    assert.equal(schedule.loaded, 6);
    assert.deepEqual(schedule.missing, [2]);
  });

  it("ignores parts outside the plan and counts a part done once", () => {
    const schedule = new PartSchedule(plan, [0, 1, 4]);
    assert.deepEqual(schedule.missing, [1]);
    schedule.done(1); // not in flight: ignored
    assert.equal(schedule.loaded, 6);
    schedule.next();
    schedule.done(1);
    schedule.done(1);
    assert.equal(schedule.loaded, 10);
  });

  it("sends again the parts completion found missing", () => {
    const schedule = new PartSchedule(plan, [1, 2, 3]);
    for (let n = schedule.next(); n !== null; n = schedule.next()) schedule.done(n);
    schedule.redo([3, 1, 7]);
    assert.equal(schedule.loaded, 4);
    assert.deepEqual([schedule.next(), schedule.next(), schedule.next()], [1, 3, null]);
  });
});

describe("PartUrls", () => {
  const url = (n, expires = 2_000_000_000) =>
    `http://s/v1/AUTH_a/c/o/${n}?temp_url_sig=x&temp_url_expires=${expires}`;

  it("keeps each batch with the expiry of its answer", () => {
    const urls = new PartUrls();
    urls.add(
      [
        { number: 1, upload_url: url(1) },
        { number: 2, upload_url: url(2) },
      ],
      "2030-01-01T00:00:00Z",
    );
    const before = Date.parse("2029-12-31T23:59:00Z");
    assert.equal(urls.get(1, before), url(1));
    assert.equal(urls.get(3, before), null); // not fetched yet: ask for a batch from 3
    assert.equal(urls.get(2, Date.parse("2030-01-01T00:00:00Z")), null);
    assert.equal(urls.get(2, before, 120_000), null); // not enough time to spare
    assert.equal(urls.isExpired(2, Date.parse("2030-01-01T00:00:01Z")), true);
    urls.drop(1);
    assert.equal(urls.get(1, before), null);
  });

  it("tells which URLs arrived since a time, expired or not", () => {
    const urls = new PartUrls();
    const now = Date.parse("2001-01-01T00:00:00Z");
    urls.add([{ number: 5, upload_url: url(5) }], "2000-01-01T00:00:00Z", now);
    assert.equal(urls.get(5, now), null); // expired by this clock
    assert.equal(urls.since(5, now), url(5)); // but it just arrived
    assert.equal(urls.since(5, now + 1), null);
    assert.equal(urls.since(6, 0), null);
  });

  it("falls back to the TempURL's own temp_url_expires", () => {
    const urls = new PartUrls();
    urls.add([{ number: 4, upload_url: url(4, 1000) }]);
    assert.equal(urls.get(4, 999_000), url(4, 1000));
    assert.equal(urls.isExpired(4, 1_000_000), true);
  });
});

describe("ResumeStore", () => {
  const file = { name: "big.iso", size: 123, lastModified: 1700000000000 };
  const record = { upload_id: "u1", object_name: "o", part_size: 4, part_count: 31, etags: {} };

  it("finds a record by API, name, size and lastModified", () => {
    const store = new ResumeStore(new MemoryStorage());
    store.save("http://api/", file, record, 1000);
    assert.equal(store.load("http://api", file, 2000).upload_id, "u1"); // trailing slash alike
    assert.equal(store.load("http://other", file, 2000), null);
    assert.equal(store.load("http://api", { ...file, lastModified: 1 }, 2000), null);
    assert.equal(store.load("http://api", { ...file, size: 124 }, 2000), null);
  });

  it("remembers each stored part's etag and forgets on request", () => {
    const store = new ResumeStore(new MemoryStorage());
    store.save("http://api", file, record, 1000);
    store.partDone("http://api", file, 3, "abc", 1100);
    store.partDone("http://api", file, 1, "def", 1200);
    assert.deepEqual(store.load("http://api", file, 1300).etags, { 3: "abc", 1: "def" });
    store.forget("http://api", file);
    assert.equal(store.load("http://api", file, 1300), null);
    store.partDone("http://api", file, 2, "x", 1400); // no record: nothing is created
    assert.equal(store.load("http://api", file, 1400), null);
  });

  it("lists this API's unexpired records, newest first, and drops old ones", () => {
    const storage = new MemoryStorage();
    const store = new ResumeStore(storage);
    store.save("http://api", file, record, 1000);
    store.save("http://api", { ...file, name: "b.iso" }, { ...record, upload_id: "u2" }, 5000);
    store.save("http://elsewhere", file, { ...record, upload_id: "u3" }, 5000);
    storage.setItem("unrelated", "x");
    const listed = store.list("http://api", 6000);
    assert.deepEqual(
      listed.map((r) => [r.upload_id, r.file.name]),
      [
        ["u2", "b.iso"],
        ["u1", "big.iso"],
      ],
    );
    assert.deepEqual(listed[1].file, file);
    assert.deepEqual(
      store.list("http://api", 1000 + RESUME_MAX_AGE + 1).map((r) => r.upload_id),
      ["u2"],
    );
    assert.equal(store.load("http://api", file, 0), null); // dropped
  });

  it("works (remembering nothing) without storage, and survives a full one", () => {
    const none = new ResumeStore(null);
    none.save("http://api", file, record);
    assert.equal(none.load("http://api", file), null);
    assert.deepEqual(none.list("http://api"), []);
    const full = new MemoryStorage();
    full.setItem = () => {
      throw new Error("QuotaExceededError");
    };
    new ResumeStore(full).save("http://api", file, record); // does not throw
  });
});
