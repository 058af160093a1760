// The demo page: settings, file picking / drag and drop, and one row per upload.
import { ENDED, RUNNING, createRow, drawRow } from "./rows.js";
import {
  ProgressMeter,
  Upload,
  UploadBatch,
  discardUpload,
  formatBytes,
  formatDuration,
  pendingUploads,
} from "./uploader.js";

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
  overall: $("#overall"),
  overallBar: $("#overall-bar"),
  overallText: $("#overall-text"),
  cancelAll: $("#cancel-all"),
  clearFinished: $("#clear-finished"),
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

// ---------------------------------------------------------------- rows, drawn once a frame

// Every row of the list, in the order the files came; its figures are drawn once a frame.
const rows = [];
const dirty = new Set();
let frame = 0;
let followUntil = 0; // the list scrolls to the first running row unless the person scrolls

function announce(text) {
  ui.announcer.textContent = text;
}

function redraw(model) {
  dirty.add(model);
  frame ||= requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  for (const model of dirty) drawRow(model);
  dirty.clear();
  drawSummary();
  const first = rows.find((model) => RUNNING.has(model.state));
  if (first && first !== flush.followed && Date.now() > followUntil) {
    flush.followed = first;
    keepInView(first.row);
  }
}

/**
 * Scrolls the first running row to the top of what shows of the list, just below the summary
 * stuck to the top of the window: the uploads in progress fill the view, the finished ones go
 * up out of it. A row already in view just below the summary where it stands stays put.
 */
function keepInView(row) {
  const style = getComputedStyle(ui.overall);
  const gap = parseFloat(style.marginBottom) || 0;
  const summary = ui.overall.getBoundingClientRect();
  const box = row.getBoundingClientRect();
  if (Math.abs(box.top - summary.bottom - gap) < 1 && box.bottom <= innerHeight) return;
  const top = (parseFloat(style.top) || 0) + summary.height + gap;
  scrollBy({ top: box.top - top, behavior: "instant" });
}
for (const type of ["wheel", "touchmove", "keydown"]) {
  addEventListener(type, () => (followUntil = Date.now() + 3000), { passive: true });
}

// ---------------------------------------------------------------- one file's events

const WHY = {
  expired: "the upload link expired, getting a fresh one",
  network: "network error",
  server: "server error",
  stalled: "no progress",
  api: "API unavailable",
};

function follow(model, upload) {
  model.upload = upload;
  model.startedAt = 0;
  model.cancelling = false;
  const set = (state, text) => {
    model.state = state;
    // A cancelled upload may still answer a request it had sent: the row keeps saying so.
    model.text = model.cancelling && !ENDED.has(state) ? CANCELLING : text;
    redraw(model);
  };
  upload.addEventListener("signed", (e) => {
    model.row.dataset.objectName = e.detail.object_name;
    if (upload.segmented) showUnfinished(); // remembered now
  });
  upload.addEventListener("resume", (e) => {
    const { stored_parts: stored, missing_parts: missing } = e.detail;
    model.resumed = stored.length;
    set("uploading", `Resuming: ${stored.length} of ${stored.length + missing.length} parts already stored`);
  });
  upload.addEventListener("part", (e) => {
    model.parts = `${e.detail.stored} of ${e.detail.total} parts`;
    redraw(model);
  });
  upload.addEventListener("progress", (e) => {
    const { loaded, total, percent, speed, eta } = e.detail;
    model.startedAt ||= performance.now();
    model.loaded = loaded;
    // In step with the bar; "Finishing…" once every byte is out and storage or the API still works.
    const finishing = loaded >= total;
    const left = finishing || eta === null ? "" : ` · ${formatDuration(eta)} left`;
    model.rate = speed
      ? `${formatBytes(loaded)} of ${formatBytes(total)} · ${formatBytes(speed)}/s${left}`
      : `${formatBytes(loaded)} of ${formatBytes(total)}`;
    set("uploading", finishing ? "Finishing…" : `Uploading… ${Math.floor(percent)}%`);
  });
  upload.addEventListener("retry", (e) => {
    const { reason, delay, attempt } = e.detail;
    const when = delay ? ` in ${formatDuration(delay / 1000)}` : "";
    set("retrying", `Retrying${when} (${WHY[reason] ?? reason}, attempt ${attempt + 1})…`);
  });
  upload.addEventListener("done", (e) => {
    const seconds = (performance.now() - (model.startedAt || performance.now())) / 1000;
    const resumed = model.resumed ? ` (resumed: ${model.resumed} parts were already stored)` : "";
    model.result = e.detail;
    model.loaded = model.file.size;
    model.rate = `${formatBytes(model.file.size)} in ${formatDuration(seconds)}${resumed}`;
    set("done", "Uploaded");
    announce(`${model.file.name} uploaded.`);
    if (upload.segmented) showUnfinished(); // forgotten now
  });
  upload.addEventListener("error", (e) => {
    const { error } = e.detail;
    model.rate = "";
    model.loaded = 0;
    if (error.kind === "aborted") {
      set("cancelled", "Cancelled");
      announce(`${model.file.name}: upload cancelled.`);
    } else {
      set("failed", error.message);
      announce(`${model.file.name} failed: ${error.message}`);
      if (error.kind === "auth") ui.settings.open = true;
    }
    showUnfinished();
  });
}

