/**
 * Attaching a file as the CLI does (docs/API.md "Files"): named by its sha256 (hashed here with
 * crypto.subtle), the bus asked how much it holds already (HEAD, Upload-Offset), the rest sent with
 * PUT /files/<sha256> and a Content-Range. A dropped connection resumes from where the bus got to.
 */
import { ApiError, type Attachment, withQuery } from "./api";

const RETRIES = 3;

export async function sha256Hex(file: Blob): Promise<string> {
  if (!crypto.subtle) throw new Error("this page is not a secure context (HTTPS or localhost): the browser cannot hash files here");
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function offsetHeld(url: string): Promise<number> {
  const res = await fetch(url, { method: "HEAD", credentials: "same-origin" });
  // Its status says whether the file is stored by anyone (200, 404); Upload-Offset is what this session sent.
  const held = res.headers.get("Upload-Offset");
  const offset = Number(held);
  if (held === null || !Number.isSafeInteger(offset)) throw new ApiError(res.status, `the bus did not say how much of the file it holds (${res.status})`);
  return offset;
}

/** One PUT of the rest from `offset`, reporting bytes sent; resolves with the answer's status and JSON. */
function putRest(url: string, file: File, offset: number, onProgress: (done: number) => void): Promise<{ status: number; json: { error?: string } }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    if (offset < file.size) xhr.setRequestHeader("Content-Range", `bytes ${offset}-${file.size - 1}/${file.size}`);
    xhr.upload.onprogress = (e) => onProgress(offset + e.loaded);
    xhr.onload = () => {
      let json = {};
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        // an answer that is not JSON (a proxy's page): the status says enough
      }
      resolve({ status: xhr.status, json });
    };
    xhr.onerror = () => reject(new TypeError("the connection was lost"));
    xhr.send(offset < file.size ? file.slice(offset) : null);
  });
}

/** Uploads `file` and resolves with the attachment a post names; `onProgress` sees bytes done of the total. */
export async function uploadFile(file: File, onProgress: (done: number, total: number, phase: string) => void): Promise<Attachment> {
  onProgress(0, file.size, "hashing");
  const sha256 = await sha256Hex(file);
  const url = withQuery(`/files/${sha256}`, { name: file.name });
  for (let attempt = 0; ; attempt++) {
    try {
      const offset = await offsetHeld(url);
      onProgress(offset, file.size, "sending");
      const { status, json } = await putRest(url, file, offset, (done) => onProgress(done, file.size, "sending"));
      if (status === 200 || status === 201) {
        onProgress(file.size, file.size, "sent");
        return { sha256, name: file.name, size: file.size };
      }
      // 202/409: the bus holds another part than thought; anything else is an answer to show.
      if ((status !== 202 && status !== 409) || attempt >= RETRIES) throw new ApiError(status, json.error ?? `upload refused (${status})`);
    } catch (error) {
      if (error instanceof ApiError || attempt >= RETRIES) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
  }
}
