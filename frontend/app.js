// The demo page: settings, file picking / drag and drop, and one row per upload.
import { Upload, discardUpload, formatBytes, formatDuration, pendingUploads } from "./uploader.js";

const MAX_PARALLEL = 3; // browsers open at most 6 connections per host; leave room
const SAVED = "upload-signer.settings";
// Upload options from config.js's `upload` (e.g. { parallel: 4, checksum: true }): see docs.
let uploadOptions = {};

const $ = (selector, root = document) => root.querySelector(selector);
const ui = {
  settings: $("#settings"),
  form: $("#settings-form"),
  apiBase: $("#api-base"),
  token: $("#token"),
  toggleToken: $("#toggle-token"),
  summary: $("#connection-summary"),
  dropzone: $("#dropzone"),
  files: $("#files"),
  listTitle: $("#list-title"),
  list: $("#uploads"),
  row: $("#upload-row"),
  announcer: $("#announcer"),
  unfinished: $("#unfinished"),
  unfinishedList: $("#unfinished-list"),
  unfinishedRow: $("#unfinished-row"),
};

// ---------------------------------------------------------------- settings

/** config.js is written by `make run`; a deployed page may have none. */
async function loadConfig() {
  try {
    return (await import("./config.js")).default ?? {};
  } catch {
    return {};
  }
}

function readSaved() {
  try {
    return JSON.parse(sessionStorage.getItem(SAVED)) ?? {};
  } catch {
    return {};
  }
}

function settings() {
  return { apiBase: ui.apiBase.value.trim().replace(/\/+$/, ""), token: ui.token.value.trim() };
}

function showSettingsState() {
  const { apiBase, token } = settings();
  const missing = [!apiBase && "API URL", !token && "token"].filter(Boolean);
  ui.summary.textContent = missing.length ? `— ${missing.join(" and ")} missing` : `— ${apiBase}, token set`;
  if (missing.length) ui.settings.open = true;
}

async function initSettings() {
  const config = await loadConfig();
  uploadOptions = config.upload ?? {};
  const saved = readSaved();
  ui.apiBase.value = saved.apiBase || config.apiBase || "";
  ui.token.value = saved.token || config.token || "";
  showSettingsState();
  ui.form.addEventListener("input", () => {
    sessionStorage.setItem(SAVED, JSON.stringify(settings()));
    showSettingsState();
    showUnfinished();
  });
  ui.form.addEventListener("submit", (event) => event.preventDefault());
  ui.toggleToken.addEventListener("click", () => {
    const show = ui.token.type === "password";
    ui.token.type = show ? "text" : "password";
    ui.toggleToken.textContent = show ? "Hide" : "Show";
    ui.toggleToken.setAttribute("aria-pressed", String(show));
  });
}

// ---------------------------------------------------------------- queue

const queue = [];
let running = 0;

function pump() {
  while (running < MAX_PARALLEL && queue.length) {
    const start = queue.shift();
    running += 1;
    start().finally(() => {
      running -= 1;
      pump();
    });
  }
}

// ---------------------------------------------------------------- one row per file

function announce(text) {
  ui.announcer.textContent = text;
}

