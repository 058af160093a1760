// Must NOT compile: `parallel` is a number, `checksum` is boolean | "auto".
import { uploadFile } from "@upload-signer/client";

declare const file: File;

export const upload = uploadFile(file, { apiBase: "https://api.example.com", token: "t", parallel: "4" });
