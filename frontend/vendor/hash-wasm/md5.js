/**
 * md5.js — hash-wasm's `createMD5` as an ES module export, so a bundler (esbuild, Vite,
 * webpack, Rollup) finds the vendored file through a static import and includes it.
 *
 * md5.umd.min.js is a UMD file, left unchanged: a bundler sees its CommonJS branch and hands
 * its exports over as the namespace; a browser (or Node) loading it as an ES module, where
 * `this` and `exports` are undefined, runs its global branch, which sets `globalThis.hashwasm`
 * before this module's body runs.
 */

import * as umd from "./md5.umd.min.js";

/** @type {any} */
const namespace = umd;
const library = namespace.createMD5
  ? namespace
  : (namespace.default?.createMD5 ? namespace.default : /** @type {any} */ (globalThis).hashwasm);

/** @type {() => Promise<any>} hash-wasm's createMD5 (undefined if the file did not load) */
export const createMD5 = library?.createMD5;