function addFile(file) {
  const row = ui.row.content.firstElementChild.cloneNode(true);
  const el = {
    name: $(".upload-name", row),
    size: $(".upload-size", row),
    bar: $(".upload-bar", row),
    status: $(".upload-status", row),
    rate: $(".upload-rate", row),
    button: $(".cancel", row),
    parts: $(".upload-parts", row),
    link: $(".download", row),
  };
  el.name.textContent = file.name;
  el.name.title = file.name;
  el.size.textContent = formatBytes(file.size);
  el.bar.setAttribute("aria-label", `Upload of ${file.name}`);
  ui.listTitle.hidden = false;
  ui.list.prepend(row);

  let upload = null;
  let queued = null;
  let startedAt = 0;
  let spokenStep = -1;

  const setState = (state, text) => {
    row.dataset.state = state;
    el.status.textContent = text;
  };

  const onProgress = ({ loaded, total, percent, speed, eta }) => {
    el.bar.value = percent;
    el.bar.setAttribute("aria-valuetext", `${Math.floor(percent)}%`);
    el.rate.textContent = speed
      ? `${formatBytes(loaded)} of ${formatBytes(total)} · ${formatBytes(speed)}/s · ${formatDuration(eta)} left`
      : `${formatBytes(loaded)} of ${formatBytes(total)}`;
    // The live status speaks in 10 % steps, not on every progress event.
    const step = Math.floor(percent / 10);
    if (step !== spokenStep) {
      spokenStep = step;
      setState("uploading", `Uploading… ${step * 10}%`);
    }
  };

  const onRetry = ({ reason, delay, attempt }) => {
    const why = {
      expired: "the upload link expired, getting a fresh one",
      network: "network error",
      server: "server error",
      stalled: "no progress",
      api: "API unavailable",
    }[reason];
    const when = delay ? ` in ${formatDuration(delay / 1000)}` : "";
    setState("retrying", `Retrying${when} (${why ?? reason}, attempt ${attempt + 1})…`);
    spokenStep = -1;
  };

  const finish = (result) => {
    const seconds = (performance.now() - startedAt) / 1000;
    el.bar.value = 100;
    const resumed = row.dataset.resumed ? ` (resumed: ${row.dataset.resumed} parts were already stored)` : "";
    el.rate.textContent = `${formatBytes(file.size)} in ${formatDuration(seconds)}${resumed}`;
    el.link.href = result.download_url;
    el.link.download = file.name; // ignored cross-origin; storage's Content-Disposition names it
    el.link.textContent = `Download ${file.name}`;
    el.link.title = result.etag ? `MD5 ${result.etag}` : "";
    el.link.hidden = false;
    el.button.hidden = true;
    setState("done", "Uploaded");
    announce(`${file.name} uploaded.`);
  };

  const fail = (error) => {
    if (error.kind === "aborted") {
      setState("cancelled", "Cancelled");
      announce(`${file.name}: upload cancelled.`);
    } else {
      setState("failed", error.message);
      announce(`${file.name} failed: ${error.message}`);
      if (error.kind === "auth") ui.settings.open = true;
    }
    el.rate.textContent = "";
    el.button.textContent = "Retry";
  };

  const enqueue = () => {
    setState("waiting", "Waiting…");
    el.bar.value = 0;
    el.button.textContent = "Cancel";
    delete row.dataset.resumed;
    upload = null;
    queued = () => {
      queued = null;
      startedAt = performance.now();
      upload = new Upload(file, { ...uploadOptions, ...settings(), onProgress, onRetry });
      upload.addEventListener("signed", (e) => {
        row.dataset.objectName = e.detail.object_name;
        showUnfinished(); // a segmented upload is now remembered (or resumed)
      });
      upload.addEventListener("resume", (e) => {
        const { stored_parts: stored, missing_parts: missing } = e.detail;
        row.dataset.resumed = String(stored.length);
        setState(
          "uploading",
          `Resuming: ${stored.length} of ${stored.length + missing.length} parts already stored`,
        );
      });
      upload.addEventListener("part", (e) => {
        el.parts.textContent = `${e.detail.stored} of ${e.detail.total} parts`;
        el.parts.hidden = false;
      });
      setState("signing", "Starting…");
      return upload.start().then(finish, fail).finally(showUnfinished);
    };
    queue.push(queued);
    pump();
  };

  el.button.addEventListener("click", () => {
    if (row.dataset.state === "failed" || row.dataset.state === "cancelled") {
      enqueue();
    } else if (queued) {
      queue.splice(queue.indexOf(queued), 1);
      queued = null;
      fail({ kind: "aborted" });
    } else {
      upload?.cancel();
    }
  });
  enqueue();
}

function addFiles(files) {
  for (const file of files) addFile(file);
}

// ---------------------------------------------------------------- unfinished uploads

/**
 * Segmented uploads this browser started and did not finish (the page was closed or reloaded,
 * the network dropped): a browser cannot reopen a file by itself, so "Resume…" asks for it
 * again, and the module then sends only the missing parts.
 */
function showUnfinished() {
  const { apiBase, token } = settings();
  const running = new Set(
    [
      ...ui.list.querySelectorAll(
        "li.upload:not([data-state=done]):not([data-state=failed]):not([data-state=cancelled])",
      ),
    ].map((row) => row.dataset.objectName),
  );
  const records = apiBase ? pendingUploads(apiBase).filter((r) => !running.has(r.object_name)) : [];
  ui.unfinishedList.replaceChildren();
  ui.unfinished.hidden = records.length === 0;
  for (const record of records) {
    const item = ui.unfinishedRow.content.firstElementChild.cloneNode(true);
    const stored = Object.keys(record.etags ?? {}).length;
    $(".unfinished-name", item).textContent = record.file.name;
    $(".unfinished-done", item).textContent =
      `${formatBytes(record.file.size)} · ${stored} of ${record.part_count} parts uploaded`;
    const resume = $(".resume", item);
    resume.setAttribute("aria-label", `Resume ${record.file.name}: pick the file again`);
    resume.addEventListener("click", () => ui.files.click());
    const discard = $(".discard", item);
    discard.setAttribute("aria-label", `Discard the unfinished upload of ${record.file.name}`);
    discard.addEventListener("click", async () => {
      discard.disabled = true;
      await discardUpload(record, { apiBase, token });
      announce(`Unfinished upload of ${record.file.name} discarded.`);
      showUnfinished();
    });
    ui.unfinishedList.append(item);
  }
}

// ---------------------------------------------------------------- picking and dropping

function initPicking() {
  ui.files.addEventListener("change", () => {
    addFiles(ui.files.files);
    ui.files.value = ""; // picking the same file again is a new upload
  });
  // Drops anywhere on the page count: missing the zone by a few pixels should not open the file.
  const hasFiles = (event) => event.dataTransfer?.types?.includes("Files");
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    ui.dropzone.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (!event.relatedTarget) ui.dropzone.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    ui.dropzone.classList.remove("dragging");
    addFiles(event.dataTransfer.files);
  });
}

initPicking();
await initSettings();
showUnfinished();
document.documentElement.dataset.ready = "true";