// ---------------------------------------------------------------- batches, retries, summary

const CANCELLING = "Cancelling…";

/**
 * Cancels a row's upload. Storage may yet store a request whose body went out whole, so the
 * upload waits for its answer before it withdraws what was stored: until then the row says
 * it is cancelling.
 */
function cancel(model) {
  if (ENDED.has(model.state) || !model.upload) return;
  model.upload.cancel();
  if (ENDED.has(model.state)) return;
  model.cancelling = true;
  model.text = CANCELLING;
  redraw(model);
}

const batches = new Set();
const meter = { progress: null, loaded: 0 };

function addFiles(list) {
  const files = [...list];
  if (!files.length) return;
  const models = files.map((file) => createRow(ui.row, file, { retry, cancel }));
  const fragment = document.createDocumentFragment();
  for (const model of models) fragment.append(model.row);
  ui.list.append(fragment); // in the order they came: the oldest running row stays on top
  rows.push(...models);
  ui.listTitle.hidden = false;
  ui.overall.hidden = false;
  const batch = new UploadBatch(files, { ...uploadOptions, ...settings() });
  batch.uploads.forEach((upload, index) => follow(models[index], upload));
  batches.add(batch);
  batch.start().finally(() => batches.delete(batch));
  for (const model of models) redraw(model);
}

function retry(model) {
  Object.assign(model, { state: "waiting", text: "Waiting…", rate: "", loaded: 0, parts: "", resumed: 0 });
  model.result = null;
  model.el.link.hidden = true;
  const upload = new Upload(model.file, { ...uploadOptions, ...settings() });
  follow(model, upload);
  redraw(model);
  upload.start().catch(() => {});
}

function drawSummary() {
  const counted = rows.filter((model) => model.state !== "failed" && model.state !== "cancelled");
  const done = rows.filter((model) => model.state === "done").length;
  const left = rows.filter((model) => !ENDED.has(model.state)).length;
  const total = counted.reduce((sum, model) => sum + model.file.size, 0);
  const loaded = counted.reduce((sum, model) => sum + model.loaded, 0);
  if (!left) meter.progress = null;
  else if (!meter.progress || total !== meter.progress.total) {
    meter.progress = new ProgressMeter(total, { loaded });
  }
  const figures = meter.progress?.update(loaded);
  const percent = total ? (loaded / total) * 100 : 100;
  ui.overallBar.value = left ? percent : 100;
  const others = ["failed", "cancelled"]
    .map((state) => [state, rows.filter((model) => model.state === state).length])
    .filter(([, n]) => n)
    .map(([state, n]) => `, ${n} ${state}`)
    .join("");
  let rate = `${formatBytes(loaded)} of ${formatBytes(total)}`;
  if (!left) rate = `${formatBytes(loaded)} · done`;
  else if (figures?.speed && loaded < total) {
    rate += ` · ${formatBytes(figures.speed)}/s · ${formatDuration(figures.eta) || "…"} left`;
  } else if (loaded >= total) rate += " · finishing…";
  ui.overallText.textContent = `${done} of ${rows.length} files uploaded${others} · ${rate}`;
  ui.overall.dataset.state = left ? "running" : "idle";
  ui.cancelAll.disabled = !left;
  ui.clearFinished.disabled = rows.length === left;
  ui.overall.hidden = rows.length === 0;
  ui.listTitle.hidden = rows.length === 0;
}

function initOverall() {
  ui.cancelAll.addEventListener("click", () => {
    for (const batch of batches) batch.cancel();
    for (const model of rows) cancel(model);
    announce("Cancelling every upload.");
  });
  ui.clearFinished.addEventListener("click", () => {
    for (const model of rows.filter((m) => ENDED.has(m.state))) {
      model.row.remove();
      dirty.delete(model);
    }
    rows.splice(0, rows.length, ...rows.filter((model) => !ENDED.has(model.state)));
    drawSummary();
  });
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
initOverall();
await initSettings();
showUnfinished();
document.documentElement.dataset.ready = "true";
