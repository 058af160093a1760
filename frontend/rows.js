/**
 * rows.js — one row of the demo page's list: built from its template, drawn from its model.
 * The page (app.js) keeps the models current from the uploads' events and draws the changed
 * ones once a frame.
 */

import { formatBytes } from "./uploader.js";

export const RUNNING = new Set(["signing", "uploading", "completing", "retrying"]);
export const ENDED = new Set(["done", "failed", "cancelled"]);

/**
 * A row for `file` from the `<template>`, and the model the page draws it from.
 * @param {HTMLTemplateElement} template
 * @param {File} file
 * @param {{retry: (model: object) => void, cancel: (model: object) => void}} actions  the row's
 *   button: Cancel while the upload runs, Retry once it failed or was cancelled
 */
export function createRow(template, file, { retry, cancel }) {
  const row = /** @type {HTMLElement} */ (template.content.firstElementChild.cloneNode(true));
  const $ = (selector) => row.querySelector(selector);
  const el = {
    name: $(".upload-name"),
    size: $(".upload-size"),
    bar: $(".upload-bar"),
    status: $(".upload-status"),
    rate: $(".upload-rate"),
    button: $(".cancel"),
    parts: $(".upload-parts"),
    link: $(".download"),
  };
  el.name.textContent = file.name;
  el.name.title = file.name;
  el.size.textContent = formatBytes(file.size);
  el.bar.setAttribute("aria-label", `Upload of ${file.name}`);
  const model = {
    file,
    row,
    el,
    state: "waiting",
    text: "Waiting…",
    rate: "",
    loaded: 0,
    upload: null,
    cancelling: false,
  };
  el.button.addEventListener("click", () => (ENDED.has(model.state) ? retry : cancel)(model));
  return model;
}

/** Draws a row's model: its state, status text, bar, figures, and download link once done. */
export function drawRow(model) {
  const { el, row, file } = model;
  row.dataset.state = model.state;
  el.status.textContent = model.text;
  const percent = file.size ? Math.min(100, (model.loaded / file.size) * 100) : 100;
  el.bar.value = model.state === "done" ? 100 : percent;
  el.bar.setAttribute("aria-valuetext", `${Math.floor(el.bar.value)}%`);
  el.rate.textContent = model.rate;
  el.button.textContent = model.state === "failed" || model.state === "cancelled" ? "Retry" : "Cancel";
  el.button.hidden = model.state === "done";
  el.button.disabled = model.cancelling && !ENDED.has(model.state); // once is enough
  if (model.parts) {
    el.parts.textContent = model.parts;
    el.parts.hidden = false;
  }
  if (model.result && el.link.hidden) {
    el.link.href = model.result.download_url;
    el.link.download = file.name; // ignored cross-origin; storage's Content-Disposition names it
    el.link.textContent = `Download ${file.name}`;
    el.link.title = model.result.etag ? `MD5 ${model.result.etag}` : "";
    el.link.hidden = false;
  }
}
