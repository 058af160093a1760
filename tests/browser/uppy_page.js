// The Uppy test page's module, bundled by esbuild from the installed package (tests/npm/).
import Uppy from "@uppy/core";
import { UploadSigner } from "@upload-signer/client/uppy";

window.startUppy = (apiBase, token, options = {}) => {
  const uppy = new Uppy({ autoProceed: false }).use(UploadSigner, { apiBase, token, ...options });
  const seen = { success: [], error: [], progress: {} };
  uppy.on("upload-success", (file, response) =>
    seen.success.push({ name: file.name, status: response.status, uploadURL: response.uploadURL, body: response.body }),
  );
  uppy.on("upload-error", (file, error) => seen.error.push({ name: file?.name, message: error.message }));
  uppy.on("upload-progress", (file, progress) => {
    seen.progress[file.name] = progress.bytesUploaded;
  });
  const input = document.querySelector("#files");
  input.onchange = () => {
    for (const file of input.files) uppy.addFile({ name: file.name, type: file.type, data: file });
  };
  window.uppy = uppy;
  window.seen = seen;
};
